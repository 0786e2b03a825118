"""Harvest against ``luxai_s2``: the rules that used to differ, on scripted scenarios, and the
paper's settings (placement, masks, the 18th plane). ``docs/lux-parity.md`` lists what still
differs. Helpers and conventions (night clock, blank maps) as in ``test_rules.py``."""

from __future__ import annotations

import numpy as np
import pytest
from test_rules import (
    NIGHT,
    beside_factory,
    blank_world,
    cell,
    factory_centre,
    open_tile,
    robot,
    shifted,
    step,
    yx_of,
)

from spawnzoo.envs.harvest.config import LUX_FACTORIES, HarvestConfig, make_config
from spawnzoo.envs.harvest.mapgen import (
    _valid_centres,
    gaussian_sum,
    generate_map,
    paper_base_score,
    place_factories,
)
from spawnzoo.envs.harvest.world import (
    BUILD_HEAVY,
    BUILD_LIGHT,
    IDLE,
    LIGHT,
    MOVE_E,
    MOVE_N,
    MOVE_S,
    MOVE_W,
    PICKUP,
    PLANE_NAMES,
    TRANSFER_E,
    HarvestWorld,
)


# ------------------------------------------------------------------------ power pickup order
def test_power_pickup_serves_the_oldest_robot_first_even_from_a_later_slot():
    """The issue's scenario: a factory with 150 power, an older robot asking 150 and a newer
    one asking 100 that took the older one's lost slot. Lux serves in creation order."""
    world = blank_world()
    cy, cx = factory_centre(world)
    gone = robot(world, 0, LIGHT, (cy, cx + 1), power=0)
    older = robot(world, 0, LIGHT, (cy, cx - 1), power=0)
    world.alive[0, gone] = False  # its slot is free again
    world.robot_map[0, cell(world, (cy, cx + 1))] = -1
    newer = robot(world, 0, LIGHT, (cy, cx + 1), power=50)
    assert newer == gone < older  # the newer robot sits in the earlier slot
    assert world.born[0, newer] > world.born[0, older]
    world.power[0, 0] = 150
    world.refresh()
    step(world, {older: PICKUP, newer: PICKUP})
    assert world.power[0, older] == 150  # asked 150, got all of it
    assert world.power[0, newer] == 50  # asked 100, nothing left
    assert world.power[0, 0] == 0 + 50  # emptied, then the factory's charge


def test_robots_built_in_one_step_are_born_in_factory_slot_order():
    world = blank_world(players=2)
    step(world, {0: BUILD_LIGHT, 1: BUILD_HEAVY})
    slots = np.flatnonzero(world.alive[0, world.factory_slots :]) + world.factory_slots
    born = world.born[0, slots]
    assert sorted(born.tolist()) == born.tolist() and len(set(born.tolist())) == 2
    assert (born >= 2).all()  # after the two factories


# ------------------------------------------------------------- rubble under a dying factory
@pytest.mark.parametrize(("water", "rubble"), [(0, 51), (10, 0)])
def test_a_light_destroyed_on_a_factory_that_runs_dry_this_step_leaves_51_rubble(water, rubble):
    """Lux adds the robot's rubble, destroys the dry factory (+50) and only then clears rubble
    under the factories that are left; a factory that survives keeps its tiles clear."""
    world = blank_world()
    cy, cx = factory_centre(world)
    tile = (cy - 1, cx + 1)  # a corner of the footprint
    still = robot(world, 0, LIGHT, tile, power=10)
    mover = robot(world, 0, LIGHT, shifted(tile, MOVE_E), power=100)
    world.water[0, 0] = water
    world.refresh()
    step(world, {mover: MOVE_W})
    assert not world.alive[0, still] and world.alive[0, mover]
    assert world.alive[0, 0] == (water > 0)
    assert world.rubble[0, cell(world, tile)] == rubble


# ------------------------------------------------------------------------- factory counts
@pytest.mark.parametrize(
    ("version", "map_size", "expected"),
    [
        ("2.2.0", 48, (2, 5)),
        ("3.0.1", 48, (4, 10)),
        ("2.2.0", 64, (2, 5)),  # Lux does not scale with the map
        ("3.0.1", 64, (4, 10)),
        ("2.2.0", 24, (1, 2)),  # below 48 x 48 harvest scales with area
        ("3.0.1", 24, (1, 3)),
    ],
)
def test_factories_per_player_follow_the_declared_lux_version(version, map_size, expected):
    assert make_config(map_size=map_size, lux_version=version).factory_range == expected


def test_the_paper_preset_follows_lux_2_2_0_and_the_default_too():
    assert make_config(preset="paper").lux_version == "2.2.0"
    assert HarvestConfig().factory_range == LUX_FACTORIES["2.2.0"]


def test_a_3_0_1_world_draws_4_to_10_factories_per_player():
    world = HarvestWorld(
        make_config(lux_version="3.0.1", players=2, max_cycles=10), num_envs=6, auto_reset=False
    )
    world.reset(seed=0)
    per_player = world.alive[:, : world.factory_slots].reshape(6, 2, -1).sum(-1)
    assert world.max_factories == 10
    assert (per_player[:, 0] == per_player[:, 1]).all()
    assert ((per_player >= 4) & (per_player <= 10)).all()


# ------------------------------------------------------------------------ factory spacing
def test_centres_within_manhattan_distance_6_are_invalid_as_in_lux():
    clear = np.ones((30, 30), dtype=bool)
    valid = _valid_centres(clear, [(10, 10)], 7, "manhattan")
    assert not valid[10, 16] and valid[10, 17]  # distance 6 and 7 along a row
    assert not valid[13, 13] and valid[13, 14]  # 3 + 3 = 6 and 3 + 4 = 7
    cheb = _valid_centres(clear, [(10, 10)], 6, "chebyshev")
    assert not cheb[13, 13] and cheb[16, 10] and not cheb[15, 15]


@pytest.mark.parametrize("spacing", ["manhattan", "chebyshev"])
def test_placed_factories_keep_the_configured_spacing(spacing):
    dist = 7 if spacing == "manhattan" else 6
    cfg = make_config(
        factories_per_player=(5, 5), factory_spacing=spacing, factory_min_distance=dist
    )
    for seed in range(5):
        rng = np.random.default_rng(seed)
        ice, ore, rubble, axis = generate_map(rng, cfg)
        (centres,) = place_factories(rng, cfg, ice, ore, rubble, 5, axis)
        d = np.abs(centres[:, None] - centres[None])
        d = d.sum(-1) if spacing == "manhattan" else d.max(-1)
        assert (d[~np.eye(5, dtype=bool)] >= dist).all()


def test_manhattan_spacing_below_5_is_refused_because_footprints_would_overlap():
    with pytest.raises(ValueError, match="factory_min_distance \\(4\\) must be >= 5"):
        make_config(factory_min_distance=4)
    cfg = make_config(factory_min_distance=4, factory_spacing="chebyshev")
    assert cfg.factory_min_distance == 4


# ----------------------------------------------------------------------- paper placement
def test_gaussian_sum_is_normalised_by_its_centre_weight():
    a = np.zeros((30, 30))
    a[15, 15] = 1.0
    g = gaussian_sum(a)
    assert g[15, 15] == pytest.approx(1.0)
    assert g[15, 16] == pytest.approx(np.exp(-1 / 18))
    assert g[15, 28] == 0.0  # beyond 4 sigma


def test_paper_score_counts_ice_on_the_12_tiles_next_to_the_footprint():
    ice = np.zeros((20, 20), dtype=bool)
    ice[5, 10] = True
    score, ring = paper_base_score(ice, np.zeros_like(ice), np.zeros((20, 20), int))
    assert ring[7, 10] == 1 and ring[7, 9] == 1 and ring[7, 11] == 1  # above the footprint
    assert ring[7, 12] == 0 and ring[6, 10] == 0  # diagonal corner / footprint covers it
    assert score[7, 10] > score[9, 10]


def test_paper_placement_puts_every_factory_next_to_ice_when_it_can_and_samples():
    cfg = make_config(preset="paper", players=2, factories_per_player=(3, 3))
    picks = set()
    for seed in range(6):
        rng = np.random.default_rng(seed)
        ice, ore, rubble, axis = generate_map(rng, cfg)
        centres = place_factories(rng, cfg, ice, ore, rubble, 3, axis)
        _, ring = paper_base_score(ice, ore, rubble)
        for y, x in centres[0]:
            assert not (ice | ore)[y - 1 : y + 2, x - 1 : x + 2].any()
        # the same map placed again with other draws: sampling, not argmax
        again = place_factories(np.random.default_rng(100 + seed), cfg, ice, ore, rubble, 3, axis)
        picks.add(again[0].tobytes() == centres[0].tobytes())
        assert (ring[centres[0][:, 0], centres[0][:, 1]] > 0).sum() >= 1
    assert False in picks


# --------------------------------------------------------------------------- paper masks
def paper_world(players: int = 1) -> HarvestWorld:
    return blank_world(players=players, action_masks="paper")


@pytest.mark.parametrize("masks", ["harvest", "paper"])
def test_paper_masks_forbid_moving_onto_an_own_robot(masks):
    world = blank_world(action_masks=masks)
    y, x = open_tile(world)
    me = robot(world, 0, LIGHT, (y, x), power=100)
    robot(world, 0, LIGHT, (y, x + 1), power=100)
    mask = world.action_mask()[0, me]
    assert mask[MOVE_E] == (masks == "harvest")
    assert mask[MOVE_W] and mask[MOVE_N] and mask[MOVE_S]


@pytest.mark.parametrize("masks", ["harvest", "paper"])
def test_paper_masks_forbid_entering_a_factory_centre_but_not_its_other_tiles(masks):
    world = blank_world(action_masks=masks)
    cy, cx = factory_centre(world)
    side = robot(world, 0, LIGHT, (cy, cx + 1), power=100)  # on the footprint, east of centre
    corner = robot(world, 0, LIGHT, (cy - 1, cx + 1), power=100)
    mask = world.action_mask()[0]
    assert mask[side, MOVE_W] == (masks == "harvest")
    assert mask[corner, MOVE_W]  # the footprint's top edge, not the centre
    on_centre = robot(world, 0, LIGHT, (cy, cx), power=100)
    assert world.action_mask()[0, on_centre, MOVE_S]  # leaving the centre is fine


@pytest.mark.parametrize("masks", ["harvest", "paper"])
def test_paper_masks_allow_transfers_into_own_factories_only(masks):
    world = blank_world(action_masks=masks)
    yx, into = beside_factory(world)
    me = robot(world, 0, LIGHT, yx, power=100)
    y, x = open_tile(world)
    giver = robot(world, 0, LIGHT, (y, x), power=100)
    robot(world, 0, LIGHT, (y, x + 1), power=100)
    world.cargo_ice[0, [me, giver]] = 10
    mask = world.refresh()[0]
    assert mask[me, {MOVE_N: 7, MOVE_E: 8, MOVE_S: 9, MOVE_W: 10}[into]]
    assert mask[giver, TRANSFER_E] == (masks == "harvest")


@pytest.mark.parametrize(("metal", "power", "idle"), [(100, 500, False), (99, 500, True)])
def test_paper_masks_forbid_idling_while_a_heavy_can_be_built(metal, power, idle):
    world = paper_world()
    world.metal[0, 0], world.power[0, 0] = metal, power
    mask = world.refresh()[0, 0]
    assert mask[IDLE] == idle
    assert mask[BUILD_LIGHT]
    assert mask[BUILD_HEAVY] == (not idle)
    harvest = blank_world()
    harvest.metal[0, 0], harvest.power[0, 0] = metal, power
    assert harvest.refresh()[0, 0, IDLE]


@pytest.mark.parametrize("masks", ["harvest", "paper"])
def test_paper_masks_let_only_the_oldest_own_robot_move_onto_a_tile(masks):
    world = blank_world(action_masks=masks)
    t = open_tile(world)
    old = robot(world, 0, LIGHT, shifted(t, MOVE_W), power=100)
    young = robot(world, 0, LIGHT, shifted(t, MOVE_E), power=100)
    batch = step(world, {old: MOVE_E, young: MOVE_W})
    if masks == "paper":
        assert yx_of(world, old) == t and yx_of(world, young) == shifted(t, MOVE_E)
        assert world.power[0, old] == 99 and world.power[0, young] == 100  # it did not pay
        assert not batch.illegal[0, [old, young]].any()
    else:  # equal power: the tie destroys both
        assert not world.alive[0, old] and not world.alive[0, young]


def test_paper_masks_still_let_enemy_robots_collide():
    world = paper_world(players=2)
    t = open_tile(world)
    mine = robot(world, 0, LIGHT, shifted(t, MOVE_W), power=100)
    theirs = robot(world, 1, LIGHT, shifted(t, MOVE_E), power=50)
    step(world, {mine: MOVE_E, theirs: MOVE_W})
    assert world.alive[0, mine] and not world.alive[0, theirs]


def test_the_paper_preset_uses_the_papers_placement_and_masks():
    cfg = make_config(preset="paper")
    assert (cfg.placement, cfg.action_masks) == ("paper", "paper")
    assert make_config().action_masks == "harvest"


# -------------------------------------------------------------------------- the 18th plane
def test_factory_water_cost_is_the_18th_plane_and_reads_one_water_at_factory_centres():
    assert len(PLANE_NAMES) == 18 and PLANE_NAMES[-1] == "factory_water_cost"
    world = blank_world(players=2)
    world.t[:] = NIGHT
    planes = world.planes()  # [E, P, C, H, W]
    plane = planes[0, 0, PLANE_NAMES.index("factory_water_cost")]
    n = world.cfg.map_size
    centres = [divmod(int(world.cell[0, s]), n) for s in range(world.factory_slots)]
    for y, x in centres:
        assert plane[y, x] == pytest.approx(1 / 1000 * 2 - 1)
    assert (np.count_nonzero(plane != -1.0)) == len(centres)
    assert np.array_equal(plane, planes[0, 1, PLANE_NAMES.index("factory_water_cost")])
