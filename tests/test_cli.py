"""``spawnzoo render`` and ``spawnzoo replay`` end to end on the tiny preset."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from spawnzoo import cli
from spawnzoo.envs.core.replay import Replay

imageio = pytest.importorskip("imageio.v3")

pytestmark = pytest.mark.render

SMALL = ["--window-size", "120", "--overlay", "ids,actions"]


def render(*extra: str) -> list[str]:
    """``spawnzoo render`` arguments for an 8-step tiny episode, plus ``extra``."""
    return [
        "render",
        "--env",
        "harvest-v0",
        "--preset",
        "tiny",
        "--seed",
        "3",
        "--max-steps",
        "8",
        *SMALL,
        *extra,
    ]


def test_render_writes_a_gif_and_a_replay_that_replays_to_the_same_gif(tmp_path, capsys):
    gif, saved = tmp_path / "ep.gif", tmp_path / "ep.replay.npz"
    assert cli.main(render("--out", str(gif), "--replay", str(saved))) == 0
    out, err = capsys.readouterr()
    assert "harvest-v0 preset=tiny policy=heuristic seed=3: 8 steps" in out
    assert "ice_transferred" in out and "episode_length" in out  # the metrics table
    assert f"wrote 9 frames to {gif}" in out and f"wrote replay to {saved}" in out
    assert "render: 100%" in err and "8/8" in err  # the tqdm bar's last state
    frames = imageio.imread(gif, index=None)
    assert frames.shape[0] == 9
    replay = Replay.load(saved)
    assert replay.steps == 8 and replay.settings == {"preset": "tiny"}

    again = tmp_path / "again.gif"
    assert cli.main(["replay", str(saved), "--out", str(again), *SMALL, "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "wrote 9 frames" in out and "metrics match" in out and err == ""
    np.testing.assert_array_equal(imageio.imread(again, index=None), frames)


def test_render_takes_a_policy_by_module_path_and_writes_mp4(tmp_path, capsys):
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "ep.mp4"
    policy = "spawnzoo.envs.core.policies:RandomPolicy"
    argv = render("--policy", policy, "--out", str(out), "--no-progress")
    assert cli.main(argv) == 0
    assert f"policy={policy}" in capsys.readouterr().out
    import imageio.v2 as iio2

    with iio2.get_reader(out) as reader:
        assert reader.count_frames() == 9


def test_render_plays_a_trained_run_from_its_directory_or_checkpoint(tmp_path, capsys):
    pytest.importorskip("torch")
    from learner_helpers import QUICK_RUN

    from spawnzoo.baselines.registry import make_algorithm

    hybrid = make_algorithm("hybrid")
    run = hybrid.train(hybrid.config_cls(**QUICK_RUN, run_root=str(tmp_path))).run_dir
    gif = tmp_path / "run.gif"
    # env and preset come from the run's config.json
    argv = ["render", "--policy", str(run), "--max-steps", "4", "--out", str(gif), *SMALL]
    assert cli.main([*argv, "--no-progress"]) == 0
    assert f"harvest-v0 preset=tiny policy={run} seed=0: 4 steps" in capsys.readouterr().out
    assert imageio.imread(gif, index=None).shape[0] == 5
    checkpoint = run / "checkpoints" / "cycle_0001.pt"
    argv = ["render", "--policy", str(checkpoint), "--preset", "small", "--max-steps", "2"]
    assert cli.main([*argv, "--out", str(gif), *SMALL, "--no-progress"]) == 0
    assert "harvest-v0 preset=small" in capsys.readouterr().out


def test_render_policy_path_that_is_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="not a run directory or checkpoint of one"):
        cli.main(["render", "--policy", str(tmp_path), "--out", str(tmp_path / "x.gif")])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "x.avi"], r"--out must end in \.gif or \.mp4"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--policy", "greedy", "--out", "x.gif"], "unknown policy 'greedy'"),
        (["--overlay", "ids,arrows", "--out", "x.gif"], r"unknown overlay\(s\) \['arrows'\]"),
        (["--overlay", "mask", "--out", "x.gif"], "--overlay mask needs --select AGENT"),
    ],
)
def test_render_errors_are_clear(tmp_path, extra, message):
    argv = ["render", "--preset", "tiny", "--max-steps", "2", "--no-progress", *extra]
    argv = [str(tmp_path / a) if a.startswith("x.") else a for a in argv]
    with pytest.raises(SystemExit, match=message):
        cli.main(argv)


def test_replay_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.replay.npz"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(SystemExit, match="bad.replay.npz is not a readable spawnzoo replay"):
        cli.main(["replay", str(bad), "--out", str(tmp_path / "x.gif")])
    with pytest.raises(SystemExit, match="no replay file"):
        cli.main(["replay", str(tmp_path / "missing.npz")])


def test_render_without_out_opens_the_viewer(tmp_path, monkeypatch, capsys):
    """The viewer starts playing; a scripted window close ends it."""
    import pygame

    from spawnzoo.envs.core.viewer import Viewer

    seen = {}
    original = Viewer.run

    def scripted_run(self, max_ticks=None):
        self.open()
        seen["playing"], seen["overlays"] = self.playing, self.renderer.overlays
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_END, mod=0))
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        original(self, max_ticks=10)
        seen["t"] = self.t

    monkeypatch.setattr(Viewer, "run", scripted_run)
    argv = ["render", "--preset", "tiny", "--max-steps", "5", "--window-size", "120"]
    assert cli.main([*argv, "--no-progress", "--fps", "0"]) == 0
    assert seen == {"playing": True, "overlays": ("actions",), "t": 5}
    assert "5 steps" in capsys.readouterr().out
    assert not pygame.display.get_init()  # closed


def test_the_console_entry_point_renders_a_gif(tmp_path):
    out = tmp_path / "demo.gif"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    result = subprocess.run(
        [sys.executable, "-m", "spawnzoo.cli", *render("--out", str(out))],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 9 frames" in result.stdout and "Warning" not in result.stderr
    assert imageio.improps(out).n_images == 9
