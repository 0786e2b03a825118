"""The learners' shared plumbing: evaluation protocol, milestones, run directories, checkpoints,
the PPO config and its command line, the method registry and ``spawnzoo train`` end to end."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pytest
import torch
from learner_helpers import QUICK_RUN

from spawnzoo import cli
from spawnzoo.baselines.common import metrics as M
from spawnzoo.baselines.common.config import (
    PPOConfig,
    build_parser,
    config_from_cli,
    field_docs,
)
from spawnzoo.baselines.common.evaluation import EvalResult, MilestoneTracker, evaluate
from spawnzoo.baselines.common.progress import progress_bar
from spawnzoo.baselines.common.protocol import (
    eval_map_seed,
    final_map_seed,
    first_crossing,
    sustained_milestone,
)
from spawnzoo.baselines.common.runs import RunDir, RunResult, atomic_write_json
from spawnzoo.baselines.registry import METHODS, make_algorithm
from spawnzoo.envs import make_policy

TINY = {"preset": "tiny"}


def reference(name: str, seed: int = 0):
    return lambda world: make_policy("harvest-v0", name, world, seed=seed)


# ---------------------------------------------------------------------- evaluation
@pytest.fixture(scope="module")
def evals() -> dict[tuple[str, int], EvalResult]:
    """random / heuristic on tiny, 1 and 2 players, 200 steps: past a factory's 150 water."""
    return {
        (name, players): evaluate(
            reference(name),
            "harvest-v0",
            {**TINY, "players": players},
            num_envs=12,
            max_cycles=200,
            seed=420,
        )
        for name in ("random", "heuristic")
        for players in (1, 2)
    }


@pytest.mark.parametrize("players", [1, 2])
def test_heuristic_transfers_far_more_ice_and_survives_where_random_does_not(evals, players):
    rnd, heu = evals["random", players], evals["heuristic", players]
    for r in (rnd, heu):
        assert r.num_episodes == 12 and r.num_players == players
        assert len(r.player_metrics["ice_transferred"]) == 12 * players
    # random never brings enough ice home: every factory runs dry after its 150 water
    assert rnd.ice_transferred < 50
    assert all(150 <= n < 200 for n in rnd.episode_lengths)
    assert rnd.full_length_fraction == 0.0 and not any(rnd.time_limit)
    assert rnd.avg_factories_alive < 0.9
    # the heuristic delivers thousands of ice and keeps every factory alive to the limit
    assert heu.ice_transferred > 2000
    assert heu.ice_transferred > 40 * max(rnd.ice_transferred, 1.0)
    assert heu.episode_lengths == [200] * 12 and heu.full_length_fraction == 1.0
    assert heu.avg_factories_alive == pytest.approx(1.0)


def test_evaluation_metrics_use_the_shared_keys(evals):
    result = evals["heuristic", 2]
    m = result.to_metrics()
    assert set(M.EVAL_KEYS) | {M.EVAL_ICE_DUG, M.EVAL_EPISODES} <= set(m)
    for key in (M.EVAL_EPISODE_LENGTH, M.EVAL_ICE_TRANSFERRED, M.EVAL_AVG_FACTORIES_ALIVE):
        assert M.std_key(key) in m
    assert m[M.EVAL_EPISODES] == 12
    assert m[M.EVAL_ICE_TRANSFERRED] == pytest.approx(result.ice_transferred)
    # every per-player metric of the env is logged as eval/<name>
    assert {M.eval_key(k) for k in result.player_metrics} <= set(m)
    json.dumps(result.to_dict())  # summary.json material


def test_evaluation_is_reproducible_and_ignores_the_training_time_limit():
    kwargs = dict(num_envs=3, max_cycles=40, seed=7)
    a = evaluate(reference("random", 1), "harvest-v0", {**TINY, "max_cycles": 5}, **kwargs)
    b = evaluate(reference("random", 1), "harvest-v0", TINY, **kwargs)
    assert a == b  # the settings' max_cycles (training episodes) is replaced by the eval's
    assert a.episode_lengths == [40, 40, 40] and a.full_length_fraction == 1.0


def test_finished_worlds_get_no_ops_until_all_are_done():
    """A world that ended keeps being stepped with action 0 only; its metrics are the first."""
    seen = []

    class Recorder:
        def __init__(self, world):
            self.inner = make_policy("harvest-v0", "random", world, seed=0)
            self.world = world

        def act(self, batch):
            seen.append(self.world.t.copy())
            return self.inner.act(batch)

    result = evaluate(Recorder, "harvest-v0", TINY, num_envs=4, max_cycles=200, seed=420)
    assert len(seen) == max(result.episode_lengths)  # stopped as soon as all were done
    assert all(n < 200 for n in result.episode_lengths)
    assert len(set(result.episode_lengths)) > 1  # the worlds did end at different steps


def test_evaluate_rejects_settings_it_owns():
    with pytest.raises(ValueError, match="auto_reset"):
        evaluate(
            reference("random"), "harvest-v0", {**TINY, "auto_reset": True}, max_cycles=5, seed=0
        )
    with pytest.raises(ValueError, match="max_cycles must be >= 1"):
        evaluate(reference("random"), "harvest-v0", TINY, max_cycles=0, seed=0)


def episode(length: int, *ice: float) -> dict:
    per_player = [{"ice_transferred": x, "avg_factories_alive": length / 128} for x in ice]
    return {"episode_length": length, "per_player": per_player}


def test_full_length_fraction_on_a_hand_made_case():
    # 1: full length; 2: a player lost its last factory at step 100; 3: at step 128, the last
    # step (terminal, not truncated: not full length); 4: full length
    result = EvalResult.from_episodes(
        [episode(128, 10, 20), episode(100, 0, 30), episode(128, 50, 0), episode(128, 40, 50)],
        time_limit=[True, False, False, True],
        max_cycles=128,
    )
    assert result.full_length == [True, False, False, True]
    assert result.full_length_fraction == 0.5
    assert result.episode_length == pytest.approx((128 * 3 + 100) / 4)
    assert result.ice_transferred == pytest.approx(200 / 8)  # mean over 8 player-episodes
    m = result.to_metrics()
    assert m[M.EVAL_FULL_LENGTH_FRACTION] == 0.5
    assert m[M.std_key(M.EVAL_ICE_TRANSFERRED)] == pytest.approx(
        np.std([10, 20, 0, 30, 50, 0, 40, 50])
    )
    assert m[M.std_key(M.EVAL_EPISODE_LENGTH)] == pytest.approx(np.std([128, 100, 128, 128]))
    with pytest.raises(KeyError, match="reports"):
        result.player_mean("ore")
    with pytest.raises(ValueError, match="time_limit"):
        EvalResult.from_episodes([episode(5, 1)], time_limit=[], max_cycles=5)


# ---------------------------------------------------------------------- milestones
def test_milestones_are_sustained_and_first_crossings_are_kept():
    t = MilestoneTracker()
    assert t.update(4096, 1 / 12) == []  # 8% < 10%
    assert t.update(8192, 2 / 12) == [0.10]
    assert t.update(12288, 11 / 12) == []  # 92% < 95%
    assert t.update(16384, 0.0) == []  # a dip clears the 10% milestone ...
    assert t.milestone(0.10) is None
    assert t.update(20480, 19 / 20) == [0.10, 0.95]  # ... until back up; exactly 95% counts
    assert t.update(24576, 1.0) == []
    assert t.milestones() == {"full_length_10pct": 20480, "full_length_95pct": 20480}
    assert t.first_crossings() == {"full_length_10pct": 8192, "full_length_95pct": 20480}


def test_sustained_milestone_and_first_crossing_on_hand_made_curves():
    steps = [1, 2, 3, 4, 5]
    assert sustained_milestone(steps, [0.2, 0.0, 0.3, 0.5, 0.1], 0.1) == 3
    assert first_crossing(steps, [0.2, 0.0, 0.3, 0.5, 0.1], 0.1) == 1
    assert sustained_milestone(steps, [1.0, 1.0, 1.0, 1.0, 0.9], 0.95) is None  # the end dips
    assert sustained_milestone(steps, [0.0] * 5, 0.1) is None
    assert sustained_milestone(steps, [31 / 32] * 5, 0.95) == 1  # 31 of 32 is 96.9%
    assert sustained_milestone([], [], 0.1) is None
    t = MilestoneTracker()  # the tracker agrees with the function on any curve
    fractions = [0.3, 0.05, 0.96, 0.2, 1.0]
    for s, f in zip(steps, fractions):
        t.update(s, f)
    assert t.milestones() == {
        "full_length_10pct": sustained_milestone(steps, fractions, 0.1),
        "full_length_95pct": sustained_milestone(steps, fractions, 0.95),
    }
    with pytest.raises(ValueError, match="steps for"):
        sustained_milestone([1], [], 0.1)


def test_milestones_never_reached_are_none_and_state_round_trips():
    t = MilestoneTracker()
    t.update(4096, 0.5)
    assert t.milestones() == {"full_length_10pct": 4096, "full_length_95pct": None}
    again = MilestoneTracker()
    again.load_state_dict(json.loads(json.dumps(t.state_dict())))
    assert again.milestones() == t.milestones() and again.last_env_steps == 4096
    with pytest.raises(ValueError, match="in order"):
        again.update(100, 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        again.update(8192, 1.5)
    with pytest.raises(ValueError, match="fractions"):
        MilestoneTracker([0.0])
    with pytest.raises(ValueError, match="thresholds"):
        MilestoneTracker([0.5]).load_state_dict(t.state_dict())


# ---------------------------------------------------------------------- run directories
def make_config(tmp_path, **kw) -> PPOConfig:
    base = dict(preset="tiny", total_timesteps=0, run_root=str(tmp_path), progress=False)
    return PPOConfig(**{**base, **kw})


def test_run_dir_writes_readable_files(tmp_path):
    config = make_config(tmp_path, seed=3)
    run = RunDir.for_config(config, method="hybrid")
    assert run.path.parent == tmp_path and run.path.name.startswith("harvest-v0__hybrid__3__")
    meta = run.read_config()
    assert meta["method"] == "hybrid" and meta["seed"] == 3 and meta["version"]
    assert meta["config"]["preset"] == "tiny" and meta["config"]["env_settings"] == {}
    assert meta["config_class"] == "spawnzoo.baselines.common.config:PPOConfig"
    assert isinstance(meta["command"], list)

    run.log(4096, {M.LOSSES_POLICY: torch.tensor(0.5), M.CHARTS_SPS: np.float32(100.0)})
    run.log(8192, {M.LOSSES_POLICY: float("nan")})
    rows = run.read_metrics()
    assert [r["env_steps"] for r in rows] == [4096, 8192]
    assert rows[0][M.LOSSES_POLICY] == 0.5 and rows[0][M.CHARTS_SPS] == 100.0
    assert rows[1][M.LOSSES_POLICY] is None  # strict JSON: no NaN
    assert {"time", "wall_clock_s"} <= set(rows[0])
    assert list(run.tb_dir.glob("events.out.tfevents.*"))

    summary = run.write_summary(
        env_steps=8192,
        agent_steps=20000,
        parameter_count=123,
        final_metrics={M.EVAL_EPISODE_LENGTH: 128.0},
        milestones={"full_length_10pct": 4096, "full_length_95pct": None},
        wall_clock_s=2.0,
    )
    assert run.read_summary() == summary
    assert summary["env_sps"] == 4096 and summary["agent_sps"] == 10000
    assert summary["method"] == "hybrid" and summary["parameter_count"] == 123
    result = run.finish(
        env_steps=1, agent_steps=1, parameter_count=1, final_metrics={}, milestones={}
    )
    assert isinstance(result, RunResult) and result.run_dir == run.path
    assert not [p for p in run.path.rglob("*.tmp")]


def test_run_names_do_not_collide_and_named_runs_are_not_overwritten(tmp_path):
    a = RunDir.create(tmp_path, env_id="harvest-v0", method="random", seed=1, tensorboard=False)
    b = RunDir.create(tmp_path, env_id="harvest-v0", method="random", seed=1, tensorboard=False)
    assert a.path != b.path
    config = make_config(tmp_path, run_name="mine")
    RunDir.for_config(config, method="random")
    with pytest.raises(FileExistsError, match="--resume"):
        RunDir.for_config(config, method="random")
    with pytest.raises(ValueError, match="not"):
        RunDir.for_config(make_config(tmp_path, run_name="mine", resume=True), method="hybrid")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(4, 8)
        self.norm = torch.nn.BatchNorm1d(8)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.norm(self.body(x)))


def trained_net(seed: int = 0) -> tuple[Net, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-5)
    for _ in range(2):
        opt.zero_grad()
        net(torch.randn(16, 4)).pow(2).mean().backward()
        opt.step()
    return net, opt


def draws(gen: np.random.Generator) -> tuple:
    return (
        torch.rand(3).tolist(),
        np.random.random(3).tolist(),  # noqa: NPY002  # the global state is what we restore
        [random.random() for _ in range(3)],
        gen.random(3).tolist(),
    )


def test_checkpoint_round_trip_loads_with_weights_only(tmp_path):
    run = RunDir.for_config(make_config(tmp_path), method="hybrid", tensorboard=False)
    net, opt = trained_net()
    gen = np.random.default_rng(5)
    tracker = MilestoneTracker()
    tracker.update(4096, 0.2)
    path = run.save_checkpoint(
        7,
        env_steps=28672,
        agent_steps=99,
        model=net,
        optimizer=opt,
        state={"milestones": tracker.state_dict(), "iteration": 7},
        rngs={"policy": gen},
    )
    assert path.name == "cycle_0007.pt"
    expected = draws(gen)

    raw = torch.load(path, weights_only=True)
    assert raw["cycle"] == 7 and raw["env_steps"] == 28672 and raw["agent_steps"] == 99
    assert set(raw["model"]) == set(net.state_dict())

    fresh, fresh_opt = trained_net(seed=1)
    fresh_gen = np.random.default_rng(123)
    ckpt = RunDir.open(run.path).load_checkpoint(
        model=fresh, optimizer=fresh_opt, rngs={"policy": fresh_gen}
    )
    for key, value in net.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)
    torch.testing.assert_close(
        fresh_opt.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )
    assert draws(fresh_gen) == expected  # every RNG continues where it was saved
    restored = MilestoneTracker()
    restored.load_state_dict(ckpt["state"]["milestones"])
    assert restored.milestones() == tracker.milestones()
    with pytest.raises(KeyError, match="no generator 'other'"):
        run.load_checkpoint(rngs={"other": np.random.default_rng()})


def test_writes_are_atomic(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    atomic_write_json(target, {"v": 1})

    def crash(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write_json(target, {"v": 2})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"v": 1}  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]  # no temp left

    # a checkpoint whose serialisation fails leaves the previous one untouched
    run = RunDir.for_config(make_config(tmp_path / "runs"), method="hybrid", tensorboard=False)
    net, opt = trained_net()
    first = run.save_checkpoint(1, env_steps=10, model=net, optimizer=opt)
    before = first.read_bytes()
    monkeypatch.setattr(torch, "save", lambda obj, f: (f.write(b"half"), crash()))
    with pytest.raises(OSError):
        run.save_checkpoint(1, env_steps=10, model=net, optimizer=opt)
    monkeypatch.undo()
    assert first.read_bytes() == before
    assert run.checkpoints() == [first]
    assert not list(run.checkpoint_dir.glob("*.tmp"))


def test_a_torn_metrics_row_is_dropped_and_cleaned_on_resume(tmp_path):
    run = RunDir.for_config(make_config(tmp_path), method="hybrid", tensorboard=False)
    run.log(1, {M.LOSSES_ENTROPY: 1.0})
    with open(run.metrics_path, "a") as f:
        f.write('{"env_steps": 2, "losses/ent')  # a crash in the middle of a row
    assert [r["env_steps"] for r in run.read_metrics()] == [1]
    run.truncate_metrics(10)
    run.log(3, {M.LOSSES_ENTROPY: 0.5})
    assert [r["env_steps"] for r in run.read_metrics()] == [1, 3]


def test_resume_finds_the_latest_checkpoint_and_drops_later_rows(tmp_path):
    config = make_config(tmp_path, seed=9)
    run = RunDir.for_config(config, method="hybrid", tensorboard=False)
    net, opt = trained_net()
    for cycle in (1, 2, 10):
        run.log(cycle * 100, {M.LOSSES_VALUE: cycle})
        run.save_checkpoint(cycle, env_steps=cycle * 100, model=net, optimizer=opt)
    run.log(1100, {M.LOSSES_VALUE: 11.0})  # logged, then the process died before its checkpoint
    (run.checkpoint_dir / ".cycle_0011.pt.abc.tmp").write_bytes(b"half")  # a dead write
    assert run.latest_checkpoint().name == "cycle_0010.pt"  # numeric, not text order
    run.close()  # the process "died": its lock is given back

    again = RunDir.for_config(PPOConfig(**{**vars(config), "resume": True}), method="hybrid")
    assert again.path == run.path
    assert len(again.read_config()["resumed"]) == 1
    fresh, fresh_opt = trained_net(seed=3)
    ckpt = again.resume(model=fresh, optimizer=fresh_opt)
    assert ckpt["cycle"] == 10 and ckpt["env_steps"] == 1000
    assert [r["env_steps"] for r in again.read_metrics()] == [100, 200, 1000]
    torch.testing.assert_close(fresh.head.weight, net.head.weight)

    run.save_checkpoint(11, env_steps=1100, model=net, keep_last=2)
    assert [p.name for p in run.checkpoints()] == ["cycle_0010.pt", "cycle_0011.pt"]
    new = RunDir.for_config(make_config(tmp_path, seed=4, resume=True), method="hybrid")
    assert new.path != run.path and new.resume(model=fresh) is None  # nothing to resume


@pytest.mark.parametrize("fp16", [False, True])
def test_rollout_storage_is_sized_by_the_world(fp16):
    from spawnzoo.baselines.common.buffer import Rollout
    from spawnzoo.envs import make_batched

    world = make_batched("harvest-v0", num_envs=3, preset="tiny", players=2)
    ro = Rollout.for_world(5, world, fp16)
    c, (h, w) = len(world.plane_names), world.map_shape
    assert ro.planes.shape == (5, 3, 2, c, h, w)
    assert ro.planes.dtype == (torch.float16 if fp16 else torch.float32)
    assert ro.mask.shape == (5, 3, world.num_slots, world.num_actions)
    for name in ("cell", "active", "spawned", "actions", "logp", "rewards", "truncated"):
        assert getattr(ro, name).shape == (5, 3, world.num_slots), name
    assert not ro.active.any() and float(ro.rewards.abs().sum()) == 0.0


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_rollout_storage_lives_on_the_learners_device(device):
    from spawnzoo.baselines.common.buffer import Rollout
    from spawnzoo.envs import make_batched

    world = make_batched("harvest-v0", num_envs=2, preset="tiny")
    ro = Rollout.for_world(3, world, device=device)
    for name, tensor in vars(ro).items():
        assert tensor.device.type == device, name


def _one_update(device: str, policy_state: dict | None = None):
    """One cycle of the hybrid on ``tiny`` with storage and network on ``device``: the rollout
    is played on the CPU-seeded generator, so both devices see the same actions."""
    from spawnzoo.baselines.common.buffer import Rollout
    from spawnzoo.baselines.grouped import grouping as grp
    from spawnzoo.baselines.grouped import ppo as gppo
    from spawnzoo.envs import make_batched
    from spawnzoo.hybrid.config import HybridConfig
    from spawnzoo.hybrid.train import build_policy, separation

    cfg = HybridConfig(preset="tiny", num_envs=4, num_steps=32, update_epochs=2, device=device)
    env = make_batched(cfg.env_id, num_envs=cfg.num_envs, **cfg.env_kwargs)
    torch.manual_seed(0)
    policy = build_policy(cfg, env)
    if policy_state is not None:
        policy.load_state_dict(policy_state)
    policy = policy.to(device)
    state = {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()}
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps)
    generator = torch.Generator().manual_seed(0)
    ro = Rollout.for_world(cfg.num_steps, env, device=device)
    stats: dict = {"alive": 0.0, "episodes": []}
    batch = env.reset(seed=0)
    _, last_values, last = gppo.collect(cfg, env, policy, ro, batch, generator, stats)
    layout, width, sep = grp.EntityLayout.of(env), env.map_shape[1], separation(cfg)
    targets = [
        gppo.player_targets(cfg, sep, ro, last_values, last, p, width, layout, generator)
        for p in range(env.num_players)
    ]
    for tg in targets:  # the targets are made where the storage is
        assert all(t.device.type == device for t in vars(tg).values())
    losses = gppo.update(cfg, sep, policy, optimizer, ro, targets, generator)
    return state, ro, losses, {k: v.detach().cpu() for k, v in policy.state_dict().items()}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_update_on_the_gpu_follows_the_cpu_update():
    """Storage, targets and losses on the GPU give the CPU's update up to float rounding."""
    state, ro_cpu, cpu_losses, cpu_after = _one_update("cpu")
    _, ro_gpu, gpu_losses, gpu_after = _one_update("cuda", state)
    assert torch.equal(ro_cpu.actions, ro_gpu.actions.cpu())  # same rollout actions
    for key, value in cpu_losses.items():
        assert gpu_losses[key] == pytest.approx(value, rel=1e-3, abs=1e-5), key
    for key, value in cpu_after.items():
        torch.testing.assert_close(gpu_after[key], value, rtol=1e-3, atol=1e-4, msg=key)


@pytest.mark.numerics
def test_cpu_update_repeats_bit_for_bit():
    """Two CPU updates from the same state agree exactly (the per-minibatch losses kept as
    tensors until the update ends are read back as the same floats)."""
    state, _, losses, after = _one_update("cpu")
    _, _, again, after_again = _one_update("cpu", state)
    assert losses == again
    for key, value in after.items():
        assert torch.equal(after_again[key], value), key


# ---------------------------------------------------------------------- config
def test_ppo_config_derived_values():
    c = PPOConfig(total_timesteps=102_400)
    assert (c.batch_size, c.minibatch_size, c.num_iterations) == (4096, 512, 25)
    assert c.eval_horizon == 512  # the small preset's eval_max_cycles
    assert PPOConfig(preset="tiny").eval_horizon == 128
    assert PPOConfig(eval_max_cycles=1000).eval_horizon == 1000
    assert c.env_kwargs == {"preset": "small"}
    bare = PPOConfig(preset=None, env_settings={"map_size": 16}, eval_max_cycles=64)
    assert bare.env_kwargs == {"map_size": 16} and bare.eval_horizon == 64
    assert PPOConfig(preset="tiny", eval_episodes=3, eval_seed=7).eval_kwargs == {
        "env_id": "harvest-v0",
        "settings": {"preset": "tiny"},
        "num_envs": 3,
        "max_cycles": 128,
        "seed": 7,
        "opponent": None,
    }
    derived = PPOConfig(preset="tiny", seed=3)
    assert derived.eval_kwargs["num_envs"] == 32  # the protocol's default
    assert derived.eval_kwargs["seed"] == eval_map_seed(3) != eval_map_seed(4)
    assert derived.final_eval_kwargs == {**derived.eval_kwargs, "seed": final_map_seed(3)}
    e = PPOConfig(total_timesteps=5 * 4096, eval_every=2, checkpoint_every=0)
    assert [i for i in range(1, 6) if e.should_evaluate(i)] == [2, 4, 5]
    assert [i for i in range(1, 6) if e.should_checkpoint(i)] == [5]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"env_id": "nope-v0"}, "unknown env_id 'nope-v0'; registered"),
        ({"preset": "huge"}, r"unknown preset 'huge' .* choose one of"),
        ({"num_envs": 0}, "num_envs must be >= 1"),
        ({"num_minibatches": 7}, "must divide the rollout .* try one of"),
        ({"total_timesteps": 100}, "less than one rollout .* use 0 to only evaluate"),
        ({"total_timesteps": -1}, "total_timesteps must be >= 0"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"gamma": 1.5}, r"gamma must be in \[0, 1\]"),
        ({"ent_coef": -1.0}, "ent_coef must be >= 0"),
        ({"target_kl": 0.0}, "target_kl must be > 0 or None"),
        ({"env_settings": {"num_envs": 2}}, "must not set .*num_envs"),
        ({"eval_max_cycles": 0}, "eval_max_cycles must be >= 1"),
        ({"run_name": "a/b"}, "plain folder name"),
        ({"device": "gpu9"}, "not a torch device"),
        ({"preset": None}, "no evaluation length: .* set eval_max_cycles"),
    ],
)
def test_ppo_config_errors_say_what_to_do(changes, message):
    with pytest.raises(ValueError, match=message):
        PPOConfig(**changes)


def test_every_field_has_a_docstring():
    docs = field_docs(PPOConfig)
    assert set(docs) == set(PPOConfig.__dataclass_fields__)
    assert all(docs.values())


@dataclass
class MethodConfig(PPOConfig):
    """A method's config with its own field kinds."""

    mode: Literal["a", "b"] = "a"
    """A choice."""
    parts: tuple[str, ...] = field(default_factory=tuple)
    """Some names."""
    width: int | None = None
    """Optional width."""


def test_config_from_cli_types_every_field():
    c = config_from_cli(
        MethodConfig,
        "--env harvest-v0 --preset tiny --seed 4 --total-timesteps 8192 --learning-rate 1e-3 "
        '--no-anneal-lr --target-kl 0.05 --eval-max-cycles none --env-settings {"players":1} '
        "--set players=2 --set placement=random --mode b --parts x y --width 8".split(),
    )
    assert c.preset == "tiny" and c.seed == 4 and c.total_timesteps == 8192
    assert c.learning_rate == 1e-3 and c.anneal_lr is False and c.target_kl == 0.05
    assert c.eval_max_cycles is None
    assert c.env_settings == {"players": 2, "placement": "random"}  # --set wins
    assert (c.mode, c.parts, c.width) == ("b", ("x", "y"), 8)
    assert config_from_cli(MethodConfig, []) == MethodConfig()
    assert (
        config_from_cli(PPOConfig, ["--preset", "none", "--eval-max-cycles", "64"]).preset is None
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--num-envs", "two"], "invalid int value"),
        (["--mode", "c"], "invalid choice 'c'"),
        (["--bogus", "1"], "unrecognized arguments: --bogus"),
        (["--num-minibatches", "7"], "must divide"),
        (["--set", "players"], "expected KEY=VALUE"),
    ],
)
def test_config_from_cli_errors(argv, message, capsys):
    with pytest.raises(SystemExit):
        config_from_cli(MethodConfig, argv, prog="spawnzoo train x")
    assert message in capsys.readouterr().err


def test_cli_help_comes_from_the_field_docstrings():
    text = " ".join(build_parser(PPOConfig, prog="spawnzoo train x").format_help().split())
    assert "--gae-lambda" in text and "Lambda of generalised advantage estimation" in text
    assert "--anneal-lr, --no-anneal-lr" in text and "(default: 0.95)" in text


# ---------------------------------------------------------------------- registry, progress
def test_registry_loads_methods_lazily():
    algo = make_algorithm("random")
    assert algo.config_cls is PPOConfig and callable(algo.train)
    assert {"hybrid", "random", "heuristic"} <= set(METHODS)
    with pytest.raises(ValueError, match="unknown method 'ppo'; available"):
        make_algorithm("ppo")


def test_every_method_is_one_complete_spec():
    """Each method names its train function, config class and, when it learns, how its trained
    policy is rebuilt; all of them load."""
    from spawnzoo.baselines.common.config import PPOConfig as Base

    for name, spec in METHODS.items():
        algo = make_algorithm(name)
        assert issubclass(algo.config_cls, Base) and callable(algo.train)
        assert spec.learns == callable(algo.load_agent), name
    assert {n for n, s in METHODS.items() if not s.learns} == {"random", "heuristic"}


def test_a_learning_method_without_a_loader_is_refused():
    from spawnzoo.baselines.registry import MethodSpec, register_method

    with pytest.raises(ValueError, match="needs load_agent"):
        MethodSpec("mine", train="pkg.mod:train", config="pkg.mod:Config", learns=True)
    with pytest.raises(ValueError, match="'module:attr'"):
        MethodSpec("mine", train="train", config="pkg.mod:Config", learns=False)
    with pytest.raises(ValueError, match="already registered"):
        register_method(METHODS["hybrid"])


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal():
    plain = io.StringIO()
    with progress_bar(100, stream=plain) as bar:
        assert not bar.live
        bar.update(50, {M.CHARTS_SPS: 12.0})
        bar.message("eval done")
    assert plain.getvalue() == "eval done\n"

    silent = Tty()
    with progress_bar(100, enabled=False, stream=silent) as bar:
        bar.update(50)
        bar.message("x")
    assert silent.getvalue() == ""

    term = Tty()
    with progress_bar(100, stream=term, description="train") as bar:
        assert bar.live
        bar.update(100, {M.CHARTS_SPS: 1234.5, M.EVAL_FULL_LENGTH_FRACTION: 0.5}, kl=0.01)
    out = term.getvalue()
    assert "train" in out and "100/100" in out and "sps=1234" in out and "full=0.5" in out


# ---------------------------------------------------------------------- spawnzoo train
@pytest.mark.parametrize("method", ["random", "heuristic"])
def test_spawnzoo_train_reference_writes_a_run_dir(tmp_path, monkeypatch, capsys, method):
    monkeypatch.setitem(cli.COMMANDS, "train", "spawnzoo.cli.train:add_train_command")
    argv = ["train", method, "--preset", "tiny", "--total-timesteps", "0"]
    argv += ["--seed", "2", "--run-root", str(tmp_path), "--no-progress", "--set", "players=2"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    (run_path,) = tmp_path.iterdir()
    assert f"run directory: {run_path}" in out and "eval/ice_transferred" in out
    assert run_path.name.startswith(f"harvest-v0__{method}__2__")
    run = RunDir.open(run_path)
    summary = run.read_summary()
    assert summary["method"] == method and summary["seed"] == 2
    final = summary["final_metrics"]
    for key in M.EVAL_KEYS:
        assert key in final
    assert final[M.EVAL_EPISODES] == 32 and final[M.EVAL_EPISODE_LENGTH] == 128
    assert len(summary["final_eval"]["player_metrics"]["ice_transferred"]) == 64
    protocol = summary["protocol"]  # the final numbers come from the held-out maps
    assert protocol["final_map_seed"] == final_map_seed(2) != protocol["eval_map_seed"]
    assert protocol["milestones"] == "sustained" and summary["resumed_from"] == []
    assert set(summary["milestones"]) == {"full_length_10pct", "full_length_95pct"}
    assert summary["final_eval"]["max_cycles"] == 128  # the tiny preset's eval length
    assert [r["env_steps"] for r in run.read_metrics()] == [0]
    assert run.read_config()["config"]["env_settings"] == {"players": 2}
    if method == "heuristic":
        assert final[M.EVAL_ICE_TRANSFERRED] > 1000


def test_reference_curve_spans_the_learners_schedule(tmp_path):
    config = make_config(tmp_path, total_timesteps=3 * 1024, num_envs=4, eval_every=2)
    result = make_algorithm("heuristic").train(config)
    rows = RunDir.open(result.run_dir).read_metrics()
    assert [r["env_steps"] for r in rows] == [0, 2048, 3072]
    assert result.summary["milestones"] == {"full_length_10pct": 0, "full_length_95pct": 0}


def test_the_train_command_does_not_import_torch_until_it_runs():
    """``spawnzoo render`` loads every subcommand's parser: ``train``'s must stay light."""
    code = "import sys, spawnzoo.cli.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------- config honours its fields
def test_network_size_follows_the_map_size_on_every_env():
    """Sizes come from the map, not from a preset's name: forage's 128 x 128 and skirmish's
    64 x 64 ``large`` presets get the full-size networks like harvest's 48 x 48 ``paper``,
    their 12-32 cell presets the CPU-sized ones."""
    from spawnzoo.baselines.centralized.config import MappoConfig, MonolithicConfig
    from spawnzoo.hybrid.config import HybridConfig

    for env_id, preset, side in [
        ("harvest-v0", "tiny", 12),
        ("harvest-v0", "small", 24),
        ("harvest-v0", "paper", 48),
        ("forage-v0", "small", 32),
        ("forage-v0", "large", 128),
        ("skirmish-v0", "large", 64),
    ]:
        big = side >= 48
        h = HybridConfig(env_id=env_id, preset=preset)
        assert h.map_side == side
        assert (h.width, h.depth, h.stages) == ((32, 2, 2) if big else (16, 1, 1))
        d = MonolithicConfig(env_id=env_id, preset=preset)
        assert (d.width, d.blocks) == ((64, 4) if big else (16, 1))
        m = MappoConfig(env_id=env_id, preset=preset)
        assert (m.width, m.blocks) == ((32, 2) if big else (16, 1))
    # BottleNet: halvings down to 3 x 3 cells, at most the paper's 4
    depths = {
        s: MonolithicConfig(preset="small", env_settings={"map_size": s}, network="bottlenet").depth
        for s in (12, 24, 48, 64)
    }
    assert depths == {12: 2, 24: 3, 48: 4, 64: 4}
    # a map size set by hand counts, and explicit widths win
    assert HybridConfig(preset="small", env_settings={"map_size": 48}).width == 32
    assert HybridConfig(preset="paper", width=8).width == 8


def test_target_kl_stops_the_update_epochs_early(tmp_path):
    """As in CleanRL's PPO: after an epoch whose last minibatch's approximate KL exceeds
    target_kl, the update stops; without it every epoch runs."""
    from spawnzoo.hybrid.config import HybridConfig
    from spawnzoo.hybrid.train import train

    common = {**QUICK_RUN, "update_epochs": 6, "learning_rate": 0.05, "run_root": str(tmp_path)}
    full = RunDir.open(train(HybridConfig(**common, run_name="full")).run_dir).read_metrics()
    assert [r[M.CHARTS_UPDATE_EPOCHS] for r in full] == [6, 6]
    early = HybridConfig(**common, target_kl=1e-9, run_name="early")
    rows = RunDir.open(train(early).run_dir).read_metrics()
    assert [r[M.CHARTS_UPDATE_EPOCHS] for r in rows] == [1, 1]


@pytest.mark.parametrize("deterministic", [True, False])
def test_torch_deterministic_is_what_seeding_asks_torch_for(deterministic):
    import torch

    from spawnzoo.baselines.common.seeding import seed_everything

    before = torch.are_deterministic_algorithms_enabled()
    try:
        seed_everything(3, deterministic=deterministic)
        assert torch.are_deterministic_algorithms_enabled() is deterministic
        assert torch.backends.cudnn.deterministic is deterministic
        assert torch.backends.cudnn.benchmark is (not deterministic)
    finally:
        torch.use_deterministic_algorithms(before, warn_only=True)
