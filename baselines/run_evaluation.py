"""Evaluate a trained run on any env configuration its policy can act in.

    result = evaluate_run("runs/cmp/runs/harvest-v0__hybrid__1", preset="paper")
    result = evaluate_run(ckpt_path, settings={"players": 2}, episodes=64, opponent="heuristic")
    result["metrics"]["eval/ice_transferred"], result["evaluated_on"]

The run's policy is rebuilt exactly as trained (``loading.load_policy``: its own config, so its
network has the size it was trained with) and plays worlds of the target configuration under
the shared protocol (``common.evaluation.evaluate``): ``episodes`` worlds (default the run's
``eval_episodes``), each to the target preset's evaluation length, on the run's held-out final
maps unless ``seed`` names other ones. Before anything is played the policy acts once on a
target world; a configuration it cannot act in (another observation plane count, action count,
an observation window the network does not take) fails with one ``IncompatibleEnvError``
naming the shapes of both configurations.

The target is the run's env, preset and settings with what is given replaced: ``preset``
replaces the preset (the run's settings stay, e.g. its ``players``), ``settings`` are set over
them; another ``env_id`` starts from that env's ``small`` preset and no settings (the run's
settings belong to its env).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spawnzoo.envs.core.registry import REGISTRY, make_batched, presets

from .common import protocol
from .common.evaluation import evaluate
from .loading import find_run, load_policy, rebuild_config

#: ``evaluate_run``'s keyword that keeps the run's value
KEEP: Any = object()


class IncompatibleEnvError(ValueError):
    """The run's policy cannot act in the target env configuration."""


def shapes(world: Any) -> dict[str, Any]:
    """What a policy sees of ``world``: ``planes`` ``(C, H, W)`` per player, ``players``,
    ``slots``, ``actions`` and the entity ``kinds``."""
    batch = world.reset(seed=0)
    planes = world.planes()  # [E, P, C, H, W]
    kinds = getattr(world, "kind_names", None) or getattr(world, "kinds", None)
    return {
        "planes": tuple(int(d) for d in planes.shape[2:]),
        "players": int(planes.shape[1]),
        "slots": int(batch.action_mask.shape[1]),
        "actions": int(batch.action_mask.shape[2]),
        "kinds": list(kinds) if isinstance(kinds, (list, tuple)) else kinds,
    }


def _describe(shape: Mapping[str, Any]) -> str:
    c, h, w = shape["planes"]
    return (
        f"planes {c} x {h} x {w} per player, {shape['players']} player(s), "
        f"{shape['slots']} slots, {shape['actions']} actions"
    )


def target_config(
    path: str | Path,
    *,
    env_id: str | None = None,
    preset: Any = KEEP,
    settings: Mapping[str, Any] | None = None,
    episodes: int | None = None,
    max_cycles: int | None = None,
    opponent: Any = KEEP,
) -> tuple[Any, Any]:
    """``(trained, target)`` configs of the run at ``path``: as trained, and for the target.

    Raises:
        FileNotFoundError, ValueError: the path is not a run (``loading.find_run``), or the
            target env, preset or settings are not valid (the config's own message).
    """
    source = find_run(path)
    trained = rebuild_config(source, device="cpu", resume=False, progress=False)
    env_id = env_id or trained.env_id
    if env_id not in REGISTRY:
        raise ValueError(f"unknown env {env_id!r}; registered: {sorted(REGISTRY)}")
    same_env = env_id == trained.env_id
    values: dict[str, Any] = {"env_id": env_id}
    if preset is not KEEP:
        values["preset"] = preset
    elif not same_env:
        values["preset"] = "small" if "small" in presets(env_id) else None
    base = dict(trained.env_settings) if same_env else {}
    values["env_settings"] = {**base, **dict(settings or {})}
    if episodes is not None:
        values["eval_episodes"] = episodes
    if max_cycles is not None:
        values["eval_max_cycles"] = max_cycles
    elif values.get("preset", trained.preset) != trained.preset or not same_env:
        values["eval_max_cycles"] = None  # another preset: its own evaluation length
    if opponent is not KEEP:
        values["eval_opponent"] = opponent
    elif not same_env:
        values["eval_opponent"] = REGISTRY[env_id].eval_opponent
    try:
        target = dataclasses.replace(trained, **values)
    except ValueError as err:
        raise ValueError(f"the target configuration: {err}") from None
    return trained, target


def evaluate_run(
    path: str | Path,
    *,
    env_id: str | None = None,
    preset: Any = KEEP,
    settings: Mapping[str, Any] | None = None,
    episodes: int | None = None,
    seed: int | None = None,
    max_cycles: int | None = None,
    opponent: Any = KEEP,
) -> dict[str, Any]:
    """Evaluate the run (directory or checkpoint) at ``path`` on a target configuration.

    Args:
        path: a run directory (its latest checkpoint) or a checkpoint file.
        env_id: the target env (default the run's).
        preset: the target preset (default the run's; ``None``: the env's defaults).
        settings: env settings over the target's.
        episodes: worlds (episodes) to play; default the run's ``eval_episodes``.
        seed: reset seed of the evaluation worlds; default the run's held-out final maps
            (``protocol.final_map_seed``). On the run's own env it may not be one of its
            training reset seeds.
        max_cycles: evaluation length; default the run's own on its own preset, else the
            target preset's ``eval_max_cycles``.
        opponent: the scripted policy of players ``1..P-1`` (``None``: self-play); default the
            run's own (another env: that env's ``eval_opponent``).

    Returns:
        JSON-able: ``run``, ``method``, ``checkpoint``, ``trained_on`` and ``evaluated_on``
        (env, preset, settings), ``episodes``, ``seed``, ``max_cycles``, ``metrics``
        (``EvalResult.to_metrics()``) and ``episodes_detail`` (``to_dict()``).

    Raises:
        IncompatibleEnvError: the policy cannot act in the target configuration.
        FileNotFoundError, ValueError: a bad path or target (one message naming it).
    """
    source = find_run(path)
    trained, target = target_config(
        path,
        env_id=env_id,
        preset=preset,
        settings=settings,
        episodes=episodes,
        max_cycles=max_cycles,
        opponent=opponent,
    )
    if seed is None:
        seed = target.final_map_seed
    elif target.env_id == trained.env_id:
        protocol.check_disjoint_seeds(
            protocol.training_seeds(trained.seed, trained.num_iterations),
            {"evaluation": int(seed)},
        )
    check_can_act(path, trained, target)
    result = evaluate(
        lambda world: load_policy(path, world, seed=seed),
        **{**target.eval_kwargs, "seed": seed},
    )
    return {
        "run": str(source.run_dir),
        "method": source.method,
        "checkpoint": None if source.checkpoint is None else str(source.checkpoint),
        "trained_on": _config_record(trained),
        "evaluated_on": _config_record(target),
        "episodes": result.num_episodes,
        "seed": int(seed),
        "max_cycles": result.max_cycles,
        "opponent": result.opponent,
        "metrics": result.to_metrics(),
        "episodes_detail": result.to_dict(),
    }


def check_can_act(path: str | Path, trained: Any, target: Any) -> None:
    """Raise ``IncompatibleEnvError`` unless the run's policy loads for a target world and
    acts once there; the message names both configurations and their shapes."""
    world = make_batched(target.env_id, num_envs=1, **target.env_kwargs)
    try:
        agent = load_policy(path, world, seed=0)
        actions = np.asarray(agent.act(world.reset(seed=0)))
        if actions.shape != world.reset(seed=0).action_mask.shape[:2]:
            raise ValueError(f"it returned actions of shape {actions.shape}")
    except (RuntimeError, ValueError, IndexError, KeyError) as err:
        here = shapes(make_batched(trained.env_id, num_envs=1, **trained.env_kwargs))
        there = shapes(world)
        reason = " ".join(str(err).split())
        if len(reason) > 300:
            reason = reason[:300] + " ..."
        raise IncompatibleEnvError(
            f"the {find_run(path).method} policy of {path} cannot act in "
            f"{_name(target)}: it was trained on {_name(trained)} ({_describe(here)}); the "
            f"target has {_describe(there)} ({reason})"
        ) from None


def _name(config: Any) -> str:
    settings = "".join(f" {k}={v}" for k, v in config.env_settings.items())
    return f"{config.env_id} preset {config.preset}{settings}"


def _config_record(config: Any) -> dict[str, Any]:
    return {
        "env_id": config.env_id,
        "preset": config.preset,
        "env_settings": dict(config.env_settings),
    }
