"""TorchRL (torchrl 0.14) on every env: ``spawnzoo.integrations.torchrl``.

A 200-step rollout through spawns, deaths and episode ends is replayed action for action on a
PettingZoo twin of the same env and seed: the ``mask`` is exactly the twin's live agents, and
observations, rewards, per-slot flags and episode ends are the twin's. The specs hold
(``check_env_specs``), random rollouts pick legal actions, and the ``Collector`` (torchrl 0.14's
name of ``SyncDataCollector``) runs.
Skipped without the ``[torchrl]`` extra.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "torchrl", reason="the [torchrl] extra is not installed: pip install '.[torchrl]'"
)

import torch
from tensordict.nn import TensorDictModule
from torchrl.collectors import Collector  # SyncDataCollector before torchrl 0.14
from torchrl.envs.utils import check_env_specs

from spawnzoo.envs import REGISTRY, make
from spawnzoo.integrations.torchrl import SlotTorchRLEnv, make_torchrl_env

ENV_IDS = sorted(REGISTRY)
AGENTS = "agents"


def legal_sample(action_mask: torch.Tensor) -> torch.Tensor:
    """``[..., A]`` bool -> ``[...]`` uniform legal actions."""
    flat = action_mask.reshape(-1, action_mask.shape[-1]).float()
    return torch.multinomial(flat, 1).reshape(action_mask.shape[:-1])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_specs_hold(env_id):
    env = make_torchrl_env(env_id, preset="tiny", state=True)
    check_env_specs(env, seed=0)
    s, a = env.num_slots, env.num_actions
    assert env.full_action_spec[AGENTS, "action"].shape == (s,)
    assert env.full_observation_spec[AGENTS, "action_mask"].shape == (s, a)
    assert set(env.done_keys) == {"done", "terminated", "truncated"}  # episode flags only
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_a_rollout_matches_a_pettingzoo_twin_step_by_step(env_id):
    torch.manual_seed(0)
    env = make_torchrl_env(env_id, preset="tiny")
    env.set_seed(7)
    td = env.rollout(200, break_when_any_done=False)  # auto-resets at episode ends
    assert td.shape == (200,)
    twin = make(env_id, preset="tiny")
    obs, _ = twin.reset(seed=7)
    counts = {"spawned": 0, "died": 0, "episodes": 0}
    for t in range(200):
        now, nxt = td[t], td[t]["next"]
        live = {twin.slot_of(a): a for a in twin.agents}
        mask = now[AGENTS, "mask"].numpy()
        assert sorted(live) == np.flatnonzero(mask).tolist(), t  # mask == the live agents
        for slot, agent in live.items():
            np.testing.assert_array_equal(
                now[AGENTS, "observation"][slot], obs[agent]["observation"]
            )
            np.testing.assert_array_equal(
                now[AGENTS, "action_mask"][slot], obs[agent]["action_mask"].astype(bool)
            )
            assert now[AGENTS, "kind"][slot] == twin.kind_names.index(twin.kind_of(agent))
        action = now[AGENTS, "action"]
        assert now[AGENTS, "action_mask"].gather(-1, action[:, None]).all()  # legal actions
        obs, rewards, terms, truncs, _ = twin.step({a: int(action[s]) for s, a in live.items()})
        for slot, agent in live.items():
            assert nxt[AGENTS, "reward"][slot, 0] == pytest.approx(rewards[agent])
            assert bool(nxt[AGENTS, "terminated"][slot, 0]) == terms[agent]
            assert bool(nxt[AGENTS, "truncated"][slot, 0]) == truncs[agent]
            np.testing.assert_array_equal(
                nxt[AGENTS, "observation"][slot], obs[agent]["observation"]
            )
        ended = ~np.isin(np.arange(env.num_slots), list(live))
        assert not nxt[AGENTS, "done"][torch.from_numpy(ended)].any()  # flags: actors only
        counts["died"] += sum(terms.values())
        counts["spawned"] += len(set(obs) - set(live.values()))
        assert bool(nxt["done"]) == (not twin.agents)
        assert bool(nxt["truncated"]) == (not twin.agents and any(truncs.values()))
        if not twin.agents:
            counts["episodes"] += 1
            obs, _ = twin.reset()  # no seed: both continue their streams
    assert counts["spawned"] and counts["died"] and counts["episodes"], counts


def test_the_same_seed_gives_the_same_rollout():
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        env = make_torchrl_env("harvest-v0", preset="tiny", players=2)
        env.set_seed(3)
        runs.append(env.rollout(50, break_when_any_done=False))
    assert (runs[0] == runs[1]).all()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_collector_runs_through_episodes(env_id):
    torch.manual_seed(0)
    policy = TensorDictModule(
        legal_sample, in_keys=[(AGENTS, "action_mask")], out_keys=[(AGENTS, "action")]
    )
    collector = Collector(
        lambda: make_torchrl_env(env_id, preset="tiny", max_cycles=40),
        policy,
        frames_per_batch=60,
        total_frames=120,
        auto_register_policy_transforms=False,  # the policy needs no InitTracker
    )
    batches = list(collector)
    collector.shutdown()
    assert len(batches) == 2
    data = torch.cat([b.reshape(-1) for b in batches])
    assert data.shape == (120,)
    assert data["next", "done"].sum() >= 2  # episodes of 40 steps ended and were reset
    acting = data[AGENTS, "mask"]
    assert acting.any(-1).all()  # someone acts in every step
    chosen = data[AGENTS, "action_mask"].gather(-1, data[AGENTS, "action"][..., None])[..., 0]
    assert chosen[acting].all()
    assert not data["next", AGENTS, "reward"][~acting].any()  # no reward for empty slots


def test_bad_settings_fail_like_the_env():
    with pytest.raises(ValueError, match="max_cycles"):
        SlotTorchRLEnv("forage-v0", preset="tiny", max_cycles=0)


def test_the_ippo_example_trains_and_evaluates(capsys):
    from script_helpers import load_script

    script = load_script("scripts/examples/torchrl_ippo.py")
    script.main(["--env-steps", "200", "--batch", "100", "--epochs", "1", "--eval-episodes", "1"])
    out = capsys.readouterr().out
    assert "evaluation, random legal actions" in out and "evaluation, trained policy" in out
    assert out.count("env steps") == 2  # one line per batch of 100


def test_several_worlds_through_serial_env_reset_each_at_its_own_end():
    from torchrl.envs import SerialEnv

    torch.manual_seed(0)
    env = SerialEnv(2, lambda: make_torchrl_env("forage-v0", preset="tiny", max_cycles=20))
    env.set_seed(0)
    td = env.rollout(50, break_when_any_done=False)
    assert td.shape == (2, 50)
    assert (td["next", "done"].sum((1, 2)) >= 2).all()  # episodes of <= 20 steps, both worlds
    assert (td[0][AGENTS, "observation"] != td[1][AGENTS, "observation"]).any()  # two seeds
    # after each world's end, the next step starts a fresh episode with its initial agents
    ends = td["next", "done"][..., 0]
    for w, t in ends[:, :-1].nonzero().tolist():
        assert not td[w, t + 1]["done"] and td[w, t + 1][AGENTS, "mask"].any()
    env.close()
