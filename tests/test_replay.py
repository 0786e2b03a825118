"""Replays: saved and loaded back to identical frames and metrics; clear errors on damaged,
foreign, wrong-version or incompatible files; random access by re-simulation."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from spawnzoo.envs.core.recording import run_episode
from spawnzoo.envs.core.rendering import make_renderer
from spawnzoo.envs.core.replay import (
    REPLAY_VERSION,
    Replay,
    ReplayCursor,
    ReplayError,
    ReplayMismatchError,
    ReplayVersionError,
    replay_frames,
    replay_metrics,
)

VIEW = {"window_size": 120, "overlays": "ids,actions"}


@pytest.fixture(scope="module")
def recorded():
    """A 2-player tiny episode of the random policy (robots are built, move, dig and die) and
    its frames as recorded."""
    frames: list[np.ndarray] = []
    episode = run_episode(
        "harvest-v0", "random", seed=7, preset="tiny", players=2, on_frame=frames.append, **VIEW
    )
    assert episode.metrics["per_player"][0]["robots_lost"] > 0  # deaths are in the replay
    return episode, frames


def _rewrite(path, out, **meta_changes):
    """Copy replay ``path`` to ``out`` with some header fields changed."""
    with np.load(path) as data:
        meta = json.loads(str(data["meta"][()]))
        actions = data["actions"]
    meta.update(meta_changes)
    np.savez_compressed(out, meta=np.array(json.dumps(meta)), actions=actions)


@pytest.mark.render
def test_round_trip_gives_identical_frames_and_metrics(recorded, tmp_path):
    episode, frames = recorded
    path = episode.replay.save(tmp_path / "ep.replay.npz")
    assert path.name == "ep.replay.npz" and path.stat().st_size < 4000  # compact
    with np.load(path) as data:
        assert data["actions"].dtype == np.uint8
        assert data["actions"].shape == (episode.steps, episode.replay.actions.shape[1])
    replay = Replay.load(path)
    assert (replay.env_id, replay.seed, replay.settings, replay.policy) == (
        "harvest-v0",
        7,
        {"preset": "tiny", "players": 2},
        "random",
    )
    np.testing.assert_array_equal(replay.actions, episode.replay.actions)
    assert replay.metrics == episode.metrics
    again = list(replay_frames(replay, **VIEW))
    assert len(again) == len(frames) == episode.steps + 1
    for t, (a, b) in enumerate(zip(frames, again)):
        assert np.array_equal(a, b), f"frame {t} differs"
    assert replay_metrics(replay) == episode.metrics


def test_seeking_backwards_reaches_the_same_states(recorded):
    episode, _ = recorded
    cursor = ReplayCursor(episode.replay, snapshot_every=4)
    states = []
    for t in range(episode.steps + 1):
        cursor.seek(t)
        states.append((cursor.world.cell.copy(), cursor.world.power.copy(), cursor.batch.alive))
    assert cursor.metrics() == episode.metrics
    for t in (episode.steps, 3, 0, 17, 9, 40, 8, episode.steps + 5, -2):
        cursor.seek(t)
        expect = states[min(max(t, 0), episode.steps)]
        np.testing.assert_array_equal(cursor.world.cell, expect[0])
        np.testing.assert_array_equal(cursor.world.power, expect[1])
        np.testing.assert_array_equal(cursor.batch.alive, expect[2])
    assert cursor.t == 0 and cursor.actions is None  # the last seek clipped -2 to 0
    cursor.close()


@pytest.mark.render
def test_cursor_frames_match_after_random_jumps(recorded):
    episode, frames = recorded
    cursor = ReplayCursor(episode.replay, snapshot_every=5)
    renderer = make_renderer(cursor.env, **VIEW)
    for t in (30, 2, 55, 54, 0, 13):
        cursor.seek(t)
        assert np.array_equal(cursor.draw(renderer).present("rgb_array"), frames[t]), t
    renderer.close()
    cursor.close()


def test_a_replay_with_no_seed_given_still_replays():
    episode = run_episode("harvest-v0", "random", seed=None, preset="tiny", max_steps=12)
    assert isinstance(episode.replay.seed, int)
    assert replay_metrics(episode.replay) == episode.metrics


def test_damaged_and_foreign_files_give_clear_errors(recorded, tmp_path):
    episode, _ = recorded
    good = episode.replay.save(tmp_path / "good.replay.npz")
    garbage = tmp_path / "garbage.replay.npz"
    garbage.write_bytes(b"this is not a replay at all")
    with pytest.raises(ReplayError, match="garbage.replay.npz is not a readable spawnzoo replay"):
        Replay.load(garbage)
    cut = tmp_path / "cut.replay.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ReplayError, match="not a readable spawnzoo replay"):
        Replay.load(cut)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ReplayError, match="not a readable spawnzoo replay.*meta"):
        Replay.load(foreign)
    other = tmp_path / "other.npz"
    _rewrite(good, other, format="something-else")
    with pytest.raises(ReplayError, match="not a spawnzoo replay"):
        Replay.load(other)
    short = tmp_path / "short.npz"
    _rewrite(good, short, steps=episode.steps + 1)
    with pytest.raises(ReplayError, match="damaged: actions have shape"):
        Replay.load(short)
    with pytest.raises(FileNotFoundError, match="no replay file"):
        Replay.load(tmp_path / "missing.replay.npz")


def test_a_wrong_version_gives_a_clear_error(recorded, tmp_path):
    episode, _ = recorded
    good = episode.replay.save(tmp_path / "good.replay.npz")
    future = tmp_path / "future.replay.npz"
    _rewrite(good, future, version=REPLAY_VERSION + 98, spawnzoo="9.9.9")
    with pytest.raises(ReplayVersionError) as info:
        Replay.load(future)
    message = str(info.value)
    assert f"is a version {REPLAY_VERSION + 98} replay (written by spawnzoo 9.9.9)" in message
    assert f"reads version {REPLAY_VERSION} only" in message
    assert isinstance(info.value, ReplayError)


def test_replays_that_do_not_fit_or_do_not_reproduce_are_refused(recorded):
    episode, _ = recorded
    replay = episode.replay
    narrow = Replay(replay.env_id, replay.seed, replay.actions[:, :5], replay.settings)
    with pytest.raises(ReplayError, match="does not fit harvest-v0.*5 slots"):
        replay_metrics(narrow)
    changed = dict(episode.metrics, episode_length=episode.metrics["episode_length"] + 1)
    tampered = Replay(replay.env_id, replay.seed, replay.actions, replay.settings, changed)
    with pytest.raises(ReplayMismatchError, match="other metrics than recorded"):
        replay_metrics(tampered)
    # one step more than the episode had: it ended before the replay did
    longer = np.concatenate([replay.actions, replay.actions[-1:]])
    with pytest.raises(ReplayMismatchError, match=f"ended at step {episode.steps}"):
        replay_metrics(Replay(replay.env_id, replay.seed, longer, replay.settings))
    with pytest.raises(ValueError, match="JSON"):
        Replay("harvest-v0", 0, replay.actions, {"preset": object()})
    with pytest.raises(ValueError, match="integer array"):
        Replay("harvest-v0", 0, np.zeros(4, np.float32))


def test_playing_and_replaying_without_frames_never_imports_pygame():
    code = textwrap.dedent(
        """
        import sys
        from spawnzoo.envs.core.recording import run_episode
        from spawnzoo.envs.core.replay import replay_metrics
        episode = run_episode("harvest-v0", "heuristic", seed=0, preset="tiny", max_steps=5)
        assert replay_metrics(episode.replay) == episode.metrics
        assert "pygame" not in sys.modules, "pygame was imported"
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
