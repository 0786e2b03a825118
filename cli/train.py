"""``spawnzoo train``: run one method on one env into a run directory.

    spawnzoo train hybrid --env harvest-v0 --preset small --total-timesteps 102400 --seed 1
    spawnzoo train heuristic --preset tiny --total-timesteps 0 --set players=2
    spawnzoo train hybrid --help        # every field of the method's config

The method comes first; everything after it is a field of the method's config (``--field-name``;
see ``common.config``). Prints the run directory and the final summary. ``--resume`` of a run
that is already finished changes nothing: it says so, prints the stored summary and exits 0.
A run that another process is training is refused (one line naming that process, exit 1);
SIGTERM and SIGHUP stop training cleanly (exit 143 / 129; resume from the last checkpoint).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spawnzoo.baselines.common.locks import LockedError, exit_on_signals
from spawnzoo.baselines.common.metrics import REPORT_KEYS, std_key
from spawnzoo.baselines.common.runs import (
    CheckpointError,
    RunDir,
    RunDirError,
    RunFinishedError,
)
from spawnzoo.baselines.registry import METHODS, make_algorithm


def add_train_command(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` to the ``spawnzoo`` subcommands."""
    p = sub.add_parser(
        "train",
        help="train a method (or evaluate a reference policy) into runs/",
        description=__doc__.split("\n\n")[0],
        epilog="'spawnzoo train METHOD --help' lists the options of METHOD's config.",
    )
    p.add_argument("method", choices=sorted(METHODS), help="what to run")
    p.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="config fields of the method: --env, --preset, --total-timesteps, --seed, "
        "--set KEY=VALUE, ...",
    )
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Build the method's config from ``args.options``, train, print the summary."""
    from spawnzoo.baselines.common.config import config_from_cli

    try:
        algorithm = make_algorithm(args.method)
    except ImportError as err:
        raise SystemExit(str(err)) from None
    config = config_from_cli(
        algorithm.config_cls, args.options, prog=f"spawnzoo train {args.method}"
    )
    try:
        with exit_on_signals():  # SIGTERM/SIGHUP: exit through finally blocks (lock released)
            result = algorithm.train(config)
    except (LockedError, CheckpointError, RunDirError, FileExistsError) as err:
        # another process trains this run, a damaged file, a run of other settings or name
        raise SystemExit(f"spawnzoo train: {err}") from err
    except RunFinishedError as done:  # --resume of a finished run: report it, change nothing
        print(f"{done}", file=sys.stderr)
        print(f"run directory: {done.run_dir}")
        print(format_summary(RunDir.open(done.run_dir).read_summary()))
        return 0
    print(f"run directory: {result.run_dir}")
    print(format_summary(result.summary))
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few lines: final evaluation, milestones, size and speed."""
    final = summary.get("final_metrics", {})
    lines = [
        f"{summary.get('method')} on {summary.get('env_id')}, seed {summary.get('seed')}: "
        f"{summary['env_steps']:,} env steps in {summary['wall_clock_s']:.1f}s "
        f"({summary['env_sps']:,.0f} env steps/s, {summary['agent_sps']:,.0f} agent steps/s), "
        f"{summary['parameter_count']:,} parameters"
    ]
    for key in REPORT_KEYS:
        if final.get(key) is None:
            continue
        std = final.get(std_key(key))
        spread = f" ({std:.4g})" if std is not None else ""
        lines.append(f"  {key:<28} {final[key]:>12.4g}{spread}")
    for name, steps in summary.get("milestones", {}).items():
        lines.append(f"  {name:<28} {'never' if steps is None else f'{steps:,} env steps':>12}")
    return "\n".join(lines)
