"""The forage rules on numpy slot arrays, stepping many worlds at once.

No pygame and no PettingZoo here: ``ForageWorld`` implements ``envs.core.BatchedEnv``. The step
is vectorised over worlds and agents (the split placement runs four fixed rounds, one per
direction); the only Python loops run over the worlds that reset. Order of one step:

1. masked actions become ``stay`` (masks were computed from the state at the end of last step);
2. moves: a move targets a cell that was free when the step began (the mask says so); when
   several agents move into the same cell, the one with the most energy gets it (ties: the
   lowest slot) and the others stay;
3. eating: every agent takes ``min(food, bite, max_energy - energy)`` from the cell it is on;
4. metabolism: every agent pays ``energy_cost`` (movers ``move_cost`` more) and ages by one;
5. deaths: energy at or below 0, or age at ``max_age``;
6. splits: an agent with ``energy >= split_threshold`` places a child on a free neighbouring
   cell (see ``ForageWorld._split``); parent and child share ``energy - split_cost``;
7. fertile cells regrow ``food_regrow``;
8. the clock ticks, episode end is checked, worlds that ended reset, masks are recomputed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.batched import BatchStep, SlotArrayEnv, step_flags
from ..core.pool import AgentPool
from ..core.settings import check_world_args
from .config import ForageConfig

FORAGER = 0
KIND_NAMES = ("forager",)

# --- the discrete action space ---
STAY = 0
MOVE_N, MOVE_E, MOVE_S, MOVE_W = 1, 2, 3, 4
NUM_ACTIONS = 5
ACTION_NAMES = ("stay", "move_n", "move_e", "move_s", "move_w")
#: (dy, dx) of the agent's own cell, N, E, S, W
DIRS = np.array([(0, 0), (-1, 0), (0, 1), (1, 0), (0, -1)], dtype=np.int64)

PLANE_NAMES = ("step", "food", "fertile", "own_agent", "enemy", "energy", "age")
_P = {name: i for i, name in enumerate(PLANE_NAMES)}
#: value of each plane where there is nothing: 0 for flags, -1 (the minimum) for scaled amounts
PLANE_FILL = {
    "step": -1.0,
    "food": -1.0,
    "fertile": 0.0,
    "own_agent": 0.0,
    "enemy": 0.0,
    "energy": -1.0,
    "age": -1.0,
}
_FILL_VECTOR = np.array([PLANE_FILL[n] for n in PLANE_NAMES], dtype=np.float32)
FEATURE_NAMES = ("energy", "age", "food_here", "x", "y", "step")
METRIC_KEYS = (
    "food_eaten",
    "births",
    "deaths",
    "deaths_of_age",
    "population_peak",
    "illegal_actions",
)


def _scale(x: np.ndarray, top: float | np.ndarray) -> np.ndarray:
    """Min-max scale ``[0, top]`` to ``[-1, 1]`` (clipped)."""
    return np.clip(x / top, 0.0, 1.0) * 2.0 - 1.0


def _group_rank(keys: np.ndarray, order_by: np.ndarray) -> np.ndarray:
    """``[m]`` rank of each element among those with the same key (``[m]`` ints), smallest
    ``order_by`` (``[m]`` numbers, distinct within a key) first."""
    order = np.lexsort((order_by, keys))
    k_sorted = keys[order]
    start = np.flatnonzero(np.concatenate(([True], k_sorted[1:] != k_sorted[:-1])))
    counts = np.diff(start, append=k_sorted.size)
    rank = np.empty(keys.size, dtype=np.int64)
    rank[order] = np.arange(keys.size) - np.repeat(start, counts)
    return rank


def _add_per_player(
    total: np.ndarray, env: np.ndarray, owner: np.ndarray, weights: np.ndarray | None = None
) -> None:
    """``total[env[i], owner[i]] += weights[i]`` (or 1) for all ``i``; ``total`` is ``[E, P]``."""
    e_n, p_n = total.shape
    flat = env.astype(np.int64) * p_n + owner
    total += (
        np.bincount(flat, weights=weights, minlength=e_n * p_n)
        .reshape(e_n, p_n)
        .astype(total.dtype, copy=False)
    )


def grow_patches(rng: np.random.Generator, cfg: ForageConfig) -> np.ndarray:
    """Fertile cells of one map: random-walk patches until ``patch_density`` is reached.

    Args:
        rng: the world's generator. cfg: the rules.

    Returns:
        ``[H, W]`` bool, ``round(patch_density * H * W)`` cells true.
    """
    n = cfg.map_size
    want = round(cfg.patch_density * n * n)
    fertile = np.zeros(n * n, dtype=bool)
    lo, hi = cfg.patch_size
    while fertile.sum() < want:
        missing = want - int(fertile.sum())
        count = max(1, -(-2 * missing // (lo + hi)))  # patches of average size cover it
        # walks start on barren cells, so every round makes progress
        barren = np.flatnonzero(~fertile)
        start = np.stack(np.divmod(rng.choice(barren, min(count, barren.size), False), n), -1)
        count = start.shape[0]
        steps = DIRS[1:][rng.integers(0, 4, size=(count, hi - 1))]
        walk = np.concatenate([start[:, None], steps], axis=1).cumsum(axis=1)
        walk = walk.clip(0, n - 1)  # [count, hi, 2]
        size = rng.integers(lo, hi + 1, size=count)
        take = np.arange(hi)[None, :] < size[:, None]
        cells = np.unique(walk[..., 0][take] * n + walk[..., 1][take])
        cells = cells[~fertile[cells]]
        if cells.size > missing:
            cells = rng.choice(cells, missing, replace=False)
        fertile[cells] = True
    return fertile.reshape(n, n)


class ForageWorld(SlotArrayEnv):
    """``num_envs`` forage worlds on slot arrays (see ``envs.core.batched`` for the contract).

    Player ``p`` owns slots ``[p R, (p + 1) R)`` (``R = cfg.agent_slots``); a child takes the
    lowest free slot of its parent's player.

    Args:
        config: the rules' numbers.
        num_envs: worlds stepped together.
        auto_reset: reset a world as soon as its episode ends (learners); the PettingZoo adapter
            uses ``False`` and resets explicitly.
    """

    kind_names = KIND_NAMES
    plane_names = PLANE_NAMES
    plane_fill = PLANE_FILL
    feature_names = FEATURE_NAMES
    global_plane_names = ("step",)
    num_actions = NUM_ACTIONS
    action_names = ACTION_NAMES

    def __init__(self, config: ForageConfig, num_envs: int = 1, auto_reset: bool = True):
        e = check_world_args("ForageWorld", config, ForageConfig, num_envs, auto_reset)
        self.cfg = cfg = config
        self.num_envs = e
        self.auto_reset = auto_reset
        self.num_players = p = cfg.players
        self.max_cycles = cfg.max_cycles
        n = cfg.map_size
        self.map_shape = (n, n)
        self.n_cells = n * n
        self.agent_slots = r = cfg.agent_slots
        self.num_slots = s = p * r
        self.pool = AgentPool(
            owners=tuple(f"player_{i}" for i in range(p)),
            kinds=KIND_NAMES,
            sizes=(cfg.agent_id_pool,),
        )
        self._dir_flat = DIRS[:, 0] * n + DIRS[:, 1]
        # ---- state ----
        self.food = np.zeros((e, n * n), dtype=np.float32)
        self.fertile = np.zeros((e, n * n), dtype=bool)
        self.agent_map = np.full((e, n * n), -1, dtype=np.int32)  # slot on each cell, or -1
        self.alive = np.zeros((e, s), dtype=bool)
        self.kind = np.full((e, s), -1, dtype=np.int8)
        self.owner = np.full((e, s), -1, dtype=np.int8)
        self.cell = np.full((e, s), -1, dtype=np.int64)
        self.serial = np.full((e, s), -1, dtype=np.int64)
        self.energy = np.zeros((e, s), dtype=np.float32)
        self.age = np.zeros((e, s), dtype=np.int64)
        self.t = np.zeros(e, dtype=np.int64)
        self.next_serial = np.zeros((e, p), dtype=np.int64)
        self.metrics = {key: np.zeros((e, p), dtype=np.float64) for key in METRIC_KEYS}
        self.population_steps = np.zeros((e, p), dtype=np.float64)
        self._mask = np.zeros((e, s, NUM_ACTIONS), dtype=bool)
        self._claimed = np.zeros(e * n * n, dtype=bool)  # scratch for split placement
        self._rngs: list[np.random.Generator] = []
        self._seeded = False

    def _reset_world(self, i: int) -> None:
        cfg, rng = self.cfg, self._rngs[i]
        fertile = grow_patches(rng, cfg).ravel()
        self.fertile[i] = fertile
        self.food[i] = np.where(fertile, cfg.food_capacity, 0.0)
        self.agent_map[i] = -1
        for arr, value in (
            (self.alive, False),
            (self.kind, -1),
            (self.owner, -1),
            (self.cell, -1),
            (self.serial, -1),
            (self.energy, 0.0),
            (self.age, 0),
        ):
            arr[i] = value
        self.t[i] = 0
        self.next_serial[i] = 0
        for m in self.metrics.values():
            m[i] = 0
        self.population_steps[i] = 0
        k, r = cfg.initial_agents, self.agent_slots
        cells = rng.choice(self.n_cells, self.num_players * k, replace=False)
        slots = (np.arange(self.num_players)[:, None] * r + np.arange(k)[None, :]).ravel()
        self.alive[i, slots] = True
        self.kind[i, slots] = FORAGER
        self.owner[i, slots] = np.repeat(np.arange(self.num_players), k)
        self.cell[i, slots] = cells
        self.serial[i, slots] = np.tile(np.arange(k), self.num_players)
        self.energy[i, slots] = cfg.initial_energy
        self.agent_map[i, cells] = slots
        self.next_serial[i] = k
        self.metrics["population_peak"][i] = k

    # ------------------------------------------------------------------- step
    def step(self, actions: Any) -> BatchStep:
        """Advance every world one step (see ``BatchedEnv.step`` and the module docstring).

        Args:
            actions: ``[E, S]`` ints in ``[0, NUM_ACTIONS)``.

        Returns:
            ``BatchStep``; worlds with ``done`` have been reset (``final`` holds their end state).
        """
        a = self._begin_step(actions)
        cfg = self.cfg
        e_n, s_n, n_cells = self.num_envs, self.num_slots, self.n_cells
        legal = np.take_along_axis(self._mask, a[..., None], axis=2)[..., 0]
        illegal = self.alive & ~legal
        a[~legal] = STAY
        if illegal.any():
            _add_per_player(
                self.metrics["illegal_actions"], np.nonzero(illegal)[0], self.owner[illegal]
            )
        acted = self.alive.copy()  # agents whose transition this step describes
        reward = np.zeros((e_n, s_n), dtype=np.float32)

        # ---- 2. moves ----
        moved = np.zeros((e_n, s_n), dtype=bool)
        ei, si = np.nonzero((a >= MOVE_N) & (a <= MOVE_W))
        if ei.size:
            old = self.cell[ei, si]
            target = old + self._dir_flat[a[ei, si]]
            key = ei * n_cells + target
            # most energy first, then the lowest slot: rank 0 of each target cell moves
            priority = np.empty(ei.size, dtype=np.int64)
            priority[np.lexsort((si, -self.energy[ei, si]))] = np.arange(ei.size)
            win = _group_rank(key, priority) == 0
            ei, si, old, target = ei[win], si[win], old[win], target[win]
            self.agent_map[ei, old] = -1
            self.agent_map[ei, target] = si
            self.cell[ei, si] = target
            moved[ei, si] = True

        # ---- 3. eating: everyone eats from the cell it stands on ----
        ei, si = np.nonzero(self.alive)
        if ei.size:
            tile = self.cell[ei, si]
            got = np.minimum(
                np.minimum(self.food[ei, tile], cfg.bite),
                np.maximum(cfg.max_energy - self.energy[ei, si], 0.0),
            )
            self.food[ei, tile] -= got
            self.energy[ei, si] += got
            reward[ei, si] += cfg.reward_food * got
            _add_per_player(self.metrics["food_eaten"], ei, self.owner[ei, si], got)

        # ---- 4. metabolism ----
        alive = self.alive
        self.energy -= (cfg.energy_cost + cfg.move_cost * moved) * alive
        self.age += alive

        # ---- 5. deaths ----
        dead = alive & ((self.energy <= 0) | (self.age >= cfg.max_age))
        if dead.any():  # their slots stay theirs until the next step (no reuse within a step)
            ei, si = np.nonzero(dead)
            owner = self.owner[ei, si]
            _add_per_player(self.metrics["deaths"], ei, owner)
            old_age = self.energy[ei, si] > 0
            _add_per_player(self.metrics["deaths_of_age"], ei[old_age], owner[old_age])
            self.agent_map[ei, self.cell[ei, si]] = -1
            self.alive[ei, si] = False
            reward[ei, si] += cfg.reward_death

        # ---- 6. splits ----
        spawned = np.zeros((e_n, s_n), dtype=bool)
        parents = self.alive & (self.energy >= cfg.split_threshold)
        if parents.any():
            self._split(*np.nonzero(parents), acted | self.alive, spawned, reward)

        # ---- 7. regrowth ----
        np.minimum(self.food + cfg.food_regrow * self.fertile, cfg.food_capacity, out=self.food)

        # ---- 8. clock, episode end ----
        self.t += 1
        pop = self.alive.reshape(e_n, self.num_players, -1).sum(-1)
        self.population_steps += pop
        np.maximum(self.metrics["population_peak"], pop, out=self.metrics["population_peak"])
        flags = step_flags(acted, self.alive, pop.sum(1) == 0, self.t, self.max_cycles)
        return self._end_step(flags, spawned=spawned, reward=reward, illegal=illegal)

    def _split(
        self,
        ei: np.ndarray,
        si: np.ndarray,
        taken: np.ndarray,
        spawned: np.ndarray,
        reward: np.ndarray,
    ) -> None:
        """Parents ``(ei, si)`` (``[m]`` each) place children on free neighbouring cells.

        Each parent tries its four neighbours in the order N, E, S, W rotated by
        ``(step + serial) % 4`` (so colonies do not drift one way). Round ``j`` offers every
        parent still without a cell its ``j``-th neighbour if that cell is on the map, holds no
        agent and was not taken in an earlier round; the lowest slot wins a cell offered to
        several parents. A parent left without a cell after four rounds is boxed in and does not
        split. Then each player's placed parents, lowest slot first, take the player's free slots
        and next pool names while both last; the rest do not split this step. A slot is free
        when ``taken`` (``[E, S]``: live now or acted this step) is false, so the slot of an
        agent that died this step is not reused before the next one. Marks the children in
        ``spawned`` ``[E, S]`` and adds the birth reward to the parents.
        """
        cfg, n = self.cfg, self.cfg.map_size
        n_cells, r = self.n_cells, self.agent_slots
        y, x = np.divmod(self.cell[ei, si], n)
        turn = (self.t[ei] + self.serial[ei, si]) % 4
        order = (turn[:, None] + np.arange(4)[None, :]) % 4 + 1  # [m, 4] indices into DIRS
        ny, nx = y[:, None] + DIRS[order, 0], x[:, None] + DIRS[order, 1]
        on_map = (ny >= 0) & (ny < n) & (nx >= 0) & (nx < n)
        cand = ei[:, None] * n_cells + np.where(on_map, ny * n + nx, 0)  # flat keys, [m, 4]
        free = on_map & (self.agent_map.reshape(-1)[cand] < 0)
        child_key = np.full(ei.size, -1, dtype=np.int64)
        claimed = self._claimed
        for j in range(4):
            want = np.flatnonzero((child_key < 0) & free[:, j])
            want = want[~claimed[cand[want, j]]]
            if want.size == 0:
                continue
            keys = cand[want, j]
            won = want[_group_rank(keys, si[want]) == 0]
            child_key[won] = cand[won, j]
            claimed[cand[won, j]] = True
        placed = np.flatnonzero(child_key >= 0)
        claimed[child_key[placed]] = False
        if placed.size == 0:
            return
        pe, ps, key = ei[placed], si[placed], child_key[placed]
        owner = self.owner[pe, ps].astype(np.int64)
        group = pe * self.num_players + owner
        rank = _group_rank(group, ps)
        # free slots of every (world, player), in slot order
        free_g, free_r = np.nonzero(~taken.reshape(-1, r))
        n_free = np.bincount(free_g, minlength=self.num_envs * self.num_players)
        first_free = np.concatenate(([0], np.cumsum(n_free)[:-1]))
        pool_left = cfg.agent_id_pool - self.next_serial.reshape(-1)
        ok = rank < np.minimum(n_free[group], pool_left[group])
        pe, ps, key, owner, group, rank = (v[ok] for v in (pe, ps, key, owner, group, rank))
        if pe.size == 0:
            return
        child = owner * r + free_r[first_free[group] + rank]
        share = (self.energy[pe, ps] - cfg.split_cost) / 2
        self.energy[pe, ps] = share
        cell = key - pe * n_cells
        self.alive[pe, child] = True
        self.kind[pe, child] = FORAGER
        self.owner[pe, child] = owner
        self.cell[pe, child] = cell
        self.serial[pe, child] = self.next_serial[pe, owner] + rank
        self.energy[pe, child] = share
        self.age[pe, child] = 0
        self.agent_map[pe, cell] = child
        _add_per_player(self.next_serial, pe, owner)
        _add_per_player(self.metrics["births"], pe, owner)
        reward[pe, ps] += cfg.reward_birth
        spawned[pe, child] = True

    def episode_metrics(self, i: int) -> dict[str, Any]:
        """Metrics of world ``i``'s current episode.

        Returns:
            ``{"episode_length": steps, "per_player": [{...}, ...]}`` where each player's dict
            has ``food_eaten``, ``births``, ``deaths``, ``deaths_of_age`` (those of ``deaths`` that
            reached ``max_age`` with energy left), ``population_mean``
            (live agents averaged over the steps played), ``population_peak`` (most alive at
            once, the start included), ``population_final`` and ``illegal_actions``.
        """
        steps = max(int(self.t[i]), 1)
        pop = self.alive[i].reshape(self.num_players, -1).sum(-1)
        per_player = []
        for p in range(self.num_players):
            m = {key: float(v[i, p]) for key, v in self.metrics.items()}
            m["population_mean"] = float(self.population_steps[i, p]) / steps
            m["population_final"] = float(pop[p])
            per_player.append(m)
        return {"episode_length": int(self.t[i]), "per_player": per_player}

    # ------------------------------------------------------- scenario editing
    def place_agent(
        self, i: int, owner: int, yx: tuple[int, int], energy: float | None = None, age: int = 0
    ) -> int:
        """Put a new agent on cell ``yx`` of world ``i`` (for tests, tutorials and debugging).

        The agent takes the owner's lowest free slot and next pool name; it does not count as a
        birth. Call ``refresh()`` after editing.

        Returns:
            The agent's slot.

        Raises:
            ValueError: bad owner, cell off the map or occupied, no free slot or name left.
        """
        n = self.cfg.map_size
        if not 0 <= owner < self.num_players:
            raise ValueError(f"owner must be in [0, {self.num_players}), got {owner}")
        y, x = yx
        if not (0 <= y < n and 0 <= x < n):
            raise ValueError(f"cell {yx} is off the {n}x{n} map")
        cell = y * n + x
        if self.agent_map[i, cell] >= 0:
            raise ValueError(f"cell {yx} already holds an agent")
        base = owner * self.agent_slots
        free = np.flatnonzero(~self.alive[i, base : base + self.agent_slots])
        if free.size == 0:
            raise ValueError(f"player {owner} has no free agent slot")
        if self.next_serial[i, owner] >= self.cfg.agent_id_pool:
            raise ValueError(f"player {owner} has used up its agent names")
        slot = base + int(free[0])
        self.alive[i, slot] = True
        self.kind[i, slot], self.owner[i, slot], self.cell[i, slot] = FORAGER, owner, cell
        self.serial[i, slot] = self.next_serial[i, owner]
        self.next_serial[i, owner] += 1
        self.energy[i, slot] = self.cfg.initial_energy if energy is None else energy
        self.age[i, slot] = age
        self.agent_map[i, cell] = slot
        return slot

    def remove_agent(self, i: int, slot: int) -> None:
        """Take the agent in ``slot`` of world ``i`` off the map (no death is counted)."""
        if not self.alive[i, slot]:
            raise ValueError(f"slot {slot} of world {i} holds no live agent")
        self.agent_map[i, self.cell[i, slot]] = -1
        self.alive[i, slot] = False
        for arr, value in ((self.kind, -1), (self.owner, -1), (self.cell, -1), (self.serial, -1)):
            arr[i, slot] = value

    def refresh(self) -> np.ndarray:
        """Recompute the action masks after editing the state by hand; returns ``[E, S, A]``."""
        self._compute_masks()
        return self.action_mask()

    # ------------------------------------------------------------------ masks
    def _compute_masks(self) -> None:
        """Legal actions of every slot from the current state: ``self._mask`` ``[E, S, A]``.

        ``stay`` is always legal; a move when its target is on the map and holds no agent now.
        """
        n, n_cells = self.cfg.map_size, self.n_cells
        mask = self._mask
        mask[:] = False
        mask[:, :, STAY] = True
        ei, si = np.nonzero(self.alive)
        if ei.size == 0:
            return
        cell = self.cell[ei, si]
        y, x = np.divmod(cell, n)
        ty = y[:, None] + DIRS[None, 1:, 0]
        tx = x[:, None] + DIRS[None, 1:, 1]
        inside = (ty >= 0) & (ty < n) & (tx >= 0) & (tx < n)
        target = ei[:, None] * n_cells + np.where(inside, ty * n + tx, 0)
        mask[ei, si, MOVE_N : MOVE_W + 1] = inside & (self.agent_map.reshape(-1)[target] < 0)

    def action_mask(self) -> np.ndarray:
        """``[E, S, A]`` bool legal actions now (a copy)."""
        return self._mask.copy()

    # ---------------------------------------------------------- observations
    def write_planes(self, out: np.ndarray, envs: np.ndarray | None = None) -> None:
        """Write ``[E, P, C, H, W]`` global planes into ``out`` (see ``PLANE_NAMES``).

        Map layers are full-size copies; agent layers are scattered agent by agent. ``out`` may
        be a strided view; with ``envs`` (``[D]`` world indices) it is ``[D, P, C, H, W]`` for
        those worlds only.
        """
        cfg = self.cfg
        sel = slice(None) if envs is None else np.asarray(envs)
        t, alive = self.t[sel], self.alive[sel]
        e_n, n = alive.shape[0], cfg.map_size
        out[:] = _FILL_VECTOR[None, None, :, None, None]
        out[:, :, _P["step"]] = _scale(t, cfg.step_scale)[:, None, None, None]
        grid = (e_n, 1, n, n)
        out[:, :, _P["food"]] = _scale(self.food[sel], cfg.food_capacity).reshape(grid)
        out[:, :, _P["fertile"]] = self.fertile[sel].reshape(grid)
        ei, si = np.nonzero(alive)
        gi = ei if envs is None else sel[ei]
        y, x = np.divmod(self.cell[gi, si], n)
        owner = self.owner[gi, si]
        out[ei, :, _P["energy"], y, x] = _scale(self.energy[gi, si], cfg.max_energy)[:, None]
        out[ei, :, _P["age"], y, x] = _scale(self.age[gi, si], cfg.max_age)[:, None]
        out[ei, owner, _P["own_agent"], y, x] = 1.0
        if self.num_players == 2:
            out[ei, 1 - owner, _P["enemy"], y, x] = 1.0

    def self_features(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """``[n, F]`` float32 features of chosen agents (see ``FEATURE_NAMES``)."""
        cfg = self.cfg
        ei, si = np.asarray(env_index), np.asarray(slot)
        cell = self.cell[ei, si]
        out = np.empty((ei.size, len(FEATURE_NAMES)), dtype=np.float32)
        out[:, 0] = _scale(self.energy[ei, si], cfg.max_energy)
        out[:, 1] = _scale(self.age[ei, si], cfg.max_age)
        out[:, 2] = np.where(
            cell >= 0, _scale(self.food[ei, cell.clip(0)], cfg.food_capacity), -1.0
        )
        y, x = np.divmod(cell.clip(0), cfg.map_size)
        out[:, 3] = _scale(x, cfg.map_size - 1)
        out[:, 4] = _scale(y, cfg.map_size - 1)
        out[:, 5] = _scale(self.t[ei], cfg.step_scale)
        return out
