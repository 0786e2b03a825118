"""spawnzoo: environments whose agents spawn and die mid-episode, and a zoo of learners.

    spawnzoo render --env harvest-v0 --preset small --policy heuristic --out ep.gif
    spawnzoo replay ep.replay.npz
    spawnzoo train hybrid --preset small --total-timesteps 102400
    spawnzoo compare --quick --jobs 2 --out runs/quick
    spawnzoo report runs/quick
    spawnzoo evaluate runs/quick/runs/harvest-v0__hybrid__1 --preset small

This package is the top layer, above every layer it dispatches to (``envs <- baselines <-
hybrid <- cli``). Each subcommand lives in its own module here and joins the table below by
"module:function" string, so this package imports nothing until a subcommand is built:
``render`` and ``replay`` need only the base install (``spawnzoo.envs``), ``train``,
``compare``, ``report`` and ``evaluate`` the learners.
``python -m spawnzoo.cli`` is the same command.

Errors the user can fix (bad options, damaged or crafted files, a run in use) print one line
and exit non-zero, without a traceback; ``spawnzoo --debug COMMAND ...`` also prints the
traceback of the error behind that line.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from spawnzoo.envs.core.registry import load

#: subcommand -> "module:function" taking the subparsers object and adding itself
COMMANDS: dict[str, str] = {
    "render": "spawnzoo.cli.render:add_render_command",
    "replay": "spawnzoo.cli.render:add_replay_command",
    "train": "spawnzoo.cli.train:add_train_command",
    "compare": "spawnzoo.cli.compare:add_compare_command",
    "report": "spawnzoo.cli.compare:add_report_command",
    "evaluate": "spawnzoo.cli.evaluate:add_evaluate_command",
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spawnzoo`` command."""
    parser = argparse.ArgumentParser(prog="spawnzoo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, also print the traceback of what caused it (normally one line)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for entry in COMMANDS.values():
        try:
            load(entry)(sub)
        except ImportError:  # a learner package whose extras are not installed
            continue
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    args.argv = words  # the command as typed, for commands that record it (compare)
    try:
        return args.func(args)
    except SystemExit as stop:
        # commands turn bad input into SystemExit("one line") raised from the real error
        cause = stop.__cause__ or stop.__context__
        if args.debug and cause is not None and not isinstance(cause, SystemExit):
            traceback.print_exception(type(cause), cause, cause.__traceback__)
        raise
