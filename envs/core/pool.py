"""Finite pools of agent IDs: every spawn gets a fresh name, no name is reused in an episode.

PettingZoo allows agents to appear mid-episode only with IDs never seen before in that episode
(``parallel_api_test`` fails on a revived ID), and most learning code needs ``possible_agents``
to be finite. An ``AgentPool`` is that finite list: for each ``(owner, kind)`` pair a fixed
number of serial numbers, so ``player_0_heavy_12`` is the 13th heavy of player 0 this episode.
An env hands out serial numbers in spawn order and masks spawning once a pool is used up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AgentPool:
    """All agent names an env can produce, and the map between names and (owner, kind, serial).

    Args:
        owners: owner names, e.g. ``("player_0", "player_1")``.
        kinds: kind names, e.g. ``("factory", "light", "heavy")``.
        sizes: ``[len(kinds)]`` serial numbers available per (owner, kind).
    """

    owners: tuple[str, ...]
    kinds: tuple[str, ...]
    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.sizes) != len(self.kinds):
            raise ValueError(f"one pool size per kind expected, got {self.sizes} for {self.kinds}")
        if any(s < 0 for s in self.sizes):
            raise ValueError(f"pool sizes must be >= 0, got {self.sizes}")
        names = []
        for owner in self.owners:
            for kind, size in zip(self.kinds, self.sizes):
                names.extend(f"{owner}_{kind}_{i}" for i in range(size))
        object.__setattr__(self, "_names", tuple(names))
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})
        # offset[o, k] = index of serial 0 of (owner o, kind k) in the flat name list
        per_owner = int(sum(self.sizes))
        kind_off = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        offsets = np.arange(len(self.owners))[:, None] * per_owner + kind_off[None, :]
        object.__setattr__(self, "_offsets", offsets)
        # parts[i] = (owner, kind, serial) of names[i], for the name -> parts direction
        parts = [
            (o, k, i)
            for o in range(len(self.owners))
            for k, size in enumerate(self.sizes)
            for i in range(size)
        ]
        object.__setattr__(self, "_parts", tuple(parts))

    @property
    def names(self) -> tuple[str, ...]:
        """Every possible agent name (``possible_agents``), owners outermost, then kinds."""
        return self._names  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index  # type: ignore[attr-defined]

    def index(self, name: str) -> int:
        """Position of ``name`` in ``names``; ``ValueError`` naming it if it is not in the pool."""
        try:
            return self._index[name]  # type: ignore[attr-defined]
        except KeyError:
            raise ValueError(f"unknown agent {name!r}: not in this env's possible_agents") from None

    def parts(self, name: str) -> tuple[int, int, int]:
        """``(owner, kind, serial)`` indices of ``name`` (``ValueError`` naming it if unknown)."""
        return self._parts[self.index(name)]  # type: ignore[attr-defined]

    def flat_index(self, owner: np.ndarray, kind: np.ndarray, serial: np.ndarray) -> np.ndarray:
        """Vectorised ``(owner, kind, serial) -> index into names``.

        Args:
            owner: ``[n]`` int. kind: ``[n]`` int. serial: ``[n]`` int (``< sizes[kind]``).

        Returns:
            ``[n]`` int64.
        """
        return self._offsets[owner, kind] + serial  # type: ignore[attr-defined]

    def name_of(self, owner: int, kind: int, serial: int) -> str:
        """The name of one ``(owner, kind, serial)`` triple."""
        return self.names[int(self.flat_index(np.int64(owner), np.int64(kind), np.int64(serial)))]

    def names_of(self, owner: Sequence[int], kind: Sequence[int], serial: Sequence[int]) -> list:
        """Names of many triples (``[n]`` ints each) as a list of ``n`` strings."""
        idx = self.flat_index(np.asarray(owner), np.asarray(kind), np.asarray(serial))
        names = self.names
        return [names[i] for i in idx.tolist()]
