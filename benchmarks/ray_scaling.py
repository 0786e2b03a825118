"""How ``spawnzoo compare --backend ray`` scales with Ray workers, and RLlib's sampling with env
runners, on this machine.

``--part compare`` runs the same plan (default: hybrid on harvest ``tiny``, seeds 1-4, the quick
preset's cycles of 16 worlds x 64 steps, 4 cycles each) once per worker count on a local Ray
started with that many CPUs (one run per CPU, one torch thread per run), each into a fresh
output folder, and reports the wall-clock of the whole comparison, the part after Ray was up
(the runs), and the speed-up of the runs over one worker. The runs are independent, so the
ideal speed-up with ``w`` workers is ``min(w, runs)``; the issue's goal is at least 1.8x with 2
workers on idle cores.

``--part rllib`` times RLlib's sampling for ``rllib-ppo`` (``spawnzoo.integrations.rllib``'s
PPO config, one shared masking module) with 0, 1 and 2 env runners on one local Ray: per
count, after one untimed batch, ``--repeats`` batches of ``--rllib-batch`` env steps collected
the way PPO collects them (``synchronous_parallel_sample``: the runners sample in parallel, the
driver waits for all), and reports env steps and agent steps per second. With 0 env runners the
driver samples itself; each runner is a process of its own with one CPU and one torch thread.

Usage::

    .venv/bin/python benchmarks/ray_scaling.py                       # both parts, print
    .venv/bin/python benchmarks/ray_scaling.py --doc docs/benchmarks.md   # and write the blocks
    .venv/bin/python benchmarks/ray_scaling.py --part compare --workers 1 2 4 --seeds 8
    .venv/bin/python benchmarks/ray_scaling.py --part rllib --env-runners 0 1 2 4 --preset small

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
RLLIB_MARKERS = (
    "<!-- results: begin ray-rllib (written by benchmarks/ray_scaling.py --doc) -->",
    "<!-- results: end ray-rllib -->",
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
    if args.eval_episodes is not None:
        config["eval_episodes"] = args.eval_episodes
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


@dataclass
class RLlibRow:
    """One env-runner count: what ``repeats`` timed batches collected, and in how long."""

    env_runners: int
    env_steps: int
    agent_steps: int
    seconds: float


def measure_rllib(args: argparse.Namespace) -> list[RLlibRow]:
    """RLlib's PPO sampling with each env-runner count, on one local Ray."""
    import ray
    import torch
    from ray.rllib.execution.rollout_ops import synchronous_parallel_sample

    from spawnzoo.integrations.rllib import ppo_config

    torch.set_num_threads(1)  # as in each env runner
    started = not ray.is_initialized()  # a caller's Ray (a test's) is used as it is
    if started:
        ray.init(
            address="local",
            num_cpus=max(args.env_runners) + 1,
            include_dashboard=False,
            log_to_driver=False,
        )
    rows = []
    try:
        for runners in args.env_runners:
            algo = ppo_config(
                args.env,
                preset=args.preset,
                seed=0,
                num_env_runners=runners,
                train_batch_size_per_learner=args.rllib_batch,
                minibatch_size=min(128, args.rllib_batch),  # RLlib's check; no update here
            ).build_algo()

            def batch() -> list[Any]:
                return synchronous_parallel_sample(
                    worker_set=algo.env_runner_group,  # noqa: B023 - called in this iteration
                    max_env_steps=args.rllib_batch,
                    _uses_new_env_runners=True,
                    concat=True,
                )

            batch()  # untimed: the runners' first episodes, torch's first calls
            env_steps = agent_steps = 0
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                episodes = batch()
                env_steps += sum(e.env_steps() for e in episodes)
                agent_steps += sum(e.agent_steps() for e in episodes)
            rows.append(RLlibRow(runners, env_steps, agent_steps, time.perf_counter() - t0))
            algo.stop()
            print(f"{runners} env runner(s): {rows[-1].seconds:.1f} s", file=sys.stderr)
    finally:
        if started:
            ray.shutdown()
    return rows


def rllib_table(args: argparse.Namespace, rows: list[RLlibRow]) -> list[str]:
    """The markdown table of ``rows``; speed-ups are over 0 env runners' env steps/s."""
    base = next((r.env_steps / r.seconds for r in rows if r.env_runners == 0), None)
    lines = [
        f"sampling: rllib-ppo's PPO config on {args.env} {args.preset}, shared masking module "
        f"(64, 64), batches of {args.rllib_batch} env steps, {args.repeats} timed per row",
        "",
        "| env runners | env steps | agent steps | s | env steps/s | agent steps/s | vs 0 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rate = r.env_steps / r.seconds
        speedup = f"{rate / base:.2f}x" if base else "-"
        lines.append(
            f"| {r.env_runners} | {r.env_steps:,} | {r.agent_steps:,} | {r.seconds:.1f} | "
            f"{rate:,.0f} | {r.agent_steps / r.seconds:,.0f} | {speedup} |"
        )
    return lines


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
    p.add_argument(
        "--part",
        nargs="+",
        choices=("compare", "rllib"),
        default=["compare", "rllib"],
        help="what to measure (default both)",
    )
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts")
    p.add_argument("--methods", default="hybrid", help="comma-separated methods (default hybrid)")
    p.add_argument("--seeds", type=int, default=4, help="seeds 1..N per method (default 4)")
    p.add_argument("--cycles", type=int, default=4, help="training cycles per run (default 4)")
    p.add_argument(
        "--eval-episodes",
        type=int,
        default=None,
        help="episodes of each run's evaluations (default: the protocol's)",
    )
    p.add_argument("--env", default="harvest-v0", help="env id (default harvest-v0)")
    p.add_argument("--preset", default="tiny", help="env preset (default tiny)")
    p.add_argument(
        "--env-runners", type=int, nargs="+", default=[0, 1, 2], help="RLlib env-runner counts"
    )
    p.add_argument("--rllib-batch", type=int, default=2000, help="env steps per sampled batch")
    p.add_argument("--repeats", type=int, default=3, help="timed batches per env-runner count")
    p.add_argument("--doc", type=Path, default=None, help="write the block into this page")
    p.add_argument("--json", type=Path, default=None, help="also save the rows as JSON")
    args = p.parse_args(argv)
    if min(args.workers) < 1 or args.seeds < 1 or args.cycles < 1:
        p.error("--workers, --seeds and --cycles must be >= 1")
    if min(args.env_runners) < 0 or args.rllib_batch < 1 or args.repeats < 1:
        p.error("--env-runners must be >= 0, --rllib-batch and --repeats >= 1")

    header = machine_lines(args)
    saved: dict[str, Any] = {"header": header}
    failed = False
    if "compare" in args.part:
        rows = measure_compare(args)
        failed = any(r.failed for r in rows)
        saved["compare"] = [vars(r) for r in rows]
        _emit(args, COMPARE_MARKERS, [*header, *compare_table(args, rows)])
    if "rllib" in args.part:
        samples = measure_rllib(args)
        saved["rllib"] = [vars(r) for r in samples]
        _emit(args, RLLIB_MARKERS, [*header, *rllib_table(args, samples)])
    if args.json is not None:
        args.json.write_text(json.dumps(saved, indent=1))
    return 1 if failed else 0


def _emit(args: argparse.Namespace, markers: tuple[str, str], lines: list[str]) -> None:
    """Print one block, and write it into ``--doc`` when given."""
    text = "```text\n" + "\n".join(lines) + "\n```"
    print(text, flush=True)
    if args.doc is not None:
        write_block(args.doc, markers, text)


if __name__ == "__main__":
    raise SystemExit(main())
