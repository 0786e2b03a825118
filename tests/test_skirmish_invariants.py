"""skirmish-v0: invariants under random and scripted play, mirror maps, determinism, and the
PettingZoo adapter against the batched core.

Masks and capture holders are checked against slow, obvious re-statements of the rules in the
env's docstring (``expected_mask``, ``expected_holders``), not against the vectorised code.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spawnzoo.envs import make, make_batched, make_policy
from spawnzoo.envs.skirmish import batched_env
from spawnzoo.envs.skirmish.mapgen import mirror
from spawnzoo.envs.skirmish.world import (
    ATTACK_N,
    BASE,
    BUILD_MELEE,
    BUILD_RANGED,
    DIRS,
    IDLE,
    MELEE,
    MOVE_N,
    NUM_ACTIONS,
    RANGED,
    SkirmishWorld,
)


# -------------------------------------------------------------- reference statements
def expected_mask(world: SkirmishWorld, e: int, s: int) -> np.ndarray:
    """The legal actions of slot ``s`` of world ``e``, straight from the actions table."""
    n = world.cfg.map_size
    mask = np.zeros(NUM_ACTIONS, dtype=bool)
    mask[IDLE] = True
    if not world.alive[e, s]:
        return mask
    owner = int(world.owner[e, s])
    y, x = divmod(int(world.cell[e, s]), n)

    def cell(yy: int, xx: int) -> tuple[bool, int]:
        """(passable ground on the map, occupant slot or -1)"""
        if not (0 <= yy < n and 0 <= xx < n) or world.rock[e, yy * n + xx]:
            return False, -1
        return True, int(world.occupant[e, yy * n + xx])

    if world.kind[e, s] == BASE:
        free = any(cell(y + dy, x + dx) == (True, -1) for dy, dx in DIRS[1:])
        units = world.alive[e] & (world.owner[e] == owner) & (world.kind[e] != BASE)
        for action, kind in ((BUILD_MELEE, MELEE), (BUILD_RANGED, RANGED)):
            mask[action] = (
                free
                and units.sum() < world.unit_slots
                and world.resources[e, owner] >= world.cost[kind]
                and world.next_serial[e, owner, kind] < world.cfg.unit_id_pool
            )
        return mask
    reach = int(world.attack_range[world.kind[e, s]])
    for d, (dy, dx) in enumerate(DIRS[1:]):
        ok, occ = cell(y + dy, x + dx)
        mask[MOVE_N + d] = ok and (occ < 0 or world.kind[e, occ] != BASE)
        for r in range(1, reach + 1):
            ok, occ = cell(y + r * dy, x + r * dx)
            if not ok:
                break
            if occ >= 0:
                mask[ATTACK_N + d] = world.owner[e, occ] != owner
                break
    return mask


def expected_holders(world: SkirmishWorld, e: int) -> list[int]:
    n, r = world.cfg.map_size, world.cfg.capture_radius
    holders = []
    for c in world.capture_cell[e].tolist():
        cy, cx = divmod(c, n)
        teams = set()
        for s in np.flatnonzero(world.alive[e] & (world.kind[e] != BASE)).tolist():
            y, x = divmod(int(world.cell[e, s]), n)
            if max(abs(y - cy), abs(x - cx)) <= r:
                teams.add(int(world.owner[e, s]))
        holders.append(teams.pop() if len(teams) == 1 else -1)
    return holders


def check_state(world: SkirmishWorld, batch) -> None:
    """Everything that must hold between two steps."""
    for e in range(world.num_envs):
        live = np.flatnonzero(world.alive[e])
        cells = world.cell[e, live]
        assert len(set(cells.tolist())) == live.size, "two entities share a cell"
        np.testing.assert_array_equal(world.occupant[e, cells], live)
        assert (world.occupant[e] >= 0).sum() == live.size
        assert not world.rock[e, cells].any()
        hp = world.hp[e, live]
        assert (hp >= 1).all() and (hp <= world.max_hp[world.kind[e, live]]).all()
        assert ((world.resources[e] >= 0) & (world.resources[e] <= world.cfg.resource_cap)).all()
        for s in range(world.num_slots):
            np.testing.assert_array_equal(batch.action_mask[e, s], expected_mask(world, e, s))
        if batch.done[e]:
            continue  # a fresh world: holders are recomputed on its first step
        assert world.holder[e].tolist() == expected_holders(world, e)
    bases = world.alive[:, : world.base_slots]
    assert (world.kind[:, : world.base_slots][bases] == BASE).all()
    assert (world.kind[:, world.base_slots :][world.alive[:, world.base_slots :]] != BASE).all()
    planes = world.planes()
    assert planes.min() >= -1.0 and planes.max() <= 1.0
    np.testing.assert_array_equal(batch.spawned & ~batch.alive, False)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    preset=st.sampled_from(["tiny", "small"]),
    policy=st.sampled_from(["random", "heuristic", "mixed"]),
)
def test_invariants_hold_after_every_step(seed, preset, policy):
    world = make_batched("skirmish-v0", num_envs=3, preset=preset, max_cycles=40)
    rng = np.random.default_rng(seed)
    heuristic = make_policy("skirmish-v0", "heuristic", world, seed=seed)
    batch = world.reset(seed=seed)
    check_state(world, batch)
    for _ in range(60):
        random = rng.random(batch.action_mask.shape) * batch.action_mask
        actions = np.argmax(random, axis=-1)
        if policy == "heuristic":
            actions = heuristic.act(batch)
        elif policy == "mixed":
            actions = np.where(batch.owner == 0, heuristic.act(batch), actions)
        if policy != "random":
            legal = np.take_along_axis(batch.action_mask, actions[..., None], axis=2)
            assert legal.all(), "the heuristic submitted a masked action"
        batch = world.step(actions)
        check_state(world, batch)


def _image(cells: np.ndarray, n: int, sym: int) -> np.ndarray:
    """``[2, m]`` (y, x) of the mirror images of flat ``cells`` ``[m]``."""
    return np.stack(mirror(*np.divmod(cells, n), n, sym))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), preset=st.sampled_from(["tiny", "small"]))
def test_dict_api_agents_are_unique_names_from_the_pool_and_observations_fit(seed, preset):
    env = make("skirmish-v0", preset=preset, max_cycles=40)
    rng = np.random.default_rng(seed)
    obs, infos = env.reset(seed=seed)
    seen: set[str] = set(env.agents)
    pool = set(env.possible_agents)
    while env.agents:
        assert len(set(env.agents)) == len(env.agents) and set(env.agents) <= pool
        for agent in env.agents:
            assert env.observation_space(agent).contains(obs[agent]), agent
        actions = {a: int(np.argmax(rng.random(11) * obs[a]["action_mask"])) for a in env.agents}
        before = set(env.agents)
        obs, rewards, terminations, truncations, infos = env.step(actions)
        born = set(obs) - before
        assert not born & seen, "a name came back within the episode"
        seen |= born
        gone = {a for a in obs if terminations[a] or truncations[a]}
        assert set(env.agents) == set(obs) - gone


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), preset=st.sampled_from(["tiny", "small", "large"]))
def test_maps_are_mirror_images_between_the_teams(seed, preset):
    world = make_batched("skirmish-v0", num_envs=2, preset=preset)
    world.reset(seed=seed)
    n = world.cfg.map_size
    yy, xx = np.mgrid[0:n, 0:n]
    for e in range(2):
        sym = int(world.symmetry[e])
        my, mx = mirror(yy, xx, n, sym)
        rock = world.rock[e].reshape(n, n)
        np.testing.assert_array_equal(rock, rock[my, mx])
        b = world.base_slots // 2
        bases = world.cell[e, : world.base_slots]
        np.testing.assert_array_equal(_image(bases[:b], n, sym), np.stack(np.divmod(bases[b:], n)))
        cap = world.capture_cell[e]
        np.testing.assert_array_equal(_image(cap[0::2], n, sym), np.stack(np.divmod(cap[1::2], n)))
        zone = world.zone[e].reshape(n, n)
        paired = np.where(zone[my, mx] >= 0, zone[my, mx] ^ 1, -1)  # point 2i <-> 2i + 1
        np.testing.assert_array_equal(zone, paired)
        assert not rock.reshape(-1)[bases].any()
        # the spawn orders are mirror images too
        d0 = DIRS[world.spawn_order[e, 0]]
        d1 = DIRS[world.spawn_order[e, 1]]
        o = np.array([n // 2, n // 2])
        image_d = np.stack(mirror(o[0] + d0[:, 0], o[1] + d0[:, 1], n, sym), 1) - np.stack(
            mirror(o[0], o[1], n, sym)
        )
        np.testing.assert_array_equal(image_d, d1)


# ------------------------------------------------------------------------ determinism
def test_batched_twins_agree_over_many_steps_with_auto_resets():
    worlds = [make_batched("skirmish-v0", num_envs=4, preset="tiny", max_cycles=30) for _ in "ab"]
    batches = [w.reset(seed=3) for w in worlds]
    rng = np.random.default_rng(0)
    dones = 0
    for _ in range(100):
        actions = np.argmax(rng.random(batches[0].action_mask.shape) * batches[0].action_mask, -1)
        batches = [w.step(actions) for w in worlds]
        a, b = batches
        for field in ("alive", "spawned", "kind", "owner", "serial", "cell", "action_mask"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        for field in ("reward", "terminated", "truncated", "done"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        np.testing.assert_array_equal(worlds[0].planes(), worlds[1].planes())
        dones += int(a.done.sum())
    assert dones >= 8
    c = make_batched("skirmish-v0", num_envs=4, preset="tiny")
    c.reset(seed=4)
    assert not np.array_equal(c.rock, worlds[0].rock) or not np.array_equal(c.cell, worlds[0].cell)


def test_parallel_env_twins_agree(legal_actions):
    envs = [make("skirmish-v0", preset="tiny") for _ in "ab"]
    rng = np.random.default_rng(5)
    for seed in (0, 1):
        (obs_a, _), (obs_b, _) = (env.reset(seed=seed) for env in envs)
        while envs[0].agents:
            assert envs[0].agents == envs[1].agents
            actions = {
                a: int(legal_actions(rng, obs_a[a]["action_mask"].astype(bool)))
                for a in envs[0].agents
            }
            out_a, out_b = (env.step(actions) for env in envs)
            obs_a, obs_b = out_a[0], out_b[0]
            assert out_a[1] == out_b[1] and out_a[2] == out_b[2] and out_a[3] == out_b[3]
            for agent in obs_a:
                np.testing.assert_array_equal(
                    obs_a[agent]["observation"], obs_b[agent]["observation"]
                )


def test_auto_reset_reports_the_final_state_and_starts_a_new_map(legal_actions):
    world = make_batched("skirmish-v0", num_envs=2, preset="tiny", max_cycles=12)
    batch = world.reset(seed=8)
    rng = np.random.default_rng(1)
    for _ in range(12):
        before_alive = batch.alive
        before_cells = world.cell.copy()
        batch = world.step(legal_actions(rng, batch.action_mask))
    assert batch.done.all()
    final = batch.final
    assert final.env_index.tolist() == [0, 1]
    assert final.planes.shape == (2, 2, len(world.plane_names), *world.map_shape)
    assert final.features.shape == (2, world.num_slots, len(world.feature_names))
    np.testing.assert_array_equal(batch.truncated, final.alive & before_alive)
    for m in final.metrics:
        assert m["episode_length"] == 12
        assert sum(p["win"] for p in m["per_player"]) == 1.0
    # the new episode: bases only, fresh resources
    assert (batch.spawned == batch.alive).all()
    assert (world.kind[batch.alive] == BASE).all()
    assert (world.resources == world.cfg.start_resources).all()
    assert not np.array_equal(world.cell, before_cells)


@pytest.mark.slow
def test_heuristic_beats_random_from_either_side():
    from spawnzoo.envs.core.policies import RandomPolicy
    from spawnzoo.envs.skirmish.policies import HeuristicPolicy, play_match

    for preset in ("tiny", "small"):
        world = make_batched("skirmish-v0", num_envs=10, preset=preset)
        h, r = HeuristicPolicy(world, seed=1), RandomPolicy(world, seed=2)
        assert play_match(world, h, r, episodes=30, seed=0).score >= 0.9
        assert play_match(world, r, h, episodes=30, seed=1).score <= 0.1


def test_heuristic_wins_a_short_match_against_random():
    from spawnzoo.envs.core.policies import RandomPolicy
    from spawnzoo.envs.skirmish.policies import HeuristicPolicy, play_match

    world = make_batched("skirmish-v0", num_envs=5, preset="tiny")
    result = play_match(world, RandomPolicy(world, seed=0), HeuristicPolicy(world, seed=0), 5)
    assert result.wins[1] >= 4 and result.episodes == 5
    with pytest.raises(ValueError, match="auto_reset"):
        play_match(batched_env(preset="tiny", auto_reset=False), None, None, 1)
