"""Same seed and same actions give the same trajectory, over many episodes, in both APIs.

PettingZoo 1.27's ``parallel_seed_test`` compares only the first step (it stops at
``any(terminations)``, which is true for any non-empty dict), so we run our own long-horizon
checks: two twins side by side for more than a thousand steps with robots spawning and dying,
every returned value compared. The PettingZoo adapter and the batched core run the same rules,
so they must also give identical trajectories for the same seed and actions.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from spawnzoo.envs import make, make_batched
from spawnzoo.envs.harvest import batched_env
from spawnzoo.envs.harvest.world import FACTORY

MIN_STEPS = 1000


def assert_same(a, b, path="") -> None:
    """Deep equality of nested dicts/lists/tuples of arrays and scalars (dtype and shape too)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, f"{path}: dtype"
        assert np.array_equal(a, b), f"{path}: arrays differ"
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


def dict_actions(rng: np.random.Generator, obs: dict, agents: list[str], sample) -> dict:
    return {a: int(sample(rng, obs[a]["action_mask"].astype(bool))) for a in agents}


def test_parallel_env_twins_agree_over_many_episodes(legal_actions):
    settings = dict(preset="tiny", players=2, max_cycles=120)
    env_a, env_b = make("harvest-v0", **settings), make("harvest-v0", **settings)
    rng_a, rng_b = np.random.default_rng(2024), np.random.default_rng(2024)
    steps = spawned = died = episodes = 0
    while steps < MIN_STEPS:
        seed = 1000 + episodes
        obs_a, infos_a = env_a.reset(seed=seed)
        obs_b, infos_b = env_b.reset(seed=seed)
        assert_same((obs_a, infos_a), (obs_b, infos_b), "reset")
        while env_a.agents:
            assert env_a.agents == env_b.agents
            actions_a = dict_actions(rng_a, obs_a, env_a.agents, legal_actions)
            actions_b = dict_actions(rng_b, obs_b, env_b.agents, legal_actions)
            assert actions_a == actions_b
            out_a = env_a.step(actions_a)
            out_b = env_b.step(actions_b)
            assert_same(out_a, out_b, f"episode {episodes} step {steps}")
            assert np.array_equal(env_a.state(), env_b.state())
            obs_a, _, terminations, _, _ = out_a
            obs_b = out_b[0]
            spawned += len(set(obs_a) - set(actions_a))
            died += sum(terminations.values())
            steps += 1
        episodes += 1
    assert episodes >= 5
    assert spawned > 0 and died > 0, (spawned, died)


def assert_same_batch(a, b, where: str) -> None:
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "final":
            assert (x is None) == (y is None), where
            if x is not None:
                for g in fields(x):
                    assert_same(getattr(x, g.name), getattr(y, g.name), f"{where} final.{g.name}")
        else:
            assert_same(x, y, f"{where} {f.name}")


def test_batched_twins_agree_over_many_steps_with_auto_resets(legal_actions):
    core_a = make_batched("harvest-v0", num_envs=4, preset="small", players=2)
    core_b = make_batched("harvest-v0", num_envs=4, preset="small", players=2)
    batch_a, batch_b = core_a.reset(seed=99), core_b.reset(seed=99)
    assert_same_batch(batch_a, batch_b, "reset")
    rng = np.random.default_rng(5)
    built = dead = resets = 0
    for t in range(MIN_STEPS):
        actions = legal_actions(rng, batch_a.action_mask)
        batch_a, batch_b = core_a.step(actions), core_b.step(actions.copy())
        assert_same_batch(batch_a, batch_b, f"step {t}")
        if t % 97 == 0:
            assert np.array_equal(core_a.planes(), core_b.planes()), f"planes at step {t}"
        built += int((batch_a.spawned & (batch_a.kind != FACTORY) & ~batch_a.done[:, None]).sum())
        dead += int((batch_a.terminated & ~batch_a.done[:, None]).sum())
        resets += int(batch_a.done.sum())
    assert built > 0 and dead > 0 and resets >= 4, (built, dead, resets)


def test_a_different_seed_gives_a_different_map():
    core = make_batched("harvest-v0", num_envs=2, preset="small", players=2)
    core.reset(seed=0)
    first = core.ice.copy(), core.ore.copy(), core.rubble.copy()
    # the worlds of one batch draw from different streams
    assert not np.array_equal(first[2][0], first[2][1])
    core.reset(seed=1)
    assert not np.array_equal(core.rubble, first[2])
    assert not np.array_equal(core.ice, first[0])
    core.reset(seed=0)  # and the same seed again gives the first map back
    for now, then in zip((core.ice, core.ore, core.rubble), first):
        assert np.array_equal(now, then)
    env = make("harvest-v0", preset="small")
    env.reset(seed=0)
    state0 = env.state()
    env.reset(seed=1)
    assert not np.array_equal(env.state(), state0)


def test_auto_reset_keeps_the_final_state_of_the_episode_it_ends(legal_actions):
    settings = dict(preset="tiny", players=2, max_cycles=30)
    auto = batched_env(num_envs=3, **settings)
    manual = batched_env(num_envs=3, auto_reset=False, **settings)
    batch, reference = auto.reset(seed=21), manual.reset(seed=21)
    rng = np.random.default_rng(21)
    for _ in range(30):
        actions = legal_actions(rng, batch.action_mask)
        batch, reference = auto.step(actions), manual.step(actions)
    assert batch.done.all() and reference.done.all()
    final = batch.final
    np.testing.assert_array_equal(final.env_index, [0, 1, 2])
    # what the auto-reset world captured is the state the manual world still holds
    np.testing.assert_array_equal(final.planes, manual.planes())
    np.testing.assert_array_equal(final.alive, manual.alive)
    np.testing.assert_array_equal(final.cell[final.alive], manual.cell[manual.alive])
    np.testing.assert_array_equal(final.kind[final.alive], manual.kind[manual.alive])
    np.testing.assert_array_equal(final.owner[final.alive], manual.owner[manual.alive])
    assert final.metrics == reference.final.metrics
    # the transition flags agree; after the reset, the auto world starts a new episode
    np.testing.assert_array_equal(batch.truncated, reference.truncated)
    np.testing.assert_array_equal(batch.terminated, reference.terminated)
    np.testing.assert_array_equal(batch.reward, reference.reward)
    assert (auto.t == 0).all() and (manual.t == 30).all()
    np.testing.assert_array_equal(batch.spawned, batch.alive)
    assert not (batch.alive & (batch.kind != FACTORY)).any()  # only factories at a reset
