"""The interactive viewer, driven by scripted key presses and clicks under SDL's dummy driver."""

from __future__ import annotations

import numpy as np
import pytest

from spawnzoo.envs.core.recording import run_episode
from spawnzoo.envs.core.replay import replay_frames
from spawnzoo.envs.core.viewer import SPEEDS, Viewer
from spawnzoo.envs.harvest.world import FACTORY

pygame = pytest.importorskip("pygame")

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def replay():
    return run_episode("harvest-v0", "heuristic", seed=0, preset="tiny", max_steps=30).replay


@pytest.fixture
def viewer(replay):
    v = Viewer(replay, window_size=240, overlays="actions", fps=0, snapshot_every=4)
    v.open()
    yield v
    v.close()


def press(viewer: Viewer, *keys: int, ticks: int = 1) -> None:
    """Post key presses to pygame's queue, then let the viewer run ``ticks`` frames."""
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0))
    viewer.run(max_ticks=ticks)


def click(viewer: Viewer, pos: tuple[int, int]) -> None:
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1))
    viewer.run(max_ticks=1)


def test_keys_step_jump_and_play(viewer, replay):
    press(viewer, pygame.K_RIGHT, pygame.K_RIGHT, pygame.K_RIGHT)
    assert viewer.t == 3 and not viewer.playing
    press(viewer, pygame.K_LEFT)
    assert viewer.t == 2
    press(viewer, pygame.K_PAGEUP)
    assert viewer.t == 12
    press(viewer, pygame.K_PAGEDOWN, pygame.K_PAGEDOWN)
    assert viewer.t == 0  # clipped at the first step
    press(viewer, pygame.K_END)
    assert viewer.t == replay.steps
    press(viewer, pygame.K_HOME)
    assert viewer.t == 0
    press(viewer, pygame.K_g, pygame.K_1, pygame.K_7, pygame.K_RETURN)
    assert viewer.t == 17
    press(viewer, pygame.K_g, pygame.K_5, pygame.K_ESCAPE)  # cancelled
    assert viewer.t == 17
    # play: one step per frame at speed 1, two at speed 2, then pause
    press(viewer, pygame.K_SPACE, ticks=3)
    assert viewer.playing and viewer.t == 20
    press(viewer, pygame.K_UP, ticks=2)
    assert viewer.speed == 2.0 and viewer.t == 24
    press(viewer, pygame.K_DOWN, pygame.K_DOWN, ticks=2)  # half a step per frame
    assert viewer.speed == 0.5 and viewer.t == 25
    press(viewer, pygame.K_SPACE)
    assert not viewer.playing and viewer.t == 25
    faster = [pygame.K_UP] * (len(SPEEDS) + 1)  # up to the top speed, and one more
    press(viewer, *faster, pygame.K_SPACE, ticks=3)  # plays to the end and stops there
    assert viewer.speed == SPEEDS[-1] and viewer.t == replay.steps and not viewer.playing
    press(viewer, pygame.K_q)
    assert not viewer.running


def test_the_map_part_of_the_window_is_the_replay_frame(viewer, replay):
    frames = list(replay_frames(replay, window_size=240, overlays="actions"))
    for t in (0, 9, 5, 30):
        viewer.seek(t)
        shown = viewer.frame()
        height, width = frames[t].shape[:2]
        assert shown.shape[0] == height and shown.shape[1] > width  # plus the side panel
        np.testing.assert_array_equal(shown[:, :width], frames[t])


def test_clicks_select_agents_and_jump_on_the_progress_bar(viewer, replay):
    viewer.seek(10)
    world = viewer.cursor.world
    canvas = viewer.renderer.canvas
    factory = int(np.flatnonzero(world.alive[0] & (world.kind[0] == FACTORY))[0])
    fy, fx = divmod(int(world.cell[0, factory]), world.map_shape[1])
    before = viewer.frame()
    click(viewer, canvas.cell_center(fy - 1, fx - 1))  # a corner tile of the factory
    assert viewer.selected == "player_0_factory_0" == viewer.renderer.selected
    after = viewer.frame()
    width = canvas.size[0]
    assert not np.array_equal(before[:, width:], after[:, width:])  # the panel shows it
    assert not np.array_equal(before[:, :width], after[:, :width])  # highlighted on the map
    robot = int(np.flatnonzero(world.alive[0] & (world.kind[0] > FACTORY))[0])
    ry, rx = divmod(int(world.cell[0, robot]), world.map_shape[1])
    click(viewer, canvas.cell_center(ry, rx))
    assert viewer.selected.startswith("player_0_heavy_")
    h, w = world.map_shape
    taken = ((world.factory_map[0] >= 0) | (world.robot_map[0] >= 0)).reshape(h, w)
    empty = tuple(int(v) for v in np.argwhere(~taken)[0])
    click(viewer, canvas.cell_center(*empty))
    assert viewer.selected is None
    left, top, bar_w, bar_h = viewer.progress_bar
    click(viewer, (left + bar_w - 1, top + bar_h // 2))
    assert viewer.t == replay.steps
    click(viewer, (left, top))
    assert viewer.t == 0


def test_overlay_keys_toggle_and_the_window_follows_the_hud(viewer):
    press(viewer, pygame.K_i)
    assert viewer.renderer.overlays == ("ids", "actions")
    height = viewer.frame().shape[0]
    viewer.select("player_0_factory_0")
    press(viewer, pygame.K_m, pygame.K_a)
    assert viewer.renderer.overlays == ("ids", "mask")
    assert viewer.frame().shape[0] > height  # one more HUD line: the legal actions
    press(viewer, pygame.K_m)
    assert viewer.frame().shape[0] == height


def test_window_close_quits_and_close_is_idempotent(replay):
    v = Viewer(replay, window_size=120, fps=0)
    v.open()
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    v.run()  # returns: the window was closed
    assert not v.running
    v.close()
    v.close()
    assert not pygame.display.get_init()
