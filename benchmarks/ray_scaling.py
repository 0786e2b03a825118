"""How ``spawnzoo compare --backend ray`` scales with Ray workers, on this machine.

Runs the same plan (default: hybrid on harvest ``tiny``, seeds 1-4, the quick preset's cycles of
16 worlds x 64 steps, 4 cycles each) once per worker count on a local Ray started with that many
CPUs (one run per CPU, one torch thread per run), each into a fresh output folder, and reports
the wall-clock of the whole comparison, the part after Ray was up (the runs), and the speed-up of
the runs over one worker. The runs are independent, so the ideal speed-up with ``w`` workers is
``min(w, runs)``; the issue's goal is at least 1.8x with 2 workers on idle cores.

Usage::

    .venv/bin/python benchmarks/ray_scaling.py                       # 1 and 2 workers, print
    .venv/bin/python benchmarks/ray_scaling.py --doc docs/benchmarks.md   # and write the block
    .venv/bin/python benchmarks/ray_scaling.py --workers 1 2 4 --seeds 8 --cycles 8

The output is markdown: the command, the machine (CPU feature level) and its load before the
measurement, then the table. On a machine other processes use, the figures move with their load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spawnzoo.baselines.common.machine import describe, one_line
from spawnzoo.baselines.compare.plan import COMPARE_PRESETS, Comparison
from spawnzoo.baselines.compare.ray_backend import RayLauncher
from spawnzoo.baselines.compare.runner import run_comparison

#: the block of ``--doc`` pages this script owns
COMPARE_MARKERS = (
    "<!-- results: begin ray-compare (written by benchmarks/ray_scaling.py --doc) -->",
    "<!-- results: end ray-compare -->",
)


@dataclass
class CompareRow:
    """One worker count: seconds of the whole comparison, of Ray's start, of the runs."""

    workers: int
    total_s: float
    ray_start_s: float
    runs_s: float
    failed: int


class _TimedLauncher:
    """A ``RayLauncher`` whose start (``ray.init``) is timed apart from the runs."""

    def __init__(self, inner: RayLauncher):
        self.inner = inner
        self.start_s = 0.0

    def __enter__(self) -> _TimedLauncher:
        t0 = time.perf_counter()
        self.inner.__enter__()
        self.start_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)

    def capacity(self) -> int:
        return self.inner.capacity()

    def start(self, method: str, config: Any, log_path: Path) -> Any:
        return self.inner.start(method, config, log_path)


def plan(args: argparse.Namespace, out: Path) -> Comparison:
    """The measured comparison: ``args``' methods x seeds, ``args.cycles`` quick-preset cycles."""
    config = dict(COMPARE_PRESETS["quick"].config)
    batch = config["num_envs"] * config["num_steps"]
    return Comparison(
        env_id=args.env,
        preset=args.preset,
        env_settings={},
        methods=tuple(args.methods.split(",")),
        seeds=tuple(range(1, args.seeds + 1)),
        total_timesteps=args.cycles * batch,
        config=config,
        suite=None,
        variants=(),
        out=out,
        command=("benchmarks/ray_scaling.py",),
        eval_interval=args.cycles * batch,  # one evaluation, at the end
    )


def measure_compare(args: argparse.Namespace) -> list[CompareRow]:
    """The plan once per worker count, each on its own local Ray, into a fresh folder."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="ray-scaling-") as tmp:
        for workers in args.workers:
            comparison = plan(args, Path(tmp) / f"workers-{workers}")
            launcher = _TimedLauncher(RayLauncher(jobs=workers, cpus_per_run=1))
            t0 = time.perf_counter()
            statuses = run_comparison(comparison, display=False, launcher=launcher)
            total = time.perf_counter() - t0
            failed = sum(s.state != "done" for s in statuses)
            rows.append(
                CompareRow(workers, total, launcher.start_s, total - launcher.start_s, failed)
            )
            print(
                f"{workers} worker(s): {total:.1f} s ({launcher.start_s:.1f} s Ray start)",
                file=sys.stderr,
                flush=True,
            )
    return rows


def machine_lines(args: argparse.Namespace) -> list[str]:
    """The command, the date, the machine and its load when the measurement started."""
    python = os.path.relpath(sys.executable)
    python = sys.executable if python.startswith("..") else python
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"command: {shlex.join([python, *sys.argv])}",
        f"date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
        f"machine: {one_line(describe())}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}",
        f"load average before (1, 5, 15 min): {load}",
    ]


def compare_table(args: argparse.Namespace, rows: list[CompareRow]) -> list[str]:
    """The markdown table of ``rows``; speed-ups are of the runs' seconds over 1 worker's."""
    runs = len(args.methods.split(",")) * args.seeds
    base = next((r.runs_s for r in rows if r.workers == 1), None)
    lines = [
        f"plan: {args.methods} on {args.env} {args.preset}, seeds 1-{args.seeds} ({runs} runs), "
        f"{args.cycles} cycles of 16 worlds x 64 steps each, one torch thread per run",
        "",
        "| Ray workers | total s | Ray start s | runs s | speed-up of the runs | failed |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        speedup = f"{base / r.runs_s:.2f}x" if base else "-"
        lines.append(
            f"| {r.workers} | {r.total_s:.1f} | {r.ray_start_s:.1f} | {r.runs_s:.1f} | "
            f"{speedup} | {r.failed} |"
        )
    return lines


def write_block(path: Path, markers: tuple[str, str], text: str) -> None:
    """Replace the text between ``markers`` in ``path`` with ``text``.

    Raises:
        ValueError: the page lacks the markers.
    """
    begin, end = markers
    page = path.read_text()
    if begin not in page or end not in page:
        raise ValueError(f"{path} needs the lines {begin!r} and {end!r}")
    head, rest = page.split(begin, 1)
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{begin}\n{text}\n\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts")
    p.add_argument("--methods", default="hybrid", help="comma-separated methods (default hybrid)")
    p.add_argument("--seeds", type=int, default=4, help="seeds 1..N per method (default 4)")
    p.add_argument("--cycles", type=int, default=4, help="training cycles per run (default 4)")
    p.add_argument("--env", default="harvest-v0", help="env id (default harvest-v0)")
    p.add_argument("--preset", default="tiny", help="env preset (default tiny)")
    p.add_argument("--doc", type=Path, default=None, help="write the block into this page")
    p.add_argument("--json", type=Path, default=None, help="also save the rows as JSON")
    args = p.parse_args(argv)
    if min(args.workers) < 1 or args.seeds < 1 or args.cycles < 1:
        p.error("--workers, --seeds and --cycles must be >= 1")

    header = machine_lines(args)
    rows = measure_compare(args)
    text = "```text\n" + "\n".join([*header, *compare_table(args, rows)]) + "\n```"
    print(text)
    if args.json is not None:
        args.json.write_text(
            json.dumps({"header": header, "compare": [vars(r) for r in rows]}, indent=1)
        )
    if args.doc is not None:
        write_block(args.doc, COMPARE_MARKERS, text)
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
