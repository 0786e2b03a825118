"""Recording episodes: run a policy in an env, write a GIF or MP4, keep a replay.

    episode = record_video("harvest-v0", "ep.gif", "heuristic", seed=0, preset="small")
    episode.metrics, episode.steps, episode.replay.save("ep.replay.npz")

    env = RecordVideo(make("harvest-v0", render_mode="rgb_array"), "videos/")  # any ParallelEnv

A policy is anything with ``act(batch) -> [E, S] actions`` bound to the env's batched world (see
``envs.core.policies``); ``resolve_policy`` also takes a registered name (``"random"``,
``"heuristic"``) or a ``"module:attr"`` string naming a class ``(world, seed)``.

Video files go through imageio: GIFs need ``imageio`` and ``pillow`` (the ``video`` extra), MP4s
``imageio-ffmpeg`` (the ``mp4`` extra). A GIF or MP4 of an episode of ``T`` steps has ``T + 1``
frames: the reset state, then one frame per step.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo.utils.wrappers import BaseParallelWrapper

from .canvas import scale_frame
from .policies import Policy
from .registry import load, make, make_policy
from .rendering import make_renderer
from .replay import Replay, check_json, episode_metrics, replay_frames, replay_metrics

#: video suffixes ``VideoWriter`` writes
VIDEO_SUFFIXES = (".gif", ".mp4")


def resolve_policy(env_id: str, policy: str | Policy, world: Any, seed: int | None) -> Policy:
    """A policy bound to ``world``.

    Args:
        env_id: the env (for its registered policies).
        policy: an object with ``act`` (returned as is), a registered name (``"random"``,
            ``"heuristic"``, ...), ``"module:attr"`` of a class called as
            ``cls(world, seed=seed)``, or such a callable itself (e.g. a policy loader bound to
            a saved run).
        world: the batched world it plays.
        seed: seed of the policy's own randomness.

    Raises:
        ValueError: an unknown name, or a ``"module:attr"`` that does not import, does not take
            ``(world, seed=...)`` or does not make something with ``act``.
    """
    if hasattr(policy, "act"):
        return policy  # type: ignore[return-value]
    if callable(policy):
        factory = policy
    elif not isinstance(policy, str):
        raise ValueError(
            f"a policy is a name, a 'module:attr' string, a (world, seed) callable or has act(), "
            f"got {policy!r}"
        )
    elif ":" not in policy:
        return make_policy(env_id, policy, world, seed=seed)
    else:
        try:
            factory = load(policy)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"cannot load policy {policy!r}: {err}") from None
    try:
        inspect.signature(factory).bind(world, seed=seed)
    except TypeError as err:
        raise ValueError(f"policy {policy!r} must be called as (world, seed=...): {err}") from None
    except ValueError:  # no signature to inspect (some builtins): let the call say
        pass
    made = factory(world, seed=seed)  # its own errors are its own, not a signature problem
    if not hasattr(made, "act"):
        raise ValueError(f"policy {policy!r} made a {type(made).__name__}, which has no act()")
    return made


class VideoWriter:
    """Frames to a ``.gif`` or ``.mp4`` file through imageio, one ``append`` at a time.

    Args:
        path: the file; its suffix picks the format. Parent folders are created.
        fps: frames per second.
        scale: resize factor applied to every frame (see ``scale_frame``). MP4 frames are then
            cropped to even sides (H.264 needs them).

    Attributes:
        frames: frames written so far.

    Raises:
        ValueError: an unknown suffix, ``fps <= 0`` or ``scale <= 0``.
        ImportError: imageio (or, for MP4, imageio-ffmpeg) is missing; the message says which
            extra to install.
    """

    def __init__(self, path: str | PathLike, *, fps: float = 10, scale: float = 1.0):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_SUFFIXES:
            raise ValueError(f"a video file must end in .gif or .mp4, got {self.path}")
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise ImportError(
                "writing a GIF/MP4 needs imageio: pip install 'spawnzoo[video]'"
            ) from None
        if suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
            raise ImportError("writing an MP4 needs imageio-ffmpeg: pip install 'spawnzoo[mp4]'")
        self.fps, self.scale, self.frames = fps, scale, 0
        self._mp4 = suffix == ".mp4"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._mp4:
            kw = {"fps": fps, "codec": "libx264", "macro_block_size": 1, "quality": 8}
        else:
            kw = {"duration": 1000 / fps, "loop": 0}
        self._writer = imageio.get_writer(self.path, **kw)

    def append(self, frame: np.ndarray) -> None:
        """Add one ``[H, W, 3]`` uint8 frame (every frame of a file must have the same size)."""
        frame = scale_frame(frame, self.scale)
        if self._mp4:
            h, w = frame.shape[:2]
            frame = frame[: h - h % 2, : w - w % 2]
        self._writer.append_data(frame)
        self.frames += 1

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Episode:
    """What ``run_episode`` and ``record_video`` return.

    Attributes:
        replay: seed, settings and actions: replays the episode exactly.
        metrics: the episode metrics (``{"episode_length", "per_player": [...]}`` for harvest).
    """

    replay: Replay
    metrics: dict[str, Any]

    @property
    def steps(self) -> int:
        """Steps played."""
        return self.replay.steps


def run_episode(
    env_id: str,
    policy: str | Policy = "heuristic",
    *,
    seed: int | None = 0,
    preset: str | None = None,
    max_steps: int | None = None,
    on_frame: Callable[[np.ndarray], None] | None = None,
    window_size: int | tuple[int, int] | None = None,
    overlays: str | Iterable[str] | None = None,
    selected: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    **settings: Any,
) -> Episode:
    """Play one episode of ``env_id`` with ``policy``, optionally drawing every state.

    Args:
        env_id: registered env id.
        policy: see ``resolve_policy``.
        seed: reset seed (and the policy's); ``None`` draws one (a replay needs a seed).
        preset: the env's named preset.
        max_steps: stop after this many steps (default: when the episode ends).
        on_frame: called with each ``[H, W, 3]`` uint8 frame, the reset state first
            (``None``: nothing is drawn and pygame is not touched).
        window_size: pixels of the map area of the frames.
        overlays: overlay names (``envs.core.rendering``).
        selected: agent to highlight.
        progress: called as ``progress(steps_done, step_limit)`` after each step.
        **settings: env settings (e.g. ``players=2``).

    Returns:
        The ``Episode``: its replay (seed, settings, per-step slot actions) and metrics.

    Raises:
        ValueError: an unknown policy or overlay; settings that are not JSON values.
    """
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    kwargs = {"preset": preset, **settings} if preset is not None else dict(settings)
    check_json(kwargs, "env settings")  # before playing: the replay must hold them
    env = make(env_id, **kwargs)
    renderer = None
    try:
        if on_frame is not None:
            renderer = make_renderer(
                env, window_size=window_size, overlays=overlays, selected=selected
            )
        agent = resolve_policy(env_id, policy, env.world, seed)
        env.reset(seed=seed)
        limit = env.max_cycles if max_steps is None else min(max_steps, env.max_cycles)
        actions = np.zeros((limit, env.world.num_slots), dtype=np.int64)
        if renderer is not None:
            on_frame(renderer.render(env, "rgb_array"))
        steps = 0
        while env.agents and steps < limit:
            env.step(env.actions_from_slots(agent.act(env.last_batch)))
            actions[steps] = env.last_actions
            steps += 1
            if renderer is not None:
                on_frame(renderer.render(env, "rgb_array"))
            if progress is not None:
                progress(steps, limit)
        metrics = episode_metrics(env.world, env.last_batch)
    finally:
        if renderer is not None:
            renderer.close()
        env.close()
    name = policy if isinstance(policy, str) else type(policy).__name__
    replay = Replay(env_id, seed, actions[:steps], kwargs, metrics=metrics, policy=name)
    return Episode(replay=replay, metrics=metrics)


def record_video(
    env_id: str,
    out: str | PathLike,
    policy: str | Policy = "heuristic",
    *,
    fps: float = 10,
    scale: float = 1.0,
    **kwargs: Any,
) -> Episode:
    """Play one episode with ``policy`` and write it to ``out`` (``.gif`` or ``.mp4``).

    Args:
        env_id: registered env id.
        out: the video file (``T + 1`` frames for ``T`` steps).
        policy: see ``resolve_policy``.
        fps: frames per second of the video.
        scale: resize factor of the frames (``window_size`` sets the drawing size itself).
        **kwargs: ``run_episode``'s keyword arguments (``seed``, ``preset``, ``max_steps``,
            ``window_size``, ``overlays``, ``selected``, ``progress``) and env settings.

    Returns:
        The ``Episode`` (save ``episode.replay`` to replay it).

    Raises:
        ValueError, ImportError: as ``VideoWriter`` and ``run_episode``.
    """
    with VideoWriter(out, fps=fps, scale=scale) as writer:
        return run_episode(env_id, policy, on_frame=writer.append, **kwargs)


def capped_cubic_video_schedule(episode_id: int) -> bool:
    """Gymnasium's default trigger: episodes 0, 1, 8, 27, ..., 729, 1000, 2000, 3000, ..."""
    if episode_id < 1000:
        return round(episode_id ** (1.0 / 3)) ** 3 == episode_id
    return episode_id % 1000 == 0


class RecordVideo(BaseParallelWrapper):
    """Write chosen episodes of a PettingZoo ``ParallelEnv`` to video files (like Gymnasium's
    ``RecordVideo``).

    Frames come from ``env.render()`` (the env needs ``render_mode="rgb_array"``), or, when
    ``overlays`` or ``window_size`` is given, from a renderer of the env's own kind with those
    options (spawnzoo envs; any ``render_mode``). A recording starts at a ``reset`` whose
    episode the trigger picks and ends when no agent is left, at the next ``reset``, or at
    ``close``. Everything else passes through, including ``last_batch`` and
    ``actions_from_slots``.

    Args:
        env: the env.
        video_folder: where files go (created).
        episode_trigger: ``episode_id -> bool`` (ids count resets from 0); default
            ``capped_cubic_video_schedule``.
        name_prefix: files are ``{name_prefix}-episode-{id}.{video_format}``.
        video_format: ``"gif"`` or ``"mp4"``.
        fps: frames per second (default: the env's ``metadata["render_fps"]``, else 10).
        scale: resize factor of the frames.
        overlays: overlay names for a spawnzoo env's renderer.
        window_size: pixels of the map area for a spawnzoo env's renderer.

    Attributes:
        videos: paths of the files written so far.

    Raises:
        ValueError: no way to get frames (``render_mode`` is not ``"rgb_array"`` and no
            renderer options), or a bad ``video_format``.
    """

    def __init__(
        self,
        env: Any,
        video_folder: str | PathLike,
        *,
        episode_trigger: Callable[[int], bool] | None = None,
        name_prefix: str = "rl-video",
        video_format: str = "gif",
        fps: float | None = None,
        scale: float = 1.0,
        overlays: str | Iterable[str] | None = None,
        window_size: int | tuple[int, int] | None = None,
    ):
        super().__init__(env)
        if f".{video_format}" not in VIDEO_SUFFIXES:
            raise ValueError(f"video_format must be 'gif' or 'mp4', got {video_format!r}")
        custom = overlays is not None or window_size is not None
        if not custom and getattr(env, "render_mode", None) != "rgb_array":
            raise ValueError(
                "RecordVideo needs an env with render_mode='rgb_array' (or overlays/window_size "
                f"for a spawnzoo env), got render_mode={getattr(env, 'render_mode', None)!r}"
            )
        self.video_folder = Path(video_folder)
        self.episode_trigger = episode_trigger or capped_cubic_video_schedule
        self.name_prefix = name_prefix
        self.video_format = video_format
        self.fps = fps or (getattr(env, "metadata", None) or {}).get("render_fps", 10)
        self.scale = scale
        self.videos: list[Path] = []
        self.episode_id = -1
        self._renderer = (
            make_renderer(env, window_size=window_size, overlays=overlays) if custom else None
        )
        self._writer: VideoWriter | None = None

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._finish()
        result = self.env.reset(seed=seed, options=options)
        self.episode_id += 1
        if self.episode_trigger(self.episode_id):
            path = self.video_folder / (
                f"{self.name_prefix}-episode-{self.episode_id}.{self.video_format}"
            )
            self._writer = VideoWriter(path, fps=self.fps, scale=self.scale)
            self._capture()
        return result

    def step(self, actions: dict):
        result = self.env.step(actions)
        if self._writer is not None:
            self._capture()
            if not self.env.agents:
                self._finish()
        return result

    def close(self) -> None:
        self._finish()
        if self._renderer is not None:
            self._renderer.close()
        self.env.close()

    def _capture(self) -> None:
        if self._renderer is not None:
            frame = self._renderer.render(self.env.unwrapped, "rgb_array")
        else:
            frame = self.env.render()
        self._writer.append(frame)  # type: ignore[union-attr]

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self.videos.append(self._writer.path)
            self._writer = None


def replay_video(
    replay: Replay,
    out: str | PathLike,
    *,
    fps: float = 10,
    scale: float = 1.0,
    window_size: int | tuple[int, int] | None = None,
    overlays: str | Iterable[str] | None = None,
    selected: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write a replay's ``T + 1`` frames to ``out`` and check that it replays its metrics.

    Args:
        replay: the replay.
        out: ``.gif`` or ``.mp4`` file.
        fps: frames per second. scale: resize factor of the frames.
        window_size: pixels of the map area. overlays: overlay names. selected: agent to
            highlight.
        progress: called as ``progress(steps_done, steps)`` after each step's frame.

    Returns:
        The replayed episode metrics.

    Raises:
        ReplayError: the replay does not fit its env, or replays to other metrics
            (``ReplayMismatchError``).
        ValueError, ImportError: as ``VideoWriter``.
    """
    with VideoWriter(out, fps=fps, scale=scale) as writer:
        frames = replay_frames(
            replay, window_size=window_size, overlays=overlays, selected=selected
        )
        for t, frame in enumerate(frames):
            writer.append(frame)
            if progress is not None and t > 0:
                progress(t, replay.steps)
    return replay_metrics(replay)
