"""The one table of training methods: name -> lazy ``"module:attr"`` entry points.

Every method is a pair: a ``train(config) -> RunResult`` function and its config class (a
``PPOConfig`` subclass). Entries are strings, loaded only when asked for, so ``compare`` and
``spawnzoo train`` can run ``hybrid`` without ``baselines`` importing it. The reference policies
``random`` and ``heuristic`` are methods too: they do not learn, but evaluate with the same
protocol and write the same run directory (see ``reference.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spawnzoo.envs.core.registry import load

if TYPE_CHECKING:  # the CLI imports this table; torch waits until a method is loaded
    from .common.runs import RunResult

#: method name -> ("module:train function", "module:config class")
ALGORITHMS: dict[str, tuple[str, str]] = {
    "hybrid": ("spawnzoo.hybrid.train:train", "spawnzoo.hybrid.config:HybridConfig"),
    "random": (
        "spawnzoo.baselines.reference:train_random",
        "spawnzoo.baselines.common.config:PPOConfig",
    ),
    "heuristic": (
        "spawnzoo.baselines.reference:train_heuristic",
        "spawnzoo.baselines.common.config:PPOConfig",
    ),
    "independent": (
        "spawnzoo.baselines.independent.train:train",
        "spawnzoo.baselines.independent.config:IndependentConfig",
    ),
    "monolithic": (
        "spawnzoo.baselines.centralized.monolithic:train",
        "spawnzoo.baselines.centralized.config:MonolithicConfig",
    ),
    "mappo": (
        "spawnzoo.baselines.centralized.mappo:train",
        "spawnzoo.baselines.centralized.config:MappoConfig",
    ),
}


@dataclass(frozen=True)
class Algorithm:
    """A loaded method.

    Attributes:
        name: its key in ``ALGORITHMS``.
        train: ``train(config) -> RunResult``.
        config_cls: the config dataclass ``train`` takes.
    """

    name: str
    train: Callable[[Any], RunResult]
    config_cls: type


def make_algorithm(name: str) -> Algorithm:
    """Load method ``name``.

    Raises:
        ValueError: unknown name (listing the known ones).
        ImportError: the method's modules cannot be imported (named in the message).
    """
    try:
        train, config = ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available: {sorted(ALGORITHMS)}") from None
    try:
        return Algorithm(name=name, train=load(train), config_cls=load(config))
    except (ImportError, AttributeError) as err:
        raise ImportError(f"method {name!r} cannot be loaded ({train}, {config}): {err}") from err
