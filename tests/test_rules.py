"""The harvest rules on scripted scenarios, with exact numbers (Lux AI S2 3.0.1 semantics).

Each test builds one tiny world, clears its map, edits the state by hand (robots via
``place_robot``), calls ``refresh()`` for fresh masks and steps it with an ``[E, S]`` action
array. The clock is set to night (step 30) unless a test is about charging, so power numbers
are not blurred by the day charge; the early reward boost is then ``1 + 0.1 * 970 / 1000``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spawnzoo.envs import make
from spawnzoo.envs.harvest.config import make_config
from spawnzoo.envs.harvest.world import (
    BUILD_HEAVY,
    BUILD_LIGHT,
    DIG,
    FACTORY,
    HEAVY,
    IDLE,
    LIGHT,
    MOVE_E,
    MOVE_N,
    MOVE_S,
    MOVE_W,
    NUM_ACTIONS,
    PICKUP,
    TRANSFER_C,
    TRANSFER_E,
    TRANSFER_N,
    TRANSFER_S,
    TRANSFER_W,
    HarvestWorld,
    resolve_collisions,
)

NIGHT = 30
BOOST_AT_NIGHT = 1.0 + 0.1 * (1000 - NIGHT) / 1000
MOVES = {MOVE_N: (-1, 0), MOVE_E: (0, 1), MOVE_S: (1, 0), MOVE_W: (0, -1)}
TRANSFER_TOWARD = {MOVE_N: TRANSFER_N, MOVE_E: TRANSFER_E, MOVE_S: TRANSFER_S, MOVE_W: TRANSFER_W}
OPPOSITE = {MOVE_N: MOVE_S, MOVE_S: MOVE_N, MOVE_E: MOVE_W, MOVE_W: MOVE_E}


# ----------------------------------------------------------------- scenario helpers
def blank_world(players: int = 1, seed: int = 0, **settings) -> HarvestWorld:
    """A tiny world (one factory per player) with no ice, ore or rubble, at night."""
    world = HarvestWorld(
        make_config(preset="tiny", players=players, **settings), num_envs=1, auto_reset=False
    )
    world.reset(seed=seed)
    world.ice[:] = False
    world.ore[:] = False
    world.rubble[:] = 0
    world.t[:] = NIGHT
    world.refresh()
    return world


def cell(world: HarvestWorld, yx: tuple[int, int]) -> int:
    return yx[0] * world.cfg.map_size + yx[1]


def yx_of(world: HarvestWorld, slot: int) -> tuple[int, int]:
    return divmod(int(world.cell[0, slot]), world.cfg.map_size)


def shifted(yx: tuple[int, int], move: int, times: int = 1) -> tuple[int, int]:
    dy, dx = MOVES[move]
    return yx[0] + times * dy, yx[1] + times * dx


def open_tile(world: HarvestWorld, margin: int = 2) -> tuple[int, int]:
    """A tile whose ``(2 margin + 1)``-square neighbourhood is on the map and factory-free."""
    n = world.cfg.map_size
    fmap = world.factory_map[0].reshape(n, n)
    for y in range(margin, n - margin):
        for x in range(margin, n - margin):
            if (fmap[y - margin : y + margin + 1, x - margin : x + margin + 1] < 0).all():
                return y, x
    raise AssertionError("no open area on this map")


def factory_centre(world: HarvestWorld, slot: int = 0) -> tuple[int, int]:
    assert world.kind[0, slot] == FACTORY and world.alive[0, slot]
    return yx_of(world, slot)


def beside_factory(world: HarvestWorld, slot: int = 0) -> tuple[tuple[int, int], int]:
    """A free tile next to the factory's footprint and the move that points into the factory."""
    n = world.cfg.map_size
    centre = factory_centre(world, slot)
    for move in MOVES:
        y, x = shifted(centre, move, 2)
        if 0 <= y < n and 0 <= x < n and world.factory_map[0, cell(world, (y, x))] < 0:
            return (y, x), OPPOSITE[move]
    raise AssertionError("factory has no free side")


def step(world: HarvestWorld, actions: dict[int, int] | None = None):
    """Step with ``{slot: action}`` (every other slot idles)."""
    arr = np.zeros((1, world.num_slots), dtype=np.int64)
    for slot, action in (actions or {}).items():
        arr[0, slot] = action
    return world.step(arr)


def robot(world, owner, kind, yx, power=None) -> int:
    slot = world.place_robot(0, owner, kind, yx, power=power)
    world.refresh()
    return slot


# ---------------------------------------------------------------------------- digging
@pytest.mark.parametrize(
    ("kind", "power_before", "gain", "cost"),
    [(LIGHT, 100, 2, 5), (HEAVY, 1000, 20, 60)],
)
def test_dig_on_clear_ice_gives_ice_costs_power_and_earns_the_boosted_reward(
    kind, power_before, gain, cost
):
    world = blank_world()
    yx = open_tile(world)
    world.ice[0, cell(world, yx)] = True
    r = robot(world, 0, kind, yx, power=power_before)
    assert world.action_mask()[0, r, DIG]
    batch = step(world, {r: DIG})
    assert world.cargo_ice[0, r] == gain
    assert world.cargo_ore[0, r] == 0
    assert world.power[0, r] == power_before - cost
    assert world.ice[0, cell(world, yx)]  # ice tiles are never used up
    assert batch.reward[0, r] == pytest.approx(0.025 * gain * BOOST_AT_NIGHT, rel=1e-6)
    assert world.metrics["ice_dug"][0, 0] == gain


@pytest.mark.parametrize(("kind", "cargo_before", "gain"), [(LIGHT, 99, 1), (HEAVY, 990, 10)])
def test_dig_gain_is_capped_by_cargo_space(kind, cargo_before, gain):
    world = blank_world()
    yx = open_tile(world)
    world.ice[0, cell(world, yx)] = True
    r = robot(world, 0, kind, yx, power=500)
    world.cargo_ice[0, r] = cargo_before
    batch = step(world, {r: DIG})
    assert world.cargo_ice[0, r] == cargo_before + gain
    assert batch.reward[0, r] == pytest.approx(0.025 * gain * BOOST_AT_NIGHT, rel=1e-6)
    # a full robot may still dig (Lux allows it) but gains nothing
    world.refresh()
    assert world.action_mask()[0, r, DIG]
    batch = step(world, {r: DIG})
    assert world.cargo_ice[0, r] == cargo_before + gain
    assert batch.reward[0, r] == 0.0


def test_dig_on_ore_fills_ore_cargo_without_reward():
    world = blank_world()
    yx = open_tile(world)
    world.ore[0, cell(world, yx)] = True
    r = robot(world, 0, HEAVY, yx, power=500)
    batch = step(world, {r: DIG})
    assert (world.cargo_ore[0, r], world.cargo_ice[0, r]) == (20, 0)
    assert world.power[0, r] == 440
    assert batch.reward[0, r] == 0.0
    assert world.metrics["ice_dug"][0, 0] == 0


@pytest.mark.parametrize(
    ("kind", "rubble", "after_each_dig"),
    [(LIGHT, 3, [1, 0]), (HEAVY, 25, [5, 0])],
)
def test_dig_removes_rubble_before_any_ice_is_gained(kind, rubble, after_each_dig):
    world = blank_world()
    yx = open_tile(world)
    c = cell(world, yx)
    world.ice[0, c] = True
    world.rubble[0, c] = rubble
    r = robot(world, 0, kind, yx, power=1000 if kind == HEAVY else 150)
    for expected in after_each_dig:
        batch = step(world, {r: DIG})
        assert world.rubble[0, c] == expected
        assert world.cargo_ice[0, r] == 0
        assert batch.reward[0, r] == 0.0
    step(world, {r: DIG})
    assert world.cargo_ice[0, r] == (2 if kind == LIGHT else 20)


def test_rubble_only_tile_is_diggable_and_bare_tile_is_not():
    world = blank_world()
    yx = open_tile(world)
    r = robot(world, 0, LIGHT, yx, power=150)
    assert not world.action_mask()[0, r, DIG]  # nothing to dig on a bare tile
    world.rubble[0, cell(world, yx)] = 7
    world.refresh()
    assert world.action_mask()[0, r, DIG]
    step(world, {r: DIG})
    assert world.rubble[0, cell(world, yx)] == 5
    assert world.power[0, r] == 145


@pytest.mark.parametrize(("kind", "power", "legal"), [(LIGHT, 4, False), (LIGHT, 5, True)])
def test_dig_needs_the_dig_cost_in_power(kind, power, legal):
    world = blank_world()
    yx = open_tile(world)
    world.ice[0, cell(world, yx)] = True
    r = robot(world, 0, kind, yx, power=power)
    assert world.action_mask()[0, r, DIG] == legal


def test_dig_is_masked_on_factory_tiles():
    world = blank_world()
    centre = factory_centre(world)
    edge = (centre[0], centre[1] + 1)
    world.rubble[0, cell(world, edge)] = 10  # even with something to dig
    r = robot(world, 0, HEAVY, edge, power=1000)
    assert not world.action_mask()[0, r, DIG]


# ---------------------------------------------------------------------------- moving
@pytest.mark.parametrize(
    ("kind", "rubble", "cost"),
    [
        (LIGHT, 0, 1),
        (LIGHT, 19, 1),
        (LIGHT, 20, 2),
        (LIGHT, 59, 3),
        (LIGHT, 60, 4),
        (LIGHT, 100, 6),
        (HEAVY, 0, 20),
        (HEAVY, 37, 57),
        (HEAVY, 100, 120),
    ],
)
def test_move_cost_depends_on_the_target_rubble(kind, rubble, cost):
    world = blank_world()
    start = open_tile(world)
    target = shifted(start, MOVE_E)
    world.rubble[0, cell(world, start)] = 99  # the tile left behind does not count
    world.rubble[0, cell(world, target)] = rubble
    r = robot(world, 0, kind, start, power=140)
    step(world, {r: MOVE_E})
    assert yx_of(world, r) == target
    assert world.power[0, r] == 140 - cost
    assert world.robot_map[0, cell(world, target)] == r
    assert world.robot_map[0, cell(world, start)] == -1


@pytest.mark.parametrize(("power", "legal"), [(1, False), (2, True)])
def test_move_needs_its_cost_in_power(power, legal):
    world = blank_world()
    start = open_tile(world)
    world.rubble[0, cell(world, shifted(start, MOVE_N))] = 20  # light cost 2
    r = robot(world, 0, LIGHT, start, power=power)
    assert world.action_mask()[0, r, MOVE_N] == legal
    assert world.action_mask()[0, r, MOVE_S]  # a bare tile costs 1


def test_moves_off_the_map_are_masked():
    world = blank_world()
    n = world.cfg.map_size
    corners = {(0, 0): (MOVE_N, MOVE_W), (n - 1, n - 1): (MOVE_S, MOVE_E)}
    for yx, off in corners.items():
        if world.factory_map[0, cell(world, yx)] >= 0:
            continue
        r = robot(world, 0, LIGHT, yx, power=150)
        mask = world.action_mask()[0, r]
        for move in MOVES:
            assert mask[move] == (move not in off), (yx, move)


def test_moves_into_enemy_factories_are_masked_but_own_factories_are_not():
    for fslot in (0, 1):  # one factory per player: slot p holds player p's factory
        for owner in (0, 1):
            world = blank_world(players=2)
            yx, into = beside_factory(world, fslot)
            r = robot(world, owner, LIGHT, yx, power=150)
            assert world.action_mask()[0, r, into] == (owner == fslot), (fslot, owner)


# ---------------------------------------------------------------------------- power
@pytest.mark.parametrize(
    ("t", "day"), [(0, True), (29, True), (30, False), (49, False), (50, True), (79, True)]
)
def test_robots_charge_by_day_only_and_factories_every_step(t, day):
    world = blank_world()
    world.t[:] = t
    y, x = open_tile(world)
    light = robot(world, 0, LIGHT, (y, x), power=100)
    heavy = robot(world, 0, HEAVY, (y, x + 1), power=1000)
    full_light = robot(world, 0, LIGHT, (y + 1, x), power=150)
    nearly_full_heavy = robot(world, 0, HEAVY, (y + 1, x + 1), power=2995)
    factory_power = int(world.power[0, 0])
    step(world)
    assert world.power[0, light] == 100 + (1 if day else 0)
    assert world.power[0, heavy] == 1000 + (10 if day else 0)
    assert world.power[0, full_light] == 150  # battery cap 150
    assert world.power[0, nearly_full_heavy] == (3000 if day else 2995)  # battery cap 3000
    assert world.power[0, 0] == factory_power + 50
    assert world.t[0] == t + 1


def test_pickup_fills_the_battery_from_the_factory():
    world = blank_world()
    centre = factory_centre(world)
    r = robot(world, 0, LIGHT, (centre[0], centre[1] + 1), power=20)
    world.power[0, 0] = 1000
    world.refresh()
    assert world.action_mask()[0, r, PICKUP]
    step(world, {r: PICKUP})
    assert world.power[0, r] == 150
    assert world.power[0, 0] == 1000 - 130 + 50
    world.refresh()
    assert not world.action_mask()[0, r, PICKUP]  # battery full


def test_pickup_takes_at_most_what_the_factory_has_in_slot_order():
    world = blank_world()
    cy, cx = factory_centre(world)
    first = robot(world, 0, LIGHT, (cy, cx + 1), power=0)
    second = robot(world, 0, LIGHT, (cy, cx - 1), power=10)
    assert first < second
    world.power[0, 0] = 100
    world.refresh()
    step(world, {first: PICKUP, second: PICKUP})
    assert world.power[0, first] == 100
    assert world.power[0, second] == 10
    assert world.power[0, 0] == 0 + 50


def test_pickup_is_masked_off_factories():
    world = blank_world()
    r = robot(world, 0, HEAVY, open_tile(world), power=10)
    assert not world.action_mask()[0, r, PICKUP]


# -------------------------------------------------------------------- factories: water
def test_factories_drink_one_water_per_step():
    world = blank_world()
    water = int(world.water[0, 0])
    step(world)
    step(world)
    assert world.water[0, 0] == water - 2
    assert world.alive[0, 0]


def test_refining_turns_ice_into_water_4_to_1_and_ore_into_metal_5_to_1_with_rate_caps():
    world = blank_world()
    world.water[0, 0] = 10
    world.metal[0, 0] = 0
    world.cargo_ice[0, 0] = 103  # at most 100 refined: 25 water, 3 ice left
    world.cargo_ore[0, 0] = 52  # at most 50 refined: 10 metal, 2 ore left
    step(world)
    assert world.water[0, 0] == 10 + 25 - 1
    assert world.cargo_ice[0, 0] == 3
    assert world.metal[0, 0] == 10
    assert world.cargo_ore[0, 0] == 2
    step(world)  # 3 ice and 2 ore are below one block: nothing refined
    assert (world.water[0, 0], world.cargo_ice[0, 0]) == (33, 3)
    assert (world.metal[0, 0], world.cargo_ore[0, 0]) == (10, 2)
    world.cargo_ice[0, 0] = 7
    step(world)
    assert (world.water[0, 0], world.cargo_ice[0, 0]) == (33, 3)


def test_a_factory_with_no_water_survives_if_it_refines_one_water_this_step():
    world = blank_world()
    world.water[0, 0] = 0
    world.cargo_ice[0, 0] = 4
    batch = step(world)
    assert world.alive[0, 0] and world.water[0, 0] == 0
    assert not batch.terminated[0, 0] and not batch.done[0]


def test_dry_factory_dies_leaves_rubble_and_ends_the_one_player_episode():
    world = blank_world(reward_factory_destroyed=-0.2)
    cy, cx = factory_centre(world)
    footprint = [cell(world, (cy + dy, cx + dx)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    world.rubble[0, footprint[0]] = 80  # 80 + 50 is capped at 100
    bot = robot(world, 0, LIGHT, open_tile(world), power=100)
    world.water[0, 0] = 0
    batch = step(world)
    assert not world.alive[0, 0]
    assert world.rubble[0, footprint[0]] == 100
    assert (world.rubble[0, footprint[1:]] == 50).all()
    assert (world.factory_map[0] == -1).all()
    assert batch.terminated[0, 0] and batch.reward[0, 0] == pytest.approx(-0.2)
    # no factory left: the episode terminates for every live agent, nobody is truncated
    assert batch.done[0]
    assert batch.terminated[0, bot] and not batch.truncated.any()
    assert world.metrics["factories_lost"][0, 0] == 1
    assert batch.final.metrics[0]["per_player"][0]["factories_lost"] == 1
    # a dying slot still shows its entity in this step's batch
    assert batch.kind[0, 0] == FACTORY and batch.cell[0, 0] == cell(world, (cy, cx))


def test_with_two_players_the_episode_ends_when_one_player_has_no_factory_left():
    world = blank_world(players=2)
    survivor = robot(world, 0, LIGHT, open_tile(world), power=100)
    world.water[0, 1] = 0  # player 1's only factory
    batch = step(world)
    assert batch.done[0]
    assert batch.terminated[0, 1] and not world.alive[0, 1]
    # the winner's entities are alive but the episode is over for them too
    assert world.alive[0, 0] and batch.terminated[0, 0]
    assert world.alive[0, survivor] and batch.terminated[0, survivor]
    assert not batch.truncated.any()


def test_a_robot_built_in_the_last_step_is_alive_but_in_no_transition():
    world = blank_world(max_cycles=NIGHT + 1)
    batch = step(world, {0: BUILD_LIGHT})
    assert batch.done[0]
    (r,) = np.flatnonzero(batch.spawned[0])
    assert world.alive[0, r] and batch.final.alive[0, r]
    # it never acted: no flag and no reward for it; the factory that acted is truncated
    assert not batch.truncated[0, r] and not batch.terminated[0, r] and batch.reward[0, r] == 0
    assert batch.truncated[0, 0]


def test_episode_is_truncated_at_max_cycles_for_every_live_entity():
    world = blank_world(max_cycles=NIGHT + 2)
    r = robot(world, 0, LIGHT, open_tile(world), power=100)
    batch = step(world)
    assert not batch.done[0] and not batch.truncated.any()
    batch = step(world)
    assert batch.done[0]
    assert batch.truncated[0, 0] and batch.truncated[0, r]
    assert not batch.terminated.any()
    assert batch.final.metrics[0]["episode_length"] == NIGHT + 2


# ------------------------------------------------------------------- factories: builds
@pytest.mark.parametrize(
    ("action", "kind", "metal_cost", "power_cost", "init_power"),
    [(BUILD_LIGHT, LIGHT, 10, 50, 50), (BUILD_HEAVY, HEAVY, 100, 500, 500)],
)
def test_build_pays_metal_and_power_and_spawns_a_robot_on_the_centre(
    action, kind, metal_cost, power_cost, init_power
):
    world = blank_world()
    centre = factory_centre(world)
    world.metal[0, 0], world.power[0, 0] = 150, 1000
    world.refresh()
    assert world.action_mask()[0, 0, action]
    batch = step(world, {0: action})
    new = np.flatnonzero(batch.spawned[0])
    assert new.size == 1
    r = int(new[0])
    assert r >= world.factory_slots
    assert batch.alive[0, r] and batch.kind[0, r] == kind and batch.owner[0, r] == 0
    assert yx_of(world, r) == centre and world.robot_map[0, cell(world, centre)] == r
    assert world.power[0, r] == init_power  # night: no charge
    assert world.serial[0, r] == 0
    assert world.metal[0, 0] == 150 - metal_cost
    assert world.power[0, 0] == 1000 - power_cost + 50
    assert batch.reward[0, r] == 0.0 and not batch.terminated[0, r]
    assert world.metrics["robots_built"][0, 0] == 1
    # the centre is taken now: no second build until it is free again
    assert not batch.action_mask[0, 0, BUILD_LIGHT] and not batch.action_mask[0, 0, BUILD_HEAVY]


@pytest.mark.parametrize(("action", "init_power"), [(BUILD_LIGHT, 50 + 1), (BUILD_HEAVY, 500 + 10)])
def test_a_robot_built_by_day_charges_in_its_first_step(action, init_power):
    world = blank_world()
    world.t[:] = 0
    batch = step(world, {0: action})
    (r,) = np.flatnonzero(batch.spawned[0])
    assert world.power[0, r] == init_power


@pytest.mark.parametrize(
    ("metal", "power", "light", "heavy"),
    [
        (9, 1000, False, False),
        (10, 49, False, False),
        (10, 50, True, False),
        (99, 1000, True, False),
        (100, 499, True, False),
        (100, 500, True, True),
    ],
)
def test_build_masks_follow_metal_and_power(metal, power, light, heavy):
    world = blank_world()
    world.metal[0, 0], world.power[0, 0] = metal, power
    mask = world.refresh()[0, 0]
    assert (mask[BUILD_LIGHT], mask[BUILD_HEAVY]) == (light, heavy)
    # factories never get robot actions
    assert mask[IDLE] and not mask[MOVE_N : PICKUP + 1].any()


def test_build_is_masked_while_the_centre_is_occupied_and_a_masked_build_is_a_no_op():
    world = blank_world()
    centre = factory_centre(world)
    blocker = robot(world, 0, LIGHT, centre, power=100)
    mask = world.action_mask()[0, 0]
    assert not mask[BUILD_LIGHT] and not mask[BUILD_HEAVY]
    metal = int(world.metal[0, 0])
    batch = step(world, {0: BUILD_LIGHT})
    assert batch.illegal[0, 0]
    assert not batch.spawned.any()
    assert world.alive[0].sum() == 2  # the factory and the blocker
    assert world.metal[0, 0] == metal
    assert world.metrics["illegal_actions"][0, 0] == 1
    # once the centre is free, building is legal again
    step(world, {blocker: MOVE_N})
    assert world.action_mask()[0, 0, BUILD_LIGHT]


def test_build_is_masked_once_the_id_pool_of_a_class_is_used_up():
    world = blank_world(robot_ids_per_class=1)
    batch = step(world, {0: BUILD_LIGHT})
    (r,) = np.flatnonzero(batch.spawned[0])
    move_off = next(m for m in MOVES if batch.action_mask[0, r, m])
    batch = step(world, {r: move_off})
    assert world.robot_map[0, world.cell[0, 0]] == -1  # centre free again
    assert not batch.action_mask[0, 0, BUILD_LIGHT]  # no light names left this episode
    assert batch.action_mask[0, 0, BUILD_HEAVY]


def test_build_is_masked_while_all_robot_slots_of_the_player_are_taken():
    world = blank_world(robot_slots_per_player=1)
    robot(world, 0, LIGHT, open_tile(world), power=100)
    mask = world.action_mask()[0, 0]
    assert not mask[BUILD_LIGHT] and not mask[BUILD_HEAVY]


# ---------------------------------------------------------------------------- transfers
def test_transfer_into_own_factory_rewards_robot_and_factory_and_refines_at_once():
    world = blank_world()
    yx, into = beside_factory(world)
    r = robot(world, 0, LIGHT, yx, power=100)
    world.cargo_ice[0, r], world.cargo_ore[0, r] = 40, 15
    world.water[0, 0], world.metal[0, 0] = 150, 150
    world.refresh()
    action = TRANSFER_TOWARD[into]
    assert world.action_mask()[0, r, action]
    batch = step(world, {r: action})
    assert (world.cargo_ice[0, r], world.cargo_ore[0, r]) == (0, 0)
    # the factory got 40 ice (10 water) and 15 ore (3 metal) and refined them this step
    assert world.water[0, 0] == 150 + 10 - 1
    assert world.metal[0, 0] == 150 + 3
    assert (world.cargo_ice[0, 0], world.cargo_ore[0, 0]) == (0, 0)
    expected = 0.125 * 40 * BOOST_AT_NIGHT
    assert batch.reward[0, r] == pytest.approx(expected, rel=1e-6)
    assert batch.reward[0, 0] == pytest.approx(expected, rel=1e-6)
    assert world.metrics["ice_transferred"][0, 0] == 40


def test_reward_boost_uses_the_step_count_before_the_step():
    world = blank_world()
    world.t[:] = 600  # boost 1 + 0.1 * 400 / 1000
    yx, into = beside_factory(world)
    r = robot(world, 0, HEAVY, yx, power=1000)
    world.cargo_ice[0, r] = 8
    world.refresh()
    batch = step(world, {r: TRANSFER_TOWARD[into]})
    assert batch.reward[0, r] == pytest.approx(0.125 * 8 * (1 + 0.1 * 400 / 1000), rel=1e-6)


def test_transfer_from_a_factory_tile_into_its_centre():
    world = blank_world()
    cy, cx = factory_centre(world)
    r = robot(world, 0, HEAVY, (cy + 1, cx), power=1000)
    world.cargo_ice[0, r] = 200
    world.refresh()
    assert world.action_mask()[0, r, TRANSFER_C]
    step(world, {r: TRANSFER_C})
    assert world.cargo_ice[0, r] == 0
    assert world.cargo_ice[0, 0] == 100  # 200 in, 100 refined into 25 water
    assert world.metrics["ice_transferred"][0, 0] == 200


def test_transfer_to_own_robot_fills_it_up_to_its_cargo_space():
    world = blank_world()
    y, x = open_tile(world)
    giver = robot(world, 0, LIGHT, (y, x), power=100)
    taker = robot(world, 0, LIGHT, (y, x + 1), power=100)
    world.cargo_ice[0, giver], world.cargo_ore[0, giver] = 30, 5
    world.cargo_ice[0, taker] = 90
    world.refresh()
    batch = step(world, {giver: TRANSFER_E})
    assert (world.cargo_ice[0, giver], world.cargo_ore[0, giver]) == (0, 0)
    assert (world.cargo_ice[0, taker], world.cargo_ore[0, taker]) == (100, 5)  # 20 ice lost
    assert batch.reward[0, giver] == 0.0 and batch.reward[0, taker] == 0.0
    assert world.metrics["ice_transferred"][0, 0] == 0


def test_transfer_targets_are_looked_up_after_moving():
    world = blank_world()
    y, x = open_tile(world)
    giver = robot(world, 0, LIGHT, (y, x), power=100)
    taker = robot(world, 0, LIGHT, (y, x + 1), power=100)
    world.cargo_ice[0, giver] = 30
    world.refresh()
    step(world, {giver: TRANSFER_E, taker: MOVE_E})
    assert world.cargo_ice[0, giver] == 0  # sent into an empty tile: lost
    assert world.cargo_ice[0, taker] == 0


def test_transfer_needs_cargo_and_an_own_target():
    world = blank_world(players=2)
    y, x = open_tile(world)
    me = robot(world, 0, LIGHT, (y, x), power=100)
    robot(world, 0, LIGHT, (y, x + 1), power=100)
    robot(world, 1, LIGHT, (y, x - 1), power=100)
    assert not world.action_mask()[0, me, TRANSFER_C : TRANSFER_W + 1].any()  # no cargo
    world.cargo_ore[0, me] = 1
    mask = world.refresh()[0, me]
    assert mask[TRANSFER_E]  # own robot
    assert not mask[TRANSFER_W]  # enemy robot
    assert not mask[TRANSFER_N] and not mask[TRANSFER_S] and not mask[TRANSFER_C]  # nothing
    yx, into = beside_factory(world, 1)  # next to the enemy factory
    enemy_side = robot(world, 0, LIGHT, yx, power=100)
    world.cargo_ice[0, enemy_side] = 10
    assert not world.refresh()[0, enemy_side, TRANSFER_TOWARD[into]]


# ---------------------------------------------------------------------------- collisions
def arena(players: int = 2):
    world = blank_world(players=players)
    return world, open_tile(world)


def assert_destroyed(world, batch, slot, yx):
    assert not world.alive[0, slot] and batch.terminated[0, slot], slot
    assert world.robot_map[0, cell(world, yx)] != slot


def test_two_heavies_moving_in_the_stronger_survives_and_pays_half_the_runner_up_rounded_up():
    world, t = arena()
    strong = robot(world, 0, HEAVY, shifted(t, MOVE_W), power=1000)
    weak = robot(world, 1, HEAVY, shifted(t, MOVE_E), power=601)
    batch = step(world, {strong: MOVE_E, weak: MOVE_W})
    # after the move cost of 20: 980 vs 581; the winner loses ceil(581 / 2) = 291
    assert world.alive[0, strong] and yx_of(world, strong) == t
    assert world.power[0, strong] == 980 - 291
    assert_destroyed(world, batch, weak, t)
    assert world.robot_map[0, cell(world, t)] == strong
    assert world.rubble[0, cell(world, t)] == 10
    assert world.metrics["robots_lost"][0].tolist() == [0, 1]
    assert not batch.terminated[0, strong]


def test_two_heavies_moving_in_with_equal_power_are_both_destroyed():
    world, t = arena()
    a = robot(world, 0, HEAVY, shifted(t, MOVE_W), power=700)
    b = robot(world, 1, HEAVY, shifted(t, MOVE_N), power=700)
    batch = step(world, {a: MOVE_E, b: MOVE_S})
    assert_destroyed(world, batch, a, t)
    assert_destroyed(world, batch, b, t)
    assert world.robot_map[0, cell(world, t)] == -1
    assert world.rubble[0, cell(world, t)] == 20


def test_three_heavies_moving_in_the_winner_pays_for_the_true_runner_up():
    world, t = arena()
    a = robot(world, 0, HEAVY, shifted(t, MOVE_W), power=900)
    b = robot(world, 0, HEAVY, shifted(t, MOVE_E), power=500)
    c = robot(world, 1, HEAVY, shifted(t, MOVE_N), power=701)
    batch = step(world, {a: MOVE_E, b: MOVE_W, c: MOVE_S})
    assert world.alive[0, a] and world.power[0, a] == 880 - math.ceil(681 / 2)
    assert_destroyed(world, batch, b, t)
    assert_destroyed(world, batch, c, t)
    assert world.rubble[0, cell(world, t)] == 20


def test_a_stationary_heavy_takes_part_in_a_fight_of_heavies_moving_in():
    world, t = arena()
    still = robot(world, 1, HEAVY, t, power=3000)
    a = robot(world, 0, HEAVY, shifted(t, MOVE_W), power=1000)
    b = robot(world, 0, HEAVY, shifted(t, MOVE_E), power=500)
    batch = step(world, {a: MOVE_E, b: MOVE_W})
    assert world.alive[0, still] and world.power[0, still] == 3000 - 490
    assert_destroyed(world, batch, a, t)
    assert_destroyed(world, batch, b, t)


def test_one_heavy_moving_onto_a_stationary_heavy_survives_unharmed():
    world, t = arena()
    still = robot(world, 1, HEAVY, t, power=2000)
    mover = robot(world, 0, HEAVY, shifted(t, MOVE_S), power=100)
    batch = step(world, {mover: MOVE_N})
    assert world.alive[0, mover] and world.power[0, mover] == 80  # only the move cost
    assert_destroyed(world, batch, still, t)
    assert world.robot_map[0, cell(world, t)] == mover
    assert world.rubble[0, cell(world, t)] == 10


def test_a_light_moving_onto_a_stationary_heavy_is_destroyed():
    world, t = arena()
    still = robot(world, 1, HEAVY, t, power=30)
    light = robot(world, 0, LIGHT, shifted(t, MOVE_W), power=150)
    batch = step(world, {light: MOVE_E})
    assert world.alive[0, still] and world.power[0, still] == 30
    assert_destroyed(world, batch, light, t)
    assert world.rubble[0, cell(world, t)] == 1


def test_a_heavy_moving_onto_lights_destroys_all_of_them():
    world, t = arena()
    still_light = robot(world, 1, LIGHT, t, power=150)
    moving_light = robot(world, 1, LIGHT, shifted(t, MOVE_E), power=150)
    heavy = robot(world, 0, HEAVY, shifted(t, MOVE_W), power=25)
    batch = step(world, {heavy: MOVE_E, moving_light: MOVE_W})
    assert world.alive[0, heavy] and world.power[0, heavy] == 5
    assert_destroyed(world, batch, still_light, t)
    assert_destroyed(world, batch, moving_light, t)
    assert world.rubble[0, cell(world, t)] == 2


def test_two_lights_moving_in_power_decides():
    world, t = arena(players=1)  # own robots collide too
    strong = robot(world, 0, LIGHT, shifted(t, MOVE_W), power=100)
    weak = robot(world, 0, LIGHT, shifted(t, MOVE_E), power=62)
    batch = step(world, {strong: MOVE_E, weak: MOVE_W})
    # after the move cost of 1: 99 vs 61; the winner loses ceil(61 / 2) = 31
    assert world.alive[0, strong] and world.power[0, strong] == 99 - 31
    assert_destroyed(world, batch, weak, t)
    assert world.rubble[0, cell(world, t)] == 1
    assert world.metrics["robots_lost"][0, 0] == 1


def test_one_light_moving_onto_a_stationary_light_survives_unharmed():
    world, t = arena()
    still = robot(world, 1, LIGHT, t, power=150)
    mover = robot(world, 0, LIGHT, shifted(t, MOVE_N), power=10)
    batch = step(world, {mover: MOVE_S})
    assert world.alive[0, mover] and world.power[0, mover] == 9
    assert_destroyed(world, batch, still, t)


def test_a_tie_among_lights_destroys_all_of_them():
    world, t = arena()
    still = robot(world, 0, LIGHT, t, power=20)
    a = robot(world, 0, LIGHT, shifted(t, MOVE_W), power=50)
    b = robot(world, 1, LIGHT, shifted(t, MOVE_E), power=50)
    batch = step(world, {a: MOVE_E, b: MOVE_W})
    for slot in (still, a, b):
        assert_destroyed(world, batch, slot, t)
    assert world.rubble[0, cell(world, t)] == 3


def test_a_stationary_light_can_win_a_fight_of_lights_moving_in():
    world, t = arena()
    still = robot(world, 0, LIGHT, t, power=120)
    a = robot(world, 1, LIGHT, shifted(t, MOVE_W), power=50)
    b = robot(world, 1, LIGHT, shifted(t, MOVE_E), power=40)
    batch = step(world, {a: MOVE_E, b: MOVE_W})
    assert world.alive[0, still] and world.power[0, still] == 120 - 25  # ceil(49 / 2)
    assert_destroyed(world, batch, a, t)
    assert_destroyed(world, batch, b, t)


def test_swapping_two_robots_is_not_a_collision():
    world, (y, x) = arena(players=1)
    a = robot(world, 0, LIGHT, (y, x), power=100)
    b = robot(world, 0, HEAVY, (y, x + 1), power=100)
    batch = step(world, {a: MOVE_E, b: MOVE_W})
    assert world.alive[0, a] and world.alive[0, b] and not batch.terminated.any()
    assert yx_of(world, a) == (y, x + 1) and yx_of(world, b) == (y, x)
    assert world.robot_map[0, cell(world, (y, x))] == b
    assert world.robot_map[0, cell(world, (y, x + 1))] == a
    assert (world.power[0, a], world.power[0, b]) == (99, 80)
    assert world.rubble[0].sum() == 0


def test_following_a_robot_that_moves_away_is_not_a_collision():
    world, (y, x) = arena(players=1)
    front = robot(world, 0, LIGHT, (y, x), power=100)
    back = robot(world, 0, LIGHT, (y, x - 1), power=100)
    batch = step(world, {front: MOVE_E, back: MOVE_E})
    assert world.alive[0, front] and world.alive[0, back] and not batch.terminated.any()
    assert yx_of(world, front) == (y, x + 1) and yx_of(world, back) == (y, x)


def test_a_robot_driving_onto_a_factory_centre_while_it_builds_destroys_the_new_robot():
    world = blank_world()
    cy, cx = factory_centre(world)
    mover = robot(world, 0, LIGHT, (cy, cx + 1), power=100)
    metal = int(world.metal[0, 0])
    batch = step(world, {0: BUILD_LIGHT, mover: MOVE_W})
    # the new light stood still on the centre; the light that moved in survives
    assert world.alive[0, mover] and yx_of(world, mover) == (cy, cx)
    assert world.power[0, mover] == 99
    assert not batch.spawned.any()
    built = [s for s in range(world.factory_slots, world.num_slots) if s != mover]
    assert not batch.terminated[0, built].any()  # never an agent: no transition to end
    assert not world.alive[0, built].any()
    assert world.metal[0, 0] == metal - 10  # the build still happened
    assert world.metrics["robots_built"][0, 0] == 2 and world.metrics["robots_lost"][0, 0] == 1
    assert world.rubble[0, cell(world, (cy, cx))] == 0  # factory tiles stay clear


def test_move_costs_use_the_rubble_from_before_this_steps_digs():
    world, t = arena(players=1)
    world.rubble[0, cell(world, t)] = 40
    digger = robot(world, 0, LIGHT, t, power=100)
    mover = robot(world, 0, LIGHT, shifted(t, MOVE_W), power=100)
    batch = step(world, {digger: DIG, mover: MOVE_E})
    # the mover pays floor(1 + 0.05 x 40) = 3, not the 2 of the 38 rubble left after the dig,
    # then survives the collision with the light that stood still digging
    assert world.alive[0, mover] and world.power[0, mover] == 97
    assert_destroyed(world, batch, digger, t)
    assert world.rubble[0, cell(world, t)] == 38 + 1


def test_destroyed_robots_get_the_configured_penalty():
    world = blank_world(players=2, reward_robot_destroyed=-0.5)
    t = open_tile(world)
    strong = robot(world, 0, LIGHT, shifted(t, MOVE_W), power=100)
    weak = robot(world, 1, LIGHT, shifted(t, MOVE_E), power=50)
    batch = step(world, {strong: MOVE_E, weak: MOVE_W})
    assert batch.reward[0, weak] == pytest.approx(-0.5)
    assert batch.reward[0, strong] == 0.0


def test_destroyed_robots_leave_rubble_capped_at_100():
    world, t = arena()
    world.rubble[0, cell(world, t)] = 95
    a = robot(world, 0, HEAVY, shifted(t, MOVE_W), power=500)
    b = robot(world, 1, HEAVY, shifted(t, MOVE_E), power=500)
    # moves onto rubble 95 cost 115: give them enough
    world.power[0, [a, b]] = 1000
    world.refresh()
    step(world, {a: MOVE_E, b: MOVE_W})
    assert not world.alive[0, a] and not world.alive[0, b]
    assert world.rubble[0, cell(world, t)] == 100


def test_resolve_collisions_covers_every_lux_case_at_once():
    # one row per robot: (tile, heavy, moved, power after the move) -> (survives, loss)
    rows = [
        # two heavies move in: more power wins and pays ceil(0.5 * runner-up)
        (0, True, True, 1000, True, 301),
        (0, True, True, 601, False, 0),
        # one heavy moves in: it survives unharmed; stationary heavy and lights die
        (1, True, True, 10, True, 0),
        (1, True, False, 2000, False, 0),
        (1, False, True, 150, False, 0),
        # a light moves onto a stationary heavy: the heavy survives
        (2, False, True, 100, False, 0),
        (2, True, False, 5, True, 0),
        # lights tie: all die, the stationary light too
        (3, False, True, 40, False, 0),
        (3, False, True, 40, False, 0),
        (3, False, False, 10, False, 0),
        # one light moves onto a stationary light: the mover survives
        (4, False, True, 5, True, 0),
        (4, False, False, 100, False, 0),
        # equal heavies moving in: all die, the light there too
        (5, True, True, 700, False, 0),
        (5, True, True, 700, False, 0),
        (5, False, False, 150, False, 0),
        # lights moving in, the stationary light is the strongest competitor
        (6, False, False, 120, True, 25),
        (6, False, True, 49, False, 0),
        (6, False, True, 39, False, 0),
        # three heavies moving in: the winner pays for the true runner-up
        (7, True, True, 880, True, 341),
        (7, True, True, 480, False, 0),
        (7, True, True, 681, False, 0),
    ]
    tile, heavy, moved, power, survives, loss = (np.array(c) for c in zip(*rows))
    rng = np.random.default_rng(0)
    for _ in range(5):  # the outcome does not depend on the order of the robots
        order = rng.permutation(len(rows))
        dead, survivor, got_loss = resolve_collisions(
            tile=tile[order] * 1000 + 7,  # any tile keys
            heavy=heavy[order].astype(bool),
            moved=moved[order].astype(bool),
            power=power[order].astype(np.int64),
            power_loss_factor=0.5,
        )
        np.testing.assert_array_equal(survivor, survives[order].astype(bool))
        np.testing.assert_array_equal(dead, ~survives[order].astype(bool))
        np.testing.assert_array_equal(got_loss, loss[order])


def test_resolve_collisions_loss_factor_is_a_parameter():
    dead, survivor, loss = resolve_collisions(
        tile=np.array([3, 3]),
        heavy=np.array([False, False]),
        moved=np.array([True, True]),
        power=np.array([100, 41]),
        power_loss_factor=0.25,
    )
    assert survivor.tolist() == [True, False] and dead.tolist() == [False, True]
    assert loss.tolist() == [math.ceil(41 * 0.25), 0]


# ------------------------------------------------------------------------ illegal actions
def test_masked_actions_run_as_no_ops_and_are_counted():
    world = blank_world(players=2)
    y, x = open_tile(world)
    tired = robot(world, 0, LIGHT, (y, x), power=0)
    empty_handed = robot(world, 1, HEAVY, (y + 1, x), power=1000)
    free_slot = world.factory_slots + world.robot_slots - 1  # player 0's last robot slot
    assert not world.alive[0, free_slot]
    before = world.power.copy(), world.cell.copy(), world.rubble.copy()
    actions = {tired: MOVE_E, empty_handed: TRANSFER_N, 1: MOVE_S, free_slot: DIG}
    batch = step(world, actions)
    assert batch.illegal[0].tolist() == [
        s in (tired, empty_handed, 1) for s in range(world.num_slots)
    ]  # actions of empty slots are ignored, not flagged
    assert world.metrics["illegal_actions"][0].tolist() == [1, 2]
    assert world.cell[0, tired] == before[1][0, tired]
    assert world.power[0, tired] == 0 and world.power[0, empty_handed] == 1000
    assert (world.rubble == before[2]).all()
    assert batch.final is None and not batch.done.any()
    episode = world.episode_metrics(0)["per_player"]
    assert [p["illegal_actions"] for p in episode] == [1.0, 2.0]


def test_empty_slots_allow_only_the_no_op():
    world = blank_world(players=2)
    mask = world.action_mask()[0]
    empty = ~world.alive[0]
    assert empty.sum() == world.num_slots - 2
    assert mask[empty, IDLE].all() and not mask[empty, 1:].any()
    assert mask.shape == (world.num_slots, NUM_ACTIONS)


# ------------------------------------------------------------- the same, as PettingZoo agents
def test_a_robot_destroyed_in_a_collision_terminates_as_an_agent_and_its_name_is_not_reused():
    env = make("harvest-v0", preset="tiny")
    env.reset(seed=0)
    (factory,) = env.agents
    obs, _, _, _, _ = env.step({factory: BUILD_HEAVY})
    heavy = "player_0_heavy_0"
    assert env.agents == [factory, heavy]
    env.step({factory: IDLE, heavy: MOVE_N})  # off the centre, still on the factory
    obs, rewards, terminations, _, infos = env.step({factory: BUILD_LIGHT, heavy: IDLE})
    light = "player_0_light_0"
    assert env.agents == [factory, heavy, light] and not terminations[light]
    assert rewards[light] == 0.0
    # the light drives into the standing heavy: it is destroyed, the heavy is not
    obs, rewards, terminations, truncations, infos = env.step(
        {factory: IDLE, heavy: IDLE, light: MOVE_N}
    )
    assert terminations == {factory: False, heavy: False, light: True}
    assert not any(truncations.values())
    assert env.agents == [factory, heavy]
    assert infos[light]["cell"] == infos[heavy]["cell"]  # where it died
    assert set(obs) == {factory, heavy, light}  # it is seen one last time
    assert env.world.metrics["robots_lost"][0, 0] == 1
    # the next light gets a fresh name
    env.step({factory: BUILD_LIGHT, heavy: IDLE})
    assert env.agents == [factory, heavy, "player_0_light_1"]


def test_a_robot_built_in_the_last_step_never_becomes_an_agent():
    env = make("harvest-v0", preset="tiny", max_cycles=2)
    env.reset(seed=0)
    (factory,) = env.agents
    env.step({factory: IDLE})
    obs, rewards, terminations, truncations, infos = env.step({factory: BUILD_LIGHT})
    assert list(obs) == [factory] and truncations == {factory: True}
    assert env.agents == []
    assert infos[factory]["episode"]["robots_built"] == 1.0


def test_episode_metrics_reach_every_agent_of_the_player_at_the_end():
    env = make("harvest-v0", preset="tiny", max_cycles=10)
    env.reset(seed=0)
    (factory,) = env.agents
    env.step({factory: BUILD_LIGHT})
    env.step({factory: MOVE_N, "player_0_light_0": IDLE})  # masked for a factory: illegal
    for _ in range(8):
        _, _, terminations, truncations, infos = env.step({a: IDLE for a in env.agents})
    assert truncations == {factory: True, "player_0_light_0": True}
    expected = {
        "episode_length": 10,
        "ice_transferred": 0.0,
        "ice_dug": 0.0,
        "robots_built": 1.0,
        "robots_lost": 0.0,
        "factories_lost": 0.0,
        "illegal_actions": 1.0,
        "avg_factories_alive": 1.0,
    }
    assert infos[factory]["episode"] == expected
    assert infos["player_0_light_0"]["episode"] == expected
