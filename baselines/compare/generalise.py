"""Generalisation: every finished run of a comparison evaluated on other env configurations.

``spawnzoo compare --eval-on small,paper,small+players=2`` trains as usual, then evaluates each
finished run's policy (``run_evaluation.evaluate_run``: the held-out final maps of its seed,
its own episode count) on each target and writes one JSON per (run, target) into
``OUT/generalisation/``; the report turns them into a table with a row per method. A target
is an env preset, optionally with settings joined by ``+``: ``paper``, ``small+players=2``.
Results already on disk are kept (a rerun evaluates only what is missing); a run whose policy
cannot act in a target gets an ``error`` entry instead, and the report says so.

Parsing targets needs no torch (``parse_target``); evaluating them does (``evaluate_targets``).
"""

from __future__ import annotations

import json
import multiprocessing
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from spawnzoo.envs.core.registry import presets

from ..common.runs import SUMMARY_FILE, atomic_write_json

#: folder of the results under the comparison's output folder
GENERALISATION_DIR = "generalisation"


def parse_target(env_id: str, text: str) -> tuple[str, dict[str, Any]]:
    """``"small+players=2"`` -> ``("small", {"players": 2})`` (values as JSON, else text).

    Raises:
        ValueError: an unknown preset of ``env_id`` or a setting without ``=``.
    """
    preset, *parts = text.strip().split("+")
    if preset not in presets(env_id):
        raise ValueError(
            f"--eval-on: {text!r}: unknown preset {preset!r} for {env_id}; its presets: "
            f"{sorted(presets(env_id))} (a target is PRESET or PRESET+KEY=VALUE)"
        )
    settings: dict[str, Any] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ValueError(f"--eval-on: {text!r}: expected KEY=VALUE after '+', got {part!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return preset, settings


def parse_targets(env_id: str, text: str | Sequence[str] | None) -> tuple[str, ...]:
    """The targets of ``--eval-on`` (comma-separated), each checked by ``parse_target``."""
    if not text:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    targets = tuple(t.strip() for t in items if t.strip())
    for target in targets:
        parse_target(env_id, target)
    if len(set(targets)) != len(targets):
        raise ValueError(f"--eval-on names a target twice: {list(targets)}")
    return targets


def result_path(out: Path, run_name: str, target: str) -> Path:
    """``OUT/generalisation/{run}__{target}.json`` (the target made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "-", target)
    return out / GENERALISATION_DIR / f"{run_name}__{safe}.json"


def evaluate_targets(
    out: Path,
    run_dirs: Sequence[Path],
    env_id: str,
    targets: Sequence[str],
    *,
    jobs: int = 1,
) -> list[Path]:
    """Evaluate every finished run of ``run_dirs`` on every target not evaluated yet.

    Args:
        jobs: evaluations at a time; above 1 each runs in a ``spawn``ed worker process with one
            torch thread (as the comparison's training workers do).

    Returns:
        The result files written now, in (run, target) order.
    """
    tasks = [
        (run_dir, target, env_id, result_path(out, run_dir.name, target))
        for run_dir in run_dirs
        if (run_dir / SUMMARY_FILE).exists()  # unfinished: the report leaves it out anyway
        for target in targets
        if not result_path(out, run_dir.name, target).exists()
    ]
    if jobs > 1 and len(tasks) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_one_thread) as pool:
            return list(pool.map(_evaluate_one, tasks))
    return [_evaluate_one(task) for task in tasks]


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _evaluate_one(task: tuple[Path, str, str, Path]) -> Path:
    """Evaluate one run on one target and write its result file (or its error)."""
    from ..run_evaluation import IncompatibleEnvError, evaluate_run

    run_dir, target, env_id, path = task
    preset, settings = parse_target(env_id, target)
    record: dict[str, Any] = {"target": target, "run_dir": run_dir.name}
    try:
        record |= evaluate_run(run_dir, preset=preset, settings=settings)
    except IncompatibleEnvError as err:
        record["error"] = str(err)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record)
    return path


def read_results(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """``(run directory name, target) -> result`` for every file under
    ``OUT/generalisation``."""
    folder = out / GENERALISATION_DIR
    results = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = json.loads(path.read_text())
        results[(data["run_dir"], data["target"])] = data
    return results
