"""A scripted skirmish policy, and matches between two policies (one per team).

``HeuristicPolicy`` is the scripted opponent learners are evaluated against. Bases build a melee
unit whenever they can, and a ranged one (saving up for it) when the team has at least twice as
many melee units as ranged ones. A unit with an enemy in reach attacks the weakest one (fewest
hit points); a unit that alone holds a capture zone stays there; otherwise it walks towards the
nearest enemy within 3 cells, else the nearest capture point its team does not hold, else the
nearest enemy base. Moves are greedy on Manhattan distance among the legal moves (random
tie-breaks, a random legal move when none gets closer), so the policy never submits a masked
action. Everything is vectorised over worlds and units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.batched import BatchStep
from ..core.policies import Policy, RandomPolicy
from .world import (
    ATTACK_N,
    ATTACK_W,
    BASE,
    BUILD_MELEE,
    BUILD_RANGED,
    DIRS,
    IDLE,
    MELEE,
    MOVE_N,
    MOVE_W,
    RANGED,
    SkirmishWorld,
)

#: enemies this close (Manhattan) draw a unit away from capture points
ENGAGE_DISTANCE = 3


class HeuristicPolicy:
    """Build, capture, fight (see the module docstring).

    Args:
        world: the skirmish world it plays. seed: seeds tie-breaks and unsticking moves.
    """

    def __init__(self, world: SkirmishWorld, seed: int | None = None):
        self.world = world
        self.rng = np.random.default_rng(seed)

    def act(self, batch: BatchStep) -> np.ndarray:
        """``[E, S]`` int64 actions for the state ``batch`` describes (masks ``[E, S, A]``)."""
        w, mask = self.world, batch.action_mask
        actions = np.zeros(mask.shape[:2], dtype=np.int64)
        self._bases(batch, actions)
        units = batch.alive & (batch.kind != BASE)
        ue, us = np.nonzero(units)
        if ue.size == 0:
            return actions
        m = mask[ue, us]
        out = np.full(ue.size, IDLE, dtype=np.int64)
        # attack the weakest enemy in reach
        target = w.attack_targets()[ue, us]  # [m, 4]
        target_hp = np.where(target >= 0, w.hp[ue[:, None], target.clip(0)], np.iinfo(np.int64).max)
        attack = m[:, ATTACK_N : ATTACK_W + 1].any(axis=1)
        out[attack] = ATTACK_N + target_hp[attack].argmin(axis=1)
        # guards stay; everyone else walks
        n = w.cfg.map_size
        cell = w.cell[ue, us]
        y, x = np.divmod(cell, n)
        owner = w.owner[ue, us].astype(np.int64)
        zone = w.zone[ue, cell]
        guard = ~attack & (zone >= 0) & (self._zone_count(ue, us, zone, owner) == 1)
        walk = ~attack & ~guard
        if walk.any():
            ty, tx = self._goals(ue[walk], y[walk], x[walk], owner[walk])
            out[walk] = self._step_towards(y[walk], x[walk], ty, tx, m[walk, MOVE_N : MOVE_W + 1])
        actions[ue, us] = out
        return actions

    def _bases(self, batch: BatchStep, actions: np.ndarray) -> None:
        """Write the build orders of every live base into ``actions`` ``[E, S]``."""
        mask = batch.action_mask
        e_n = actions.shape[0]
        count = np.zeros((e_n, 2, 3), dtype=np.int64)
        ue, us = np.nonzero(batch.alive)
        np.add.at(count, (ue, batch.owner[ue, us], batch.kind[ue, us]), 1)
        be, bs = np.nonzero(batch.alive & (batch.kind == BASE))
        owner = batch.owner[be, bs].astype(np.int64)
        want_ranged = count[be, owner, MELEE] >= 2 * np.maximum(count[be, owner, RANGED], 1)
        choice = np.where(want_ranged, BUILD_RANGED, BUILD_MELEE)
        # a team that wants a ranged unit saves up for it rather than building melee
        actions[be, bs] = np.where(mask[be, bs, choice], choice, IDLE)

    def _zone_count(self, ue, us, zone, owner) -> np.ndarray:
        """``[m]``: own units in each unit's capture zone (0 outside zones)."""
        w = self.world
        k = max(w.num_capture, 1)
        inz = zone >= 0
        count = np.zeros((w.num_envs, k, 2), dtype=np.int64)
        np.add.at(count, (ue[inz], zone[inz], owner[inz]), 1)
        return np.where(inz, count[ue, zone.clip(0), owner], 0)

    def _goals(self, env, y, x, owner) -> tuple[np.ndarray, np.ndarray]:
        """``([m], [m])`` cells each walking unit heads for (its own cell when there is none)."""
        w, n = self.world, self.world.cfg.map_size
        far = 10 * n
        # enemies: every live entity of the other team, [m, S]
        alive = w.alive[env]
        enemy = alive & (w.owner[env] == (1 - owner)[:, None])
        ey, ex = np.divmod(w.cell[env].clip(0), n)
        d_enemy = np.where(enemy, np.abs(ey - y[:, None]) + np.abs(ex - x[:, None]), far)
        j = d_enemy.argmin(axis=1)
        rows = np.arange(env.size)
        near_enemy = d_enemy[rows, j] <= ENGAGE_DISTANCE
        gy, gx = ey[rows, j], ex[rows, j]
        # capture points the team does not hold, [m, K]
        use_capture = ~near_enemy
        if w.num_capture:
            cy, cx = np.divmod(w.capture_cell[env], n)
            open_ = w.holder[env] != owner[:, None]
            d_cap = np.where(open_, np.abs(cy - y[:, None]) + np.abs(cx - x[:, None]), far)
            k = d_cap.argmin(axis=1)
            use_capture &= d_cap[rows, k] < far
            gy = np.where(use_capture, cy[rows, k], gy)
            gx = np.where(use_capture, cx[rows, k], gx)
        else:
            use_capture[:] = False
        # else the nearest enemy base
        rest = ~near_enemy & ~use_capture
        d_base = np.where(enemy & (w.kind[env] == BASE), d_enemy, far)
        b = d_base.argmin(axis=1)
        has_base = d_base[rows, b] < far
        gy = np.where(rest, np.where(has_base, ey[rows, b], y), gy)
        gx = np.where(rest, np.where(has_base, ex[rows, b], x), gx)
        return gy, gx

    def _step_towards(self, y, x, ty, tx, moves: np.ndarray) -> np.ndarray:
        """The legal move (``[m, 4]`` mask) that most reduces the Manhattan distance to
        ``(ty, tx)``; a random legal move when none does (idle at the goal or when boxed in)."""
        ny = y[:, None] + DIRS[None, 1:, 0]
        nx = x[:, None] + DIRS[None, 1:, 1]
        now = np.abs(y - ty) + np.abs(x - tx)
        gain = now[:, None] - (np.abs(ny - ty[:, None]) + np.abs(nx - tx[:, None]))
        noise = self.rng.random(moves.shape)
        score = np.where(moves & (gain > 0), gain + 0.1 * noise, -np.inf)
        best = score.argmax(axis=1)
        out = np.where(np.isfinite(score.max(axis=1)), MOVE_N + best, IDLE)
        stuck = (out == IDLE) & (now > 1) & moves.any(axis=1)
        out[stuck] = MOVE_N + np.where(moves[stuck], noise[stuck], -1.0).argmax(axis=1)
        return out


class Versus:
    """Two policies in one: player 0's agents play ``first``, player 1's play ``second``.

    Args:
        first: player 0's policy. second: player 1's policy (both bound to the same world).
    """

    def __init__(self, first: Policy, second: Policy):
        self.first, self.second = first, second

    def act(self, batch: BatchStep) -> np.ndarray:
        """``[E, S]`` actions: ``first``'s where ``batch.owner == 0``, else ``second``'s."""
        return np.where(batch.owner == 0, self.first.act(batch), self.second.act(batch))


class HeuristicVsRandom(Versus):
    """``heuristic`` for player 0 against ``random`` for player 1, as one policy: what
    ``spawnzoo render --policy spawnzoo.envs.skirmish.policies:HeuristicVsRandom`` plays.

    Args:
        world: the skirmish world. seed: seeds both policies.
    """

    def __init__(self, world: SkirmishWorld, seed: int | None = None):
        super().__init__(HeuristicPolicy(world, seed=seed), RandomPolicy(world, seed=seed))


@dataclass
class MatchResult:
    """Results of a series of episodes between two policies.

    Attributes:
        wins: ``[2]`` episodes won by player 0 and player 1.
        draws: episodes drawn.
        metrics: the ``FinalState.metrics`` of every episode.
    """

    wins: np.ndarray
    draws: int
    metrics: list[dict]

    @property
    def episodes(self) -> int:
        return len(self.metrics)

    @property
    def score(self) -> float:
        """Player 0's mean result (1 per win, 0.5 per draw)."""
        return (self.wins[0] + 0.5 * self.draws) / max(self.episodes, 1)


def play_match(world: SkirmishWorld, first: Policy, second: Policy, episodes: int, seed: int = 0):
    """Play ``episodes`` episodes of ``first`` (player 0) against ``second`` (player 1).

    Args:
        world: an auto-resetting ``SkirmishWorld`` (any ``num_envs``) both policies are bound to.
        first, second: the policies. episodes: how many episodes to finish.
        seed: the reset seed.

    Returns:
        A ``MatchResult`` over the first ``episodes`` episodes to end.

    Raises:
        ValueError: ``world`` does not reset itself, or ``episodes < 1``.
    """
    if not world.auto_reset:
        raise ValueError("play_match needs a world with auto_reset=True")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    both = Versus(first, second)
    batch = world.reset(seed=seed)
    metrics: list[dict] = []
    while len(metrics) < episodes:
        batch = world.step(both.act(batch))
        if batch.final is not None:
            metrics.extend(batch.final.metrics)
    metrics = metrics[:episodes]
    win = np.array([[m["per_player"][p]["win"] for p in range(2)] for m in metrics])
    return MatchResult(
        wins=(win == 1.0).sum(axis=0), draws=int((win[:, 0] == 0.5).sum()), metrics=metrics
    )
