"""The ``spawnzoo`` command line.

    spawnzoo render --env harvest-v0 --preset small --policy heuristic --seed 0 --out ep.gif
    spawnzoo render --env harvest-v0 --preset tiny          # opens a window

Subcommands of the learner packages (``train``, ``compare``, ...) join this table by
"module:function" string, so this module never imports them unless they are asked for.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .core.registry import REGISTRY, load, make, make_policy, presets

#: subcommand -> "module:function" taking the subparsers object and adding itself
COMMANDS: dict[str, str] = {
    "render": "spawnzoo.envs.cli:add_render_command",
}


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_render_command(sub: argparse._SubParsersAction) -> None:
    """``spawnzoo render``: play one episode with a policy, to a GIF/MP4 or a window."""
    p = sub.add_parser("render", help="play one episode and write it to a GIF/MP4 or a window")
    p.add_argument("--env", default="harvest-v0", choices=sorted(REGISTRY))
    p.add_argument("--preset", default=None, help="named preset of the env (e.g. tiny, small)")
    p.add_argument("--players", type=int, default=None)
    p.add_argument(
        "--set",
        type=_parse_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any env setting, e.g. --set map_size=32 (repeatable)",
    )
    p.add_argument("--policy", default="heuristic", help="random, heuristic, ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="stop early (default: episode end)")
    p.add_argument("--out", type=Path, default=None, help=".gif or .mp4; omit for a window")
    p.add_argument("--fps", type=int, default=10)
    p.set_defaults(func=run_render)


def run_render(args: argparse.Namespace) -> int:
    """Play one episode; write frames to ``args.out`` or show a window; print the metrics."""
    settings = dict(args.set)
    if args.players is not None:
        settings["players"] = args.players
    if args.preset is not None and args.preset not in presets(args.env):
        raise SystemExit(f"unknown preset {args.preset!r}; choose from {sorted(presets(args.env))}")
    writer = None
    if args.out is not None:
        suffix = args.out.suffix.lower()
        if suffix not in (".gif", ".mp4"):
            raise SystemExit(f"--out must end in .gif or .mp4, got {args.out}")
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise SystemExit(
                "writing a GIF/MP4 needs imageio: pip install 'spawnzoo[video]'"
            ) from None
        args.out.parent.mkdir(parents=True, exist_ok=True)
        kw = {"duration": 1000 / args.fps, "loop": 0} if suffix == ".gif" else {"fps": args.fps}
        writer = imageio.get_writer(args.out, **kw)
    env = make(
        args.env,
        preset=args.preset,
        render_mode="rgb_array" if writer is not None else "human",
        **settings,
    )
    policy = make_policy(args.env, args.policy, env.world, seed=args.seed)
    env.reset(seed=args.seed)
    start = time.perf_counter()
    steps, episode = 0, None
    try:
        frame = env.render()
        if writer is not None:
            writer.append_data(frame)
        limit = args.max_steps if args.max_steps is not None else env.max_cycles
        while env.agents and steps < limit:
            actions = env.actions_from_slots(policy.act(env.last_batch))
            _, _, _, _, infos = env.step(actions)
            steps += 1
            frame = env.render()
            if writer is not None:
                writer.append_data(frame)
            episode = next((i["episode"] for i in infos.values() if "episode" in i), episode)
    finally:
        if writer is not None:
            writer.close()
        env.close()
    elapsed = time.perf_counter() - start
    metrics = episode or env.world.episode_metrics(0)
    print(f"{args.env} preset={args.preset} policy={args.policy} seed={args.seed}: {steps} steps")
    _print_metrics(metrics)
    if args.out is not None:
        print(f"wrote {steps + 1} frames to {args.out} in {elapsed:.1f}s")
    return 0


def _print_metrics(metrics: dict[str, Any]) -> None:
    if "per_player" in metrics:
        rows = [{"episode_length": metrics["episode_length"], **m} for m in metrics["per_player"]]
    else:
        rows = [metrics]
    keys = list(rows[0])
    print("  " + "player".ljust(8) + "".join(k.rjust(20) for k in keys))
    for p, row in enumerate(rows):
        values = "".join(f"{row[k]:>20g}" for k in keys)
        print("  " + f"{p}".ljust(8) + values)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spawnzoo`` command."""
    parser = argparse.ArgumentParser(prog="spawnzoo", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for entry in COMMANDS.values():
        try:
            load(entry)(sub)
        except ImportError:  # a learner package whose extras are not installed
            continue
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
