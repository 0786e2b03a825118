"""Drawing forage: frames, overlays, inspection, and the shared recording/replay/CLI tools."""

from __future__ import annotations

import numpy as np
import pytest

from spawnzoo import cli
from spawnzoo.envs import make
from spawnzoo.envs.core.recording import run_episode
from spawnzoo.envs.core.rendering import make_renderer
from spawnzoo.envs.core.replay import Replay, ReplayCursor, replay_frames, replay_metrics
from spawnzoo.envs.forage.render import BARE, LUSH, SOIL, cell_colors, legal_summary
from spawnzoo.envs.forage.world import MOVE_E, MOVE_S, NUM_ACTIONS

pytestmark = pytest.mark.render

VIEW = {"window_size": 160, "overlays": "ids,actions,mask"}


def test_ground_colours_follow_fertility_and_food():
    env = make("forage-v0", preset="tiny")
    env.reset(seed=0)
    world = env.world
    world.food[0] = np.where(world.fertile[0], world.cfg.food_capacity, 0.0)
    fertile = int(np.flatnonzero(world.fertile[0])[0])
    world.food[0, fertile] = 0.0
    colors = cell_colors(world).reshape(-1, 3)
    barren = int(np.flatnonzero(~world.fertile[0])[0])
    full = int(np.flatnonzero(world.fertile[0])[1])
    assert tuple(colors[barren]) == SOIL
    assert tuple(colors[fertile]) == BARE and tuple(colors[full]) == LUSH


def test_legal_summary_names_the_moves():
    mask = np.zeros(NUM_ACTIONS, dtype=bool)
    mask[[0, MOVE_E, MOVE_S]] = True
    assert legal_summary(mask) == "stay, move E/S"
    assert legal_summary(np.arange(NUM_ACTIONS) == 0) == "stay"


def test_frames_with_every_overlay_and_inspection_of_an_agent():
    env = make("forage-v0", preset="tiny", players=2, render_mode="rgb_array")
    env.reset(seed=2)
    agent = env.agents[0]
    renderer = make_renderer(env, window_size=320, overlays="ids,actions,mask", selected=agent)
    plain = env.render()
    assert plain.dtype == np.uint8 and plain.shape[2] == 3
    for _ in range(5):
        env.step({a: 0 for a in env.agents})
    frame = renderer.render(env, "rgb_array")
    bare = make_renderer(env, window_size=320).render(env, "rgb_array")
    # the mask overlay adds a HUD line to the 2-player HUD and draws over the map
    assert frame.shape[1] == bare.shape[1] == 320 and frame.shape[0] > bare.shape[0]
    assert not np.array_equal(frame[-320:], bare[-320:])
    world = env.world
    slot = renderer.slot_of(world, 0, agent)
    assert slot == env.slot_of(agent)
    y, x = divmod(int(world.cell[0, slot]), world.map_shape[1])
    assert renderer.agent_at(world, 0, (y, x)) == agent
    assert renderer.agent_at(world, 0, (-1, 0)) is None
    rows = dict(renderer.describe(world, 0, agent))
    assert rows["agent"] == agent and rows["cell (x, y)"] == f"({x}, {y})"
    assert rows["age"] == f"5 / {world.cfg.max_age}"
    assert renderer.describe(world, 0, "player_0_forager_127") == []
    renderer.close()
    renderer.close()
    env.close()


def test_replays_reproduce_frames_metrics_and_seeks():
    frames: list[np.ndarray] = []
    episode = run_episode(
        "forage-v0", "random", seed=4, preset="tiny", max_steps=40, on_frame=frames.append, **VIEW
    )
    metrics = episode.metrics["per_player"][0]
    assert metrics["deaths"] > 0 or metrics["births"] > 0
    again = list(replay_frames(episode.replay, **VIEW))
    assert len(again) == len(frames) == episode.steps + 1
    for t, (a, b) in enumerate(zip(frames, again)):
        assert np.array_equal(a, b), f"frame {t} differs"
    assert replay_metrics(episode.replay) == episode.metrics
    cursor = ReplayCursor(episode.replay, snapshot_every=4)
    cursor.seek(30)
    energy = cursor.world.energy.copy()
    cursor.seek(3)
    cursor.seek(30)
    np.testing.assert_array_equal(cursor.world.energy, energy)
    cursor.close()


def test_spawnzoo_render_writes_a_forage_gif_and_replay(tmp_path, capsys):
    imageio = pytest.importorskip("imageio.v3")
    gif, saved = tmp_path / "f.gif", tmp_path / "f.replay.npz"
    args = ["render", "--env", "forage-v0", "--preset", "tiny", "--policy", "heuristic"]
    args += ["--seed", "1", "--max-steps", "6", "--window-size", "120", "--out", str(gif)]
    assert cli.main([*args, "--replay", str(saved)]) == 0
    out, _ = capsys.readouterr()
    assert "forage-v0 preset=tiny policy=heuristic seed=1: 6 steps" in out
    assert "population_mean" in out and "births" in out
    assert imageio.imread(gif, index=None).shape[0] == 7
    assert Replay.load(saved).env_id == "forage-v0"


def test_the_viewer_shows_forage_replays_and_selects_agents_by_click():
    pygame = pytest.importorskip("pygame")
    from spawnzoo.envs.core.viewer import Viewer

    replay = run_episode("forage-v0", "heuristic", seed=0, preset="tiny", max_steps=20).replay
    viewer = Viewer(replay, window_size=240, overlays="actions", fps=0, snapshot_every=4)
    viewer.open()
    try:
        frames = list(replay_frames(replay, window_size=240, overlays="actions"))
        viewer.seek(12)
        shown = viewer.frame()
        height, width = frames[12].shape[:2]
        np.testing.assert_array_equal(shown[:height, :width], frames[12])
        world, canvas = viewer.cursor.world, viewer.renderer.canvas
        slot = int(np.flatnonzero(world.alive[0])[0])
        y, x = divmod(int(world.cell[0, slot]), world.map_shape[1])
        pygame.event.post(
            pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=canvas.cell_center(y, x), button=1)
        )
        viewer.run(max_ticks=1)
        assert viewer.selected == f"player_0_forager_{int(world.serial[0, slot])}"
    finally:
        viewer.close()
