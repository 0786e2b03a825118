"""``spawnzoo compare`` and ``spawnzoo report``.

    spawnzoo compare --quick --jobs 2 --out runs/quick             # all methods, < 10 min, 2 cores
    spawnzoo compare --env harvest-v0 --preset small \\
        --methods random,heuristic,independent,mappo,monolithic,hybrid \\
        --total-timesteps 100k --seeds 5 --out runs/cmp --jobs 2
    spawnzoo compare --suite paper --preset paper --total-timesteps 102400 --seeds 3 \\
        --out runs/paper
    spawnzoo compare --quick --backend ray --out runs/quick       # each run a Ray task
    spawnzoo compare ... --backend ray --address auto --out /shared/cmp   # on a Ray cluster
    spawnzoo report runs/cmp                                      # rebuild report.md from the runs

Rerunning a ``compare`` command skips finished runs and resumes interrupted ones.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from spawnzoo.baselines.compare.plan import (
    COMPARE_PRESETS,
    DEFAULT_EVAL_INTERVAL,
    DEFAULT_METHODS,
    DEFAULT_SEEDS,
    Comparison,
    parse_count,
    parse_seeds,
)
from spawnzoo.baselines.compare.suite import SUITES
from spawnzoo.envs.core.registry import REGISTRY


def _setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` (value as JSON, else text); torch-free until an option is parsed."""
    from spawnzoo.baselines.common.config import parse_setting

    return parse_setting(text)


def add_compare_command(sub: argparse._SubParsersAction) -> None:
    """Add ``compare`` to the ``spawnzoo`` subcommands."""
    presets = ", ".join(f"{k} ({v.description})" for k, v in COMPARE_PRESETS.items())
    p = sub.add_parser(
        "compare",
        help="train several methods x seeds on the same env and budget, then write a report",
        description=__doc__.split("\n\n")[0],
        epilog=f"Comparison presets: {presets}. Suites: "
        + ", ".join(f"{k} ({v.description})" for k, v in SUITES.items()),
    )
    p.add_argument("--env", default="harvest-v0", help=f"env id ({', '.join(sorted(REGISTRY))})")
    p.add_argument(
        "--preset",
        default=None,
        help="the env's preset (tiny, small, paper), or a comparison preset "
        f"({', '.join(COMPARE_PRESETS)}); default small",
    )
    p.add_argument("--quick", action="store_true", help="same as --preset quick")
    p.add_argument(
        "--methods",
        default=None,
        help=f"comma-separated methods; default: {','.join(DEFAULT_METHODS)}",
    )
    p.add_argument(
        "--total-timesteps",
        default=None,
        metavar="N",
        help="env steps per learning run: 102400, 100k, 1.5M (default: the methods' own)",
    )
    p.add_argument(
        "--seeds",
        default=None,
        help=f"a count (3 = seeds 1,2,3) or a list (1,4,7); default {len(DEFAULT_SEEDS)} "
        "(the quick preset: 1)",
    )
    p.add_argument(
        "--eval-interval",
        default=None,
        metavar="N",
        help="env steps between evaluations (and checkpoints) of every learning run, rounded "
        "to whole cycles of each method (default "
        f"{DEFAULT_EVAL_INTERVAL:,}, the paper's cycle)",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (runs/, report.md)")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs at a time (default 1; with --backend ray: as many as the cluster fits, and "
        "a local Ray started for the run gets JOBS x --cpus-per-run CPUs)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per run (default 1; with --backend ray: --cpus-per-run)",
    )
    p.add_argument(
        "--backend",
        choices=("process", "ray"),
        default="process",
        help="where runs train: local worker processes (default), or Ray tasks on a local Ray "
        "or a cluster (pip install 'spawnzoo[ray]'; docs/scale-out.md)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --backend ray: a running cluster (auto, or ray://HOST:PORT); default: start "
        "a local Ray for this comparison",
    )
    p.add_argument(
        "--cpus-per-run",
        type=int,
        default=None,
        metavar="N",
        help="with --backend ray: CPUs each run's task declares, and its torch threads (default 1)",
    )
    p.add_argument(
        "--gpus-per-run",
        type=float,
        default=None,
        metavar="F",
        help="with --backend ray: GPUs each run's task declares (0.5 shares one GPU between two "
        "runs; default 0); above 0, learners train on cuda",
    )
    p.add_argument(
        "--set",
        dest="settings",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env setting for every run, e.g. --set players=2 (repeatable)",
    )
    p.add_argument(
        "--config",
        dest="config",
        type=_setting,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="config field for every method that has it, e.g. --config update_epochs=4",
    )
    p.add_argument("--suite", default=None, choices=sorted(SUITES), help="run a suite's variants")
    p.add_argument(
        "--variants",
        default=None,
        help="with --suite: comma-separated variants to run (default: all)",
    )
    p.add_argument(
        "--eval-on",
        default=None,
        metavar="TARGETS",
        help="after training, evaluate every run on these env configurations too (the "
        "report's generalisation table): comma-separated presets, each optionally with "
        "+KEY=VALUE settings, e.g. small,paper,small+players=2",
    )
    p.add_argument("--no-gif", action="store_true", help="skip the best method's GIF")
    p.add_argument("--no-report", action="store_true", help="only run; 'spawnzoo report' later")
    p.set_defaults(func=run_compare)


def add_report_command(sub: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``spawnzoo`` subcommands."""
    p = sub.add_parser(
        "report", help="rebuild a comparison's report.md, plots and GIF from its run directories"
    )
    p.add_argument("out", type=Path, help="the folder 'spawnzoo compare --out' wrote")
    p.add_argument("--no-gif", action="store_true", help="skip the best method's GIF")
    p.add_argument(
        "--reps",
        type=int,
        default=None,
        help="bootstrap resamples of every interval (default 2000)",
    )
    p.set_defaults(func=run_report)


def comparison_from_args(args: argparse.Namespace) -> Comparison:
    """The ``Comparison`` the options ask for: the compare preset's values under the explicit
    options (``args.argv``, the command's words, is recorded for the report).

    Raises:
        ValueError: an unknown env, preset, method, suite or variant; a malformed budget or
            seed list; config fields no method has; settings a method's config rejects.
    """
    preset_name = "quick" if args.quick else args.preset
    if args.quick and args.preset not in (None, "quick"):
        raise ValueError(f"--quick is --preset quick; it cannot go with --preset {args.preset}")
    compare_preset = COMPARE_PRESETS.get(preset_name or "")
    env_preset = compare_preset.env_preset if compare_preset else (preset_name or "small")
    methods: tuple[str, ...] = DEFAULT_METHODS
    budget: int | None = None
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    config: dict = {}
    if compare_preset is not None:
        methods, seeds = compare_preset.methods, compare_preset.seeds
        budget, config = compare_preset.total_timesteps, dict(compare_preset.config)
    if args.methods is not None and args.suite is not None:
        raise ValueError("--methods does not go with --suite: choose its runs with --variants")
    if args.methods is not None:
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.total_timesteps is not None:
        budget = parse_count(args.total_timesteps)
    if args.seeds is not None:
        seeds = parse_seeds(args.seeds)
    config.update(dict(args.config))
    eval_interval: int | None = None
    if args.eval_interval is not None:
        try:
            eval_interval = parse_count(args.eval_interval)
        except ValueError as err:
            raise ValueError(f"--eval-interval: {err}") from None
    elif "eval_every" not in config:
        eval_interval = DEFAULT_EVAL_INTERVAL
    variants: tuple[str, ...] = ()
    if args.variants is not None:
        if args.suite is None:
            raise ValueError("--variants needs --suite")
        variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    words = getattr(args, "argv", None) or sys.argv[1:]
    comparison = Comparison(
        env_id=args.env,
        preset=env_preset,
        env_settings=dict(args.settings),
        methods=() if args.suite is not None else methods,
        seeds=seeds,
        total_timesteps=budget,
        config=config,
        suite=args.suite,
        variants=variants,
        out=args.out,
        command=("spawnzoo", *words),
        eval_interval=eval_interval,
        eval_on=tuple(t.strip() for t in (getattr(args, "eval_on", None) or "").split(",")),
    )
    comparison.check()
    return comparison


def launcher_from_args(args: argparse.Namespace) -> Any:
    """The ``runner.Launcher`` of ``--backend`` and its options (Ray is imported when the
    comparison starts, not here).

    Raises:
        ValueError: a count below 1, Ray options without ``--backend ray``, or ``--threads``
            with it (a Ray run's threads are its ``--cpus-per-run``).
        ImportError: ``--backend ray`` without Ray installed (says how to install it).
    """
    from spawnzoo.baselines.compare.runner import ProcessLauncher

    for name in ("jobs", "threads", "cpus_per_run"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    ray_options = {
        "--address": getattr(args, "address", None),
        "--cpus-per-run": getattr(args, "cpus_per_run", None),
        "--gpus-per-run": getattr(args, "gpus_per_run", None),
    }
    if getattr(args, "backend", "process") != "ray":
        given = [name for name, value in ray_options.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only go with --backend ray")
        return ProcessLauncher(args.jobs or 1, args.threads or 1)
    if args.threads is not None:
        raise ValueError(
            "with --backend ray, a run's torch threads are its --cpus-per-run; drop --threads"
        )
    from spawnzoo.baselines.compare.ray_backend import RayLauncher, import_ray

    import_ray()  # fail now, with the install line, rather than after the checks
    return RayLauncher(
        address=args.address,
        cpus_per_run=args.cpus_per_run or 1,
        gpus_per_run=args.gpus_per_run or 0.0,
        jobs=args.jobs,
    )


def run_compare(args: argparse.Namespace) -> int:
    """Check the request, run what is not finished, write the report; 1 if a run failed."""
    from spawnzoo.baselines.compare.report import build_report
    from spawnzoo.baselines.compare.runner import run_comparison

    try:
        comparison = comparison_from_args(args)
    except ValueError as err:
        raise SystemExit(f"spawnzoo compare: {err}") from None
    try:
        launcher = launcher_from_args(args)
    except (ValueError, ImportError) as err:
        raise SystemExit(f"spawnzoo compare: {err}") from None
    runs = comparison.runs()
    print(
        f"{len(runs)} runs of {comparison.env_id} (preset {comparison.preset}) into "
        f"{comparison.out}: {', '.join(dict.fromkeys(s.label for s in runs))} x seeds "
        f"{', '.join(map(str, comparison.seeds))}",
        flush=True,
    )
    try:
        statuses = run_comparison(comparison, launcher=launcher)
    except ValueError as err:
        raise SystemExit(f"spawnzoo compare: {err}") from None
    except KeyboardInterrupt:
        print(
            "\ninterrupted: finished runs are kept; run the same command again to resume:\n  "
            + shlex.join(comparison.command),
            file=sys.stderr,
        )
        return 130
    failed = [s for s in statuses if s.state == "failed"]
    for s in failed:
        print(f"failed: {s.spec.label} seed {s.spec.seed}: {s.error}", file=sys.stderr)
    if comparison.eval_on:
        from spawnzoo.baselines.compare.generalise import evaluate_targets

        run_dirs = [comparison.run_dir(spec) for spec in runs]
        written = evaluate_targets(
            comparison.out, run_dirs, comparison.env_id, comparison.eval_on, jobs=args.jobs
        )
        print(f"generalisation: {len(written)} evaluation(s) on {', '.join(comparison.eval_on)}")
    if not args.no_report:
        path = build_report(comparison.out, gif=not args.no_gif)
        print(f"report: {path}")
    return 1 if failed else 0


def run_report(args: argparse.Namespace) -> int:
    """Rebuild the report of ``args.out``."""
    from spawnzoo.baselines.compare.report import build_report
    from spawnzoo.baselines.compare.stats import DEFAULT_REPS

    reps = DEFAULT_REPS if args.reps is None else args.reps
    if reps < 1:
        raise SystemExit("spawnzoo report: --reps must be >= 1")
    try:
        path = build_report(args.out, gif=not args.no_gif, reps=reps)
    except FileNotFoundError as err:
        raise SystemExit(f"spawnzoo report: {err}") from None
    print(f"report: {path}")
    return 0
