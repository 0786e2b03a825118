"""Reference policies on the batched core: anything with ``act(batch) -> actions`` is a policy.

A policy is bound to the ``BatchedEnv`` it plays (so it can read planes or rule state) and maps a
``BatchStep`` to an ``[E, S]`` int array of actions. ``random`` works on every env; envs register
their scripted policies (e.g. harvest's ``heuristic``) in their ``EnvSpec.policies``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .batched import BatchedEnv, BatchStep


class Policy(Protocol):
    """What ``spawnzoo render``, evaluation and comparisons call."""

    def act(self, batch: BatchStep) -> np.ndarray:
        """``batch``: the last ``BatchStep``. Returns ``[E, S]`` int64 actions."""
        ...


class RandomPolicy:
    """Uniformly random legal actions (the floor of every comparison).

    Args:
        world: the env it plays. seed: seed of its own generator.
    """

    def __init__(self, world: BatchedEnv, seed: int | None = None):
        self.world = world
        self.rng = np.random.default_rng(seed)

    def act(self, batch: BatchStep) -> np.ndarray:
        """``[E, S]`` actions drawn uniformly from each slot's ``action_mask`` ``[E, S, A]``."""
        return sample_masked(self.rng, batch.action_mask)


def sample_masked(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """One uniform draw among the true entries of each row of ``mask``.

    Args:
        rng: the generator. mask: ``[..., A]`` bool with at least one true entry per row.

    Returns:
        ``[...]`` int64 indices.
    """
    return np.argmax(rng.random(mask.shape) * mask, axis=-1)
