"""``spawnzoo evaluate``: a trained run's policy on any env configuration it can act in.

    spawnzoo evaluate runs/cmp/runs/harvest-v0__hybrid__1                  # its held-out maps
    spawnzoo evaluate runs/cmp/runs/harvest-v0__hybrid__1 --preset paper   # another map size
    spawnzoo evaluate RUN/checkpoints/cycle_0012.pt --set players=2 --episodes 64 --out e.json
    spawnzoo evaluate RUN --set players=2 --opponent heuristic      # player 0 vs the heuristic

The target is the run's env, preset and settings with what the options give replaced
(``--env`` starts from that env's ``small`` preset). Prints the evaluation's means; ``--out``
writes them with every episode's values as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spawnzoo.envs.core.registry import REGISTRY


def _setting(text: str) -> tuple[str, object]:
    from spawnzoo.baselines.common.config import parse_setting

    return parse_setting(text)


def add_evaluate_command(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` to the ``spawnzoo`` subcommands."""
    p = sub.add_parser(
        "evaluate",
        help="evaluate a trained run (or checkpoint) on an env configuration",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("run", type=Path, help="a run directory or one of its checkpoints/*.pt")
    p.add_argument("--env", default=None, help=f"target env ({', '.join(sorted(REGISTRY))})")
    p.add_argument(
        "--preset", default=None, help="target preset (default the run's; 'none': env defaults)"
    )
    p.add_argument(
        "--set",
        dest="settings",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env setting over the target's, e.g. --set players=2 (repeatable)",
    )
    p.add_argument("--episodes", type=int, default=None, help="episodes (default the run's)")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="reset seed of the evaluation maps (default the run's held-out final maps)",
    )
    p.add_argument(
        "--max-cycles", type=int, default=None, help="episode limit (default the preset's)"
    )
    p.add_argument(
        "--opponent",
        default=None,
        help="scripted policy of every player but player 0 (heuristic, random, module:attr; "
        "'none': self-play); default the run's",
    )
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate, print the means, write ``--out``."""
    from spawnzoo.baselines.common.runs import atomic_write_json
    from spawnzoo.baselines.run_evaluation import KEEP, evaluate_run

    preset = KEEP
    if args.preset is not None:
        preset = None if args.preset.lower() in ("none", "null") else args.preset
    opponent = KEEP
    if args.opponent is not None:
        opponent = None if args.opponent.lower() in ("none", "null") else args.opponent
    if args.episodes is not None and args.episodes < 1:
        raise SystemExit("spawnzoo evaluate: --episodes must be >= 1")
    try:
        result = evaluate_run(
            args.run,
            env_id=args.env,
            preset=preset,
            settings=dict(args.settings),
            episodes=args.episodes,
            seed=args.seed,
            max_cycles=args.max_cycles,
            opponent=opponent,
        )
    except (FileNotFoundError, ValueError) as err:  # IncompatibleEnvError is a ValueError
        raise SystemExit(f"spawnzoo evaluate: {err}") from None
    on = result["evaluated_on"]
    print(
        f"{result['method']} ({result['run']}) on {on['env_id']} preset {on['preset']} "
        f"settings {json.dumps(on['env_settings'])}: {result['episodes']} episodes of at most "
        f"{result['max_cycles']} steps, reset seed {result['seed']}"
    )
    for key, value in result["metrics"].items():
        if key.startswith("eval/") and not key.endswith("_std"):
            print(f"  {key:32s} {value:.4g}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, result)
        print(f"written: {args.out}")
    return 0
