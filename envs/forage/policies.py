"""A scripted forage policy: stay (and eat) on food, else walk to the nearest food in view.

It frames comparisons as "a hand-made skill level". Agents eat wherever they stand, so an agent
stays while its cell holds at least one bite of food (or any food and nothing better in view);
otherwise it looks at the cells within ``obs_radius`` (the learners' window), picks the nearest
one (Manhattan distance, ties broken at random) with a full bite of food and no agent on it, and
takes the legal move that most shortens the way there. With nothing in view it wanders: a random
legal move. It never submits a masked action. Vectorised over every agent of every world at once.
"""

from __future__ import annotations

import numpy as np

from ..core.batched import BatchStep
from .world import DIRS, MOVE_N, MOVE_W, STAY, ForageWorld


class HeuristicPolicy:
    """Stay on food, else go to the nearest food in view, else wander (see the module docstring).

    Args:
        world: the forage world it plays. seed: breaks ties and drives the wandering.
    """

    def __init__(self, world: ForageWorld, seed: int | None = None):
        self.world = world
        self.rng = np.random.default_rng(seed)
        r = world.cfg.obs_radius
        dy, dx = (v.ravel() for v in np.mgrid[-r : r + 1, -r : r + 1])
        keep = (dy != 0) | (dx != 0)
        #: ``[V]`` offsets of the view (without the agent's own cell) and their distances
        self._dy, self._dx = dy[keep], dx[keep]
        self._dist = np.abs(self._dy) + np.abs(self._dx)

    def act(self, batch: BatchStep) -> np.ndarray:
        """``[E, S]`` actions for the state ``batch`` describes (masks ``[E, S, A]``)."""
        w, mask = self.world, batch.action_mask
        n, n_cells, bite = w.cfg.map_size, w.n_cells, w.cfg.bite
        actions = np.zeros(mask.shape[:2], dtype=np.int64)
        ei, si = np.nonzero(batch.alive)
        if ei.size == 0:
            return actions
        m = mask[ei, si]  # [m, A]
        y, x = np.divmod(batch.cell[ei, si].astype(np.int64), n)
        ty, tx = y[:, None] + self._dy[None], x[:, None] + self._dx[None]  # [m, V]
        inside = (ty >= 0) & (ty < n) & (tx >= 0) & (tx < n)
        flat = ei[:, None] * n_cells + np.where(inside, ty * n + tx, 0)
        good = inside & (w.food.reshape(-1)[flat] >= bite) & (w.agent_map.reshape(-1)[flat] < 0)
        score = np.where(good, self._dist[None] + self.rng.random(good.shape), np.inf)
        best = score.argmin(1)
        rows = np.arange(ei.size)
        seen = np.isfinite(score[rows, best])
        gy, gx = ty[rows, best], tx[rows, best]
        # the legal move that most shortens the way (random tie-break), else a random legal move
        ny, nx = y[:, None] + DIRS[None, 1:, 0], x[:, None] + DIRS[None, 1:, 1]
        gain = (np.abs(y - gy) + np.abs(x - gx))[:, None] - (
            np.abs(ny - gy[:, None]) + np.abs(nx - gx[:, None])
        )
        moves = m[:, MOVE_N : MOVE_W + 1]
        noise = self.rng.random(moves.shape)
        toward = np.where(moves & (gain > 0) & seen[:, None], gain + 0.5 * noise, -np.inf)
        wander = np.where(moves, noise, -np.inf)
        step = np.where(np.isfinite(toward.max(1)), toward.argmax(1), wander.argmax(1))
        out = np.where(moves.any(1), MOVE_N + step, STAY)
        here = w.food[ei, batch.cell[ei, si]]
        out[(here >= bite) | ((here > 0) & ~seen)] = STAY
        actions[ei, si] = out
        return actions
