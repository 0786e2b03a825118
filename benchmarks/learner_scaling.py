"""Training speed of the learners against the number of live units: hybrid, MAPPO, monolithic
and SB3 independent on harvest, same machine, same run, same budget.

Each point is one short training run (``spawnzoo train METHOD``'s code, evaluation cut to one
tiny episode) on the ``small`` preset (24x24, one player) with ``U`` robot slots
(``robot_slots_per_player``) and ``factories_for(U)`` (about ``U / 6``) factories that never run
out of water, metal or power: they keep building while the untrained policy loses robots in
collisions, so the live entities grow with ``U`` (the table gives the measured count). A point is
measured by the run's own per-cycle figures (``metrics.jsonl``: rollout plus update time, the
evaluation left out) over the cycles after the first (which carries one-off costs: torch's first
calls, numba's cached kernels loading); ``agent-steps/s`` counts live entities (units and
factories) per env step, as the learners' ``charts/agent_sps`` does. Each run is its own process
(``--in-process`` runs them all in this one), whose peak resident memory is reported.

Usage::

    .venv/bin/python benchmarks/learner_scaling.py                      # 5 sizes x 4 methods
    .venv/bin/python benchmarks/learner_scaling.py --doc docs/benchmarks.md \
        --plot docs/img/learner_scaling.png
    .venv/bin/python benchmarks/learner_scaling.py --quick              # seconds: a smoke run

The output is markdown: the command, the machine (CPU feature level, torch's CPU capability),
the table, and the per-method cost per env step against the unit count.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: the methods compared, in the table's order
METHODS = ("hybrid", "mappo", "monolithic", "independent")
#: robot slots per player of each point
UNITS = (5, 12, 24, 48, 96)


def factories_for(units: int) -> int:
    """Factories of a point with ``units`` robot slots: about one per 6 slots, 1 to 16 (more
    factories build faster, so the robots come nearer the slots' cap)."""
    return max(1, min(16, round(units / 6)))


#: env settings of every point over the ``small`` preset: factories that keep building
SETTINGS: dict[str, Any] = {
    "players": 1,
    "init_water": 1000,
    "init_metal": 10_000,
    "init_factory_power": 10_000,
    "robot_ids_per_class": 2000,
    "max_cycles": 256,
}
#: the training budget of every run (overridable): worlds, steps per rollout, epochs, cycles
BUDGET = {"num_envs": 4, "num_steps": 64, "num_minibatches": 2, "update_epochs": 4, "cycles": 3}
#: ``--quick``: a smoke run of the whole pipeline in seconds
QUICK = {
    "units": (2, 6),
    "budget": {
        "num_envs": 2,
        "num_steps": 16,
        "num_minibatches": 1,
        "update_epochs": 1,
        "cycles": 2,
    },
    "preset": "tiny",
}

DOC_BEGIN = (
    "<!-- results: begin learner scaling (written by benchmarks/learner_scaling.py --doc) -->"
)
DOC_END = "<!-- results: end learner scaling -->"


def train_argv(method: str, units: int, budget: dict[str, int], preset: str, run_root: str):
    """The ``spawnzoo train METHOD`` words of one point."""
    f = 1 if preset == "tiny" else factories_for(units)  # one factory fits on tiny's 12x12
    settings = {**SETTINGS, "factories_per_player": [f, f], "robot_slots_per_player": units}
    argv = [
        "--env",
        "harvest-v0",
        "--preset",
        preset,
        "--env-settings",
        json.dumps(settings),
        "--total-timesteps",
        str(budget["num_envs"] * budget["num_steps"] * budget["cycles"]),
        "--num-envs",
        str(budget["num_envs"]),
        "--num-steps",
        str(budget["num_steps"]),
        "--num-minibatches",
        str(budget["num_minibatches"]),
        "--update-epochs",
        str(budget["update_epochs"]),
        "--eval-every",
        "0",
        "--eval-episodes",
        "1",
        "--eval-max-cycles",
        "2",
        "--checkpoint-every",
        "0",
        "--no-progress",
        "--run-root",
        run_root,
        "--run-name",
        f"{method}-{units}",
        "--seed",
        "1",
    ]
    return argv


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def run_point(method: str, argv: list[str], clock: str = "wall") -> float:
    """Train one point in this process; return the process's peak memory (MB) after it.

    With ``clock="cpu"`` the learners' timers (``time.perf_counter``) read this process's CPU
    time instead (``time.process_time``) while the run trains.
    """
    from spawnzoo.baselines.common.config import config_from_cli
    from spawnzoo.baselines.registry import make_algorithm

    algo = make_algorithm(method)
    config = config_from_cli(algo.config_cls, argv, prog=f"train {method}")
    wall = time.perf_counter
    if clock == "cpu":
        time.perf_counter = time.process_time
    try:
        algo.train(config)
    finally:
        time.perf_counter = wall
    return peak_rss_mb()


def measure(method: str, units: int, args: argparse.Namespace, run_root: str) -> dict[str, Any]:
    """Run one point (a subprocess unless ``--in-process``) and read its figures back."""
    argv = train_argv(method, units, args.budget, args.preset, run_root)
    t0 = time.perf_counter()
    if args.in_process:
        peak = run_point(method, argv, args.clock)
    else:
        code = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); import learner_scaling as s;"
            "print(json.dumps(s.run_point(sys.argv[3], sys.argv[4:], sys.argv[2])))"
        )
        here = str(Path(__file__).resolve().parent)
        out = subprocess.run(
            [sys.executable, "-c", code, here, args.clock, method, *argv],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{method} at {units} units failed:\n{out.stderr[-3000:]}")
        peak = float(out.stdout.strip().splitlines()[-1])
    wall = time.perf_counter() - t0
    rows = [
        json.loads(line)
        for line in (Path(run_root) / f"{method}-{units}" / "metrics.jsonl")
        .read_text()
        .splitlines()
        if line.strip()
    ]
    steady = rows[1:] or rows  # the first cycle carries one-off costs
    sps = statistics.median(r["charts/sps"] for r in steady)
    agent_sps = statistics.median(r["charts/agent_sps"] for r in steady)
    alive = statistics.median(r["agents/alive_mean"] for r in steady)
    return {
        "method": method,
        "robot_slots": units,
        "live_entities": alive,
        "env_sps": sps,
        "agent_sps": agent_sps,
        "ms_per_env_step": 1000.0 / sps,
        "rollout_s": statistics.median(r["charts/rollout_seconds"] for r in steady),
        "update_s": statistics.median(r["charts/update_seconds"] for r in steady),
        "peak_mb": peak,
        "wall_s": wall,
    }


def machine_lines() -> list[str]:
    """The machine: CPU model and feature level, torch and its CPU capability, threads."""
    import torch

    from spawnzoo.baselines.common.machine import cpu_feature_level, describe, one_line

    return [
        f"machine: {one_line(describe())}",
        f"cpu features: {cpu_feature_level()}; torch CPU capability: "
        f"{torch.backends.cpu.get_cpu_capability()}",
        f"cores: {os.cpu_count()} on the machine (shared: other work ran at the same time); "
        f"torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}",
        f"load average (1 min) at start: {os.getloadavg()[0]:.2f}",
    ]


def table(points: list[dict[str, Any]]) -> str:
    """The points as a markdown table, one row per (units, method)."""
    lines = [
        "| robot slots | method | live entities | env-steps/s | agent-steps/s | ms per env step "
        "| rollout s / update s per cycle | peak MB | vs independent |",
        "|---:|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    by = {(p["robot_slots"], p["method"]): p for p in points}
    for p in points:
        ind = by.get((p["robot_slots"], "independent"))
        ratio = f"{p['agent_sps'] / ind['agent_sps']:.2f}x" if ind else ""
        lines.append(
            f"| {p['robot_slots']} | {p['method']} | {p['live_entities']:.1f} "
            f"| {p['env_sps']:,.0f} | {p['agent_sps']:,.0f} | {p['ms_per_env_step']:.2f} "
            f"| {p['rollout_s']:.1f} / {p['update_s']:.1f} | {p['peak_mb']:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def flatness(points: list[dict[str, Any]]) -> list[str]:
    """Per method: cost per env step at the most units over the fewest (1.0 = flat)."""
    out = []
    for method in dict.fromkeys(p["method"] for p in points):
        mine = sorted((p for p in points if p["method"] == method), key=lambda p: p["robot_slots"])
        if len(mine) > 1:
            lo, hi = mine[0], mine[-1]
            out.append(
                f"{method}: {hi['ms_per_env_step'] / lo['ms_per_env_step']:.2f}x the cost per env "
                f"step at {hi['live_entities']:.0f} live entities as at {lo['live_entities']:.0f}"
            )
    return out


def plot(points: list[dict[str, Any]], path: Path) -> None:
    """agent-steps/s and ms per env step against live entities, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in dict.fromkeys(p["method"] for p in points):
        mine = sorted((p for p in points if p["method"] == method), key=lambda p: p["robot_slots"])
        xs = [p["live_entities"] for p in mine]
        axes[0].plot(xs, [p["agent_sps"] for p in mine], marker="o", label=method)
        axes[1].plot(xs, [p["ms_per_env_step"] for p in mine], marker="o", label=method)
    for ax, label in zip(axes, ("training agent-steps/s", "ms per env step (rollout + update)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("live entities per world")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("harvest small (24x24), one player: learners' speed against live units")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def update_doc(path: Path, text: str) -> None:
    """Replace the block between ``DOC_BEGIN`` and ``DOC_END`` in ``path`` with ``text``."""
    page = path.read_text()
    if DOC_BEGIN not in page or DOC_END not in page:
        raise SystemExit(f"{path} needs the lines {DOC_BEGIN!r} and {DOC_END!r}")
    head, rest = page.split(DOC_BEGIN, 1)
    path.write_text(f"{head}{DOC_BEGIN}\n{text}\n\n{DOC_END}{rest.split(DOC_END, 1)[1]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--units", nargs="+", type=int, help=f"robot slots (default: {UNITS})")
    for key, value in BUDGET.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=int, help=f"(default: {value})")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads (default: 1; more threads than idle cores spin and\n"
        "slow everything down on a shared machine)",
    )
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what the runs' own timers read: wall time (default) or each run's CPU time\n"
        "(steadier on a shared machine; with one thread it is the work done)",
    )
    p.add_argument("--quick", action="store_true", help="a smoke run in seconds (tiny preset)")
    p.add_argument("--in-process", action="store_true", help="run every point in this process")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the points here")
    p.add_argument("--doc", type=Path, metavar="PAGE", help="write the block into this page")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write the plot here")
    args = p.parse_args(argv)
    base = QUICK["budget"] if args.quick else BUDGET
    args.budget = {k: base[k] if getattr(args, k) is None else getattr(args, k) for k in BUDGET}
    args.units = args.units or (QUICK["units"] if args.quick else UNITS)
    args.preset = QUICK["preset"] if args.quick else "small"
    for key, value in args.budget.items():
        if value < 1:
            p.error(f"--{key.replace('_', '-')} must be >= 1, got {value}")
    if args.budget["cycles"] < 2:
        p.error("--cycles must be >= 2 (the first cycle is left out of the figures)")
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    if any(u < 1 for u in args.units):
        p.error(f"--units must be >= 1, got {args.units}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # the runs' processes inherit these
    if args.in_process:
        import torch

        torch.set_num_threads(args.threads)
    words = sys.argv[1:] if argv is None else argv
    header = [
        f"command: {shlex.join(['.venv/bin/python', 'benchmarks/learner_scaling.py', *words])}",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        *machine_lines(),
        f"setting: harvest-v0 preset {args.preset}, "
        + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
        + ", robot_slots_per_player = the row's robot slots, factories_per_player = "
        + "round(robot slots / 6) clipped to [1, 16] (1 on tiny)",
        "budget per run: "
        + ", ".join(f"{k}={v}" for k, v in args.budget.items())
        + " (figures: median over the cycles after the first)",
        "clock: "
        + (
            "each run's CPU time (the learners' timers read time.process_time)"
            if args.clock == "cpu"
            else "wall time"
        ),
    ]
    for line in header:
        print(line, flush=True)
    points = []
    with tempfile.TemporaryDirectory(prefix="learner_scaling_") as run_root:
        for units in args.units:
            for method in args.methods:
                points.append(measure(method, units, args, run_root))
                p = points[-1]
                print(
                    f"measured {method} at {units} robot slots: {p['agent_sps']:,.0f} "
                    f"agent-steps/s, {p['live_entities']:.1f} live",
                    file=sys.stderr,
                    flush=True,
                )
    header.append(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")
    text = "\n".join(
        ["```text", *header, "```", "", table(points), "", *(f"- {f}" for f in flatness(points))]
    )
    print(f"\n{text}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"header": header, "points": points}, indent=2) + "\n")
    if args.plot is not None:
        plot(points, args.plot)
    if args.doc is not None:
        if args.plot is not None:
            rel = os.path.relpath(args.plot, args.doc.parent)
            text += f"\n\n![learners' speed against live units]({rel})"
        update_doc(args.doc, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
