"""The paper's §3.7 model ablations and its truncation rule as hybrid switches, and the paper
suite's variants for them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spawnzoo.baselines.common.buffer import Rollout
from spawnzoo.baselines.compare.plan import Comparison
from spawnzoo.baselines.compare.suite import PAPER_TABLES, PAPER_VARIANTS
from spawnzoo.baselines.grouped.ppo import SlotPolicyAgent, _tensors, collect
from spawnzoo.envs import make_batched
from spawnzoo.hybrid.config import HybridConfig
from spawnzoo.hybrid.policy import HybridPolicy
from spawnzoo.hybrid.train import build_policy

SMALL = dict(in_channels=5, num_actions=6, structure_kinds=(0,), width=8, depth=1, stages=1)


def weights(net: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in net.state_dict().items() if k.startswith(prefix)}


@pytest.mark.parametrize(
    ("scaled", "actor_scaled", "critic_scaled"),
    [("actor", True, False), ("critic", False, True), ("none", False, False)],
)
def test_scaling_one_part_leaves_the_other_as_the_papers_init(scaled, actor_scaled, critic_scaled):
    paper = HybridPolicy(**SMALL, seed=3)
    net = HybridPolicy(**SMALL, seed=3, scaled=scaled)
    for prefix, on in (("embed_actor", actor_scaled), ("embed_critic", critic_scaled)):
        same = all(
            torch.equal(v, weights(paper, prefix)[k]) for k, v in weights(net, prefix).items()
        )
        assert same == on, prefix
    # an unscaled output layer has plain orthogonal init with gain 1: rows of norm 1
    out = net.actor_heads[0].out.weight if not actor_scaled else net.robot_local.out.weight
    assert float(out.norm(dim=1).max()) == pytest.approx(1.0, rel=1e-5)
    assert float(paper.actor_heads[0].out.weight.norm(dim=1).max()) < 1e-3


def test_outputs_only_scaling_scales_output_layers_and_leaves_hidden_ones():
    paper = HybridPolicy(**SMALL, seed=3)
    net = HybridPolicy(**SMALL, seed=3, scaled="outputs")
    assert torch.equal(net.actor_heads[0].out.weight, paper.actor_heads[0].out.weight)
    hidden = "embed_actor.0.conv.parametrizations.weight.original"
    ratio = net.state_dict()[hidden].norm() / paper.state_dict()[hidden].norm()
    assert float(ratio) == pytest.approx(100.0, rel=1e-4)


def test_batch_norm_and_spectral_norm_can_be_left_out():
    net = HybridPolicy(**SMALL, batch_norm=False, spectral=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert not any("parametrizations" in k for k in net.state_dict())
    full = HybridPolicy(**SMALL)
    assert any(isinstance(m, nn.BatchNorm2d) for m in full.modules())
    out = net(torch.randn(2, 5, 6, 6), torch.tensor([[0, 7]] * 2), torch.tensor([[0, 1]] * 2))
    assert out[0].shape == (2, 2, 6) and torch.isfinite(out[1]).all()
    with pytest.raises(ValueError, match="scaled must be"):
        HybridPolicy(**SMALL, scaled="half")


def test_without_masking_the_policy_samples_actions_the_env_masks():
    world = make_batched("harvest-v0", num_envs=4, preset="tiny")
    batch = world.reset(seed=0)
    x = _tensors(batch, masking=False)
    assert x["mask"][torch.from_numpy(batch.alive)].all()  # every action of a live entity
    assert not x["mask"][~torch.from_numpy(batch.alive)][:, 1:].any()  # empty: the no-op only
    net = build_policy(HybridConfig(preset="tiny", action_masking=False), world)
    agent = SlotPolicyAgent(world, net, seed=0, masking=False)
    illegal = 0
    for _ in range(5):
        actions = agent.act(batch)
        illegal += int((~np.take_along_axis(batch.action_mask, actions[..., None], 2)).sum())
        batch = world.step(actions)
    assert illegal > 0


@pytest.mark.parametrize("truncation", ["bootstrap", "terminal"])
def test_truncation_is_bootstrapped_or_terminal(truncation):
    cfg = HybridConfig(
        preset="tiny",
        num_envs=2,
        num_steps=4,
        env_settings={"max_cycles": 4},
        truncation=truncation,
    )
    world = make_batched("harvest-v0", num_envs=2, preset="tiny", max_cycles=4)
    torch.manual_seed(0)
    net = build_policy(HybridConfig(preset="tiny", init="default"), world)
    ro = Rollout.for_world(4, world)
    batch = world.reset(seed=0)
    stats = {"alive": 0.0, "episodes": []}
    collect(cfg, world, net, ro, batch, torch.Generator().manual_seed(0), stats)
    last = ro.rewards[3][ro.truncated[3]]
    assert ro.truncated[3].any() and not ro.truncated[:3].any()
    if truncation == "terminal":  # no reward in the last step of a tiny night: nothing added
        assert (last == 0).all()
    else:  # gamma x the value of the final state is added to the last reward
        assert (last != 0).all()
    with pytest.raises(ValueError, match="truncation must be"):
        HybridConfig(truncation="cut")


def test_the_paper_suite_runs_the_model_ablations_with_truncation_as_terminal(tmp_path):
    assert all(v["truncation"] == "terminal" for v in PAPER_VARIANTS.values())
    sections = {t.title: t for t in PAPER_TABLES if t.section == "3.7"}
    assert set(sections) == {"Weight initialisation", "Heuristics", "Regularisation"}
    for table in sections.values():
        for row in table.rows:
            assert row.variant in PAPER_VARIANTS
    cmp = Comparison(
        env_id="harvest-v0",
        preset="tiny",
        env_settings={"players": 2},
        methods=(),
        seeds=(1,),
        total_timesteps=None,
        config={},
        out=tmp_path,
        suite="paper",
        variants=("random-placement", "no-masking", "no-scaling", "no-batch-norm-no-spectral-norm"),
    )
    configs = {spec.label: cmp.config_for(spec) for spec in cmp.runs()}
    placement = configs["hybrid-random-placement"].env_settings
    assert placement == {"players": 2, "placement": "random"}  # the variant's over --set
    assert configs["hybrid-no-masking"].action_masking is False
    assert configs["hybrid-no-scaling"].scaled == "none"
    both = configs["hybrid-no-batch-norm-no-spectral-norm"]
    assert not both.batch_norm and not both.spectral_norm and both.truncation == "terminal"


def test_a_run_with_every_switch_off_trains_and_evaluates(tmp_path):
    from spawnzoo.hybrid.train import train

    cfg = HybridConfig(
        preset="tiny",
        env_settings={"placement": "random"},
        scaled="none",
        batch_norm=False,
        spectral_norm=False,
        action_masking=False,
        truncation="terminal",
        num_envs=2,
        num_steps=16,
        total_timesteps=32,
        num_minibatches=2,
        update_epochs=1,
        eval_episodes=1,
        eval_max_cycles=8,
        run_root=str(tmp_path),
        progress=False,
    )
    result = train(cfg)
    assert result.summary["network"]["total"] > 0
    assert np.isfinite(result.summary["final_metrics"]["eval/episode_length"])
