"""Recording: policies resolved by name or "module:attr", GIF/MP4 files read back, the
RecordVideo wrapper over a PettingZoo parallel env."""

from __future__ import annotations

import numpy as np
import pytest

from spawnzoo.envs import make, make_policy
from spawnzoo.envs.core.policies import RandomPolicy
from spawnzoo.envs.core.recording import (
    RecordVideo,
    VideoWriter,
    capped_cubic_video_schedule,
    record_video,
    resolve_policy,
    run_episode,
)
from spawnzoo.envs.harvest.policies import HeuristicPolicy

imageio = pytest.importorskip("imageio.v3")

TINY = {"preset": "tiny", "window_size": 96}


class NoAct:
    """Built like a policy, but without ``act``."""

    def __init__(self, world, seed=None):
        self.world = world


class BrokenInside:
    def __init__(self, world, seed=None):
        raise TypeError("broken inside")


def test_resolve_policy_takes_names_module_paths_and_objects():
    world = make("harvest-v0", preset="tiny").world
    assert isinstance(resolve_policy("harvest-v0", "heuristic", world, 0), HeuristicPolicy)
    loaded = resolve_policy("harvest-v0", "spawnzoo.envs.core.policies:RandomPolicy", world, 3)
    assert isinstance(loaded, RandomPolicy) and loaded.world is world
    mine = RandomPolicy(world)
    assert resolve_policy("harvest-v0", mine, world, 0) is mine
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        resolve_policy("harvest-v0", "greedy", world, 0)
    with pytest.raises(ValueError, match="cannot load policy 'no_such_module:Thing'"):
        resolve_policy("harvest-v0", "no_such_module:Thing", world, 0)
    with pytest.raises(ValueError, match=r"must be called as \(world, seed=...\)"):
        resolve_policy("harvest-v0", "spawnzoo.envs.core.pool:AgentPool", world, 0)
    with pytest.raises(ValueError, match="made a NoAct, which has no act"):
        resolve_policy("harvest-v0", f"{__name__}:NoAct", world, 0)
    # a TypeError inside a policy with the right signature is its own, not reworded
    with pytest.raises(TypeError, match="broken inside"):
        resolve_policy("harvest-v0", f"{__name__}:BrokenInside", world, 0)


def test_run_episode_matches_a_hand_written_loop():
    episode = run_episode("harvest-v0", "heuristic", seed=4, preset="tiny", players=2)
    env = make("harvest-v0", preset="tiny", players=2)
    policy = make_policy("harvest-v0", "heuristic", env.world, seed=4)
    env.reset(seed=4)
    actions = []
    while env.agents:
        _, _, _, _, infos = env.step(env.actions_from_slots(policy.act(env.last_batch)))
        actions.append(env.last_actions.copy())
    assert episode.steps == len(actions) == env.max_cycles
    np.testing.assert_array_equal(episode.replay.actions, np.stack(actions))
    assert episode.metrics == env.world.episode_metrics(0)
    assert episode.replay.settings == {"preset": "tiny", "players": 2}
    assert episode.replay.seed == 4 and episode.replay.policy == "heuristic"


def test_run_episode_progress_and_max_steps():
    seen = []
    episode = run_episode(
        "harvest-v0",
        "random",
        seed=0,
        preset="tiny",
        max_steps=5,
        progress=lambda *a: seen.append(a),
    )
    assert episode.steps == 5 and seen == [(t, 5) for t in range(1, 6)]
    assert episode.metrics["episode_length"] == 5
    with pytest.raises(ValueError, match="JSON"):
        run_episode("harvest-v0", "random", preset="tiny", max_steps=1, map_size=object())


@pytest.mark.render
def test_gif_has_one_frame_per_state_and_the_drawn_pictures():
    frames = []
    episode = run_episode(
        "harvest-v0", "heuristic", seed=0, max_steps=6, on_frame=frames.append, **TINY
    )
    assert len(frames) == episode.steps + 1 == 7
    assert not np.array_equal(frames[0], frames[-1])


@pytest.mark.render
def test_record_video_writes_a_readable_gif(tmp_path):
    out = tmp_path / "sub" / "ep.gif"
    episode = record_video("harvest-v0", out, "heuristic", seed=0, max_steps=6, fps=5, **TINY)
    video = imageio.imread(out, index=None)
    assert video.shape[0] == episode.steps + 1 == 7
    assert video.shape[1:] == (96 + 32, 96, 3)  # map area plus a 32-pixel HUD (2 lines)
    assert imageio.immeta(out)["duration"] == 200  # ms per frame at 5 fps
    assert not np.array_equal(video[0], video[-1])


@pytest.mark.render
def test_record_video_writes_a_scaled_mp4(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "ep.mp4"
    episode = record_video("harvest-v0", out, "random", seed=1, max_steps=9, scale=0.75, **TINY)
    import imageio.v2 as iio2

    with iio2.get_reader(out) as reader:  # through imageio-ffmpeg
        frames = list(reader.iter_data())
    assert len(frames) == episode.steps + 1 == 10
    assert frames[0].shape == (96, 72, 3)  # (128, 96) x 0.75, even sides


def test_video_writer_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.gif or \.mp4"):
        VideoWriter(tmp_path / "ep.avi")
    with pytest.raises(ValueError, match="fps"):
        VideoWriter(tmp_path / "ep.gif", fps=0)
    with pytest.raises(ValueError, match="scale"):
        VideoWriter(tmp_path / "ep.gif", scale=-1)


def test_capped_cubic_schedule():
    assert [i for i in range(30) if capped_cubic_video_schedule(i)] == [0, 1, 8, 27]
    assert capped_cubic_video_schedule(2000) and not capped_cubic_video_schedule(1001)


@pytest.mark.render
def test_record_video_wrapper_writes_the_chosen_episodes(tmp_path):
    inner = make("harvest-v0", preset="tiny", render_mode="rgb_array", max_cycles=4)
    env = RecordVideo(inner, tmp_path, episode_trigger=lambda i: i != 1, name_prefix="h")
    policy = make_policy("harvest-v0", "heuristic", env.world, seed=0)
    lengths = []
    for episode in range(3):
        env.reset(seed=episode)
        steps = 0
        while env.agents:  # last_batch and actions_from_slots pass through the wrapper
            env.step(env.actions_from_slots(policy.act(env.last_batch)))
            steps += 1
        lengths.append(steps)
    env.reset(seed=9)  # episode 3: cut short by close()
    env.step(env.actions_from_slots(policy.act(env.last_batch)))
    env.close()
    names = [p.name for p in env.videos]
    assert names == ["h-episode-0.gif", "h-episode-2.gif", "h-episode-3.gif"]
    counts = [imageio.improps(p).n_images for p in env.videos]
    assert counts == [lengths[0] + 1, lengths[2] + 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


@pytest.mark.render
def test_record_video_wrapper_draws_overlays_without_a_render_mode(tmp_path):
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        RecordVideo(make("harvest-v0", preset="tiny"), tmp_path)
    env = RecordVideo(
        make("harvest-v0", preset="tiny", max_cycles=2),
        tmp_path,
        overlays="ids,actions",
        window_size=120,
    )
    env.reset(seed=0)
    while env.agents:
        env.step({a: 0 for a in env.agents})
    env.close()
    video = imageio.imread(env.videos[0], index=None)
    assert video.shape[0] == 3 and video.shape[2] == 120
