"""Reproduce the paper's "global vs separated trajectories" table with the hybrid on our envs.

Runs ``spawnzoo train hybrid`` for each grouping and seed (in parallel processes), skips runs
that already finished, resumes partial ones, then writes the table from the runs' summaries:

    python scripts/trajectory_separation.py --preset small --seeds 1 2 3 --jobs 2 \\
        --out runs/trajsep/table.md

(the table also goes to stdout; docs/results.md quotes the tables). Arguments after ``--`` go
to ``spawnzoo train hybrid``; the setting with the paper's number of units (about 24 live
entities per player, where the paper's factor shows; see docs/results.md) is
``-- --set 'factories_per_player=[8,8]'``.

Each table row is one grouping: final evaluation ice transferred and episode length (mean and
std over seeds x evaluation episodes, the paper's format), the env steps at which >= 10% and
>= 95% of the evaluation episodes reached full length, per seed (sustained milestones for runs
made under the protocol of docs/evaluation.md), and the ice as IQM [95% CI] over seeds x
episodes (``compare.stats``, rliable). The paper's numbers sit beside ours. Below the table: the
same milestones over all seeds' evaluation episodes together (how the paper counts them), how
much later the global trajectory reaches 10% there, and the per-seed factors with their 95%
intervals (``stats.milestone_ratio``: a seed that never got there counts at the budget).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from spawnzoo.baselines.compare import stats
from spawnzoo.baselines.compare.report import fmt_interval, pooled_milestone, read_run
from spawnzoo.baselines.compare.suite import PAPER_TABLES

#: the paper's table (§3.5 "Global vs separated trajectories"), 48x48, 102,400 env steps: the
#: same numbers the comparison's paper suite prints (one copy, in baselines/compare/suite.py)
_PAPER_ROWS = {row.variant: row for row in PAPER_TABLES[0].rows}
PAPER = {
    grouping: {"ice": row.ice, "length": row.length, "p10": row.full_10, "p95": row.full_95}
    for grouping, row in (("entity", _PAPER_ROWS["separate"]), ("global", _PAPER_ROWS["global"]))
}
LABELS = {"global": "global trajectory", "entity": "separated per entity"}


def run_name(preset: str, grouping: str, seed: int) -> str:
    return f"trajsep__{preset}__{grouping.replace(':', '-')}__s{seed}"


def launch(args: argparse.Namespace, grouping: str, seed: int) -> Path:
    """Run (or resume) one training run in a subprocess; return its directory."""
    name = run_name(args.preset, grouping, seed)
    run_dir = Path(args.run_root) / name
    if (run_dir / "summary.json").exists():
        return run_dir
    cmd = [sys.executable, "-m", "spawnzoo.cli", "train", "hybrid"]
    cmd += ["--preset", args.preset, "--grouping", grouping, "--seed", str(seed)]
    cmd += ["--total-timesteps", str(args.total_timesteps), "--run-root", args.run_root]
    cmd += ["--run-name", name, "--resume", "--no-progress", *args.extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    log = run_dir.parent / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as out:
        subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
    return run_dir


def fmt_steps(values: list) -> str:
    return ", ".join("–" if v is None else f"{v:,}" for v in values)


def table(args: argparse.Namespace, runs: dict[str, list[Path]]) -> str:
    lines = [
        "| trajectories | ice transferred (ours) | episode length (ours) "
        "| 10% full length at (ours, per seed) | 95% full length at (ours, per seed) "
        "| ice IQM [95% CI] (ours) | wall-clock per run | paper: ice | paper: length "
        "| paper: 10% | paper: 95% |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for grouping, dirs in runs.items():
        summaries = [json.loads((d / "summary.json").read_text()) for d in dirs]
        ice = [v for s in summaries for v in s["final_eval"]["player_metrics"]["ice_transferred"]]
        length = [v for s in summaries for v in s["final_eval"]["episode_lengths"]]
        p10 = [s["milestones"].get("full_length_10pct") for s in summaries]
        p95 = [s["milestones"].get("full_length_95pct") for s in summaries]
        wall = np.mean([s["wall_clock_s"] for s in summaries]) / 60
        per_seed = [s["final_eval"]["player_metrics"]["ice_transferred"] for s in summaries]
        iqm = stats.aggregate(stats.score_matrix(per_seed), reps=args.reps).iqm
        paper = PAPER.get(grouping, {"ice": "", "length": "", "p10": "", "p95": ""})
        lines.append(
            f"| {LABELS.get(grouping, grouping)} | {np.mean(ice):,.0f} ({np.std(ice):,.0f}) "
            f"| {np.mean(length):,.0f} ({np.std(length):,.0f}) | {fmt_steps(p10)} "
            f"| {fmt_steps(p95)} | {fmt_interval(iqm)} | {wall:.1f} min | {paper['ice']} "
            f"| {paper['length']} "
            f"| {paper['p10']} | {paper['p95']} |"
        )
    return "\n".join(lines)


def pooled(runs: dict[str, list[Path]], budget: int = 102_400, reps: int = 2000) -> str:
    """The milestones over all seeds' evaluation episodes together (how the paper counts), how
    much later the global trajectory reaches 10% than the separated one, and the per-seed
    factors with their 95% intervals."""
    at: dict[str, tuple[int | None, int | None]] = {}
    for grouping, dirs in runs.items():
        seeds = [read_run(d) for d in dirs]
        at[grouping] = (pooled_milestone(seeds, 0.10), pooled_milestone(seeds, 0.95))

    def when(step: int | None) -> str:
        return "never within the budget" if step is None else f"at {step:,}"

    parts = [f"{LABELS.get(g, g)} 10% {when(p10)}, 95% {when(p95)}" for g, (p10, p95) in at.items()]
    text = "Pooled over the seeds' evaluation episodes: " + "; ".join(parts) + "."
    separated, global_ = at.get("entity", (None,))[0], at.get("global", (None,))[0]
    if separated and global_:
        text += f" The global trajectory reaches 10% {global_ / separated:.1f}x later."
    elif separated and "global" in at:
        text += " The global trajectory never reaches 10% within the budget."
    if "entity" in runs and "global" in runs:
        text += " " + factors(runs, budget, reps)
    return text


def factors(runs: dict[str, list[Path]], budget: int, reps: int) -> str:
    """Per seed: how many times sooner the separated trajectory reaches each milestone than the
    global one, with its 95% CI (``stats.milestone_ratio``)."""

    def milestones(grouping: str, key: str) -> list[int | None]:
        return [
            json.loads((d / "summary.json").read_text())["milestones"].get(key)
            for d in runs[grouping]
        ]

    parts = []
    for pct, key in (("10%", "full_length_10pct"), ("95%", "full_length_95pct")):
        ratio = stats.milestone_ratio(
            milestones("global", key), milestones("entity", key), budget, reps
        )
        if ratio is None:
            parts.append(f"{pct}: neither reached it")
            continue
        mark = {">=": "≥ ", "<=": "≤ ", "~": "~ "}.get(ratio.bound, "")
        parts.append(f"{pct}: {mark}{fmt_interval(ratio.interval, 2)}x")
    return (
        "Per seed, the separated trajectory reaches the milestones sooner than the global one "
        f"by (mean env steps of the global seeds over the separated ones, 95% CI): "
        f"{'; '.join(parts)} (a seed that never got there counts at the budget, {budget:,} env "
        "steps; ≥: the true factor is larger, ≤: smaller, ~: either)."
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--groupings", nargs="+", default=["global", "entity"])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--total-timesteps", type=int, default=102_400)
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--run-root", default="runs/trajsep")
    p.add_argument("--out", type=Path, default=None, help="markdown file to write the table to")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap resamples of the intervals")
    p.add_argument("extra", nargs="*", help="more 'spawnzoo train hybrid' options, after --")
    args = p.parse_args(argv)
    started = time.time()
    jobs = [(g, s) for g in args.groupings for s in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        dirs = list(pool.map(lambda gs: launch(args, *gs), jobs))
    runs: dict[str, list[Path]] = {}
    for (g, _), d in zip(jobs, dirs):
        runs.setdefault(g, []).append(d)
    command = " ".join(["python", *sys.argv])
    text = table(args, runs) + "\n\n" + pooled(runs, args.total_timesteps, args.reps)
    header = (
        f"Command: `{command}`  \n"
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {time.time() - started:,.0f} s for this invocation "
        "(finished runs are reused)."
    )
    print(header + "\n\n" + text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(header + "\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
