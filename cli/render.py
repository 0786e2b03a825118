"""``spawnzoo render`` and ``spawnzoo replay``: episodes to videos, replays and the viewer.

    spawnzoo render --env harvest-v0 --preset small --policy heuristic --seed 0 --out ep.gif
    spawnzoo render --env harvest-v0 --preset small --out ep.mp4 --overlay ids,actions \\
        --replay ep.replay.npz                       # also keep a replay of the episode
    spawnzoo render --env harvest-v0 --preset tiny   # plays it, then opens the viewer
    spawnzoo render --policy runs/cmp/runs/harvest-v0__hybrid__1 --out hybrid.gif  # a trained run
    spawnzoo replay ep.replay.npz                    # the interactive viewer
    spawnzoo replay ep.replay.npz --out ep.gif       # the replay's frames to a video

Torch-free: a trained run's policy (``--policy RUN``) loads the learners only when asked for.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from spawnzoo.envs.core.registry import REGISTRY, make, presets
from spawnzoo.envs.core.settings import NoRoomError


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _window_size(text: str) -> int | tuple[int, int]:
    """``720`` or ``960x540`` (width x height of the map area)."""
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1 and parts[0] > 0:
        return parts[0]
    if len(parts) == 2 and min(parts) > 0:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError(f"--window-size expects N or WxH pixels, got {text!r}")


def _add_view_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``render`` and ``replay``: output, frame rate, size, overlays."""
    p.add_argument("--out", type=Path, default=None, help=".gif or .mp4; omit for the viewer")
    p.add_argument("--fps", type=int, default=10, help="frames per second (default 10)")
    p.add_argument("--scale", type=float, default=1.0, help="resize the video frames by this")
    p.add_argument(
        "--window-size",
        type=_window_size,
        default=720,
        metavar="N|WxH",
        help="pixels of the map area (default 720)",
    )
    p.add_argument(
        "--overlay",
        default=None,
        metavar="NAMES",
        help="comma-separated: ids, actions, mask (default: none in videos, actions in the viewer)",
    )
    p.add_argument(
        "--select",
        default=None,
        metavar="AGENT",
        help="agent to highlight and whose action mask '--overlay mask' shows",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def add_render_command(sub: argparse._SubParsersAction) -> None:
    """``spawnzoo render``: play one episode with a policy, to a GIF/MP4 or the viewer."""
    p = sub.add_parser("render", help="play one episode and write it to a GIF/MP4 or view it")
    p.add_argument(
        "--env",
        default=None,
        choices=sorted(REGISTRY),
        help="env id (default: the --policy run's env, else harvest-v0)",
    )
    p.add_argument(
        "--preset",
        default=None,
        help="named preset of the env (e.g. tiny, small); default: the --policy run's",
    )
    p.add_argument("--players", type=int, default=None)
    p.add_argument(
        "--set",
        type=_parse_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any env setting, e.g. --set map_size=32 (repeatable)",
    )
    p.add_argument(
        "--policy",
        default="heuristic",
        help="random, heuristic, module:attr of a class (world, seed) with act(batch), or a "
        "trained run: its directory (latest checkpoint) or a checkpoint file",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="stop early (default: episode end)")
    p.add_argument(
        "--replay", type=Path, default=None, help="also save a replay file (e.g. ep.replay.npz)"
    )
    _add_view_options(p)
    p.set_defaults(func=run_render)


def add_replay_command(sub: argparse._SubParsersAction) -> None:
    """``spawnzoo replay``: open a replay file in the viewer, or write it to a GIF/MP4."""
    p = sub.add_parser("replay", help="view a replay file, or write it to a GIF/MP4")
    p.add_argument("file", type=Path, help="a replay written by 'spawnzoo render --replay'")
    _add_view_options(p)
    p.set_defaults(func=run_replay)


class Progress:
    """Progress of an episode as a tqdm bar on stderr (``render: 120/256 steps``).

    tqdm comes with the ``video`` extra; without it, or with ``enabled=False``, nothing is shown.

    Args:
        label: the word in front. enabled: ``False`` shows nothing.
    """

    def __init__(self, label: str, *, enabled: bool = True):
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(desc=label, unit="steps", file=sys.stderr, mininterval=0.1)

    def __call__(self, done: int, total: int) -> None:
        """Record ``done`` of ``total`` steps."""
        if self._bar is not None:
            self._bar.total = total
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.close()


def run_render(args: argparse.Namespace) -> int:
    """Play one episode; write a video and/or a replay, or open the viewer; print the metrics."""
    from spawnzoo.envs.core.recording import VIDEO_SUFFIXES, record_video, run_episode

    policy: Any = args.policy
    if Path(args.policy).exists():  # a saved run: its env and settings are the defaults
        policy = _saved_policy(args)
    args.env = args.env or "harvest-v0"
    settings = dict(args.set)
    if args.players is not None:
        settings["players"] = args.players
    if args.preset is not None and args.preset not in presets(args.env):
        raise SystemExit(f"unknown preset {args.preset!r}; choose from {sorted(presets(args.env))}")
    if args.out is not None and args.out.suffix.lower() not in VIDEO_SUFFIXES:
        raise SystemExit(f"--out must end in .gif or .mp4, got {args.out}")
    _check_mask(args)
    progress = Progress("render", enabled=not args.no_progress)
    common = dict(
        seed=args.seed,
        preset=args.preset,
        max_steps=args.max_steps,
        progress=progress,
        **settings,
    )
    start = time.perf_counter()
    try:
        if args.out is not None:
            episode = record_video(
                args.env,
                args.out,
                policy,
                fps=args.fps,
                scale=args.scale,
                window_size=args.window_size,
                overlays=args.overlay,
                selected=args.select,
                **common,
            )
        else:
            episode = run_episode(args.env, policy, **common)
    except (ValueError, ImportError, FileNotFoundError, NoRoomError) as err:
        raise SystemExit(str(err)) from None
    finally:
        progress.close()
    elapsed = time.perf_counter() - start
    print(
        f"{args.env} preset={args.preset} policy={args.policy} seed={args.seed}: "
        f"{episode.steps} steps"
    )
    _print_metrics(episode.metrics)
    if args.out is not None:
        print(f"wrote {episode.steps + 1} frames to {args.out} in {elapsed:.1f}s")
    if args.replay is not None:
        print(f"wrote replay to {episode.replay.save(args.replay)}")
    if args.out is None:
        _view(episode.replay, args, play=True)
    return 0


def _saved_policy(args: argparse.Namespace) -> Any:
    """``--policy RUN`` (a run directory or checkpoint): a ``(world, seed)`` loader of its
    policy. Fills ``--env`` and, when neither ``--preset`` nor ``--set`` is given, the preset
    and env settings from the run's ``config.json``; torch is imported only when loading."""
    path = Path(args.policy)
    run_dir = path.parent.parent if path.is_file() else path
    config_file = run_dir / "config.json"
    try:
        meta = json.loads(config_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise SystemExit(
            f"--policy {path}: not a run directory or checkpoint of one ({err})"
        ) from None
    env_id, preset, settings = _run_env_settings(config_file, meta)
    if args.env is not None and args.env != env_id:
        raise SystemExit(f"--policy {path} is a run of {env_id}, not {args.env}")
    args.env = env_id
    if args.preset is None and not args.set:
        args.preset = preset
        args.set = list(settings.items())

    def load(world: Any, seed: int | None = None) -> Any:
        try:
            from spawnzoo.baselines.loading import load_policy
        except ImportError as err:
            raise ImportError(
                f"--policy {path} needs the learners ('.[train]' extra): {err}"
            ) from None
        return load_policy(path, world, seed=seed)

    return load


def _run_env_settings(config_file: Path, meta: Any) -> tuple[str, str | None, dict[str, Any]]:
    """The env id, preset and env settings a run's ``config.json`` holds, checked: the env is
    registered and builds from them (every setting within its range).

    Raises:
        SystemExit: one line naming ``config_file`` and what is wrong with it.
    """

    def refuse(what: str) -> SystemExit:
        return SystemExit(f"{config_file}: {what}")

    if not isinstance(meta, dict):
        raise refuse(f"must hold a JSON object, got {type(meta).__name__}")
    env_id = meta.get("env_id")
    if not isinstance(env_id, str) or env_id not in REGISTRY:
        raise refuse(f"env_id {env_id!r} is not a registered env ({sorted(REGISTRY)})")
    config = meta.get("config", {})
    if not isinstance(config, dict):
        raise refuse(f"config must be a JSON object, got {type(config).__name__}")
    preset, settings = config.get("preset"), config.get("env_settings", {})
    if preset is not None and not isinstance(preset, str):
        raise refuse(f"config.preset must be a preset name or null, got {preset!r}")
    if not isinstance(settings, dict):
        raise refuse(f"config.env_settings must be a JSON object, got {type(settings).__name__}")
    try:
        make(env_id, preset=preset, **settings).close()
    except (ValueError, TypeError) as err:  # TypeError: a key that is not an argument
        raise refuse(f"its env settings do not build {env_id}: {err}") from None
    return env_id, preset, settings


def run_replay(args: argparse.Namespace) -> int:
    """Load a replay; print what it holds; write it to a video or open the viewer."""
    from spawnzoo.envs.core.recording import VIDEO_SUFFIXES, replay_video
    from spawnzoo.envs.core.replay import Replay, ReplayError

    if args.out is not None and args.out.suffix.lower() not in VIDEO_SUFFIXES:
        raise SystemExit(f"--out must end in .gif or .mp4, got {args.out}")
    _check_mask(args)
    try:
        replay = Replay.load(args.file)
    except (FileNotFoundError, ReplayError) as err:
        raise SystemExit(str(err)) from None
    settings = " ".join(f"{k}={v}" for k, v in replay.settings.items())
    print(
        f"{replay.env_id} {settings} policy={replay.policy} seed={replay.seed}: "
        f"{replay.steps} steps"
    )
    if replay.metrics is not None:
        _print_metrics(replay.metrics)
    if args.out is None:
        _view(replay, args, play=False, source=args.file)
        return 0
    progress = Progress("replay", enabled=not args.no_progress)
    start = time.perf_counter()
    try:
        replay_video(
            replay,
            args.out,
            fps=args.fps,
            scale=args.scale,
            window_size=args.window_size,
            overlays=args.overlay,
            selected=args.select,
            progress=progress,
        )
    except ReplayError as err:  # e.g. it does not reproduce its metrics
        raise SystemExit(f"{args.file}: {err}") from None
    except (ValueError, ImportError) as err:
        raise SystemExit(str(err)) from None
    finally:
        progress.close()
    elapsed = time.perf_counter() - start
    print(f"wrote {replay.steps + 1} frames to {args.out} in {elapsed:.1f}s (metrics match)")
    return 0


def _check_mask(args: argparse.Namespace) -> None:
    names = (args.overlay or "").split(",")
    if "mask" in (n.strip() for n in names) and args.select is None:
        raise SystemExit("--overlay mask needs --select AGENT (e.g. --select player_0_heavy_0)")


def _view(replay: Any, args: argparse.Namespace, *, play: bool, source: Path | None = None) -> None:
    """Open the viewer on ``replay`` until its window is closed (``source``: the replay's file,
    named when it turns out not to replay)."""
    from spawnzoo.envs.core.replay import ReplayError
    from spawnzoo.envs.core.viewer import Viewer

    overlays = "actions" if args.overlay is None else args.overlay
    try:
        viewer = Viewer(replay, window_size=args.window_size, overlays=overlays, fps=args.fps)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    if args.select is not None:
        viewer.select(args.select)
    viewer.playing = play
    try:
        viewer.run()
    except ReplayError as err:  # the episode ended before the replay's last step
        raise SystemExit(f"{source or 'the replay'}: {err}") from None
    finally:
        viewer.close()


def _print_metrics(metrics: dict[str, Any]) -> None:
    """One row per player: the episode-wide numbers, then the player's own (a ``-`` where a
    row lacks one)."""
    shared = {k: v for k, v in metrics.items() if k != "per_player"}
    rows = [{**shared, **m} for m in metrics.get("per_player", [])] or [shared]
    keys = list(dict.fromkeys(k for row in rows for k in row))
    print("  " + "player".ljust(8) + "".join(k.rjust(20) for k in keys))
    for p, row in enumerate(rows):
        values = "".join(f"{row[k]:>20g}" if k in row else "-".rjust(20) for k in keys)
        print("  " + f"{p}".ljust(8) + values)
