"""A scripted harvest policy: heavies dig the nearest ice and deliver it home.

It frames comparisons as "a hand-made skill level": factories build a heavy whenever they can;
robots with power and room dig the nearest ice tile they can reach, carry their cargo to the
nearest own factory tile once full (or once their power only just covers the way back), transfer
it, and pick up power when they stand on a factory with a low battery. Moves are greedy on
Manhattan distance among the legal moves, so the policy never submits a masked action. Vectorised
over robots; the only loop runs over worlds.
"""

from __future__ import annotations

import numpy as np

from ..core.batched import BatchStep
from .world import (
    BUILD_HEAVY,
    DIG,
    DIRS,
    FACTORY,
    IDLE,
    MOVE_N,
    PICKUP,
    TRANSFER_C,
    HarvestWorld,
)


class HeuristicPolicy:
    """Dig the nearest ice, deliver it, build heavies (see the module docstring).

    Args:
        world: the harvest world it plays. seed: breaks ties between equally good moves.
        build_lights: also build lights when a heavy is not affordable.
    """

    def __init__(self, world: HarvestWorld, seed: int | None = None, build_lights: bool = False):
        self.world = world
        self.rng = np.random.default_rng(seed)
        self.build_lights = build_lights

    def act(self, batch: BatchStep) -> np.ndarray:
        """``[E, S]`` actions for the state ``batch`` describes (masks ``[E, S, A]``)."""
        w, mask = self.world, batch.action_mask
        actions = np.zeros(mask.shape[:2], dtype=np.int64)
        fac = batch.alive & (batch.kind == FACTORY)
        actions[fac & mask[:, :, BUILD_HEAVY]] = BUILD_HEAVY
        if self.build_lights:
            light = fac & ~mask[:, :, BUILD_HEAVY] & mask[:, :, BUILD_HEAVY - 1]
            actions[light] = BUILD_HEAVY - 1
        for i in range(w.num_envs):
            robots = np.flatnonzero(batch.alive[i] & (batch.kind[i] > FACTORY))
            if robots.size:
                actions[i, robots] = self._robots(i, robots, mask[i, robots])
        return actions

    def _robots(self, i: int, slots: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Actions ``[m]`` for robots ``slots`` ``[m]`` of world ``i`` (masks ``[m, A]``)."""
        w, k, n = self.world, self.world._k, self.world.cfg.map_size
        kind = w.kind[i, slots].astype(np.int64)
        cell = w.cell[i, slots]
        y, x = np.divmod(cell, n)
        power, cargo = w.power[i, slots], w.cargo_ice[i, slots] + w.cargo_ore[i, slots]
        home_y, home_x, home_d = _nearest(y, x, *self._own_factory_tiles(i, w.owner[i, slots]))
        iy, ix = np.divmod(np.flatnonzero(w.ice[i]), n)
        ice_y, ice_x, _ = _nearest(y, x, iy[None], ix[None])
        # a trip home over average rubble, plus one more dig, must stay affordable
        per_move = k["move_cost"][kind] + k["rubble_movement_cost"][kind] * w.cfg.max_rubble / 2
        low = power < (home_d + 1) * per_move + k["dig_cost"][kind]
        loaded = cargo >= 10 * k["dig_resource_gain"][kind]
        go_home = (loaded | (low & (cargo > 0))) | (low & ~mask[:, PICKUP])
        out = np.full(slots.size, IDLE, dtype=np.int64)
        can_give = mask[:, TRANSFER_C : TRANSFER_C + 5]
        give = (loaded | low) & can_give.any(1)
        out[give] = TRANSFER_C + can_give[give].argmax(1)
        recharge = ~give & low & mask[:, PICKUP]
        out[recharge] = PICKUP
        dig = ~give & ~recharge & ~go_home & w.ice[i, cell] & mask[:, DIG]
        out[dig] = DIG
        walk = ~give & ~recharge & ~dig
        ty = np.where(go_home, home_y, ice_y)
        tx = np.where(go_home, home_x, ice_x)
        if walk.any():
            out[walk] = self._step_towards(
                y[walk], x[walk], ty[walk], tx[walk], mask[walk, MOVE_N : MOVE_N + 4]
            )
        return out

    def _own_factory_tiles(self, i: int, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(ty, tx)`` of ``[m, T]`` factory tiles per robot; foreign tiles moved far away."""
        w, n = self.world, self.world.cfg.map_size
        tiles = np.flatnonzero(w.factory_map[i] >= 0)
        ty, tx = np.divmod(tiles, n)
        foreign = w.owner[i, w.factory_map[i, tiles]][None] != owner[:, None]
        far = 10 * n
        return np.where(foreign, far, ty[None]), np.where(foreign, far, tx[None])

    def _step_towards(self, y, x, ty, tx, moves: np.ndarray) -> np.ndarray:
        """The legal move (``[m, 4]`` mask) that most reduces Manhattan distance; idle if none."""
        ny = y[:, None] + DIRS[None, 1:, 0]
        nx = x[:, None] + DIRS[None, 1:, 1]
        now = np.abs(y - ty) + np.abs(x - tx)
        gain = now[:, None] - (np.abs(ny - ty[:, None]) + np.abs(nx - tx[:, None]))
        score = np.where(moves & (gain > 0), gain + 0.1 * self.rng.random(moves.shape), -np.inf)
        best = score.argmax(1)
        return np.where(np.isfinite(score.max(1)), MOVE_N + best, IDLE)


def _nearest(y: np.ndarray, x: np.ndarray, ty: np.ndarray, tx: np.ndarray):
    """Nearest target by Manhattan distance.

    Args:
        y, x: ``[m]`` positions. ty, tx: ``[m, T]`` or ``[1, T]`` target positions.

    Returns:
        ``(y [m], x [m], distance [m])`` of each nearest target (the own position and a large
        distance when there is none).
    """
    if ty.shape[-1] == 0:
        return y, x, np.full(y.shape, 10**6)
    d = np.abs(y[:, None] - ty) + np.abs(x[:, None] - tx)
    j = d.argmin(1)
    ty = np.broadcast_to(ty, d.shape)
    tx = np.broadcast_to(tx, d.shape)
    rows = np.arange(y.size)
    return ty[rows, j], tx[rows, j], d[rows, j]
