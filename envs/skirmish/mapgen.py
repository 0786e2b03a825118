"""Skirmish maps: rocks, bases and capture points, mirror-symmetric between the two teams.

Each map draws one of three symmetries from its seed (``SYMMETRIES``): a half-turn rotation about
the map centre, a left-right mirror or a top-bottom mirror. Everything is placed in player 0's
half and copied to player 1's by the symmetry, so both teams see the same map up to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.settings import NoRoomError
from .config import SkirmishConfig

#: the symmetry of a map: index -> name
SYMMETRIES = ("rotate", "mirror_x", "mirror_y")
ROTATE, MIRROR_X, MIRROR_Y = 0, 1, 2


@dataclass
class SkirmishMap:
    """One generated map (``n = map_size``, ``B`` bases per player, ``K`` capture points).

    Attributes:
        rock: ``[n, n]`` bool, impassable cells.
        bases: ``[2, B]`` int64 flat cells ``y * n + x`` of each team's bases (``bases[1, j]`` is
            the mirror image of ``bases[0, j]``).
        capture: ``[K]`` int64 flat cells of the capture points' centres (``capture[2 i + 1]`` is
            the mirror image of ``capture[2 i]``).
        symmetry: index into ``SYMMETRIES``.
    """

    rock: np.ndarray
    bases: np.ndarray
    capture: np.ndarray
    symmetry: int


def mirror(y: np.ndarray, x: np.ndarray, n: int, symmetry: int) -> tuple[np.ndarray, np.ndarray]:
    """The image of cells ``(y, x)`` (any equal shapes) under ``symmetry`` on an ``n x n`` map."""
    if symmetry == ROTATE:
        return n - 1 - y, n - 1 - x
    if symmetry == MIRROR_X:
        return y, n - 1 - x
    return n - 1 - y, x


def depth(y: np.ndarray, x: np.ndarray, n: int, symmetry: int) -> np.ndarray:
    """Cells between ``(y, x)`` and the line that splits the teams' halves (0 next to it);
    negative in player 1's half."""
    v = x if symmetry == MIRROR_X else y
    return n // 2 - 1 - v


def generate_map(rng: np.random.Generator, cfg: SkirmishConfig) -> SkirmishMap:
    """Draw a map: symmetry, rock clusters, bases at the back, capture points towards the middle.

    Bases sit at depth ``>= n // 4`` in their half, at least ``base_min_distance`` (Chebyshev)
    from every other base and capture point, off the border, with their four neighbours free.
    Capture zones are free of rock, disjoint, fully on the map, at depth ``< n // 4`` where they
    fit. Every base and capture point is reachable from every other; a map that fails this is
    drawn again (after 20 failures the rocks are dropped).

    Raises:
        NoRoomError: 40 draws could not place the bases and capture points. ``SkirmishConfig``
            rejects settings whose bases and zones do not fit in a half by area; settings that
            fit by area but not by the distances above end here.
    """
    for attempt in range(40):
        m = _draw(rng, cfg, rocks=attempt < 20)
        if m is not None and _connected(m, cfg.map_size):
            return m
    raise NoRoomError(
        f"could not place {cfg.bases_per_player} bases and {cfg.capture_points} capture points "
        f"on a {cfg.map_size}x{cfg.map_size} map; use fewer (bases_per_player, capture_points), "
        f"a smaller capture_radius ({cfg.capture_radius}) or base_min_distance "
        f"({cfg.base_min_distance}), or a larger map_size"
    )


def _draw(rng: np.random.Generator, cfg: SkirmishConfig, rocks: bool) -> SkirmishMap | None:
    n = cfg.map_size
    sym = int(rng.integers(len(SYMMETRIES)))
    yy, xx = np.mgrid[0:n, 0:n]
    d = depth(yy, xx, n, sym)
    rock = np.zeros((n, n), dtype=bool)
    if rocks and cfg.rock_density > 0:
        target = int(round(cfg.rock_density * n * n / 2))
        own = np.argwhere(d >= 0)
        while rock[d >= 0].sum() < target:
            y, x = own[rng.integers(len(own))]
            for _ in range(int(rng.integers(1, 5))):
                if 0 <= y < n and 0 <= x < n and d[y, x] >= 0:
                    rock[y, x] = True
                dy, dx = ((-1, 0), (0, 1), (1, 0), (0, -1))[int(rng.integers(4))]
                y, x = y + dy, x + dx
        my, mx = mirror(yy, xx, n, sym)
        rock |= rock[my, mx]
    taken: list[tuple[int, int]] = []  # centres of bases and capture points, both halves
    free = np.zeros((n, n), dtype=bool)  # cells that must stay free of rock
    bases = np.zeros((2, cfg.bases_per_player), dtype=np.int64)
    inner = (yy >= 1) & (yy < n - 1) & (xx >= 1) & (xx < n - 1)
    for j in range(cfg.bases_per_player):
        ok = inner & (d >= n // 4) & _far(taken, yy, xx, cfg.base_min_distance)
        cell = _pick(rng, ok)
        if cell is None:
            return None
        y, x = cell
        my, mx = mirror(np.int64(y), np.int64(x), n, sym)
        taken += [(y, x), (int(my), int(mx))]
        bases[0, j], bases[1, j] = y * n + x, my * n + mx
        for cy, cx in ((y, x), (int(my), int(mx))):
            free[max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 2] = True
    r = cfg.capture_radius
    capture = np.zeros(cfg.capture_points, dtype=np.int64)
    zones: list[tuple[int, int]] = []
    on_map = (yy >= r) & (yy < n - r) & (xx >= r) & (xx < n - r)
    for i in range(cfg.capture_points // 2):
        ok = (
            on_map
            & (d >= r)
            & _far(taken, yy, xx, cfg.base_min_distance)
            & _far(zones, yy, xx, 2 * r + 1)
        )
        cell = _pick(rng, ok & (d < max(n // 4, r + 1))) or _pick(rng, ok)
        if cell is None:
            return None
        y, x = cell
        my, mx = mirror(np.int64(y), np.int64(x), n, sym)
        zones += [(y, x), (int(my), int(mx))]
        capture[2 * i], capture[2 * i + 1] = y * n + x, my * n + mx
        for cy, cx in zones[-2:]:
            free[cy - r : cy + r + 1, cx - r : cx + r + 1] = True
    rock &= ~free
    return SkirmishMap(rock=rock, bases=bases, capture=capture, symmetry=sym)


def _far(points: list[tuple[int, int]], yy: np.ndarray, xx: np.ndarray, dist: int) -> np.ndarray:
    """``[n, n]`` bool: cells at Chebyshev distance ``>= dist`` from every point."""
    ok = np.ones(yy.shape, dtype=bool)
    for y, x in points:
        ok &= np.maximum(np.abs(yy - y), np.abs(xx - x)) >= dist
    return ok


def _pick(rng: np.random.Generator, ok: np.ndarray) -> tuple[int, int] | None:
    """A uniformly random true cell ``(y, x)`` of ``ok``, or ``None``."""
    cells = np.argwhere(ok)
    if len(cells) == 0:
        return None
    y, x = cells[rng.integers(len(cells))]
    return int(y), int(x)


def _connected(m: SkirmishMap, n: int) -> bool:
    """Whether every base's neighbourhood and every capture point are reachable from each other
    over rock-free cells (4-connected flood fill from the first base)."""
    passable = ~m.rock
    seen = np.zeros((n, n), dtype=bool)
    y0, x0 = divmod(int(m.bases[0, 0]), n)
    seen[y0, x0] = True
    while True:
        grow = seen.copy()
        grow[1:] |= seen[:-1]
        grow[:-1] |= seen[1:]
        grow[:, 1:] |= seen[:, :-1]
        grow[:, :-1] |= seen[:, 1:]
        grow &= passable
        if (grow == seen).all():
            break
        seen = grow
    goals = np.concatenate([m.bases.ravel(), m.capture])
    return bool(seen.reshape(-1)[goals].all())
