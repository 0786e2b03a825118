"""The one table of the zoo's methods: name -> ``MethodSpec`` of lazy ``"module:attr"`` entries.

A method is everything the rest of the project needs to know about it, in one place:

* ``train``: ``train(config) -> RunResult``, which writes a run directory;
* ``config``: its config dataclass (a ``PPOConfig`` subclass; its fields are the method's
  command-line options);
* ``load_agent``: ``load_agent(config, state_dict, world, *, seed, greedy, device)`` rebuilds
  the trained policy from a checkpoint's weights (``spawnzoo render --policy RUN``, the
  report's GIF, ``loading.load_policy``); ``None`` for a method that does not learn, whose
  policy is the env's policy of the same name (``random``, ``heuristic``: they evaluate with the
  same protocol and write the same run directory, see ``reference.py``).

Entries are strings, loaded only when asked for, so ``compare`` and ``spawnzoo train`` can run
``hybrid`` without ``baselines`` importing it. A new method is one ``register_method`` call (or
one entry below); a learning method without ``load_agent`` is refused when it is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spawnzoo.envs.core.registry import load

if TYPE_CHECKING:  # the CLI imports this table; torch waits until a method is loaded
    from .common.runs import RunResult


@dataclass(frozen=True)
class MethodSpec:
    """One method of the zoo (all entry points are ``"module:attr"`` strings).

    Attributes:
        name: its key in ``METHODS`` (run directories, ``--methods``, reports).
        train: ``train(config) -> RunResult``.
        config: the config dataclass ``train`` takes.
        learns: whether its runs have trained weights (checkpoints) to load.
        load_agent: ``(config, state_dict, world, *, seed, greedy, device) -> agent`` with
            ``act(batch) -> [E, S]`` actions; required when it learns, ``None`` otherwise.
        summary: one line for listings.
        extra: the pip extra its modules need beyond ``[train]`` (``"rllib"``: ``pip install
            'spawnzoo[rllib]'``), or ``None``; such a method is in no default comparison.

    Raises:
        ValueError: an entry that is not ``"module:attr"``; a learning method without
            ``load_agent`` (its runs could not be rendered or reported), or one that does not
            learn with one.
    """

    name: str
    train: str
    config: str
    learns: bool
    load_agent: str | None = None
    summary: str = ""
    extra: str | None = None

    def __post_init__(self) -> None:
        for field_name in ("train", "config", "load_agent"):
            entry = getattr(self, field_name)
            if entry is not None and entry.count(":") != 1:
                raise ValueError(
                    f"method {self.name!r}: {field_name} must be 'module:attr', got {entry!r}"
                )
        if self.learns != (self.load_agent is not None):
            raise ValueError(
                f"method {self.name!r}: a method that learns needs load_agent (how its trained "
                "policy is rebuilt for render and report); one that does not learn has none"
            )


#: method name -> spec
METHODS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> None:
    """Add ``spec`` to ``METHODS``.

    Raises:
        ValueError: the name is taken.
    """
    if spec.name in METHODS:
        raise ValueError(f"method {spec.name!r} is already registered")
    METHODS[spec.name] = spec


for _spec in (
    MethodSpec(
        "hybrid",
        train="spawnzoo.hybrid.train:train",
        config="spawnzoo.hybrid.config:HybridConfig",
        learns=True,
        load_agent="spawnzoo.hybrid.train:load_agent",
        summary="the paper's method: one conv pass, per-entity heads, trajectory separation",
    ),
    MethodSpec(
        "random",
        train="spawnzoo.baselines.reference:train_random",
        config="spawnzoo.baselines.common.config:PPOConfig",
        learns=False,
        summary="uniformly random legal actions (reference, no learning)",
    ),
    MethodSpec(
        "heuristic",
        train="spawnzoo.baselines.reference:train_heuristic",
        config="spawnzoo.baselines.common.config:PPOConfig",
        learns=False,
        summary="the env's scripted policy (reference, no learning)",
    ),
    MethodSpec(
        "independent",
        train="spawnzoo.baselines.independent.train:train",
        config="spawnzoo.baselines.independent.config:IndependentConfig",
        learns=True,
        load_agent="spawnzoo.baselines.independent.train:load_agent",
        summary="per-unit MaskablePPO with parameter sharing (SB3, one sub-env per slot)",
    ),
    MethodSpec(
        "monolithic",
        train="spawnzoo.baselines.centralized.monolithic:train",
        config="spawnzoo.baselines.centralized.config:MonolithicConfig",
        learns=True,
        load_agent="spawnzoo.baselines.centralized.monolithic:load_agent",
        summary="one brain: global planes in, per-cell actions, one value and trajectory",
    ),
    MethodSpec(
        "mappo",
        train="spawnzoo.baselines.centralized.mappo:train",
        config="spawnzoo.baselines.centralized.config:MappoConfig",
        learns=True,
        load_agent="spawnzoo.baselines.centralized.mappo:load_agent",
        summary="shared actor on egocentric views, centralized critic on the global planes",
    ),
    MethodSpec(
        "rllib-ppo",
        train="spawnzoo.baselines.rllib_ppo.train:train",
        config="spawnzoo.baselines.rllib_ppo.config:RLlibPPOConfig",
        learns=True,
        load_agent="spawnzoo.baselines.rllib_ppo.train:load_agent",
        summary="RLlib's PPO: one shared masking policy over units, sampled by env runners",
        extra="rllib",
    ),
):
    register_method(_spec)


@dataclass(frozen=True)
class Algorithm:
    """A loaded method.

    Attributes:
        name: its key in ``METHODS``.
        train: ``train(config) -> RunResult``.
        config_cls: the config dataclass ``train`` takes.
        load_agent: the loader of its trained policy (``None`` when it does not learn).
    """

    name: str
    train: Callable[[Any], RunResult]
    config_cls: type
    load_agent: Callable[..., Any] | None = None


def method_spec(name: str) -> MethodSpec:
    """The spec of method ``name``.

    Raises:
        ValueError: unknown name (listing the known ones).
    """
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available: {sorted(METHODS)}") from None


def make_algorithm(name: str) -> Algorithm:
    """Load method ``name``.

    Raises:
        ValueError: unknown name (listing the known ones).
        ImportError: the method's modules cannot be imported (named in the message).
    """
    spec = method_spec(name)
    entries = (spec.train, spec.config, spec.load_agent)
    try:
        train, config, loader = (None if e is None else load(e) for e in entries)
    except (ImportError, AttributeError) as err:
        hint = f"; it needs pip install 'spawnzoo[{spec.extra}]'" if spec.extra else ""
        raise ImportError(
            f"method {name!r} cannot be loaded ({', '.join(e for e in entries if e)}): {err}{hint}"
        ) from err
    return Algorithm(name=name, train=train, config_cls=config, load_agent=loader)
