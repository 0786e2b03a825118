"""skirmish-v0 drawing, replays and ``spawnzoo render``: team colours, moving units, overlays,
inspection, replay round trips and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from spawnzoo import cli
from spawnzoo.envs import make
from spawnzoo.envs.core.recording import run_episode
from spawnzoo.envs.core.rendering import make_renderer
from spawnzoo.envs.core.replay import Replay, ReplayCursor, replay_frames, replay_metrics
from spawnzoo.envs.skirmish.render import GROUND, TEAM_COLORS, legal_summary, mask_heat
from spawnzoo.envs.skirmish.world import ATTACK_E, BUILD_MELEE, MELEE, MOVE_E, MOVE_S, RANGED

pytestmark = pytest.mark.render

VIEW = {"window_size": 240, "overlays": "ids,actions"}


def _env():
    """A tiny env without rock, reset, with one unit of each team placed in the open."""
    env = make("skirmish-v0", preset="tiny", render_mode="rgb_array", rock_density=0.0)
    env.reset(seed=2)
    world = env.world
    free = np.flatnonzero((world.occupant[0] < 0) & (world.zone[0] < 0))
    return env, world, free


def _pixel(canvas, frame: np.ndarray, cell: int) -> tuple[int, ...]:
    y, x = divmod(int(cell), canvas.grid_shape[1])
    px, py = canvas.cell_center(y, x)
    return tuple(int(v) for v in frame[py, px])


def test_bases_and_units_have_their_team_colour_and_follow_moves():
    env, world, free = _env()
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape[2] == 3
    canvas = env._renderer.canvas
    for slot in range(world.base_slots):
        owner = int(world.owner[0, slot])
        assert _pixel(canvas, frame, world.cell[0, slot]) == TEAM_COLORS[owner]
    env.close()
    env.close()  # idempotent
    cell = next(c for c in free.tolist() if (c + 1) in free and (c + 1) % 12)
    unit = world.place_unit(0, 1, MELEE, divmod(cell, 12))
    world.refresh()
    renderer = make_renderer(env, window_size=240)
    frame = renderer.draw(world, 0).present("rgb_array")
    assert _pixel(renderer.canvas, frame, cell) == TEAM_COLORS[1]
    world.step(np.where(np.arange(world.num_slots) == unit, MOVE_E, 0)[None])
    frame = renderer.draw(world, 0).present("rgb_array")
    assert _pixel(renderer.canvas, frame, cell + 1) == TEAM_COLORS[1]
    assert _pixel(renderer.canvas, frame, cell) == GROUND
    renderer.close()


def test_overlays_inspection_and_mask_heat():
    env, world, free = _env()
    cell = next(c for c in free.tolist() if (c + 1) in free and (c + 1) % 12)
    a = world.place_unit(0, 0, RANGED, divmod(cell, 12))
    b = world.place_unit(0, 1, MELEE, divmod(cell + 1, 12))
    assert world.occupant[0, cell + 1] == b
    world.refresh()
    name_a, name_b = world.pool.name_of(0, RANGED, 0), world.pool.name_of(1, MELEE, 0)
    plain = make_renderer(env, window_size=240)
    fancy = make_renderer(env, window_size=240, overlays="ids,actions,mask", selected=name_a)
    assert fancy.slot_of(world, 0, name_a) == a and fancy.slot_of(world, 0, "nobody") is None
    assert fancy.agent_at(world, 0, divmod(cell + 1, 12)) == name_b
    assert fancy.agent_at(world, 0, (-1, 0)) is None
    rows = dict(fancy.describe(world, 0, name_a))
    assert rows["kind"] == "ranged" and rows["hp"] == "7 / 7" and rows["owner"] == "player_0"
    mask = world.action_mask()[0, a]
    assert mask[ATTACK_E] and "attack E" in legal_summary(mask)
    heat = mask_heat(world, 0, a, mask)
    y, x = divmod(cell, 12)
    assert heat[y, x + 1] > 0 and np.isnan(heat[0 if y > 1 else 11, 0])
    base_mask = world.action_mask()[0, 0]
    assert "build melee" in legal_summary(base_mask) and base_mask[BUILD_MELEE]
    one = plain.draw(world, 0).present("rgb_array")
    two = fancy.draw(world, 0).present("rgb_array")
    assert one.shape[1] == two.shape[1] and two.shape[0] > one.shape[0]  # the mask HUD line
    batch = world.step(np.where(np.arange(world.num_slots) == a, ATTACK_E, 0)[None])
    drawn = fancy.draw(world, 0, batch=batch, actions=np.eye(world.num_slots, dtype=int)[a] * 6)
    assert drawn.present("rgb_array").any()
    plain.close()
    fancy.close()


def test_a_replay_gives_identical_frames_and_metrics(tmp_path):
    frames: list[np.ndarray] = []
    episode = run_episode(
        "skirmish-v0", "heuristic", seed=4, preset="tiny", on_frame=frames.append, **VIEW
    )
    metrics = episode.metrics["per_player"]
    assert sum(m["win"] for m in metrics) == 1.0
    assert metrics[0]["units_built"] > 0 and metrics[0]["units_lost"] + metrics[1]["units_lost"] > 0
    replay = Replay.load(episode.replay.save(tmp_path / "s.replay.npz"))
    again = list(replay_frames(replay, **VIEW))
    assert len(again) == len(frames) == episode.steps + 1
    for t, (x, y) in enumerate(zip(frames, again)):
        assert np.array_equal(x, y), f"frame {t} differs"
    assert replay_metrics(replay) == episode.metrics
    cursor = ReplayCursor(replay, snapshot_every=5)
    renderer = make_renderer(cursor.env, **VIEW)
    for t in (episode.steps, 3, 0, 7):
        cursor.seek(t)
        assert np.array_equal(cursor.draw(renderer).present("rgb_array"), frames[t]), t
    renderer.close()
    cursor.close()


def test_spawnzoo_render_writes_a_skirmish_gif(tmp_path, capsys):
    imageio = pytest.importorskip("imageio.v3")
    gif = tmp_path / "s.gif"
    args = ["render", "--env", "skirmish-v0", "--preset", "tiny", "--policy", "heuristic"]
    args += ["--seed", "1", "--max-steps", "6", "--window-size", "120", "--out", str(gif)]
    assert cli.main(args) == 0
    out, _ = capsys.readouterr()
    assert "skirmish-v0 preset=tiny policy=heuristic seed=1: 6 steps" in out
    assert "capture_points_held" in out and "win" in out
    assert imageio.imread(gif, index=None).shape[0] == 7
    args[args.index("heuristic")] = "spawnzoo.envs.skirmish.policies:HeuristicVsRandom"
    args[args.index("6")] = "200"
    assert cli.main(args) == 0
    out, _ = capsys.readouterr()
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("0 ", "1 "))]
    header = next(line.split() for line in out.splitlines() if "win" in line.split())
    win = header.index("win")
    assert [float(r[win]) for r in rows] == [1.0, 0.0]  # the heuristic (player 0) beats random


def test_render_before_reset_raises_a_clear_error():
    env = make("skirmish-v0", preset="tiny", render_mode="rgb_array")
    with pytest.raises(RuntimeError, match="reset"):
        env.render()
    env.close()


def test_units_moving_south_draw_trails():
    env, world, free = _env()
    cell = next(c for c in free.tolist() if (c + 12) in free)
    world.place_unit(0, 0, MELEE, divmod(cell, 12))
    world.refresh()
    r = make_renderer(env, window_size=240, overlays="actions")
    actions = np.zeros((1, world.num_slots), dtype=np.int64)
    actions[0, world.occupant[0, cell]] = MOVE_S
    batch = world.step(actions)
    with_trail = r.draw(world, 0, batch=batch, actions=actions).present("rgb_array")
    without = r.draw(world, 0).present("rgb_array")
    assert not np.array_equal(with_trail, without)
    r.close()


def test_the_viewer_selects_skirmish_agents_by_click():
    pygame = pytest.importorskip("pygame")
    from spawnzoo.envs.core.viewer import Viewer

    replay = run_episode("skirmish-v0", "heuristic", seed=1, preset="tiny", max_steps=12).replay
    viewer = Viewer(replay, window_size=240, overlays="ids,actions", fps=0, snapshot_every=4)
    viewer.open()
    try:
        viewer.seek(10)
        world = viewer.cursor.world
        unit = int(np.flatnonzero(world.alive[0] & (world.kind[0] == MELEE))[0])
        y, x = divmod(int(world.cell[0, unit]), world.map_shape[1])
        pos = viewer.renderer.canvas.cell_center(y, x)
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1))
        viewer.run(max_ticks=1)
        assert viewer.selected == world.pool.name_of(
            int(world.owner[0, unit]), MELEE, int(world.serial[0, unit])
        )
        assert viewer.frame().any()
    finally:
        viewer.close()
