"""One table of environments: id -> lazy "module:attr" entry points, presets and defaults.

``make("harvest-v0", preset="small", players=2)`` builds the PettingZoo parallel env;
``make_batched("harvest-v0", num_envs=64, preset="small")`` builds the learners' batched core
from the same settings. Every env is also registered in PettingZoo's own registry as
``spawnzoo/<id>``, so ``pettingzoo.make("parallel", "spawnzoo/harvest-v0")`` works too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnvSpec:
    """How to build one env.

    Attributes:
        id: ``name-vN``.
        parallel_entry_point: ``"module:attr"`` of a callable returning the ParallelEnv.
        batched_entry_point: ``"module:attr"`` of a callable ``(num_envs, preset, **settings)``
            returning the ``BatchedEnv``.
        presets: ``"module:attr"`` of the env's dict of named presets.
        config_entry_point: ``"module:attr"`` of ``make_config(base=None, preset=None,
            **settings)``, the env's frozen, validated config (its numbers, ``map_size``
            among them) without building a world; ``None`` if the env has none.
        kwargs: default settings merged under the caller's.
        policies: scripted policies, name -> ``"module:attr"`` of a class ``(world, seed)`` with
            ``act(batch) -> actions``; ``random`` is available for every env.
        conformance: settings the conformance suite runs the env under (presets, players, ...);
            keep them small: the whole suite runs once per entry.
        headline_metrics: the per-player episode metrics (names in ``FinalState.metrics``)
            that say how well a policy plays this env; comparison reports put them first and
            plot their learning curves.
        eval_opponent: the scripted policy (a ``policies`` name) that comparisons evaluate
            learners against on this competitive env, so ``win`` reads as a win rate against
            it; ``None`` (cooperative or single-player envs): the policy plays every player.
    """

    id: str
    parallel_entry_point: str
    batched_entry_point: str
    presets: str
    config_entry_point: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)
    conformance: tuple[dict[str, Any], ...] = ({},)
    headline_metrics: tuple[str, ...] = ()
    eval_opponent: str | None = None

    def __post_init__(self) -> None:
        if self.eval_opponent is not None and self.eval_opponent not in {"random", *self.policies}:
            raise ValueError(
                f"{self.id}: eval_opponent {self.eval_opponent!r} is not one of its policies "
                f"{sorted({'random', *self.policies})}"
            )


REGISTRY: dict[str, EnvSpec] = {}


def load(entry_point: str) -> Any:
    """Import ``"module:attr"`` and return the attribute."""
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)


def register(spec: EnvSpec) -> None:
    """Add ``spec`` to the table and to PettingZoo's registry as ``spawnzoo/<id>``."""
    REGISTRY[spec.id] = spec
    import pettingzoo

    pz_registry = pettingzoo.env_registry.registration._get_registry("parallel")
    if f"spawnzoo/{spec.id}" not in pz_registry:
        pettingzoo.register(
            "parallel", f"spawnzoo/{spec.id}", spec.parallel_entry_point, kwargs=dict(spec.kwargs)
        )


def spec(env_id: str) -> EnvSpec:
    """The spec of ``env_id``; ``ValueError`` listing the known ids if there is none."""
    try:
        return REGISTRY[env_id]
    except (KeyError, TypeError):  # TypeError: an unhashable id, e.g. a list
        raise ValueError(f"unknown env {env_id!r}; registered: {sorted(REGISTRY)}") from None


def make(env_id: str, **kwargs: Any):
    """The PettingZoo ParallelEnv of ``env_id`` (``preset=``, ``render_mode=``, settings...)."""
    s = spec(env_id)
    creator: Callable[..., Any] = load(s.parallel_entry_point)
    return creator(**{**s.kwargs, **kwargs})


def make_batched(env_id: str, num_envs: int = 1, **kwargs: Any):
    """The batched core of ``env_id`` stepping ``num_envs`` worlds (same settings as ``make``)."""
    s = spec(env_id)
    creator: Callable[..., Any] = load(s.batched_entry_point)
    return creator(num_envs=num_envs, **{**s.kwargs, **kwargs})


def presets(env_id: str) -> dict[str, Any]:
    """The named presets of ``env_id``."""
    return load(spec(env_id).presets)


def env_config(env_id: str, preset: str | None = None, **settings: Any) -> Any:
    """The frozen config ``env_id`` would run with (preset + settings over its defaults),
    validated, without building a world: e.g. ``env_config("harvest-v0", "small").map_size``.

    Raises:
        ValueError: the env has no config entry point, or the settings are invalid.
    """
    s = spec(env_id)
    if s.config_entry_point is None:
        raise ValueError(f"{env_id} registers no config_entry_point")
    return load(s.config_entry_point)(None, preset, **{**s.kwargs, **settings})


def make_policy(env_id: str, name: str, world: Any, seed: int | None = None) -> Any:
    """A policy bound to ``world``: ``"random"``, one of the env's ``policies``, or the
    ``"module:attr"`` of any class taking ``(world, seed=...)`` with ``act(batch)``.

    Raises:
        ValueError: the name is not available for this env (listing those that are).
    """
    table = {"random": "spawnzoo.envs.core.policies:RandomPolicy", **spec(env_id).policies}
    if ":" in name:
        return load(name)(world, seed=seed)
    if name not in table:
        raise ValueError(f"unknown policy {name!r} for {env_id}; available: {sorted(table)}")
    return load(table[name])(world, seed=seed)
