"""PettingZoo's own API tests, run on every registered env under each of its conformance settings.

A new env registers itself (``spawnzoo.envs.register``) with a few small ``conformance`` settings
and gets this whole file. On top of PettingZoo's checks we test ``max_cycles`` ourselves, because
PettingZoo's ``max_cycles_test`` assumes every possible agent lives from the first step, and
that the dict API plays exactly the batched core it adapts.
"""

from __future__ import annotations

import types
from functools import partial

import numpy as np
import pytest
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
    state_test,
)
from pettingzoo.utils import parallel_to_aec

from spawnzoo.envs import REGISTRY, harvest_v0, make, make_batched, make_policy

CASES = [
    pytest.param(
        spec.id, settings, id=f"{spec.id}:" + ",".join(f"{k}={v}" for k, v in settings.items())
    )
    for spec in REGISTRY.values()
    for settings in spec.conformance
]

#: PettingZoo's test helpers warn about things that are expected here; anything else they warn
#: about fails the test. Expected: agents leave ``agents`` before ``possible_agents`` is used up
#: (a finite pool of names for agents that spawn later), and observations are ``Dict`` spaces
#: with an action mask rather than a single array.
PETTINGZOO_WARNINGS = pytest.mark.filterwarnings(
    "error::UserWarning:pettingzoo.test",
    "ignore:No agents present but not all possible_agents are terminated:UserWarning",
    "ignore:Observation is not a NumPy array:UserWarning",
    "ignore:Observation space for each agent probably should be:UserWarning",
)

NUM_CYCLES = 250


@PETTINGZOO_WARNINGS
@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_parallel_api(env_id, settings):
    parallel_api_test(make(env_id, **settings), num_cycles=NUM_CYCLES)


@PETTINGZOO_WARNINGS
@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_aec_api(env_id, settings):
    api_test(parallel_to_aec(make(env_id, **settings)), num_cycles=NUM_CYCLES)


@PETTINGZOO_WARNINGS
@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_seeding(env_id, settings):
    parallel_seed_test(partial(make, env_id, **settings), num_cycles=NUM_CYCLES)
    seed_test(lambda: parallel_to_aec(make(env_id, **settings)), num_cycles=NUM_CYCLES)


@PETTINGZOO_WARNINGS
@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_state(env_id, settings):
    state_test(parallel_to_aec(make(env_id, **settings)), make(env_id, **settings), num_cycles=10)
    env = make(env_id, **settings)
    env.reset(seed=3)
    h, w = env.world.map_shape
    assert env.state_space.shape == (len(env.world.plane_names), h, w)
    assert env.state().shape == env.state_space.shape and env.state().dtype == np.float32


def _render_module(env_id: str) -> str:
    """``<env package>.render`` of an env, e.g. ``spawnzoo.envs.harvest.render``."""
    module = REGISTRY[env_id].parallel_entry_point.partition(":")[0]
    return module.rpartition(".")[0] + ".render"


@pytest.mark.render
@PETTINGZOO_WARNINGS
@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_render(env_id, settings):
    module = _render_module(env_id)
    pytest.importorskip(module, reason=f"{module} is not written yet")

    def aec(render_mode=None):
        return parallel_to_aec(make(env_id, render_mode=render_mode, **settings))

    render_test(aec)  # "human" (SDL dummy driver, see conftest) and "rgb_array"
    env = make(env_id, render_mode="rgb_array", **settings)
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 1  # a picture, not a blank fill
    env.close()
    env.close()  # idempotent


# ------------------------------------------------------------------------- max_cycles
@PETTINGZOO_WARNINGS
def test_pettingzoo_max_cycles_with_a_pool_dominated_by_agents_alive_from_the_start():
    # PettingZoo's max_cycles_test runs 4 steps and requires the MEDIAN of the per-agent step
    # counts over ALL possible_agents to be max_cycles + 1. With harvest's default pools most
    # names belong to robots that may never be built, so the median is 0. These settings shrink
    # the robot pools to one name per class and player and give each player 5 factories: 10 of
    # the 14 possible agents are factories alive from the first step to the last, so the median
    # is a factory's count and the test checks what it is meant to.
    settings = dict(
        preset="paper",
        players=2,
        robot_slots_per_player=1,
        robot_ids_per_class=1,
        factories_per_player=(5, 5),
    )
    env = harvest_v0.parallel_env(**settings)
    assert len(env.possible_agents) == 14
    env.reset(seed=0)
    assert sum("factory" in a for a in env.agents) == 10
    module = types.SimpleNamespace(
        parallel_env=partial(harvest_v0.parallel_env, **settings),
        env=partial(harvest_v0.env, **settings),
    )
    max_cycles_test(module)


@pytest.mark.parametrize(("env_id", "settings"), CASES)
@pytest.mark.parametrize("set_as", ["argument", "attribute"])
def test_episode_ends_after_exactly_max_cycles_steps_with_live_agents_truncated(
    env_id, settings, set_as, legal_actions
):
    max_cycles = 23
    if set_as == "argument":
        env = make(env_id, max_cycles=max_cycles, **settings)
    else:
        env = make(env_id, **settings)
        env.max_cycles = max_cycles  # what PettingZoo's tests do
    rng = np.random.default_rng(7)
    obs, _ = env.reset(seed=11)
    spawned = 0
    for t in range(1, max_cycles + 1):
        assert env.agents, f"episode ended early, at step {t - 1}"
        before = list(env.agents)  # a list: a set's order (and so which agent gets which draw)
        # would change with PYTHONHASHSEED, and with it whether any agent spawns in 23 steps
        actions = {a: int(legal_actions(rng, obs[a]["action_mask"].astype(bool))) for a in before}
        obs, rewards, terminations, truncations, infos = env.step(actions)
        spawned += len(set(obs) - set(before))
        assert set(obs) == set(rewards) == set(terminations) == set(truncations) == set(infos)
        assert set(before) <= set(obs)
        if t < max_cycles:
            assert not any(truncations.values()), f"truncated at step {t}"
            assert all("episode" not in info for info in infos.values())
    # the last step: every agent that did not terminate is truncated and leaves
    assert env.agents == []
    survivors = [a for a in obs if not terminations[a]]
    assert survivors and all(truncations[a] for a in survivors)
    assert not any(truncations[a] and terminations[a] for a in obs)
    assert {infos[a]["episode"]["episode_length"] for a in obs} == {max_cycles}
    assert spawned > 0  # robots were built along the way, and were truncated too if alive


@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_batched_worlds_end_every_max_cycles_steps(env_id, settings):
    max_cycles = 17
    core = make_batched(env_id, num_envs=3, max_cycles=max_cycles, **settings)
    batch = core.reset(seed=5)
    for t in range(1, 2 * max_cycles + 1):
        alive_before = batch.alive
        batch = core.step(np.zeros((core.num_envs, core.num_slots), dtype=np.int64))
        ends = t % max_cycles == 0
        assert batch.done.tolist() == [ends] * core.num_envs, t
        if ends:
            # idle entities (factories, foragers) do not die this early: all are truncated
            np.testing.assert_array_equal(batch.truncated, alive_before)
            np.testing.assert_array_equal(batch.final.alive, alive_before)
            assert [m["episode_length"] for m in batch.final.metrics] == [max_cycles] * 3
            np.testing.assert_array_equal(batch.spawned, batch.alive)  # the next episode
        else:
            assert not batch.truncated.any() and batch.final is None


@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_unseeded_reset_continues_the_seeded_stream(env_id, settings):
    """Gymnasium's rule: ``reset(seed=s)`` once, then ``reset()``, is reproducible, and the
    later episodes are new maps (the stream goes on), not repeats of the first."""

    def maps(env) -> list[np.ndarray]:
        out = [env.reset(seed=3)[0]]
        out += [env.reset()[0] for _ in range(2)]
        return [np.stack([o["observation"] for o in obs.values()]) for obs in out]

    first, second = maps(make(env_id, **settings)), maps(make(env_id, **settings))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not (first[0].shape == first[1].shape and np.array_equal(first[0], first[1]))


@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_the_dict_api_plays_exactly_the_batched_core(env_id, settings, legal_actions):
    """The PettingZoo adapter is a view of one batched world: the same agents (live slots,
    spawns as new names), masks, state, observations (the core's windows and own features),
    rewards, flags, infos and episode metrics, step for step, under random legal play and the
    env's scripted ``heuristic`` (which fights, so units die on the larger maps too)."""
    settings = {**settings, "max_cycles": 100}
    env = make(env_id, **settings)
    core = make_batched(env_id, num_envs=1, auto_reset=False, **settings)
    w = core.map_shape[1]
    rng = np.random.default_rng(17)
    spawned = died = 0
    for seed in range(3):
        obs, infos = env.reset(seed=seed)
        batch = core.reset(seed=seed)
        heuristic = make_policy(env_id, "heuristic", core, seed=seed) if seed == 1 else None
        while True:
            slot_of = {a: env.slot_of(a) for a in env.agents}
            live = np.flatnonzero(batch.alive[0]).tolist() if not batch.done[0] else []
            assert sorted(slot_of.values()) == live
            assert set(slot_of) <= set(obs) and set(slot_of) <= set(env.possible_agents)
            np.testing.assert_array_equal(env.state(), core.planes()[0, 0])
            if slot_of:
                slots = np.array(list(slot_of.values()))
                zeros = np.zeros_like(slots)
                window = core.egocentric(zeros, slots, core.cfg.obs_radius)
                expected = np.concatenate(
                    [window.reshape(len(slots), -1), core.self_features(zeros, slots)], axis=1
                )
                for i, (agent, slot) in enumerate(slot_of.items()):
                    np.testing.assert_array_equal(obs[agent]["observation"], expected[i])
                    np.testing.assert_array_equal(
                        obs[agent]["action_mask"].astype(bool), batch.action_mask[0, slot]
                    )
            if not env.agents:
                break
            if heuristic is None:
                actions = legal_actions(rng, batch.action_mask)
            else:
                actions = heuristic.act(batch)
            obs, rewards, terminations, truncations, infos = env.step(
                env.actions_from_slots(actions)
            )
            batch = core.step(actions)
            # this step's dicts hold last step's agents and the ones spawned now (those spawned
            # in an episode's last step never act, so they never become agents)
            new = {a: env.slot_of(a) for a in set(obs) - set(slot_of)}
            born = batch.spawned[0] & ~batch.done[0]
            assert sorted(new.values()) == np.flatnonzero(born).tolist()
            spawned += len(new)
            slot_of |= new
            assert set(obs) == set(slot_of) == set(rewards) == set(terminations) == set(infos)
            for agent, slot in slot_of.items():
                assert rewards[agent] == float(batch.reward[0, slot]), agent
                assert terminations[agent] == bool(batch.terminated[0, slot]), agent
                assert truncations[agent] == bool(batch.truncated[0, slot]), agent
                info = infos[agent]
                assert info["illegal_action"] == bool(batch.illegal[0, slot]), agent
                # numbers only (TorchRL makes tensors of infos); the names come from the env
                assert type(info["kind"]) is int and info["kind"] == batch.kind[0, slot]
                assert type(info["owner"]) is int and info["owner"] == batch.owner[0, slot]
                assert env.kind_of(agent) == core.kind_names[batch.kind[0, slot]]
                assert env.owner_of(agent) == core.pool.owners[batch.owner[0, slot]]
                y, x = divmod(int(batch.cell[0, slot]), w)
                assert info["cell"] == (x, y)
                if batch.done[0]:
                    per_player = batch.final.metrics[0]["per_player"][batch.owner[0, slot]]
                    assert info["episode"] == {"episode_length": int(core.t[0]), **per_player}
                else:
                    assert "episode" not in info
                died += terminations[agent]
    assert spawned > 0 and died > 0, (spawned, died)
