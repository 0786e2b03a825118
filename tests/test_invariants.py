"""Invariants that hold after every step of random legal play, over seeds, presets and players.

The masks and planes are checked against slow, obvious re-statements of the rules in the env's
docstring (``expected_mask``, ``check_planes``), not against the vectorised code.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spawnzoo.envs import make, make_batched
from spawnzoo.envs.harvest.config import make_config
from spawnzoo.envs.harvest.mapgen import generate_map
from spawnzoo.envs.harvest.world import (
    BUILD_HEAVY,
    BUILD_LIGHT,
    DIG,
    FACTORY,
    HEAVY,
    IDLE,
    LIGHT,
    MOVE_N,
    NUM_ACTIONS,
    PICKUP,
    TRANSFER_C,
    TRANSFER_N,
    HarvestWorld,
)

#: planes holding a scaled quantity at an entity's cell and -1 elsewhere
QUANTITY_PLANES = (
    "robot_power",
    "robot_ice",
    "robot_ore",
    "factory_power",
    "factory_ice",
    "factory_water",
    "factory_ore",
    "factory_metal",
    "factory_water_cost",
)
#: (dy, dx) of N, E, S, W: the order of moves 1-4 and of transfers 7-10
DIRECTIONS = ((-1, 0), (0, 1), (1, 0), (0, -1))

SETTINGS = st.fixed_dictionaries(
    {
        "preset": st.sampled_from(["tiny", "small"]),
        "players": st.sampled_from([1, 2]),
        "placement": st.sampled_from(["heuristic", "random", "paper"]),
        "action_masks": st.sampled_from(["harvest", "paper"]),
    }
)


# -------------------------------------------------------------- reference statements
def expected_mask(world: HarvestWorld, e: int, s: int) -> np.ndarray:
    """The legal actions of slot ``s`` of world ``e``, straight from the rules table."""
    cfg, n = world.cfg, world.cfg.map_size
    mask = np.zeros(NUM_ACTIONS, dtype=bool)
    mask[IDLE] = True
    if not world.alive[e, s]:
        return mask
    owner, power = int(world.owner[e, s]), int(world.power[e, s])
    paper = cfg.action_masks == "paper"

    def factory_owner(y: int, x: int) -> int:
        f = world.factory_map[e, y * n + x]
        return -1 if f < 0 else int(world.owner[e, f])

    def robot_owner(y: int, x: int) -> int:
        r = world.robot_map[e, y * n + x]
        return -1 if r < 0 else int(world.owner[e, r])

    if world.kind[e, s] == FACTORY:
        centre_free = world.robot_map[e, world.cell[e, s]] < 0
        base = world.factory_slots + owner * world.robot_slots
        slot_left = world.alive[e, base : base + world.robot_slots].sum() < world.robot_slots
        for action, kind, rc in ((BUILD_LIGHT, LIGHT, cfg.light), (BUILD_HEAVY, HEAVY, cfg.heavy)):
            mask[action] = (
                centre_free
                and slot_left
                and world.metal[e, s] >= rc.metal_cost
                and power >= rc.power_cost
                and world.next_serial[e, owner, kind] < cfg.robot_id_pool
            )
        mask[IDLE] = not (paper and mask[BUILD_HEAVY])  # the paper's factories may not idle
        return mask
    rc = cfg.light if world.kind[e, s] == LIGHT else cfg.heavy
    y, x = divmod(int(world.cell[e, s]), n)
    carrying = world.cargo_ice[e, s] + world.cargo_ore[e, s] > 0
    for i, (dy, dx) in enumerate(DIRECTIONS):
        ty, tx = y + dy, x + dx
        if not (0 <= ty < n and 0 <= tx < n):
            continue
        cost = math.floor(rc.move_cost + rc.rubble_movement_cost * world.rubble[e, ty * n + tx])
        enemy_factory = factory_owner(ty, tx) not in (-1, owner)
        mask[MOVE_N + i] = not enemy_factory and power >= cost
        f = world.factory_map[e, ty * n + tx]
        if paper and (robot_owner(ty, tx) == owner or (f >= 0 and world.cell[e, f] == ty * n + tx)):
            mask[MOVE_N + i] = False  # onto an own robot or a factory centre
        own_target = owner == factory_owner(ty, tx) or (not paper and owner == robot_owner(ty, tx))
        mask[TRANSFER_N + i] = carrying and own_target
    c = y * n + x
    on_factory = world.factory_map[e, c] >= 0
    something = world.rubble[e, c] > 0 or world.ice[e, c] or world.ore[e, c]
    mask[DIG] = something and not on_factory and power >= rc.dig_cost
    on_own_factory = factory_owner(y, x) == owner
    mask[TRANSFER_C] = carrying and on_own_factory
    mask[PICKUP] = on_own_factory and power < rc.battery_capacity
    return mask


def check_world(world: HarvestWorld) -> None:
    """State invariants of every world: maps agree with slots, quantities within bounds."""
    cfg, n = world.cfg, world.cfg.map_size
    fs = world.factory_slots
    for e in range(world.num_envs):
        alive = world.alive[e]
        kind = world.kind[e]
        # slot layout: factories first, then per-player robot blocks
        assert (kind[:fs][alive[:fs]] == FACTORY).all()
        assert np.isin(kind[fs:][alive[fs:]], (LIGHT, HEAVY)).all()
        for p in range(world.num_players):
            block = slice(fs + p * world.robot_slots, fs + (p + 1) * world.robot_slots)
            assert (world.owner[e, block][alive[block]] == p).all()
        # at most one robot per tile, and robot_map is exactly the live robots
        robots = np.flatnonzero(alive[fs:]) + fs
        cells = world.cell[e, robots]
        assert len(set(cells.tolist())) == robots.size
        expected_rmap = np.full(n * n, -1)
        expected_rmap[cells] = robots
        np.testing.assert_array_equal(world.robot_map[e], expected_rmap)
        # factory_map is exactly the 3x3 footprints of the live factories
        expected_fmap = np.full(n * n, -1)
        for f in np.flatnonzero(alive[:fs]):
            cy, cx = divmod(int(world.cell[e, f]), n)
            assert 1 <= cy < n - 1 and 1 <= cx < n - 1
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    assert expected_fmap[(cy + dy) * n + cx + dx] == -1, "factories overlap"
                    expected_fmap[(cy + dy) * n + cx + dx] = f
        np.testing.assert_array_equal(world.factory_map[e], expected_fmap)
        # quantities
        assert (world.rubble[e] >= 0).all() and (world.rubble[e] <= cfg.max_rubble).all()
        assert (world.rubble[e][world.factory_map[e] >= 0] == 0).all()
        for r in robots:
            rc = cfg.light if kind[r] == LIGHT else cfg.heavy
            assert 0 <= world.power[e, r] <= rc.battery_capacity
            assert 0 <= world.cargo_ice[e, r] <= rc.cargo_space
            assert 0 <= world.cargo_ore[e, r] <= rc.cargo_space
        for f in np.flatnonzero(alive[:fs]):
            assert world.water[e, f] >= 0 and world.metal[e, f] >= 0 and world.power[e, f] >= 0
        # every used serial is below the pool size, and no two live robots share one
        assert (world.next_serial[e, :, 1:] <= cfg.robot_id_pool).all()
        names = set(zip(world.owner[e, robots], kind[robots], world.serial[e, robots]))
        assert len(names) == robots.size
        for o, k, serial in names:
            assert 0 <= serial < world.next_serial[e, o, k]


def check_masks(world: HarvestWorld, mask: np.ndarray) -> None:
    assert mask.shape == (world.num_envs, world.num_slots, NUM_ACTIONS) and mask.dtype == bool
    for e in range(world.num_envs):
        for s in range(world.num_slots):
            np.testing.assert_array_equal(
                mask[e, s], expected_mask(world, e, s), err_msg=f"{e},{s}"
            )


def check_planes(world: HarvestWorld) -> None:
    """``planes()`` against the plane table of the env's docstring."""
    cfg, n = world.cfg, world.cfg.map_size
    planes = world.planes()
    assert planes.shape == (world.num_envs, world.num_players, 18, n, n)
    assert planes.dtype == np.float32 and (planes >= -1).all() and (planes <= 1).all()
    idx = {name: i for i, name in enumerate(world.plane_names)}
    for e in range(world.num_envs):
        fmap, rmap = world.factory_map[e], world.robot_map[e]
        f_owner = np.where(fmap >= 0, world.owner[e][fmap.clip(0)], -1)
        r_owner = np.where(rmap >= 0, world.owner[e][rmap.clip(0)], -1)
        t = world.t[e]
        for p in range(world.num_players):
            got = planes[e, p].reshape(len(idx), n * n)
            assert np.allclose(got[idx["step"]], min(t / cfg.step_scale, 1) * 2 - 1)
            assert (got[idx["day"]] == float(t % cfg.cycle_length < cfg.day_length)).all()
            np.testing.assert_array_equal(got[idx["ice"]], world.ice[e])
            np.testing.assert_array_equal(got[idx["ore"]], world.ore[e])
            assert np.allclose(got[idx["rubble"]], world.rubble[e] / cfg.max_rubble * 2 - 1)
            np.testing.assert_array_equal(got[idx["own_factory"]], f_owner == p)
            np.testing.assert_array_equal(got[idx["own_robot"]], r_owner == p)
            enemy = ((f_owner >= 0) & (f_owner != p)) | ((r_owner >= 0) & (r_owner != p))
            np.testing.assert_array_equal(got[idx["enemy"]], enemy)
            heavy = np.zeros(n * n, dtype=bool)
            expected = {name: np.full(n * n, -1.0) for name in QUANTITY_PLANES}
            for s in np.flatnonzero(world.alive[e]):
                c = world.cell[e, s]
                if world.kind[e, s] == FACTORY:
                    expected["factory_power"][c] = min(world.power[e, s] / 3000, 1) * 2 - 1
                    for name, arr in (
                        ("factory_ice", world.cargo_ice),
                        ("factory_water", world.water),
                        ("factory_ore", world.cargo_ore),
                        ("factory_metal", world.metal),
                    ):
                        expected[name][c] = min(arr[e, s] / 1000, 1) * 2 - 1
                    expected["factory_water_cost"][c] = 1 / 1000 * 2 - 1  # no lichen: 1 water
                else:
                    rc = cfg.light if world.kind[e, s] == LIGHT else cfg.heavy
                    heavy[c] = world.kind[e, s] == HEAVY
                    expected["robot_power"][c] = world.power[e, s] / rc.battery_capacity * 2 - 1
                    expected["robot_ice"][c] = world.cargo_ice[e, s] / rc.cargo_space * 2 - 1
                    expected["robot_ore"][c] = world.cargo_ore[e, s] / rc.cargo_space * 2 - 1
            np.testing.assert_array_equal(got[idx["robot_heavy"]], heavy)
            for name, value in expected.items():
                np.testing.assert_allclose(got[idx[name]], value, atol=1e-6, err_msg=name)


def check_windows(world: HarvestWorld, e: int, slots: np.ndarray, radius: int) -> None:
    """``egocentric`` windows against a cell-by-cell cut of the owner's planes."""
    n = world.cfg.map_size
    planes = world.planes()
    spatial = [i for i, name in enumerate(world.plane_names) if name not in ("step", "day")]
    fill = np.array([world.plane_fill[world.plane_names[i]] for i in spatial])
    got = world.egocentric(np.full(slots.size, e), slots, radius)
    k = 2 * radius + 1
    assert got.shape == (slots.size, len(spatial) + 1, k, k)
    for j, s in enumerate(slots):
        y, x = divmod(int(world.cell[e, s]), n)
        owner = world.owner[e, s]
        for wy in range(k):
            for wx in range(k):
                ty, tx = y + wy - radius, x + wx - radius
                if 0 <= ty < n and 0 <= tx < n:
                    expected = np.append(planes[e, owner, spatial, ty, tx], 0.0)
                else:
                    expected = np.append(fill, 1.0)
                np.testing.assert_array_equal(got[j, :, wy, wx], expected)


def check_features(world: HarvestWorld) -> None:
    """``self_features`` of every live entity against the feature list of the env's docstring."""
    cfg, n = world.cfg, world.cfg.map_size
    ei, si = np.nonzero(world.alive)
    got = world.self_features(ei, si)
    assert got.shape == (ei.size, 12) and got.dtype == np.float32
    for row, e, s in zip(got, ei, si):
        kind = world.kind[e, s]
        if kind == FACTORY:
            power_top = cargo_top = None
            scaled = [
                min(world.power[e, s] / 3000, 1),
                min(world.cargo_ice[e, s] / 1000, 1),
                min(world.cargo_ore[e, s] / 1000, 1),
                min(world.water[e, s] / 1000, 1),
                min(world.metal[e, s] / 1000, 1),
            ]
        else:
            rc = cfg.light if kind == LIGHT else cfg.heavy
            power_top, cargo_top = rc.battery_capacity, rc.cargo_space
            scaled = [
                world.power[e, s] / power_top,
                world.cargo_ice[e, s] / cargo_top,
                world.cargo_ore[e, s] / cargo_top,
                0.0,  # robots hold no water or metal: "nothing" reads -1
                0.0,
            ]
        y, x = divmod(int(world.cell[e, s]), n)
        t = world.t[e]
        expected = [
            kind == FACTORY,
            kind == LIGHT,
            kind == HEAVY,
            *(v * 2 - 1 for v in scaled),
            x / (n - 1) * 2 - 1,
            y / (n - 1) * 2 - 1,
            min(t / cfg.step_scale, 1) * 2 - 1,
            t % cfg.cycle_length < cfg.day_length,
        ]
        np.testing.assert_allclose(row, np.array(expected, dtype=np.float64), atol=1e-6)


def check_mirrored_start(world: HarvestWorld, e: int) -> None:
    """A 2-player map at reset is one half mirrored, factories and all, players swapped."""
    n = world.cfg.map_size
    grids = [world.ice[e], world.ore[e], world.rubble[e]]
    fmap = world.factory_map[e]
    f_owner = np.where(fmap >= 0, world.owner[e][fmap.clip(0)], -1).reshape(n, n)
    axes = []
    for axis in (0, 1):
        flip = [np.flip(g.reshape(n, n), axis) for g in grids]
        same = all(np.array_equal(f, g.reshape(n, n)) for f, g in zip(flip, grids))
        owners = np.flip(f_owner, axis)
        swapped = np.where(owners >= 0, 1 - owners, -1)
        if same and np.array_equal(swapped, f_owner):
            axes.append(axis)
    assert axes, "the map is not a mirror image"


# ------------------------------------------------------------------ the batched core
@settings(max_examples=25, deadline=None)
@given(settings_=SETTINGS, seed=st.integers(0, 2**32 - 1))
def test_batched_core_invariants_hold_under_random_legal_play(settings_, seed, legal_actions):
    core = make_batched("harvest-v0", num_envs=2, max_cycles=25, **settings_)
    rng = np.random.default_rng(seed)
    batch = core.reset(seed=seed)
    assert (batch.spawned == batch.alive).all() and not batch.reward.any()
    check_world(core)
    check_masks(core, batch.action_mask)
    check_planes(core)
    check_features(core)
    for t in range(60):
        alive_before, mask_before = batch.alive, batch.action_mask
        actions = legal_actions(rng, mask_before)
        if t % 7 == 0:  # now and then anything at all, legal or not
            actions = rng.integers(0, NUM_ACTIONS, size=actions.shape)
        batch = core.step(actions)
        done = batch.done[:, None]
        assert not (batch.spawned & ~batch.alive).any(), "spawned implies alive"
        # an entity that ended is gone, unless its world was reset and refilled the slot
        assert not (batch.terminated & batch.alive & ~(done & batch.spawned)).any()
        assert not (batch.terminated & batch.truncated).any()
        assert not (batch.truncated & ~done).any(), "truncation only at the end of an episode"
        # flags describe the entities that acted, and every entity that acted in a world that
        # ended has its last transition closed
        assert not ((batch.terminated | batch.truncated) & ~alive_before).any()
        assert ((batch.terminated | batch.truncated) | ~(alive_before & done)).all()
        # rewards belong to entities that acted; illegal flags to live slots
        assert not (batch.reward != 0)[~alive_before].any()
        assert not (batch.illegal & ~alive_before).any()
        legal = np.take_along_axis(mask_before, actions[..., None], axis=2)[..., 0]
        np.testing.assert_array_equal(batch.illegal, alive_before & ~legal)
        # a slot shows its entity while it is alive and in the step the entity dies (then it
        # is terminated); otherwise it shows nothing
        assert (batch.kind[batch.alive] >= 0).all() and (batch.cell[batch.alive] >= 0).all()
        assert batch.terminated[~batch.alive & (batch.kind >= 0) & alive_before].all()
        died_now = batch.terminated & ~batch.alive & ~done
        assert (batch.kind[died_now] >= 0).all() and (batch.cell[died_now] >= 0).all()
        gone = ~alive_before & ~batch.alive
        empty = gone & (batch.kind == -1)
        assert (batch.owner[empty] == -1).all() and (batch.cell[empty] == -1).all()
        for e, s in zip(*np.nonzero(gone & (batch.kind >= 0))):
            # the one entity that ends without ever acting: a robot built this step and
            # destroyed at once on its factory's centre by a robot that moved in
            assert batch.kind[e, s] in (LIGHT, HEAVY)
            assert not batch.terminated[e, s] and batch.reward[e, s] == 0
            own = batch.owner[e, : core.factory_slots] == batch.owner[e, s]
            assert batch.cell[e, s] in batch.cell[e, : core.factory_slots][own]
        # new robots appear on a factory centre of their owner
        new = batch.spawned & ~done
        for e, s in zip(*np.nonzero(new)):
            assert batch.kind[e, s] in (LIGHT, HEAVY)
            own_factories = np.flatnonzero(
                batch.owner[e, : core.factory_slots] == batch.owner[e, s]
            )
            assert batch.cell[e, s] in batch.cell[e, own_factories]
        check_world(core)
        check_masks(core, batch.action_mask)
        if t % 10 == 0:
            check_planes(core)
            check_features(core)
    live = np.flatnonzero(core.alive[0])
    check_windows(core, 0, live[:4], radius=3)


@settings(max_examples=25, deadline=None)
@given(settings_=SETTINGS, seed=st.integers(0, 2**32 - 1))
def test_fresh_maps_follow_the_generation_rules(settings_, seed):
    core = make_batched("harvest-v0", num_envs=2, **settings_)
    core.reset(seed=seed)
    cfg, n = core.cfg, core.cfg.map_size
    lo, hi = cfg.factory_range
    for e in range(core.num_envs):
        factories = np.flatnonzero(core.alive[e])
        assert (core.kind[e, factories] == FACTORY).all()  # no robots at reset
        per_player = np.bincount(core.owner[e, factories], minlength=cfg.players)
        assert lo <= per_player[0] <= hi and (per_player == per_player[0]).all()
        assert (core.power[e, factories] == cfg.init_factory_power).all()
        assert (core.water[e, factories] == cfg.init_water).all()
        assert (core.metal[e, factories] == cfg.init_metal).all()
        on_factory = core.factory_map[e] >= 0
        assert not (core.ice[e] | core.ore[e])[on_factory].any()  # footprints are resource-free
        assert not (core.ice[e] & core.ore[e]).any()
        resource = core.ice[e] | core.ore[e]
        assert (core.rubble[e][resource] <= cfg.max_rubble // cfg.resource_rubble_divisor).all()
        centres = [divmod(int(c), n) for c in core.cell[e, factories]]
        for i, a in enumerate(centres):
            for b in centres[i + 1 :]:
                assert max(abs(a[0] - b[0]), abs(a[1] - b[1])) >= 3  # footprints never touch
        if cfg.players == 2:
            check_mirrored_start(core, e)


@pytest.mark.parametrize("preset", ["tiny", "small", "paper"])
@pytest.mark.parametrize("players", [1, 2])
def test_every_map_has_ice_and_ore(preset, players):
    # the generator asks for max(2, density x area) ice tiles and max(1, ...) ore tiles: a map
    # without ice cannot be survived, one without ore cannot build beyond the starting metal
    cfg = make_config(preset=preset, players=players)
    counts = {}
    for seed in range(150):
        ice, ore, _, _ = generate_map(np.random.default_rng(seed), cfg)
        counts[seed] = int(ice.sum()), int(ore.sum())
    bad = {seed: c for seed, c in counts.items() if c[0] < 2 or c[1] < 1}
    assert not bad, f"{len(bad)} of 150 maps lack ice or ore; (ice, ore) by seed: {bad}"


# ------------------------------------------------------------------ the PettingZoo adapter
NAME = re.compile(r"player_(\d+)_(factory|light|heavy)_(\d+)")


@settings(max_examples=25, deadline=None)
@given(settings_=SETTINGS, seed=st.integers(0, 2**32 - 1))
def test_parallel_env_agent_ids_dicts_and_spaces(settings_, seed, legal_actions):
    env = make("harvest-v0", max_cycles=40, **settings_)
    rng = np.random.default_rng(seed)
    possible = set(env.possible_agents)
    assert len(possible) == len(env.possible_agents)
    obs, infos = env.reset(seed=seed)
    ended: set[str] = set()
    last_serial: dict[tuple[str, str], int] = {}
    seen = set(env.agents)
    assert set(obs) == set(infos) == seen and len(env.agents) == len(seen)
    while env.agents:
        before = list(env.agents)
        assert len(set(before)) == len(before), "agent names are distinct"
        assert set(before) <= possible
        for agent in before:
            space = env.observation_space(agent)
            assert space.contains(obs[agent]), agent
            owner, kind, _ = NAME.fullmatch(agent).groups()
            assert env.owner_of(agent) == f"player_{owner}" and env.kind_of(agent) == kind
            assert env.owner_names[infos[agent]["owner"]] == f"player_{owner}"
            assert env.kind_names[infos[agent]["kind"]] == kind
            slot = env.slot_of(agent)
            assert env.world.alive[0, slot]
            np.testing.assert_array_equal(
                obs[agent]["action_mask"].astype(bool), expected_mask(env.world, 0, slot)
            )
        assert env.state_space.contains(env.state())
        actions = {a: int(legal_actions(rng, obs[a]["action_mask"].astype(bool))) for a in before}
        obs, rewards, terminations, truncations, infos = env.step(actions)
        keys = set(obs)
        assert keys == set(rewards) == set(terminations) == set(truncations) == set(infos)
        new = keys - set(before)
        assert set(before) <= keys
        # fresh IDs: a new agent's name was never used before in this episode, and robots of
        # one player and class are numbered in build order
        assert not new & seen, new & seen
        assert not new & ended
        for agent in sorted(new, key=lambda a: int(a.rsplit("_", 1)[1])):
            owner, kind, serial = NAME.fullmatch(agent).groups()
            assert kind != "factory"
            assert int(serial) > last_serial.get((owner, kind), -1), agent
            last_serial[(owner, kind)] = int(serial)
        seen |= new
        finished = {a for a in keys if terminations[a] or truncations[a]}
        ended |= finished
        assert set(env.agents) == keys - finished
        assert not set(env.agents) & ended
        for agent in keys:
            assert env.observation_space(agent).contains(obs[agent]), agent
            assert isinstance(rewards[agent], float)
        # the adapter's slot table agrees with the world's live slots
        if env.agents:
            live = np.flatnonzero(env.world.alive[0]).tolist()
            assert sorted(env.slot_of(a) for a in env.agents) == live
        check_world(env.world)
    assert env.agents == []


@pytest.mark.slow
def test_soak_long_random_play_keeps_every_invariant(legal_actions):
    """Thousands of steps over many auto-resets on the paper-sized map (``-m slow``)."""
    core = make_batched("harvest-v0", num_envs=2, preset="paper", players=2)
    rng = np.random.default_rng(12345)
    batch = core.reset(seed=12345)
    resets = 0
    for t in range(3000):
        batch = core.step(legal_actions(rng, batch.action_mask))
        resets += int(batch.done.sum())
        assert not (batch.spawned & ~batch.alive).any()
        check_world(core)
        if t % 5 == 0:
            check_masks(core, batch.action_mask)
        if t % 50 == 0:
            check_planes(core)
    assert resets >= 2 * (3000 // core.max_cycles) - 2
