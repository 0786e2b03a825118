"""Map generation and factory placement for harvest (numpy only, one world at a time).

Maps: rubble is smooth value noise in [0, 100]; ice and ore are random-walk clusters whose tiles
keep only a fifth of the rubble (Lux S2's cave walls); with two players the map is generated for
one half and mirrored across a random axis, so both sides are identical.

Factory placement. A centre is valid when its 3x3 footprint is on the map, covers no ice or ore,
and is at least ``factory_min_distance`` from every other centre, measured in
``factory_spacing`` (Lux: Manhattan distance 7, i.e. centres within 6 are invalid).
``placement="heuristic"`` (after the paper's §1.5, simplified) scores valid centres with

    10 * log(ice tiles touching the footprint + 0.001)
  +  1 * log(ice within radius 3 / 49 + 0.001)
  +  0.1 * log(ore within radius 3 / 49 + 0.001)
  -  0.025 * mean rubble within radius 3,

plus a tiny random tie-breaker; factories are placed greedily, one at a time, best score first.
With two players, player 0 places on its half and player 1 gets the mirror image.
``placement="paper"`` follows the paper's code: among valid centres with ice next to the footprint
(else ice within 3 tiles, else all valid ones) the score is

    10 * log(ice on the 12 tiles orthogonally next to the footprint + 0.001)
  +  1 * log(min(G ice, 3) + 0.001) + 0.0001 * log(G ore + 0.001)
  -  0.025 * log(G rubble + 0.001) - 0.1 * log(G own factory tiles + 0.001),

with ``G`` a Gaussian filter (sigma 3, cut at 12 tiles, normalised by its centre weight, zero
outside the map); a centre is sampled from the softmax of the best 200 scores and then moved to
its best 8-neighbour while that scores higher. ``placement="random"`` picks uniformly among valid
centres (the paper's random-placement ablation).

A map crowded with resources may leave no valid centre: the distance is then lowered one tile
at a time down to the metric's floor (5 Manhattan, 3 Chebyshev), then to 3 Chebyshev, and if
there is still no room, footprints may cover resource tiles (the world clears the ice and ore
under every factory). ``HarvestConfig`` caps the factory count at
``factory_room``, which always fits, so placement never fails.
"""

from __future__ import annotations

import numpy as np

from ..core.settings import NoRoomError
from .config import SPACING_FLOOR, HarvestConfig


def box_sum(a: np.ndarray, r: int) -> np.ndarray:
    """Sum of ``a`` over the ``(2r+1) x (2r+1)`` box around each cell (zero outside the map).

    Args:
        a: ``[H, W]`` numeric.
        r: box radius.

    Returns:
        ``[H, W]`` float64.
    """
    h, w = a.shape
    ii = np.zeros((h + 1, w + 1))
    ii[1:, 1:] = np.cumsum(np.cumsum(a, axis=0), axis=1)
    y0 = np.clip(np.arange(h) - r, 0, h)
    y1 = np.clip(np.arange(h) + r + 1, 0, h)
    x0 = np.clip(np.arange(w) - r, 0, w)
    x1 = np.clip(np.arange(w) + r + 1, 0, w)
    return ii[y1][:, x1] - ii[y0][:, x1] - ii[y1][:, x0] + ii[y0][:, x0]


def _value_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Bilinearly interpolated random lattice with spacing ``cell``: ``[H, W]`` in [0, 1]."""
    gh, gw = int(np.ceil(h / cell)) + 2, int(np.ceil(w / cell)) + 2
    grid = rng.random((gh, gw))
    ys = np.arange(h) / cell
    xs = np.arange(w) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)  # smoothstep
    g00 = grid[y0][:, x0]
    g01 = grid[y0][:, x0 + 1]
    g10 = grid[y0 + 1][:, x0]
    g11 = grid[y0 + 1][:, x0 + 1]
    return (g00 * (1 - fx) + g01 * fx) * (1 - fy) + (g10 * (1 - fx) + g11 * fx) * fy


def _clusters(
    rng: np.random.Generator, h: int, w: int, n_tiles: int, sizes: tuple[int, int]
) -> np.ndarray:
    """Random-walk clusters covering at least ``n_tiles`` tiles (the last cluster may overshoot
    by a few): ``[H, W]`` bool."""
    out = np.zeros((h, w), dtype=bool)
    steps = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])
    while out.sum() < n_tiles:
        k = max(1, round((n_tiles - out.sum()) / np.mean(sizes))) + 1
        length = int(rng.integers(sizes[0], sizes[1] + 1, size=k).max())
        start = np.stack([rng.integers(0, h, size=k), rng.integers(0, w, size=k)], axis=1)
        walk = steps[rng.integers(0, 4, size=(k, length - 1))]
        pos = start[:, None] + np.concatenate([np.zeros((k, 1, 2), int), walk.cumsum(1)], 1)
        size = rng.integers(sizes[0], sizes[1] + 1, size=k)
        ys = np.clip(pos[..., 0], 0, h - 1)
        xs = np.clip(pos[..., 1], 0, w - 1)
        for j in range(k):  # cluster by cluster, so the count stops near the target
            out[ys[j, : size[j]], xs[j, : size[j]]] = True
            if out.sum() >= n_tiles:
                break
    return out


def generate_map(
    rng: np.random.Generator, cfg: HarvestConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Draw one map.

    Returns:
        ``(ice [H, W] bool, ore [H, W] bool, rubble [H, W] int32, axis)``; ``axis`` is the
        mirror axis with two players (0: top/bottom halves, 1: left/right), -1 with one.
    """
    n = cfg.map_size
    axis = int(rng.integers(0, 2)) if cfg.players == 2 else -1
    # rubble noise over the whole map (mirrored below with the resources)
    noise = 0.6 * _value_noise(rng, n, n, n / 3) + 0.4 * _value_noise(rng, n, n, n / 8)
    lo, hi = noise.min(), noise.max()
    rubble = np.round((noise - lo) / max(hi - lo, 1e-9) * cfg.max_rubble).astype(np.int32)
    # resources are drawn on the half that is kept, then mirrored (both sides identical)
    hh, hw = (n // 2, n) if axis == 0 else (n, n // 2) if axis == 1 else (n, n)
    share = hh * hw
    ice = np.zeros((n, n), dtype=bool)
    ore = np.zeros((n, n), dtype=bool)
    ice[:hh, :hw] = _clusters(rng, hh, hw, max(2, round(cfg.ice_density * share)), cfg.cluster_size)
    ore[:hh, :hw] = _clusters(rng, hh, hw, max(1, round(cfg.ore_density * share)), cfg.cluster_size)
    ore &= ~ice
    free = np.flatnonzero(~ice[:hh, :hw])
    if not ore.any() and free.size:  # ice swallowed every ore tile: put one back on a clear tile
        y, x = divmod(int(rng.choice(free)), hw)
        ore[y, x] = True
    if axis >= 0:
        half = n // 2
        for a in (ice, ore, rubble):
            if axis == 0:
                a[half:] = a[:half][::-1]
            else:
                a[:, half:] = a[:, :half][:, ::-1]
    resource = ice | ore
    rubble[resource] //= cfg.resource_rubble_divisor
    return ice, ore, rubble, axis


def _valid_centres(clear: np.ndarray, taken: list, min_dist: int, metric: str) -> np.ndarray:
    """``[H, W]`` bool: centres whose footprint is ``clear`` and at least ``min_dist`` (in
    ``metric``: ``"manhattan"`` or ``"chebyshev"``) from every centre in ``taken``."""
    valid = clear.copy()
    if not taken:
        return valid
    h, w = clear.shape
    ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]
    for cy, cx in taken:
        dy, dx = np.abs(ys - cy), np.abs(xs - cx)
        dist = dy + dx if metric == "manhattan" else np.maximum(dy, dx)
        valid &= dist >= min_dist
    return valid


def gaussian_sum(a: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Sum of ``a`` weighted by ``exp(-d^2 / (2 sigma^2))`` around each cell (a Gaussian filter
    normalised by its centre weight, so a lone 1 reads 1 on its own cell), cut at ``4 sigma``;
    zero outside the map.

    Args:
        a: ``[H, W]`` numeric.

    Returns:
        ``[H, W]`` float64.
    """
    r = int(4 * sigma + 0.5)
    k = np.exp(-(np.arange(-r, r + 1) ** 2) / (2.0 * sigma * sigma))
    h, w = a.shape
    pad = np.zeros((h + 2 * r, w + 2 * r))
    pad[r : r + h, r : r + w] = a
    # separable: rows, then columns ([H + 2r, W] then [H, W])
    rows = sum(k[i] * pad[:, i : i + w] for i in range(2 * r + 1))
    return sum(k[i] * rows[i : i + h] for i in range(2 * r + 1))


#: the 12 tiles orthogonally next to a 3x3 footprint, as (dy, dx) from its centre
_RING = [(d, o) for d in (-2, 2) for o in (-1, 0, 1)]
_RING += [(o, d) for d, o in _RING]
#: the paper's placement: how many of the best centres are sampled from
PAPER_TOP_K = 200


def paper_base_score(
    ice: np.ndarray, ore: np.ndarray, rubble: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The parts of the paper's placement score that do not depend on placed factories.

    ``10 log(ice next to the footprint + 0.001) + log(min(G ice, 3) + 0.001) + 0.0001 log(G ore
    + 0.001) - 0.025 log(G rubble + 0.001)``, where ``G`` is ``gaussian_sum`` with sigma 3 and
    "next to the footprint" counts the 12 tiles orthogonally adjacent to the 3x3 footprint.

    Returns:
        ``(score, ring)``: ``[H, W]`` float64 each, ``ring`` the ice count next to the footprint.
    """
    n = ice.shape[0]
    ice_i = ice.astype(np.float64)
    padded = np.zeros((n + 4, n + 4))
    padded[2:-2, 2:-2] = ice_i
    ring = sum(padded[2 + dy : 2 + dy + n, 2 + dx : 2 + dx + n] for dy, dx in _RING)
    return (
        10.0 * np.log(ring + 1e-3)
        + np.log(np.minimum(gaussian_sum(ice_i), 3.0) + 1e-3)
        + 1e-4 * np.log(gaussian_sum(ore.astype(np.float64)) + 1e-3)
        - 0.025 * np.log(gaussian_sum(rubble.astype(np.float64)) + 1e-3)
    ), ring


def _paper_pick(
    rng: np.random.Generator,
    base: np.ndarray,
    ring: np.ndarray,
    ice: np.ndarray,
    valid: np.ndarray,
    taken: list,
) -> int:
    """One centre by the paper's rule: restrict ``valid`` to centres with ice next to the
    footprint (else ice within 3 tiles, else all), score them (``base`` minus ``0.1 log(G own
    factories + 0.001)``), sample from the softmax of the best ``PAPER_TOP_K`` scores, then climb
    to the best of the 8 neighbours while that is better. Returns the flat index."""
    n = base.shape[0]
    near = valid & (ring > 0)
    if not near.any():
        near = valid & (box_sum(ice.astype(np.int32), 3) > 0)
    if near.any():
        valid = near
    own = np.zeros((n, n))
    for cy, cx in taken:
        own[max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 2] = 1.0
    score = np.where(valid, base - 0.1 * np.log(gaussian_sum(own) + 1e-3), -np.inf)
    flat = score.ravel()
    cand = np.flatnonzero(valid.ravel())
    if cand.size > PAPER_TOP_K:
        cand = cand[np.argpartition(-flat[cand], PAPER_TOP_K - 1)[:PAPER_TOP_K]]
    cand = np.sort(cand)
    z = flat[cand] - flat[cand].max()
    p = np.exp(z)
    at = int(cand[rng.choice(cand.size, p=p / p.sum())])
    while True:  # hill-climb over the 8 neighbours
        y, x = divmod(at, n)
        nb = [
            (y + dy) * n + x + dx
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if (dy or dx) and 0 <= y + dy < n and 0 <= x + dx < n
        ]
        best = max(nb, key=lambda c: flat[c])
        if flat[best] <= flat[at]:
            return at
        at = best


def place_factories(
    rng: np.random.Generator,
    cfg: HarvestConfig,
    ice: np.ndarray,
    ore: np.ndarray,
    rubble: np.ndarray,
    count: int,
    axis: int,
) -> np.ndarray:
    """Choose factory centres.

    Args:
        count: factories per player.
        axis: the map's mirror axis (-1 for one player).

    Returns:
        ``[players, count, 2]`` int64 ``(y, x)`` centres; footprints avoid ice and ore unless
        the map has no room left at distance 3 (see the module docstring).

    Raises:
        NoRoomError: ``count`` is above ``factory_room`` and the map has no room for them
            (a config cannot ask for that).
    """
    n = cfg.map_size
    if cfg.placement == "paper":
        base, ring = paper_base_score(ice, ore, rubble)
    else:
        ice_i = ice.astype(np.float64)
        ring = box_sum(ice_i, 2) - box_sum(ice_i, 1)
        base = (
            10.0 * np.log(ring + 1e-3)
            + 1.0 * np.log(box_sum(ice_i, 3) / 49 + 1e-3)
            + 0.1 * np.log(box_sum(ore.astype(np.float64), 3) / 49 + 1e-3)
            - 0.025 * box_sum(rubble, 3) / 49
            + 1e-6 * rng.random((n, n))
        )
    region = np.ones((n, n), dtype=bool)
    if axis == 0:
        region[n // 2 - 1 :] = False  # player 0's footprints stay in the top half
    elif axis == 1:
        region[:, n // 2 - 1 :] = False
    # the 3x3 footprint must be on the map and free of resources
    on_map = np.zeros((n, n), dtype=bool)
    on_map[1:-1, 1:-1] = True
    on_map &= region
    clear = on_map & (box_sum((ice | ore).astype(np.int32), 1) == 0)
    taken: list[tuple[int, int]] = []
    dist, metric = cfg.factory_min_distance, cfg.factory_spacing
    floor = SPACING_FLOOR[metric]
    while len(taken) < count:
        valid = _valid_centres(clear, taken, dist, metric)
        if not valid.any():
            if dist > floor:
                dist -= 1
                continue
            if metric != "chebyshev":  # the spacing factory_room counts with
                dist, metric, floor = 3, "chebyshev", 3
                continue
            if clear is not on_map:  # crowded with resources: footprints may cover them
                clear = on_map
                continue
            raise NoRoomError(
                f"no room for {count} factories per player on a {n}x{n} map; "
                "lower factories_per_player or factory_min_distance"
            )
        if cfg.placement == "heuristic":
            flat = np.where(valid, base, -np.inf).argmax()
        elif cfg.placement == "paper":
            flat = _paper_pick(rng, base, ring, ice, valid, taken)
        else:
            flat = rng.choice(np.flatnonzero(valid))
        taken.append(divmod(int(flat), n))
    centres = np.array(taken, dtype=np.int64)[None]
    if cfg.players == 2:
        mirror = centres[0].copy()
        mirror[:, axis] = n - 1 - mirror[:, axis]
        centres = np.stack([centres[0], mirror])
    return centres
