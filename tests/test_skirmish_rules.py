"""The skirmish rules on scripted scenarios, with exact numbers.

Each test builds one tiny world with no rock and no capture zones, bases moved to opposite
corners (player 0's at (1, 1), player 1's at (10, 10)), puts units on it by hand
(``place_unit``), calls ``refresh()`` for fresh masks and steps it with ``{slot: action}``.
"""

from __future__ import annotations

import numpy as np
import pytest

from spawnzoo.envs import make
from spawnzoo.envs.skirmish.config import make_config
from spawnzoo.envs.skirmish.world import (
    ATTACK_E,
    ATTACK_N,
    ATTACK_S,
    ATTACK_W,
    BUILD_MELEE,
    BUILD_RANGED,
    IDLE,
    MELEE,
    MOVE_E,
    MOVE_N,
    MOVE_S,
    MOVE_W,
    NUM_ACTIONS,
    RANGED,
    SkirmishWorld,
)

N = 12
BASE0, BASE1 = 0, 1  # tiny: one base per player


def blank_world(**settings) -> SkirmishWorld:
    """A 12x12 world without rock or capture zones, bases at (1, 1) and (10, 10)."""
    world = SkirmishWorld(make_config(preset="tiny", **settings), num_envs=1, auto_reset=False)
    world.reset(seed=0)
    world.rock[:] = False
    world.zone[:] = -1
    for slot, (y, x) in ((BASE0, (1, 1)), (BASE1, (10, 10))):
        move_base(world, slot, y, x)
    world.refresh()
    return world


def move_base(world: SkirmishWorld, slot: int, y: int, x: int) -> None:
    world.occupant[0, world.cell[0, slot]] = -1
    world.cell[0, slot] = y * N + x
    world.occupant[0, y * N + x] = slot


def step(world: SkirmishWorld, orders: dict[int, int]):
    actions = np.zeros((1, world.num_slots), dtype=np.int64)
    for slot, action in orders.items():
        actions[0, slot] = action
    return world.step(actions)


def at(world: SkirmishWorld, slot: int) -> tuple[int, int]:
    return divmod(int(world.cell[0, slot]), N)


def add_zone(world: SkirmishWorld, index: int, y: int, x: int) -> None:
    """Capture point ``index`` centred on ``(y, x)`` with a 3x3 zone."""
    world.capture_cell[0, index] = y * N + x
    world.zone[0].reshape(N, N)[y - 1 : y + 2, x - 1 : x + 2] = index


# --------------------------------------------------------------------------- moves
def test_a_unit_moves_one_cell_per_step_in_each_direction():
    world = blank_world()
    u = world.place_unit(0, 0, MELEE, (5, 5))
    world.refresh()
    for action, expected in (
        (MOVE_N, (4, 5)),
        (MOVE_E, (4, 6)),
        (MOVE_S, (5, 6)),
        (MOVE_W, (5, 5)),
    ):
        batch = step(world, {u: action})
        assert at(world, u) == expected
        assert world.occupant[0, world.cell[0, u]] == u
        assert not batch.illegal.any()
    assert (world.occupant[0] >= 0).sum() == 3  # two bases and the unit, nothing left behind


def test_moves_off_the_map_into_rock_or_onto_a_base_are_masked():
    world = blank_world()
    corner = world.place_unit(0, 0, MELEE, (0, 0))
    by_base = world.place_unit(0, 0, MELEE, (1, 2))  # west of it is player 0's base
    world.rock[0, 3 * N + 2] = True  # south of by_base... one row further down: (3, 2)
    near_rock = world.place_unit(0, 1, MELEE, (2, 2))
    mask = world.refresh()[0]
    assert mask[corner, [MOVE_N, MOVE_E, MOVE_S, MOVE_W]].tolist() == [False, True, True, False]
    assert not mask[by_base, MOVE_W] and mask[by_base, MOVE_E]
    assert not mask[near_rock, MOVE_S] and mask[near_rock, MOVE_E]
    # an occupied (non-base) cell is a legal target: the move bounces unless it is vacated
    assert mask[by_base, MOVE_S]
    batch = step(world, {corner: MOVE_W})  # masked: runs as idle and is flagged
    assert batch.illegal[0, corner] and at(world, corner) == (0, 0)
    assert world.metrics["illegal_actions"][0].tolist() == [1, 0]


def test_blocked_moves_contested_cells_and_swaps_bounce():
    world = blank_world()
    a = world.place_unit(0, 0, MELEE, (5, 5))
    b = world.place_unit(0, 0, MELEE, (5, 6))  # stays: a bounces off it
    c = world.place_unit(0, 0, MELEE, (7, 5))
    d = world.place_unit(0, 1, MELEE, (7, 7))  # c and d both want (7, 6)
    e = world.place_unit(0, 0, MELEE, (9, 2))
    f = world.place_unit(0, 1, MELEE, (9, 3))  # e and f would swap
    world.refresh()
    step(world, {a: MOVE_E, c: MOVE_E, d: MOVE_W, e: MOVE_E, f: MOVE_W})
    assert [at(world, s) for s in (a, b, c, d, e, f)] == [
        (5, 5),
        (5, 6),
        (7, 5),
        (7, 7),
        (9, 2),
        (9, 3),
    ]
    assert not world.moved[0].any()


def test_a_unit_follows_one_that_moves_away_and_a_cycle_of_four_rotates():
    world = blank_world()
    lead = world.place_unit(0, 0, MELEE, (5, 5))
    follow = world.place_unit(0, 0, MELEE, (5, 4))
    behind_bounced = world.place_unit(0, 0, MELEE, (3, 4))
    blocked_lead = world.place_unit(0, 0, MELEE, (3, 5))
    wall = world.place_unit(0, 1, MELEE, (3, 6))
    ring = [world.place_unit(0, 0, MELEE, yx) for yx in ((8, 8), (8, 9), (9, 9), (9, 8))]
    world.refresh()
    orders = {lead: MOVE_E, follow: MOVE_E, behind_bounced: MOVE_E, blocked_lead: MOVE_E}
    orders |= dict(zip(ring, (MOVE_E, MOVE_S, MOVE_W, MOVE_N)))
    step(world, orders)
    assert at(world, lead) == (5, 6) and at(world, follow) == (5, 5)
    # blocked_lead bounces off the wall, so the unit behind it bounces too
    assert at(world, blocked_lead) == (3, 5) and at(world, behind_bounced) == (3, 4)
    assert at(world, wall) == (3, 6)
    assert [at(world, s) for s in ring] == [(8, 9), (9, 9), (9, 8), (8, 8)]
    cells = world.cell[0, world.alive[0]]
    assert len(set(cells.tolist())) == cells.size  # one entity per cell


# ------------------------------------------------------------------------- attacks
def test_melee_attacks_the_adjacent_enemy_and_damage_adds_up():
    world = blank_world()
    target = world.place_unit(0, 1, MELEE, (5, 5))
    west = world.place_unit(0, 0, MELEE, (5, 4))
    north = world.place_unit(0, 0, MELEE, (4, 5))
    friend = world.place_unit(0, 1, MELEE, (6, 5))
    mask = world.refresh()[0]
    assert mask[west, ATTACK_E] and mask[north, ATTACK_S]
    assert not mask[west, [ATTACK_N, ATTACK_S, ATTACK_W]].any()
    assert not mask[friend, ATTACK_N]  # never at a team mate
    assert mask[target, ATTACK_W] and mask[target, ATTACK_N]
    batch = step(world, {west: ATTACK_E, north: ATTACK_S})
    assert world.hp[0, target] == 12 - 3 - 3
    assert batch.reward[0, west] == pytest.approx(0.02 * 3)
    assert world.metrics["damage_dealt"][0].tolist() == [6, 0]
    assert world.alive[0, target] and not batch.terminated.any()


def test_ranged_reach_is_three_cells_and_rock_or_any_unit_stops_the_line():
    world = blank_world()
    archer = world.place_unit(0, 0, RANGED, (5, 5))
    far_east = world.place_unit(0, 1, MELEE, (5, 8))  # 3 cells east: in reach
    world.place_unit(0, 1, MELEE, (1, 5))  # 4 cells north: out of reach
    world.place_unit(0, 0, MELEE, (6, 5))  # a team mate south...
    world.place_unit(0, 1, MELEE, (7, 5))  # ...shields the enemy behind it
    world.rock[0, 5 * N + 3] = True
    world.place_unit(0, 1, MELEE, (5, 2))  # behind rock to the west
    mask = world.refresh()[0]
    assert mask[archer, [ATTACK_N, ATTACK_E, ATTACK_S, ATTACK_W]].tolist() == [
        False,
        True,
        False,
        False,
    ]
    assert world.attack_targets()[0, archer, 1] == far_east
    step(world, {archer: ATTACK_E})
    assert world.hp[0, far_east] == 12 - 2


def test_attacks_are_simultaneous_two_units_can_kill_each_other():
    world = blank_world()
    a = world.place_unit(0, 0, MELEE, (5, 5), hp=3)
    b = world.place_unit(0, 1, MELEE, (5, 6), hp=2)
    world.refresh()
    batch = step(world, {a: ATTACK_E, b: ATTACK_W})
    assert not world.alive[0, [a, b]].any()
    assert batch.terminated[0, [a, b]].all() and not batch.truncated.any()
    assert (world.occupant[0, [5 * N + 5, 5 * N + 6]] == -1).all()
    # each attacker was rewarded for the damage and for the kill
    assert batch.reward[0, a] == pytest.approx(0.02 * 3 + 0.2)
    assert world.metrics["kills"][0].tolist() == [1, 1]
    assert world.metrics["units_lost"][0].tolist() == [1, 1]
    assert world.points[0].tolist() == [2, 2]
    # the step after, the slots are empty and the cells can be entered
    c = world.place_unit(0, 0, MELEE, (4, 5))
    world.refresh()
    batch = step(world, {c: MOVE_S})
    assert at(world, c) == (5, 5)
    assert world.kind[0, b] == -1 and world.owner[0, b] == -1 and world.cell[0, b] == -1


def test_an_attack_hits_where_the_target_stood_at_the_start_of_the_step():
    world = blank_world()
    hunter = world.place_unit(0, 0, MELEE, (5, 5))
    prey = world.place_unit(0, 1, MELEE, (5, 6))
    world.refresh()
    step(world, {hunter: ATTACK_E, prey: MOVE_E})
    assert at(world, prey) == (5, 7) and world.hp[0, prey] == 12 - 3


def test_a_dying_unit_does_not_move_and_frees_its_slot_for_a_fresh_id():
    world = blank_world(unit_slots_per_player=1)
    victim = world.place_unit(0, 0, MELEE, (5, 5), hp=1)
    killer = world.place_unit(0, 1, MELEE, (5, 6))
    world.refresh()
    assert not world.action_mask()[0, BASE0, BUILD_MELEE]  # player 0's one unit slot is taken
    step(world, {victim: MOVE_W, killer: ATTACK_W})
    assert not world.alive[0, victim]
    assert world.occupant[0, 5 * N + 4] == -1  # it never arrived
    assert world.action_mask()[0, BASE0, BUILD_MELEE]
    batch = step(world, {BASE0: BUILD_MELEE})
    assert batch.spawned[0, victim] and world.serial[0, victim] == 1  # same slot, next name
    assert world.pool.name_of(0, MELEE, 1) == "player_0_melee_1"


# -------------------------------------------------------------------------- builds
def test_a_build_costs_resources_income_comes_every_step():
    world = blank_world()
    assert world.resources[0].tolist() == [20, 20]
    batch = step(world, {BASE0: BUILD_MELEE, BASE1: BUILD_RANGED})
    # cost, then the base income of 1
    assert world.resources[0].tolist() == [20 - 10 + 1, 20 - 15 + 1]
    new = np.flatnonzero(batch.spawned[0])
    assert world.kind[0, new].tolist() == [MELEE, RANGED]
    assert world.serial[0, new].tolist() == [0, 0]
    # player 0 builds on its base's first free neighbour N E S W, player 1 on the mirror image
    # (the seed-0 tiny map's symmetry decides which)
    assert at(world, new[0]) == (0, 1)
    sym = int(world.symmetry[0])
    expected = {0: (11, 10), 1: (9, 10), 2: (11, 10)}[sym]
    assert at(world, new[1]) == expected
    assert world.metrics["units_built"][0].tolist() == [1, 1]
    assert batch.reward[0, new].tolist() == [0.0, 0.0]
    # 11 and 6 left: player 1 cannot pay for another ranged unit, player 0 can for a melee
    mask = world.action_mask()[0]
    assert mask[BASE0, BUILD_MELEE] and not mask[BASE0, BUILD_RANGED]
    assert not mask[BASE1, BUILD_MELEE] and not mask[BASE1, BUILD_RANGED]


def test_a_base_builds_on_its_next_free_neighbour_and_not_when_boxed_in():
    world = blank_world()
    world.place_unit(0, 1, MELEE, (0, 1))  # north of base 0 is taken
    batch = step(world, {BASE0: BUILD_MELEE})
    new = np.flatnonzero(batch.spawned[0])
    assert at(world, new[0]) == (1, 2)  # east
    world.place_unit(0, 1, MELEE, (2, 1))
    world.rock[0, 1 * N + 0] = True
    world.refresh()
    assert not world.action_mask()[0, BASE0, [BUILD_MELEE, BUILD_RANGED]].any()


def test_the_id_pool_runs_out():
    world = blank_world(unit_ids_per_kind=1, start_resources=100)
    batch = step(world, {BASE0: BUILD_MELEE})
    (u,) = np.flatnonzero(batch.spawned[0])
    mask = world.action_mask()[0]
    assert not mask[BASE0, BUILD_MELEE] and mask[BASE0, BUILD_RANGED]
    world.alive[0, u] = False  # even after the unit is gone: names are never reused
    world.occupant[0, world.cell[0, u]] = -1
    assert not world.refresh()[0, BASE0, BUILD_MELEE]


def test_a_new_unit_blocks_a_unit_moving_onto_its_cell():
    world = blank_world()
    walker = world.place_unit(0, 1, MELEE, (0, 2))
    world.refresh()
    batch = step(world, {BASE0: BUILD_MELEE, walker: MOVE_W})
    (new,) = np.flatnonzero(batch.spawned[0])
    assert at(world, new) == (0, 1) and at(world, walker) == (0, 2)


# ------------------------------------------------------------------------- capture
def test_a_point_is_held_by_a_team_alone_in_its_zone():
    world = blank_world()
    add_zone(world, 0, 5, 5)
    add_zone(world, 1, 5, 9)
    mine = world.place_unit(0, 0, MELEE, (4, 4))  # corner of zone 0
    world.place_unit(0, 0, MELEE, (5, 8))
    world.place_unit(0, 1, MELEE, (6, 10))  # zone 1 is contested
    world.refresh()
    batch = step(world, {})
    assert world.holder[0].tolist() == [0, -1]
    assert world.points[0].tolist() == [1, 0]
    assert world.resources[0].tolist() == [20 + 1 + 1, 20 + 1]
    assert batch.reward[0, mine] == pytest.approx(0.01)
    assert batch.reward[0, BASE0] == pytest.approx(0.01 * 1)  # the team gained one point
    assert world.metrics["capture_steps"][0].tolist() == [1, 0]
    planes = world.planes()[0]
    cap_own, cap_enemy = (world.plane_names.index(n) for n in ("capture_own", "capture_enemy"))
    assert planes[0, cap_own, 5, 5] == 1 and planes[1, cap_enemy, 5, 5] == 1
    assert planes[0, cap_own, 5, 9] == 0 and planes[1, cap_own, 5, 9] == 0
    step(world, {mine: MOVE_N})  # out of the zone: nobody holds it
    assert world.holder[0].tolist() == [-1, -1] and world.points[0].tolist() == [1, 0]


# ----------------------------------------------------------------------- episode end
def test_destroying_the_last_enemy_base_ends_the_episode_with_a_win():
    world = blank_world()
    raider = world.place_unit(0, 0, MELEE, (10, 9))
    defender = world.place_unit(0, 1, MELEE, (3, 3))
    world.hp[0, BASE1] = 3
    world.refresh()
    assert world.action_mask()[0, raider, ATTACK_E]
    batch = step(world, {raider: ATTACK_E})
    assert batch.done[0] and not world.alive[0, BASE1]
    assert batch.terminated[0, [raider, defender, BASE0, BASE1]].all()
    assert not batch.truncated.any()
    assert batch.reward[0, raider] == pytest.approx(0.02 * 3 + 1.0 + 1.0)  # damage, kill, win
    assert batch.reward[0, defender] == pytest.approx(-1.0)
    assert batch.reward[0, BASE0] == pytest.approx(0.01 * 20 + 1.0)
    metrics = batch.final.metrics[0]
    p0, p1 = metrics["per_player"]
    assert (p0["win"], p1["win"]) == (1.0, 0.0)
    assert (p0["points"], p1["points"]) == (20.0, 0.0)
    assert (p0["bases_alive"], p1["bases_alive"], p1["bases_lost"]) == (1.0, 0.0, 1.0)
    assert metrics["episode_length"] == 1


@pytest.mark.parametrize(("points", "wins"), [((5, 3), (1.0, 0.0)), ((4, 4), (0.5, 0.5))])
def test_at_max_cycles_points_decide(points, wins):
    world = blank_world(max_cycles=3)
    u = world.place_unit(0, 1, MELEE, (5, 5))
    world.points[0] = points
    world.refresh()
    for t in range(3):
        batch = step(world, {})
        assert batch.done[0] == (t == 2)
    assert batch.truncated[0, [BASE0, BASE1, u]].all() and not batch.terminated.any()
    per_player = batch.final.metrics[0]["per_player"]
    assert (per_player[0]["win"], per_player[1]["win"]) == wins
    sign = 2 * wins[1] - 1
    assert batch.reward[0, u] == pytest.approx(sign)


# ---------------------------------------------------------------------------- misc
def test_bad_settings_and_actions_give_clear_errors():
    with pytest.raises(ValueError, match="map_size must be an even int"):
        make_config(map_size=13)
    with pytest.raises(ValueError, match="capture_points must be even"):
        make_config(capture_points=3)
    with pytest.raises(ValueError, match="unknown skirmish setting"):
        make_config(players=2)
    with pytest.raises(ValueError, match="do not fit"):
        make_config(map_size=8, bases_per_player=4, capture_points=6)
    crowded = SkirmishWorld(make_config(map_size=8, bases_per_player=2, capture_points=2))
    with pytest.raises(RuntimeError, match="could not place 2 bases and 2 capture points"):
        crowded.reset(seed=0)
    world = blank_world()
    before = world.cell.copy()
    with pytest.raises(ValueError, match="out of range"):
        world.step(np.full((1, world.num_slots), NUM_ACTIONS))
    with pytest.raises(ValueError, match="shape"):
        world.step(np.zeros((2, world.num_slots), dtype=np.int64))
    np.testing.assert_array_equal(world.cell, before)
    with pytest.raises(ValueError, match="occupied"):
        world.place_unit(0, 0, MELEE, (1, 1))
    env = make("skirmish-v0", preset="tiny", strict=True)
    obs, _ = env.reset(seed=0)
    base = next(a for a in env.agents if a.startswith("player_0"))
    with pytest.raises(ValueError, match="masked"):
        env.step({base: ATTACK_N})
    with pytest.raises(ValueError, match="not alive"):
        env.step({"player_0_melee_3": IDLE})


def test_idle_bases_never_die_and_nothing_changes_but_the_clock_and_income():
    world = blank_world()
    for _ in range(10):
        step(world, {})
    assert world.alive[0].sum() == 2 and world.resources[0].tolist() == [30, 30]
    assert world.t[0] == 10 and world.points[0].tolist() == [0, 0]


def test_a_slot_freed_by_a_death_is_not_refilled_in_the_same_step():
    world = blank_world(unit_slots_per_player=2)
    victim = world.place_unit(0, 0, MELEE, (5, 5), hp=1)
    killer = world.place_unit(0, 1, MELEE, (5, 6))
    world.refresh()
    batch = step(world, {killer: ATTACK_W, BASE0: BUILD_MELEE})
    (new,) = np.flatnonzero(batch.spawned[0])
    assert new != victim and batch.terminated[0, victim] and not world.alive[0, victim]


def test_pickling_keeps_the_settings_and_the_same_seed_gives_the_same_episode():
    import pickle

    env = make("skirmish-v0", preset="tiny", max_cycles=33, strict=True, rock_density=0.0)
    assert env._ezpickle_kwargs == {
        "preset": "tiny",
        "render_mode": None,
        "strict": True,
        "config": None,
        "max_cycles": 33,
        "rock_density": 0.0,
    }
    env.reset(seed=5)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.config == env.config and clone.strict and clone.max_cycles == 33
    obs, _ = env.reset(seed=6)
    clone_obs, _ = clone.reset(seed=6)
    assert list(obs) == list(clone_obs)
    np.testing.assert_array_equal(env.state(), clone.state())
