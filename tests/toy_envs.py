"""Two small test-only envs on the batched contract, to check that learners are env-generic.

Neither is harvest: other kind names, action counts, planes, features and slot layouts, so a
learner that still assumed harvest would fail on them. Both are honest ``BatchedEnv``s (every
step vectorised over worlds and slots; entities spawn into free slots and die mid-episode;
``FinalState`` with planes, features and metrics), but tiny and not part of the env suite: they
are registered only inside the tests that use them (``register_toys``), so the conformance
suite, which iterates the real registry, never sees them.

* ``toy-mites-v0``: one player, one kind (``mite``), no structures. Mites walk on a small map,
  eat food (reward 1, energy back), lose one energy per step and die at 0 (reward -0.5); a mite
  with enough energy may split (action 5) into a new mite in a free slot. The episode ends when
  every mite is dead (terminal) or at ``max_cycles``. No scripted policy: only ``random``.
* ``toy-nests-v0``: two players, each with a ``nest`` (a structure: it never moves or dies, in
  slots ``[0, players)``) that builds a ``light`` (action 6) or a ``heavy`` (action 7) from the
  food its units ate. Units walk, eat, split and starve as mites do. Per-player metric ``win``:
  1 to the player that ate more food, 0.5 each on a tie. Scripted policy: ``heuristic`` (units
  walk to the nearest food, nests build lights).

Actions: 0 stay, 1-4 move north/east/south/west (not off the map), 5 split, 6/7 build (nests
only). The action space of ``toy-mites-v0`` stops at 5.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from spawnzoo.envs.core.batched import BatchedEnv, BatchStep, FinalState, validate_actions
from spawnzoo.envs.core.registry import REGISTRY, EnvSpec

STAY, SPLIT, BUILD_LIGHT, BUILD_HEAVY = 0, 5, 6, 7
#: (dy, dx) of actions 0-4
MOVES = np.array([[0, 0], [-1, 0], [0, 1], [1, 0], [0, -1]])
PLANES = ("step", "food", "own_units", "enemy_units", "own_nests", "enemy_nests", "own_energy")


@dataclass(frozen=True)
class ToyConfig:
    """Numbers of a toy env (every field is a ``make_batched`` setting)."""

    structures: bool = False
    players: int = 1
    map_size: int = 6
    unit_slots: int = 4  # per player
    start_units: int = 2  # per player
    food: int = 5
    energy_max: int = 6
    split_energy: int = 4
    build_cost: int = 1
    max_cycles: int = 24
    eval_max_cycles: int = 20
    obs_radius: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.players <= 2 or not 1 <= self.start_units <= self.unit_slots:
            raise ValueError(f"bad toy config: {self}")


PRESETS = {"tiny": ToyConfig()}


class ToyWorld(BatchedEnv):
    """``num_envs`` toy worlds (see the module docstring for the rules)."""

    def __init__(self, cfg: ToyConfig, num_envs: int = 1, auto_reset: bool = True):
        self.cfg, self.num_envs, self.auto_reset = cfg, num_envs, auto_reset
        p, r = cfg.players, cfg.unit_slots
        self.kind_names = ("nest", "light", "heavy") if cfg.structures else ("mite",)
        self.structure_kinds = (0,) if cfg.structures else ()
        self.structure_slots = p if cfg.structures else 0
        self.num_players, self.num_slots = p, self.structure_slots + p * r
        self.num_actions = 8 if cfg.structures else 6
        self.plane_names, self.global_plane_names = PLANES, ("step",)
        self.plane_fill = dict.fromkeys(PLANES, 0.0)
        self.feature_names = ("energy", *(f"is_{k}" for k in self.kind_names), "x", "y")
        self.map_shape = (cfg.map_size, cfg.map_size)
        self.max_cycles = cfg.max_cycles
        e, s, n = num_envs, self.num_slots, cfg.map_size**2
        self.alive = np.zeros((e, s), bool)
        self.kind, self.owner = np.full((e, s), -1, np.int8), np.full((e, s), -1, np.int8)
        self.cell, self.serial = np.full((e, s), -1, np.int32), np.full((e, s), -1, np.int64)
        self.energy = np.zeros((e, s), np.int64)
        self.food = np.zeros((e, n), bool)
        self.stock = np.zeros((e, p), np.int64)
        self.next_serial = np.zeros((e, p, len(self.kind_names)), np.int64)
        self.t = np.zeros(e, np.int64)
        self.metrics = {
            k: np.zeros((e, p)) for k in ("food_eaten", "units_built", "units_lost", "pop")
        }
        self._rng = np.random.default_rng()
        self._mask = np.zeros((e, s, self.num_actions), bool)

    # ----------------------------------------------------------------- reset
    def reset(self, seed: int | None = None) -> BatchStep:
        self._rng = np.random.default_rng(seed)
        for i in range(self.num_envs):
            self._reset_world(i, np.random.default_rng(None if seed is None else [seed, i]))
        self._compute_masks()
        zeros = np.zeros((self.num_envs, self.num_slots))
        return self._batch(
            self.alive.copy(), zeros, zeros.astype(bool), zeros.astype(bool), zeros.astype(bool)
        )

    def _reset_world(self, i: int, rng: np.random.Generator) -> None:
        cfg, n = self.cfg, self.cfg.map_size
        for arr, value in ((self.alive, False), (self.kind, -1), (self.owner, -1)):
            arr[i] = value
        self.cell[i], self.serial[i], self.energy[i] = -1, -1, 0
        self.food[i] = False
        self.food[i, rng.choice(n * n, cfg.food, replace=False)] = True
        self.stock[i], self.next_serial[i], self.t[i] = 0, 0, 0
        for m in self.metrics.values():
            m[i] = 0
        unit_kind = 1 if cfg.structures else 0
        for p in range(cfg.players):
            if cfg.structures:  # nests in opposite corners
                self._place(i, p, p, 0, p * (n * n - 1), cfg.energy_max)
            base = self.structure_slots + p * cfg.unit_slots
            cells = rng.choice(n * n, cfg.start_units, replace=False)
            for j, c in enumerate(cells):
                self._place(i, base + j, p, unit_kind, int(c), cfg.energy_max)

    def _place(self, i, slot, owner, kind, cell, energy) -> None:
        """Put new entities in slots (scalars, or ``[n]`` arrays with distinct ``(i, owner)``)."""
        self.alive[i, slot] = True
        self.kind[i, slot], self.owner[i, slot], self.cell[i, slot] = kind, owner, cell
        self.serial[i, slot] = self.next_serial[i, owner, kind]
        self.next_serial[i, owner, kind] += 1
        self.energy[i, slot] = energy

    # ------------------------------------------------------------------ step
    def step(self, actions: Any) -> BatchStep:
        cfg, n = self.cfg, self.cfg.map_size
        a = validate_actions(actions, self.num_envs, self.num_slots, self.num_actions).copy()
        gone = ~self.alive  # slots whose entity died last step are empty from now on
        self.kind[gone], self.owner[gone], self.cell[gone], self.serial[gone] = -1, -1, -1, -1
        legal = np.take_along_axis(self._mask, a[..., None], axis=2)[..., 0]
        illegal = self.alive & ~legal
        a[~legal] = STAY
        acted = self.alive.copy()
        unit = acted & ~self._is_structure(self.kind)
        reward = np.zeros(self.alive.shape, np.float32)

        # move
        y, x = np.divmod(self.cell, n)
        d = MOVES[np.where(unit & (a <= 4), a, 0)]
        self.cell = np.where(unit, (y + d[..., 0]) * n + x + d[..., 1], self.cell).astype(np.int32)
        # eat: the lowest live unit slot on a food cell eats it; the food grows back elsewhere
        e, s = np.nonzero(unit & self.food[np.arange(self.num_envs)[:, None], self.cell.clip(0)])
        key = e * n * n + self.cell[e, s]
        _, first = np.unique(key, return_index=True)
        e, s = e[first], s[first]
        self.food[e, self.cell[e, s]] = False
        self.food[e, self._rng.integers(0, n * n, e.size)] = True
        reward[e, s] += 1.0
        self.energy[e, s] = np.minimum(self.energy[e, s] + 3, cfg.energy_max)
        np.add.at(self.stock, (e, self.owner[e, s]), 1)
        np.add.at(self.metrics["food_eaten"], (e, self.owner[e, s]), 1)
        # spawn: the first requesting entity of each (world, player) gets the player's first
        # free unit slot (the mask guarantees there is one)
        spawned = np.zeros_like(self.alive)
        e, s = np.nonzero(acted & (a >= SPLIT))
        _, first = np.unique(e * self.num_players + self.owner[e, s], return_index=True)
        e, s = e[first], s[first]
        p = self.owner[e, s].astype(np.int64)
        unit_alive = self.alive[:, self.structure_slots :].reshape(self.num_envs, cfg.players, -1)
        free = self.structure_slots + p * cfg.unit_slots + unit_alive[e, p].argmin(-1)
        split = a[e, s] == SPLIT
        half = self.energy[e, s] // 2
        self.energy[e[split], s[split]] -= half[split]
        np.subtract.at(self.stock, (e[~split], p[~split]), cfg.build_cost)
        kind = np.where(split, self.kind[e, s], a[e, s] - BUILD_LIGHT + 1)  # 6 light, 7 heavy
        energy = np.where(split, half, cfg.energy_max)
        self._place(e, free, p, kind, self.cell[e, s], energy)
        spawned[e, free] = True
        np.add.at(self.metrics["units_built"], (e, p), 1)
        # starve
        self.energy[unit] -= 1
        dead = unit & (self.energy <= 0)
        self.alive[dead] = False
        reward[dead] -= 0.5
        np.add.at(self.metrics["units_lost"], (np.nonzero(dead)[0], self.owner[dead]), 1)
        self.t += 1
        for p in range(self.num_players):
            self.metrics["pop"][:, p] += ((self.owner == p) & self.alive).sum(1)

        present = np.stack([((self.owner == p) & self.alive).any(1) for p in range(cfg.players)])
        terminal = ~present.all(0)  # a player lost everything
        limit = (self.t >= self.max_cycles) & ~terminal
        terminated = dead | (terminal[:, None] & acted & self.alive)
        truncated = limit[:, None] & acted & self.alive
        done = terminal | limit
        self._compute_masks()
        final = None
        if done.any():
            final = self._finish(np.flatnonzero(done), spawned)
        return self._batch(spawned, reward, terminated, truncated, illegal, done, final)

    def _is_structure(self, kind: np.ndarray) -> np.ndarray:
        return np.isin(kind, self.structure_kinds)

    def _compute_masks(self) -> None:
        cfg, n = self.cfg, self.cfg.map_size
        m = self._mask
        m[...] = False
        m[..., STAY] = True
        unit = self.alive & ~self._is_structure(self.kind)
        y, x = np.divmod(self.cell, n)
        for act, (dy, dx) in enumerate(MOVES[1:], start=1):
            m[..., act] = unit & (0 <= y + dy) & (y + dy < n) & (0 <= x + dx) & (x + dx < n)
        unit_alive = self.alive[:, self.structure_slots :].reshape(self.num_envs, cfg.players, -1)
        has_free = ~unit_alive.all(-1)  # [E, P]
        room = np.take_along_axis(has_free, self.owner.clip(0).astype(np.int64), axis=1)
        m[..., SPLIT] = unit & room & (self.energy >= cfg.split_energy)
        if cfg.structures:
            nest = self.alive & self._is_structure(self.kind)
            rich = np.take_along_axis(self.stock, self.owner.clip(0).astype(np.int64), axis=1)
            m[..., BUILD_LIGHT] = m[..., BUILD_HEAVY] = nest & room & (rich >= cfg.build_cost)

    def _finish(self, envs: np.ndarray, spawned: np.ndarray) -> FinalState:
        slots = np.arange(self.num_slots)
        final = FinalState(
            env_index=envs,
            planes=self._planes_of(envs),
            alive=self.alive[envs].copy(),
            cell=self.cell[envs].copy(),
            kind=self.kind[envs].copy(),
            owner=self.owner[envs].copy(),
            metrics=[self.episode_metrics(int(i)) for i in envs],
            features=self.self_features(
                np.repeat(envs, self.num_slots), np.tile(slots, envs.size)
            ).reshape(envs.size, self.num_slots, -1),
        )
        if self.auto_reset:
            for i in envs.tolist():
                self._reset_world(i, self._rng)
            spawned[envs] = self.alive[envs]
            self._compute_masks()
        return final

    def episode_metrics(self, i: int) -> dict[str, Any]:
        """``{"episode_length", "per_player": [{food_eaten, units_built, units_lost,
        avg_population[, win]}]}`` of world ``i``'s episode so far."""
        t = max(int(self.t[i]), 1)
        eaten = self.metrics["food_eaten"][i]
        rows = []
        for p in range(self.num_players):
            row = {k: float(self.metrics[k][i, p]) for k in ("food_eaten", "units_built")}
            row["units_lost"] = float(self.metrics["units_lost"][i, p])
            row["avg_population"] = float(self.metrics["pop"][i, p]) / t
            if self.num_players == 2:
                row["win"] = float(np.sign(eaten[p] - eaten[1 - p]) / 2 + 0.5)
            rows.append(row)
        return {"episode_length": int(self.t[i]), "per_player": rows}

    def _batch(self, spawned, reward, terminated, truncated, illegal, done=None, final=None):
        return BatchStep(
            alive=self.alive.copy(),
            spawned=spawned.astype(bool),
            kind=self.kind.copy(),
            owner=self.owner.copy(),
            cell=self.cell.copy(),
            action_mask=self._mask.copy(),
            reward=np.asarray(reward, np.float32),
            terminated=np.asarray(terminated, bool),
            truncated=np.asarray(truncated, bool),
            done=np.zeros(self.num_envs, bool) if done is None else done,
            serial=self.serial.copy(),
            final=final,
            illegal=np.asarray(illegal, bool),
        )

    # -------------------------------------------------------------- features
    def write_planes(self, out: np.ndarray, envs: np.ndarray | None = None) -> None:
        idx = np.arange(self.num_envs) if envs is None else np.asarray(envs)
        n, cells = self.cfg.map_size, self.cfg.map_size**2
        flat = np.zeros((idx.size, self.num_players, len(PLANES), cells), np.float32)
        flat[:, :, 0] = (self.t[idx] / self.max_cycles)[:, None, None]
        flat[:, :, 1] = self.food[idx][:, None, :]
        e, s = np.nonzero(self.alive[idx])
        cell, owner = self.cell[idx][e, s], self.owner[idx][e, s]
        nest = self._is_structure(self.kind[idx][e, s])
        energy = self.energy[idx][e, s] / self.cfg.energy_max
        for p in range(self.num_players):  # players, not agents: at most 2
            own = owner == p
            plane = np.where(nest, 4, 2) + ~own  # own/enemy units 2/3, own/enemy nests 4/5
            flat[e, p, plane, cell] = 1.0
            flat[e[own & ~nest], p, 6, cell[own & ~nest]] = energy[own & ~nest]
        out[...] = flat.reshape(idx.size, self.num_players, len(PLANES), n, n)

    def _planes_of(self, envs: np.ndarray) -> np.ndarray:
        n = self.cfg.map_size
        out = np.empty((envs.size, self.num_players, len(PLANES), n, n), np.float32)
        self.write_planes(out, envs)
        return out

    def self_features(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        n, k = self.cfg.map_size, len(self.kind_names)
        kind = self.kind[env_index, slot].astype(np.int64)
        y, x = np.divmod(self.cell[env_index, slot].clip(0), n)
        out = np.zeros((len(env_index), len(self.feature_names)), np.float32)
        out[:, 0] = self.energy[env_index, slot] / self.cfg.energy_max
        out[:, 1 : 1 + k] = kind[:, None] == np.arange(k)
        out[:, 1 + k] = 2 * x / (n - 1) - 1
        out[:, 2 + k] = 2 * y / (n - 1) - 1
        return out

    def slot_cell(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        return self.cell[env_index, slot].astype(np.int64)

    def slot_owner(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        return self.owner[env_index, slot].astype(np.int64)


class GreedyPolicy:
    """toy-nests' ``heuristic``: units step toward the nearest food, nests build lights."""

    def __init__(self, world: ToyWorld, seed: int | None = None):
        self.world = world

    def act(self, batch: BatchStep) -> np.ndarray:
        w = self.world
        n = w.cfg.map_size
        cells = np.arange(n * n)
        y, x = np.divmod(batch.cell.clip(0)[..., None], n)  # [E, S, 1]
        fy, fx = np.divmod(cells, n)
        dist = np.abs(fy - y) + np.abs(fx - x) + np.where(w.food[:, None, :], 0, 10 * n)
        target = dist.argmin(-1)  # [E, S]
        ty, tx = np.divmod(target, n)
        y, x = y[..., 0], x[..., 0]
        step = np.select([ty < y, tx > x, ty > y, tx < x], [1, 2, 3, 4], STAY)
        actions = np.where(
            np.take_along_axis(batch.action_mask, step[..., None], 2)[..., 0], step, 0
        )
        if w.num_actions > BUILD_LIGHT:
            actions = np.where(batch.action_mask[..., BUILD_LIGHT], BUILD_LIGHT, actions)
        return actions


def batched(*, num_envs: int = 1, preset: str | None = None, auto_reset: bool = True, **settings):
    """``make_batched`` entry point of both toy envs."""
    cfg = dataclasses.replace(PRESETS[preset] if preset else ToyConfig(), **settings)
    return ToyWorld(cfg, num_envs, auto_reset=auto_reset)


def no_parallel_env(**_: Any):
    """The toy envs have no PettingZoo adapter: they exist for the learner tests only."""
    raise TypeError("toy envs are batched-only test fixtures; use make_batched")


SPECS = (
    EnvSpec(
        id="toy-mites-v0",
        parallel_entry_point="toy_envs:no_parallel_env",
        batched_entry_point="toy_envs:batched",
        presets="toy_envs:PRESETS",
    ),
    EnvSpec(
        id="toy-nests-v0",
        parallel_entry_point="toy_envs:no_parallel_env",
        batched_entry_point="toy_envs:batched",
        presets="toy_envs:PRESETS",
        kwargs={"structures": True, "players": 2},
        policies={"heuristic": "toy_envs:GreedyPolicy"},
    ),
)


def register_toys(monkeypatch) -> None:
    """Put the toy envs in the env table for one test (pytest's ``monkeypatch`` undoes it)."""
    for spec in SPECS:
        monkeypatch.setitem(REGISTRY, spec.id, spec)
