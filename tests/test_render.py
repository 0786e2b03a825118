"""Rendering: the shared ``Canvas`` and harvest's renderer, with real pygame, headless.

``tests/conftest.py`` selects SDL's dummy drivers, so ``"human"`` mode opens a virtual window.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from spawnzoo.envs import make
from spawnzoo.envs.core.canvas import Canvas
from spawnzoo.envs.harvest.render import FACTORY_COLORS, TEAM_COLORS
from spawnzoo.envs.harvest.world import (
    BUILD_HEAVY,
    BUILD_LIGHT,
    IDLE,
    MOVE_E,
    MOVE_N,
    MOVE_S,
    PICKUP,
)


def _harvest(**kwargs):
    env = make("harvest-v0", preset="tiny", render_mode="rgb_array", **kwargs)
    obs, infos = env.reset(seed=0)
    return env, obs, infos


def _cell_pixels(env, frame: np.ndarray, x: int, y: int) -> np.ndarray:
    """The pixels of tile ``(x, y)`` (as ``infos[a]["cell"]``) in ``frame``."""
    left, top, w, h = env._renderer.canvas.cell_rect(y, x)
    return frame[top : top + h, left : left + w]


def _centre_pixel(env, frame: np.ndarray, x: int, y: int) -> tuple[int, ...]:
    px, py = env._renderer.canvas.cell_center(y, x)
    return tuple(int(v) for v in frame[py, px])


# ------------------------------------------------------------------ Canvas
def test_canvas_geometry_fits_any_window_with_square_cells():
    canvas = Canvas((5, 7), 100, hud_lines=2)
    assert canvas.cell_size == 14  # min(100 // 7, 100 // 5)
    assert canvas.hud_height % 16 == 0 and canvas.hud_height > 0
    assert canvas.size == (100, canvas.hud_height + 100)
    # the 98 x 70 grid is centred in the 100 x 100 map area, under the HUD
    assert canvas.origin == (1, canvas.hud_height + 15)
    assert canvas.cell_rect(4, 6) == (1 + 6 * 14, canvas.hud_height + 15 + 4 * 14, 14, 14)
    assert canvas.cell_center(0, 0) == (1 + 7, canvas.hud_height + 15 + 7)
    wide = Canvas((4, 10), (300, 120), hud_lines=0)
    assert (wide.cell_size, wide.origin, wide.size) == (30, (0, 0), (300, 120))


def test_canvas_rejects_bad_geometry():
    with pytest.raises(ValueError, match="too small"):
        Canvas((48, 48), 40)
    with pytest.raises(ValueError, match="grid_shape"):
        Canvas((0, 5), 100)


@pytest.mark.render
def test_canvas_draws_cells_circles_bars_and_text():
    canvas = Canvas((4, 4), 80, hud_lines=1)
    canvas.clear()
    canvas.fill_grid(np.full((4, 4, 3), (200, 200, 200), np.uint8))
    canvas.fill_cell(0, 0, (255, 0, 0))
    canvas.rect(0, 1, (0, 255, 0), inset=0.25)
    canvas.circle(1, 1, (0, 0, 255), radius=0.4, outline=(0, 0, 0))
    canvas.bar(2, 2, 0.5, (255, 255, 0), top=0.4, height=0.2, inset=0.0, back=(0, 0, 0))
    canvas.hud_line(0, [("step 1", (255, 255, 255))])
    frame = canvas.present("rgb_array")
    assert frame.shape == (canvas.size[1], canvas.size[0], 3) and frame.dtype == np.uint8

    def at(y: int, x: int, fy: float = 0.5, fx: float = 0.5) -> tuple[int, ...]:
        left, top, w, h = canvas.cell_rect(y, x)
        return tuple(int(v) for v in frame[top + int(fy * h), left + int(fx * w)])

    assert at(0, 0) == (255, 0, 0)
    assert at(0, 1) == (0, 255, 0) and at(0, 1, 0.05, 0.05) == (200, 200, 200)  # inset margin
    assert at(1, 1) == (0, 0, 255) and at(1, 1, 0.02, 0.02) == (200, 200, 200)
    assert at(2, 2, 0.5, 0.25) == (255, 255, 0) and at(2, 2, 0.5, 0.75) == (0, 0, 0)  # half full
    assert at(3, 3) == (200, 200, 200)
    hud = frame[: canvas.hud_height]
    assert (hud == 255).all(axis=2).any()  # the HUD text was drawn
    canvas.close()


@pytest.mark.render
def test_canvas_close_is_idempotent_and_drawing_restarts():
    canvas = Canvas((3, 3), 30)
    canvas.close()  # before any draw
    canvas.fill_cell(1, 1, (9, 9, 9))
    canvas.close()
    canvas.close()
    frame = canvas.present("rgb_array")  # a fresh surface after close
    assert frame.shape == (canvas.size[1], 30, 3)
    with pytest.raises(ValueError, match="mode"):
        canvas.present("ansi")


# ------------------------------------------------------------------ harvest
@pytest.mark.render
def test_harvest_rgb_array_frames_are_uint8_images():
    env, _, _ = _harvest()
    frame = env.render()
    canvas = env._renderer.canvas
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.shape == (canvas.size[1], canvas.size[0], 3)
    assert frame.shape[1] == 720 and frame.any()
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 10  # a picture, not a flat fill
    env.close()


@pytest.mark.render
@pytest.mark.parametrize("players", [1, 2])
def test_factory_centre_has_its_team_colour(players):
    env, _, infos = _harvest(players=players)
    frame = env.render()
    factories = [a for a in env.agents if "factory" in a]
    assert {infos[a]["owner"] for a in factories} == set(range(players))
    for agent in factories:
        owner = infos[agent]["owner"]
        assert _centre_pixel(env, frame, *infos[agent]["cell"]) == FACTORY_COLORS[owner]
    blue, red = FACTORY_COLORS[0], FACTORY_COLORS[1]
    assert blue[2] > max(blue[:2]) and red[0] > max(red[1:])  # clearly distinct teams
    env.close()


def _robot_pixels(env, frame: np.ndarray) -> int:
    """How many map pixels have player_0's robot colour."""
    return int((frame[env._renderer.canvas.hud_height :] == TEAM_COLORS[0]).all(axis=2).sum())


@pytest.mark.render
def test_frames_follow_a_moving_robot():
    env, _, infos = _harvest()
    factory = next(a for a in env.agents if "factory" in a)
    fx, fy = infos[factory]["cell"]
    assert _robot_pixels(env, env.render()) == 0

    # a heavy is built on the factory centre
    obs, _, _, _, infos = env.step({factory: BUILD_HEAVY})
    heavy = next(a for a in env.agents if "heavy" in a)
    assert infos[heavy]["cell"] == (fx, fy)
    built = env.render()
    assert _centre_pixel(env, built, fx, fy) == TEAM_COLORS[0]

    # it moves north (still on the factory): the centre shows the factory again
    assert obs[heavy]["action_mask"][MOVE_N]
    _, _, _, _, infos = env.step({factory: IDLE, heavy: MOVE_N})
    assert infos[heavy]["cell"] == (fx, fy - 1)
    moved = env.render()
    assert not np.array_equal(_cell_pixels(env, moved, fx, fy), _cell_pixels(env, built, fx, fy))
    assert _centre_pixel(env, moved, fx, fy - 1) == TEAM_COLORS[0]
    assert _centre_pixel(env, moved, fx, fy) == FACTORY_COLORS[0]
    assert _robot_pixels(env, moved) == _robot_pixels(env, built) > 0  # one heavy, moved
    env.close()


@pytest.mark.render
def test_dead_robots_disappear_from_the_frame():
    """Two lights with equal power drive into the same tile: a tie destroys both."""
    env, obs, infos = _harvest()
    factory = next(a for a in env.agents if "factory" in a)
    fx, fy = infos[factory]["cell"]
    last = {"obs": obs}

    def step(actions: dict) -> tuple[dict, dict]:
        """Step with legal ``actions`` (everyone else idles); return terminations and infos."""
        assert all(last["obs"][a]["action_mask"][act] for a, act in actions.items())
        last["obs"], _, terms, _, infos = env.step({a: actions.get(a, IDLE) for a in env.agents})
        return terms, infos

    step({factory: BUILD_LIGHT})
    first = next(a for a in env.agents if "light" in a)
    empty_tile = _cell_pixels(env, env.render(), fx + 1, fy).copy()  # factory tile, no robot
    step({first: MOVE_N})
    step({first: MOVE_E, factory: BUILD_LIGHT})
    second = next(a for a in env.agents if "light" in a and a != first)
    step({second: MOVE_S})
    step({second: MOVE_E})
    _, infos = step({first: PICKUP, second: PICKUP})  # both batteries full: equal power
    assert infos[first]["cell"] == (fx + 1, fy - 1) and infos[second]["cell"] == (fx + 1, fy + 1)
    assert env.world.power[0, env._slot_of[first]] == env.world.power[0, env._slot_of[second]]
    assert _robot_pixels(env, env.render()) > 0

    terms, _ = step({first: MOVE_S, second: MOVE_N})
    assert terms[first] and terms[second] and not any("light" in a for a in env.agents)
    after = env.render()
    assert _robot_pixels(env, after) == 0
    np.testing.assert_array_equal(_cell_pixels(env, after, fx + 1, fy), empty_tile)
    env.close()


@pytest.mark.render
def test_render_before_reset_raises_a_clear_error():
    env = make("harvest-v0", preset="tiny", render_mode="rgb_array")
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        env.render()
    env.close()
    env.close()


@pytest.mark.render
def test_human_mode_shows_the_same_picture_and_closes_twice():
    import pygame

    human = make("harvest-v0", preset="tiny", players=2, render_mode="human")
    human.reset(seed=1)  # human mode renders on reset and step
    assert pygame.display.get_init() and pygame.display.get_surface() is not None
    assert human.render() is None
    shown = pygame.surfarray.array3d(pygame.display.get_surface()).transpose(1, 0, 2)
    rgb, _, _ = _harvest(players=2)
    rgb.reset(seed=1)
    np.testing.assert_array_equal(shown, rgb.render())
    human.close()
    assert not pygame.display.get_init()
    human.close()
    rgb.close()
    rgb.close()


def test_pygame_is_not_imported_until_something_is_drawn():
    """Importing the suite, building envs and stepping them loads no pygame; rgb_array frames
    then load it but open no display and no audio."""
    code = textwrap.dedent(
        """
        import sys
        import spawnzoo.envs
        from spawnzoo.envs import make
        assert "pygame" not in sys.modules, "import spawnzoo.envs imported pygame"
        quiet = make("harvest-v0", preset="tiny")
        quiet.reset(seed=0)
        quiet.step({a: 0 for a in quiet.agents})
        quiet.close()
        env = make("harvest-v0", preset="tiny", render_mode="rgb_array")
        env.reset(seed=0)
        env.step({a: 0 for a in env.agents})
        assert "pygame" not in sys.modules, "make/reset/step/close imported pygame"
        env.render()
        import pygame
        assert not pygame.display.get_init(), "rgb_array rendering opened a display"
        assert pygame.mixer.get_init() is None, "rendering started audio"
        env.close()
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
