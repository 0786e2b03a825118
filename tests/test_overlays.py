"""Renderer options: window sizes, overlays (ids, actions, mask), selection and inspection.

Scenarios are set up on the batched world directly (``place_robot``), then drawn with
``HarvestRenderer.draw(world, batch=..., actions=...)``, the path replays and the viewer use.
"""

from __future__ import annotations

import numpy as np
import pytest

from spawnzoo.envs import make
from spawnzoo.envs.core.canvas import Canvas, scale_frame
from spawnzoo.envs.core.rendering import (
    HEAT_ALL,
    HEAT_NONE,
    ILLEGAL,
    OVERLAYS,
    SELECTED,
    TRAIL,
    parse_overlays,
)
from spawnzoo.envs.harvest.render import ORE, HarvestRenderer, legal_summary, mask_heat
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
    MOVE_W,
    NUM_ACTIONS,
    TRANSFER_C,
)


def _world(players: int = 1):
    env = make("harvest-v0", preset="tiny", players=players)
    env.reset(seed=0)
    return env.world


def _free_row(world, length: int = 3, margin: int = 1) -> tuple[int, int]:
    """``(y, x)`` of ``length`` free tiles in a row (no factory, no robot), ``margin`` tiles from
    the map's edge and from factories."""
    h, w = world.map_shape
    taken = (world.factory_map[0] >= 0).reshape(h, w) | (world.robot_map[0] >= 0).reshape(h, w)
    padded = np.pad(taken, margin)
    for y in range(margin, h - margin):
        for x in range(margin, w - margin - length + 1):
            if not padded[y : y + 1 + 2 * margin, x : x + length + 2 * margin].any():
                return y, x
    raise AssertionError("no free row on this map")


def _name(world, slot: int) -> str:
    """The agent name of a live slot of world 0."""
    return world.pool.name_of(
        int(world.owner[0, slot]), int(world.kind[0, slot]), int(world.serial[0, slot])
    )


def _step(world, actions: dict[int, int]):
    """Step world 0 with ``{slot: action}`` (everyone else idles); return the batch and ``[S]``."""
    acts = np.zeros((1, world.num_slots), dtype=np.int64)
    for slot, a in actions.items():
        acts[0, slot] = a
    return world.step(acts), acts[0]


def _pixel(canvas: Canvas, frame: np.ndarray, fy: float, fx: float) -> tuple[int, ...]:
    px, py = canvas.point(fy, fx)
    return tuple(int(v) for v in frame[py, px])


def _draw(world, overlays=None, selected=None, batch=None, actions=None, size=240):
    renderer = HarvestRenderer(window_size=size, overlays=overlays, selected=selected)
    canvas = renderer.draw(world, 0, batch=batch, actions=actions)
    return renderer, canvas, canvas.present("rgb_array")


# ------------------------------------------------------------------ pure parts
def test_parse_overlays_checks_names_and_keeps_a_fixed_order():
    assert parse_overlays("actions, ids", OVERLAYS) == ("ids", "actions")
    assert parse_overlays(["mask", "mask"], OVERLAYS) == ("mask",)
    assert parse_overlays(None, OVERLAYS) == parse_overlays("", OVERLAYS) == ()
    with pytest.raises(ValueError, match=r"unknown overlay\(s\) \['bogus'\]; available: ids"):
        parse_overlays("ids,bogus", OVERLAYS)
    with pytest.raises(ValueError, match="unknown overlay"):
        HarvestRenderer(overlays="arrows")


def test_legal_summary_groups_moves_and_transfers():
    mask = np.zeros(NUM_ACTIONS, dtype=bool)
    mask[[IDLE, MOVE_N, MOVE_E, DIG, TRANSFER_C, BUILD_LIGHT]] = True
    assert legal_summary(mask) == "idle, move N/E, dig, transfer C, build light"


def test_mask_heat_is_the_legal_share_of_the_actions_aimed_at_each_tile():
    world = _world()
    y, x = _free_row(world)
    slot = world.place_robot(0, 0, LIGHT, (y, x + 1), power=0)
    mask = world.refresh()[0, slot]
    assert mask[IDLE] and not mask[MOVE_N : MOVE_W + 1].any() and not mask[DIG]
    heat = mask_heat(world, 0, slot, mask)
    assert heat[y, x + 1] == 0.25  # idle of idle, dig, transfer here, pickup
    assert heat[y - 1, x + 1] == heat[y, x + 2] == heat[y + 1, x + 1] == heat[y, x] == 0.0
    assert np.isnan(heat).sum() == heat.size - 5  # only the robot's tile and its neighbours
    factory = int(np.flatnonzero(world.alive[0] & (world.kind[0] == FACTORY))[0])
    fmask = np.zeros(NUM_ACTIONS, dtype=bool)
    fmask[[IDLE, BUILD_HEAVY]] = True
    fheat = mask_heat(world, 0, factory, fmask)
    fy, fx = divmod(int(world.cell[0, factory]), world.map_shape[1])
    np.testing.assert_array_equal(fheat[fy - 1 : fy + 2, fx - 1 : fx + 2], np.full((3, 3), 2 / 3))
    assert np.isnan(fheat).sum() == fheat.size - 9


# --------------------------------------------------------------------- canvas
@pytest.mark.render
def test_canvas_tints_arrows_and_maps_pixels_back_to_cells():
    canvas = Canvas((3, 4), 120, hud_lines=0)
    canvas.fill_grid(np.full((3, 4, 3), 200, np.uint8))
    alpha = np.zeros((3, 4))
    alpha[0, 0], alpha[0, 1] = 1.0, 0.5
    canvas.tint_grid(np.full((3, 4, 3), (255, 0, 0)), alpha)
    canvas.arrow((2.5, 0.2), (2.5, 3.8), (0, 0, 255), width=0.3)
    frame = canvas.present("rgb_array")
    at = {
        cell: tuple(int(v) for v in frame[py, px])
        for cell, (px, py) in (
            ((y, x), canvas.cell_center(y, x)) for y in range(3) for x in range(4)
        )
    }
    assert at[(0, 0)] == (255, 0, 0) and at[(1, 1)] == (200, 200, 200)
    assert abs(at[(0, 1)][0] - 227) <= 1 and abs(at[(0, 1)][1] - 100) <= 1  # half way
    assert all(at[(2, x)] == (0, 0, 255) for x in range(4))  # the arrow's shaft and tip
    for y, x in at:
        assert canvas.cell_at(*canvas.cell_center(y, x)) == (y, x)
    assert canvas.cell_at(-1, 5) is None and canvas.cell_at(5, canvas.size[1] + 3) is None
    with pytest.raises(ValueError, match="shapes"):
        canvas.tint_grid(np.zeros((2, 2, 3)), np.zeros((2, 2)))
    canvas.close()


@pytest.mark.render
def test_scale_frame_repeats_whole_factors_and_resamples_others():
    frame = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert scale_frame(frame, 1) is frame
    np.testing.assert_array_equal(scale_frame(frame, 2)[::2, ::2], frame)
    assert scale_frame(frame, 2).shape == (4, 6, 3)
    half = scale_frame(np.zeros((40, 60, 3), np.uint8), 0.5)
    assert half.shape == (20, 30, 3) and half.dtype == np.uint8


# ------------------------------------------------------------------- harvest
@pytest.mark.render
@pytest.mark.parametrize("size", [120, 301, (300, 200), (200, 360)])
def test_frames_fit_any_window_size(size):
    world = _world(players=2)
    renderer, canvas, frame = _draw(world, size=size)
    width, height = (size, size) if isinstance(size, int) else size
    assert frame.shape == (canvas.hud_height + height, width, 3)
    assert canvas.cell_size == min(width, height) // 12  # tiny: 12 x 12 tiles
    # the grid is centred in the map area
    left, top = canvas.origin
    assert abs(2 * left + 12 * canvas.cell_size - width) <= 1
    assert abs(2 * (top - canvas.hud_height) + 12 * canvas.cell_size - height) <= 1
    renderer.window_size = 200  # a new size rebuilds the canvas
    assert renderer.draw(world).present("rgb_array").shape[1] == 200
    renderer.close()


@pytest.mark.render
def test_ids_overlay_only_writes_on_agents():
    world = _world(players=2)
    y, x = _free_row(world)
    world.place_robot(0, 1, HEAVY, (y, x))
    world.refresh()
    _, _, plain = _draw(world)
    renderer, canvas, labelled = _draw(world, overlays="ids")
    changed = np.argwhere((plain != labelled).any(axis=2))
    assert changed.size
    h, w = world.map_shape
    occupied = ((world.factory_map[0] >= 0) | (world.robot_map[0] >= 0)).reshape(h, w)
    cells = {canvas.cell_at(px, py) for py, px in changed.tolist()}
    assert None not in cells and all(occupied[c] for c in cells)
    assert (y, x) in cells  # the robot's label
    renderer.close()


@pytest.mark.render
def test_actions_overlay_shows_moves_digs_masked_attempts_and_deaths():
    world = _world()
    y, x = _free_row(world, length=5)
    mover = world.place_robot(0, 0, HEAVY, (y, x))
    flat = world.place_robot(0, 0, HEAVY, (y, x + 3), power=0)  # cannot move
    world.refresh()
    batch, acts = _step(world, {mover: MOVE_E, flat: MOVE_E})
    assert world.cell[0, mover] == y * world.map_shape[1] + x + 1
    assert batch.illegal[0, flat] and not batch.illegal[0, mover]
    _, _, plain = _draw(world, batch=batch, actions=acts)
    renderer, canvas, shown = _draw(world, overlays="actions", batch=batch, actions=acts)
    # a white arrow from the tile the mover came from; a red one where the other wanted to go
    assert (
        _pixel(canvas, shown, y + 0.5, x + 0.8) == TRAIL != _pixel(canvas, plain, y + 0.5, x + 0.8)
    )
    assert _pixel(canvas, shown, y + 0.5, x + 4.05) == ILLEGAL
    assert _pixel(canvas, plain, y + 0.5, x + 4.05) != ILLEGAL
    # without a batch (e.g. right after a reset) nothing is drawn
    _, _, no_batch = _draw(world, overlays="actions")
    np.testing.assert_array_equal(no_batch, plain)

    batch, acts = _step(world, {mover: DIG})
    assert world.power[0, mover] > 0 and not batch.illegal[0, mover]
    shown = renderer.draw(world, batch=batch, actions=acts).present("rgb_array")
    assert _pixel(canvas, shown, y + 0.25, x + 1.8) == ORE  # the dig badge

    # two lights with equal power drive into the same tile: both die, a red cross marks it
    a = world.place_robot(0, 0, LIGHT, (y + 2, x))
    b = world.place_robot(0, 0, LIGHT, (y + 2, x + 2))
    world.refresh()
    batch, acts = _step(world, {a: MOVE_E, b: MOVE_W})
    assert batch.terminated[0, [a, b]].all() and not world.alive[0, [a, b]].any()
    shown = renderer.draw(world, batch=batch, actions=acts).present("rgb_array")
    assert _pixel(canvas, shown, y + 2.5 - 0.3, x + 1.5 - 0.3) == ILLEGAL
    renderer.close()


@pytest.mark.render
def test_mask_overlay_heats_the_selected_agents_targets_and_lists_its_actions():
    world = _world()
    y, x = _free_row(world)
    weak = world.place_robot(0, 0, LIGHT, (y, x), power=0)
    strong = world.place_robot(0, 0, HEAVY, (y, x + 2))
    world.refresh()
    names = [_name(world, s) for s in (weak, strong)]
    _, _, plain = _draw(world)
    renderer, canvas, shown = _draw(world, overlays="mask", selected=names[0])
    assert canvas.hud_lines == 1 + world.num_players + 1  # the legal-actions line

    def tinted(frame, fy, fx):
        return np.array(_pixel(canvas, frame, fy, fx), float)

    north = tinted(shown, y - 1 + 0.15, x + 0.15) - tinted(plain, y - 1 + 0.15, x + 0.15)
    assert north @ (np.subtract(HEAT_NONE, 128)) > 0  # towards red: no legal move there
    renderer.selected = names[1]
    shown = renderer.draw(world).present("rgb_array")
    north = tinted(shown, y - 1 + 0.15, x + 2.15) - tinted(plain, y - 1 + 0.15, x + 2.15)
    assert north @ (np.subtract(HEAT_ALL, 128)) > 0  # towards green: it can move north
    far = (y + 3, x + 2) if y + 3 < 12 else (y - 3, x + 2)
    assert _pixel(canvas, shown, far[0] + 0.15, far[1] + 0.15) == _pixel(
        canvas, plain, far[0] + 0.15, far[1] + 0.15
    )
    renderer.close()


@pytest.mark.render
def test_selected_agent_is_highlighted_while_alive():
    world = _world()
    factory = int(np.flatnonzero(world.alive[0] & (world.kind[0] == FACTORY))[0])
    name = _name(world, factory)
    _, _, plain = _draw(world)
    renderer, _, shown = _draw(world, selected=name)
    assert not (plain == SELECTED).all(axis=2).any()
    assert (shown == SELECTED).all(axis=2).sum() > 20
    renderer.selected = "player_0_heavy_3"  # not alive: nothing to highlight
    np.testing.assert_array_equal(renderer.draw(world).present("rgb_array"), plain)
    renderer.close()


def test_agent_at_prefers_robots_and_describe_reads_the_state():
    world = _world()
    renderer = HarvestRenderer()
    factory = int(np.flatnonzero(world.alive[0] & (world.kind[0] == FACTORY))[0])
    fy, fx = divmod(int(world.cell[0, factory]), world.map_shape[1])
    assert renderer.agent_at(world, 0, (fy, fx)) == "player_0_factory_0"
    slot = world.place_robot(0, 0, HEAVY, (fy - 1, fx))
    world.refresh()
    assert renderer.agent_at(world, 0, (fy - 1, fx)) == "player_0_heavy_0"
    assert renderer.agent_at(world, 0, (fy + 1, fx + 1)) == "player_0_factory_0"
    y, x = _free_row(world)
    assert renderer.agent_at(world, 0, (y, x)) is None
    assert renderer.agent_at(world, 0, (-1, 0)) is None
    assert renderer.slot_of(world, 0, "player_0_heavy_0") == slot
    assert renderer.slot_of(world, 0, "player_0_heavy_1") is None  # not built
    assert renderer.slot_of(world, 0, "nobody") is None
    rows = dict(renderer.describe(world, 0, "player_0_heavy_0"))
    assert rows["kind"] == "heavy" and rows["owner"] == "player_0"
    assert rows["power"] == "500 / 3000" and rows["cell (x, y)"] == f"({fx}, {fy - 1})"
    frows = dict(renderer.describe(world, 0, "player_0_factory_0"))
    assert frows["water"] == str(world.cfg.init_water)
    assert renderer.describe(world, 0, "player_0_light_0") == []
