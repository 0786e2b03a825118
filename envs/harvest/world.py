"""The harvest rules on numpy slot arrays, stepping many worlds at once.

No pygame and no PettingZoo here: ``HarvestWorld`` implements ``envs.core.BatchedEnv``. The step
is vectorised over worlds and entities; the only Python loops run over the (rare) worlds that
reset. Order of one step, as in ``luxai_s2`` 3.0.1 ``LuxAI_S2.step``:

1. masked actions become no-ops (masks were computed from the state at the end of last step);
2. digs; 3. factory builds (the robot appears on the factory centre, stationary);
4. moves and collisions; 5. transfers (all senders are emptied first, then targets filled,
   looked up after movement); 6. power pickups; 7. factories refine, drink and may be destroyed;
8. robots charge by day, factories charge; 9. the clock ticks, episode end is checked, worlds
   that ended reset, masks are recomputed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.batched import BatchStep, SlotArrayEnv, spawned_flags, step_flags
from ..core.pool import AgentPool
from ..core.settings import check_world_args
from . import kernels
from .config import HarvestConfig
from .mapgen import generate_map, place_factories

FACTORY, LIGHT, HEAVY = 0, 1, 2
KIND_NAMES = ("factory", "light", "heavy")

# --- the one discrete action space shared by robots and factories ---
IDLE = 0
MOVE_N, MOVE_E, MOVE_S, MOVE_W = 1, 2, 3, 4
DIG = 5
TRANSFER_C, TRANSFER_N, TRANSFER_E, TRANSFER_S, TRANSFER_W = 6, 7, 8, 9, 10
PICKUP = 11
BUILD_LIGHT, BUILD_HEAVY = 12, 13
NUM_ACTIONS = 14
ACTION_NAMES = (
    "idle",
    "move_n",
    "move_e",
    "move_s",
    "move_w",
    "dig",
    "transfer_c",
    "transfer_n",
    "transfer_e",
    "transfer_s",
    "transfer_w",
    "pickup_power",
    "build_light",
    "build_heavy",
)
#: the paper's factorised actions (§2.3; its code's ``ActDims``): a robot picks one of 7 action
#: types, then the type's parameters; a factory picks one of 4 types. Harvest offers no choice of
#: resource, amount or repeat (transfers move all cargo, pickups fill the battery, no queues), so
#: of the parameters only the direction is a choice (moves: N/E/S/W, transfers: centre too).
UNIT_ACTION_TYPES = ("move", "transfer", "pickup", "dig", "self_destruct", "recharge", "idle")
FACTORY_ACTION_TYPES = ("build_light", "build_heavy", "water", "idle")
#: per flat action: (robot action type, direction 0-4 or -1, factory action type); -1 where the
#: flat action is not one of that class (self-destruct, recharge and water are never offered)
ACTION_FACTORS = np.array(
    [(6, -1, 3)]
    + [(0, d, -1) for d in (1, 2, 3, 4)]
    + [(3, -1, -1)]
    + [(1, d, -1) for d in (0, 1, 2, 3, 4)]
    + [(2, -1, -1), (-1, -1, 0), (-1, -1, 1)],
    dtype=np.int64,
)
assert ACTION_FACTORS.shape == (NUM_ACTIONS, 3)
#: which actions are moves and which are transfers (lookup tables over action ids)
_IS_MOVE = np.isin(np.arange(NUM_ACTIONS), (MOVE_N, MOVE_E, MOVE_S, MOVE_W))
_IS_TRANSFER = (np.arange(NUM_ACTIONS) >= TRANSFER_C) & (np.arange(NUM_ACTIONS) <= TRANSFER_W)
#: (dy, dx) of centre, N, E, S, W
DIRS = np.array([(0, 0), (-1, 0), (0, 1), (1, 0), (0, -1)], dtype=np.int64)

PLANE_NAMES = (
    "step",
    "day",
    "own_factory",
    "ice",
    "ore",
    "rubble",
    "own_robot",
    "enemy",
    "robot_heavy",
    "robot_power",
    "robot_ice",
    "robot_ore",
    "factory_power",
    "factory_ice",
    "factory_water",
    "factory_ore",
    "factory_metal",
    "factory_water_cost",
)
_P = {name: i for i, name in enumerate(PLANE_NAMES)}
#: value of each plane where there is nothing (flags 0, min-max scaled quantities -1)
_FLAG_PLANES = ("day", "own_factory", "ice", "ore", "own_robot", "enemy", "robot_heavy")
#: value of each plane where there is nothing: 0 for flags, -1 (the minimum) for scaled amounts
PLANE_FILL = {n: 0.0 if n in _FLAG_PLANES else -1.0 for n in PLANE_NAMES}
_FILL_VECTOR = np.array([PLANE_FILL[n] for n in PLANE_NAMES], dtype=np.float32)
_FOOTPRINT_DY, _FOOTPRINT_DX = (a.ravel() for a in np.mgrid[-1:2, -1:2])
FEATURE_NAMES = (
    "is_factory",
    "is_light",
    "is_heavy",
    "power",
    "ice",
    "ore",
    "water",
    "metal",
    "x",
    "y",
    "step",
    "day",
)
#: factory cargo and power are scaled by the heavy robot's capacities (as in the paper)
FACTORY_SCALE = 1000.0
#: Lux's ``LICHEN_WATERING_COST_FACTOR``: watering costs ``lichen tiles // 10 + 1`` water (the
#: ``factory_water_cost`` plane; harvest has no lichen, so the cost is always 1)
LICHEN_WATERING_COST_FACTOR = 10
FACTORY_POWER_SCALE = 3000.0
#: planes written entity by entity (everything after the map layers), and the two runs of
#: consecutive per-class value planes with the scales of the factory ones
_ENTITY_PLANES = slice(_P["own_robot"], len(PLANE_NAMES))
_ROBOT_PLANES = slice(_P["robot_heavy"], _P["robot_ore"] + 1)
_FACTORY_PLANES = slice(_P["factory_power"], _P["factory_water_cost"] + 1)
_KINDS = np.arange(len(KIND_NAMES))
_FACTORY_PLANE_SCALE = np.array([FACTORY_POWER_SCALE] + [FACTORY_SCALE] * 5)
assert PLANE_NAMES[_ROBOT_PLANES] == ("robot_heavy", "robot_power", "robot_ice", "robot_ore")
assert PLANE_NAMES[_FACTORY_PLANES] == tuple(
    f"factory_{q}" for q in ("power", "ice", "water", "ore", "metal", "water_cost")
)


class HarvestWorld(SlotArrayEnv):
    """``num_envs`` harvest worlds on slot arrays (see ``envs.core.batched`` for the contract).

    Slots ``[0, P * F)`` hold factories (player ``p`` owns ``[p F, (p+1) F)``, ``F`` = most
    factories per player); slots ``[P F, P F + P R)`` hold robots (player ``p`` owns the ``p``-th
    block of ``R`` = ``cfg.robot_slots``).

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
    global_plane_names = ("step", "day")
    structure_kinds = (FACTORY,)
    num_actions = NUM_ACTIONS
    action_names = ACTION_NAMES
    #: the factorised view of the flat actions (see ``ACTION_FACTORS``)
    action_factors = ACTION_FACTORS
    unit_action_types = UNIT_ACTION_TYPES
    structure_action_types = FACTORY_ACTION_TYPES

    def __init__(self, config: HarvestConfig, num_envs: int = 1, auto_reset: bool = True):
        e = check_world_args("HarvestWorld", config, HarvestConfig, num_envs, auto_reset)
        self.cfg = cfg = config
        self.num_envs = e
        self.auto_reset = auto_reset
        self.num_players = p = cfg.players
        self.max_cycles = cfg.max_cycles
        n = cfg.map_size
        self.map_shape = (n, n)
        self.n_cells = n * n
        self.max_factories = f = cfg.factory_range[1]
        self.robot_slots = r = cfg.robot_slots
        self.factory_slots = self.structure_slots = p * f
        self.num_slots = s = p * f + p * r
        self.pool = AgentPool(
            owners=tuple(f"player_{i}" for i in range(p)),
            kinds=KIND_NAMES,
            sizes=(f, cfg.robot_id_pool, cfg.robot_id_pool),
        )
        # per-kind constants, indexed by kind (factory entries unused)
        rc = (None, cfg.light, cfg.heavy)
        self._k = {
            name: np.array([0 if c is None else getattr(c, name) for c in rc])
            for name in (
                "metal_cost",
                "power_cost",
                "battery_capacity",
                "init_power",
                "cargo_space",
                "charge",
                "move_cost",
                "rubble_movement_cost",
                "dig_cost",
                "dig_rubble_removed",
                "dig_resource_gain",
                "rubble_after_destruction",
            )
        }
        self._k["battery_capacity"][FACTORY] = 1  # avoids 0-division in features
        self._k["cargo_space"][FACTORY] = 1
        # [8, kind]: what power, ice, ore, water, metal, x, y and step are divided by in the
        # own features (factory amounts by the heavy robot's capacities, as in the paper)
        k_, side = self._k, float(n - 1)
        self._feature_scale = np.array(
            [
                [FACTORY_POWER_SCALE] + [FACTORY_SCALE] * 4 + [side, side, cfg.step_scale],
                *(
                    [k_["battery_capacity"][c]]
                    + [k_["cargo_space"][c]] * 2
                    + [FACTORY_SCALE] * 2
                    + [side, side, cfg.step_scale]
                    for c in (LIGHT, HEAVY)
                ),
            ],
            dtype=np.float64,
        ).T.copy()
        # [kind, 3]: what robot power, ice and ore are divided by in the planes
        self._robot_scale = np.stack(
            [self._k["battery_capacity"], self._k["cargo_space"], self._k["cargo_space"]], axis=1
        )
        # flat offsets of the 5 directions and of a 3x3 footprint
        self._dir_flat = DIRS[:, 0] * n + DIRS[:, 1]
        fy, fx = np.mgrid[-1:2, -1:2]
        self._footprint = (fy * n + fx).ravel()
        # per cell (and a last row for cell -1, an empty slot): the cell in each of the 5
        # directions (the cell itself off the map) and whether that direction is on the map
        ty, tx = np.divmod(np.arange(n * n), n)
        ty, tx = ty[:, None] + DIRS[:, 0], tx[:, None] + DIRS[:, 1]
        inside = (ty >= 0) & (ty < n) & (tx >= 0) & (tx < n)
        self._nbr_inside = np.concatenate([inside, np.zeros((1, 5), bool)])
        self._nbr_cell = np.concatenate(
            [np.where(inside, ty * n + tx, np.arange(n * n)[:, None]), np.zeros((1, 5), np.int64)]
        )
        # owner of each slot (slots are assigned by owner; see the class docstring), with a
        # last entry -1 that slot -1 (no entity) reads
        self._slot_owner = np.concatenate(
            [np.arange(p).repeat(f), np.arange(p).repeat(r), [-1]]
        ).astype(np.int8)
        self._fac_owner = self._slot_owner[: p * f]  # [P F]
        # ---- state ----
        self.ice = np.zeros((e, n * n), dtype=bool)
        self.ore = np.zeros((e, n * n), dtype=bool)
        self.rubble = np.zeros((e, n * n), dtype=np.int32)
        self.factory_map = np.full((e, n * n), -1, dtype=np.int32)  # factory slot on each tile
        self.robot_map = np.full((e, n * n), -1, dtype=np.int32)  # robot slot on each tile
        self.alive = np.zeros((e, s), dtype=bool)
        self.kind = np.full((e, s), -1, dtype=np.int8)
        self.owner = np.full((e, s), -1, dtype=np.int8)
        self.cell = np.full((e, s), -1, dtype=np.int64)
        self.serial = np.full((e, s), -1, dtype=np.int64)  # index within the agent pool
        # creation order within a world (Lux's global unit id): pickups are served in it
        self.born = np.full((e, s), -1, dtype=np.int64)
        self.next_born = np.zeros(e, dtype=np.int64)
        self.power = np.zeros((e, s), dtype=np.int64)
        self.cargo_ice = np.zeros((e, s), dtype=np.int64)
        self.cargo_ore = np.zeros((e, s), dtype=np.int64)
        self.water = np.zeros((e, s), dtype=np.int64)
        self.metal = np.zeros((e, s), dtype=np.int64)
        self.t = np.zeros(e, dtype=np.int64)
        self.next_serial = np.zeros((e, p, 3), dtype=np.int64)
        self.ever_alive = np.zeros((e, s), dtype=bool)  # for metrics
        self.metrics = {
            key: np.zeros((e, p), dtype=np.float64)
            for key in (
                "ice_transferred",
                "ice_dug",
                "factory_alive_steps",
                "robots_built",
                "robots_lost",
                "factories_lost",
                "illegal_actions",
            )
        }
        self._mask = np.zeros((e, s, NUM_ACTIONS), dtype=bool)
        self._tile_mark = np.zeros(e * n * n, dtype=bool)  # scratch for collision detection
        self._flat_slots = np.arange(e * s)
        self._rngs: list[np.random.Generator] = []
        self._seeded = False

    def _reset_world(self, i: int) -> None:
        cfg, rng = self.cfg, self._rngs[i]
        n = cfg.map_size
        ice, ore, rubble, axis = generate_map(rng, cfg)
        lo, hi = cfg.factory_range
        count = int(rng.integers(lo, hi + 1))
        centres = place_factories(rng, cfg, ice, ore, rubble, count, axis)
        self.ice[i] = ice.ravel()
        self.ore[i] = ore.ravel()
        self.rubble[i] = rubble.ravel()
        self.factory_map[i] = -1
        self.robot_map[i] = -1
        for arr, value in (
            (self.alive, False),
            (self.kind, -1),
            (self.owner, -1),
            (self.cell, -1),
            (self.serial, -1),
            (self.born, -1),
            (self.power, 0),
            (self.cargo_ice, 0),
            (self.cargo_ore, 0),
            (self.water, 0),
            (self.metal, 0),
            (self.ever_alive, False),
        ):
            arr[i] = value
        self.t[i] = 0
        self.next_serial[i] = 0
        self.next_born[i] = self.num_players * count
        for m in self.metrics.values():
            m[i] = 0
        f = self.max_factories
        for p in range(self.num_players):
            for j in range(count):
                slot = p * f + j
                c = int(centres[p, j, 0] * n + centres[p, j, 1])
                self.alive[i, slot] = True
                self.ever_alive[i, slot] = True
                self.kind[i, slot] = FACTORY
                self.owner[i, slot] = p
                self.cell[i, slot] = c
                self.serial[i, slot] = j
                self.born[i, slot] = j * self.num_players + p  # Lux: players place in turns
                self.power[i, slot] = cfg.init_factory_power
                self.water[i, slot] = cfg.init_water
                self.metal[i, slot] = cfg.init_metal
                tiles = c + self._footprint
                self.factory_map[i, tiles] = slot
                self.rubble[i, tiles] = 0
                # footprints avoid resources unless the map was too crowded (mapgen)
                self.ice[i, tiles] = False
                self.ore[i, tiles] = False
            self.next_serial[i, p, FACTORY] = count

    # ------------------------------------------------------------------- step
    def step(self, actions: Any) -> BatchStep:
        """Advance every world one step (see ``BatchedEnv.step``).

        Args:
            actions: ``[E, S]`` ints in ``[0, NUM_ACTIONS)``.

        Returns:
            ``BatchStep``; worlds with ``done`` have been reset (``final`` holds their end state).
        """
        a = self._begin_step(actions)
        cfg, k = self.cfg, self._k
        e_n, s_n, n_cells = self.num_envs, self.num_slots, self.n_cells
        legal = self._mask.reshape(-1, NUM_ACTIONS)[self._flat_slots, a.reshape(-1)]
        legal = legal.reshape(e_n, s_n)
        illegal = self.alive & ~legal
        a[~legal] = IDLE
        if illegal.any():
            np.add.at(
                self.metrics["illegal_actions"],
                (np.nonzero(illegal)[0], self.owner[illegal]),
                1,
            )
        acted = self.alive.copy()  # entities whose transition this step describes
        reward = np.zeros((e_n, s_n), dtype=np.float64)
        boost = 1.0 + cfg.reward_early_boost * (cfg.reward_boost_horizon - self.t) / max(
            cfg.reward_boost_horizon, 1
        )
        # flat views: index with e * S + s (slots) or e * N + cell (tiles)
        af = a.reshape(-1)
        kind_f, cell_f = self.kind.reshape(-1), self.cell.reshape(-1)
        power_f, rubble_f = self.power.reshape(-1), self.rubble.reshape(-1)
        reward_f = reward.reshape(-1)
        boost_f = np.repeat(boost, s_n)

        mv = _IS_MOVE[af].nonzero()[0]
        if cfg.action_masks == "paper" and mv.size > 1:
            mv = self._oldest_own_movers(mv, af)
        # move costs use the rubble before this step's digs (Lux validates first)
        mv_target = cell_f[mv] + self._dir_flat[af[mv]]
        mk = kind_f[mv]
        mv_cost = np.floor(
            k["move_cost"][mk]
            + k["rubble_movement_cost"][mk] * rubble_f[mv // s_n * n_cells + mv_target]
        ).astype(np.int64)

        # ---- 2. dig ----
        dg = (af == DIG).nonzero()[0]
        if dg.size and not kernels.dig(self, dg, reward_f, boost_f):
            self._dig_reference(dg, reward_f, boost_f)

        # ---- 3. build ----
        built = np.zeros(0, dtype=np.int64)
        bd = (af >= BUILD_LIGHT).nonzero()[0]
        if bd.size:
            built = self._build(bd, af[bd] - BUILD_LIGHT + LIGHT)

        # ---- 4. move + collisions ----
        died = np.zeros(0, dtype=np.int64)
        if mv.size or built.size:
            power_f[mv] -= mv_cost
            died = self._move(mv, mv_target, built)

        # ---- 5. transfer (Lux: senders emptied first, targets looked up after moving) ----
        tr = _IS_TRANSFER[af].nonzero()[0]
        if tr.size:
            self._transfer(tr, af[tr] - TRANSFER_C, reward_f, boost_f)

        # ---- 6. pickup power from the own factory underneath ----
        pk = (af == PICKUP).nonzero()[0]
        if pk.size:
            self._pickup(pk)

        # ---- 7. factories refine, drink, die ----
        fs = self.factory_slots
        fal = self.alive[:, :fs]
        fice, fore = self.cargo_ice[:, :fs], self.cargo_ore[:, :fs]
        used_ice = np.minimum(fice, cfg.ice_refine_rate) // cfg.ice_water_ratio
        used_ore = np.minimum(fore, cfg.ore_refine_rate) // cfg.ore_metal_ratio
        fice -= used_ice * cfg.ice_water_ratio
        fore -= used_ore * cfg.ore_metal_ratio
        self.water[:, :fs] += used_ice - cfg.water_per_step * fal
        self.metal[:, :fs] += used_ore
        dry = fal & (self.water[:, :fs] < 0)
        if dry.any():
            self._destroy_factories(np.nonzero(dry))
            reward[:, :fs][dry] += cfg.reward_factory_destroyed
        if died.size:  # Lux clears rubble under the factories left at the end of the step
            tile = died // s_n * n_cells + cell_f[died]
            rubble_f[tile[self.factory_map.reshape(-1)[tile] >= 0]] = 0

        # ---- 8. power ----
        day = (self.t % cfg.cycle_length) < cfg.day_length
        rob = self.alive[:, fs:]
        rkind = np.maximum(self.kind[:, fs:], 0)
        charged = self.power[:, fs:] + k["charge"][rkind] * (rob & day[:, None])
        self.power[:, fs:] = np.minimum(charged, k["battery_capacity"][rkind])
        self.power[:, :fs] += cfg.factory_charge * self.alive[:, :fs]

        # ---- 9. clock, episode end ----
        self.t += 1
        # [E, P] live factories (player p owns factory slots [p F, (p + 1) F))
        fac_alive = self.alive[:, :fs].reshape(e_n, self.num_players, -1).sum(axis=2)
        self.metrics["factory_alive_steps"] += fac_alive
        if self.num_players == 1:
            env_term = fac_alive[:, 0] == 0
        else:
            env_term = (fac_alive > 0).sum(axis=1) <= 1
        flags = step_flags(acted, self.alive, env_term, self.t, self.max_cycles)

        # a robot built and destroyed in the same step never acted: it is in no transition
        if died.size:
            reward_f[died[acted.reshape(-1)[died]]] += cfg.reward_robot_destroyed
        # the reward of a robot built this step belongs to nobody's past transition: it is 0
        spawned = spawned_flags(built, self.alive)
        return self._end_step(flags, spawned=spawned, reward=reward, illegal=illegal)

    def _oldest_own_movers(self, mv: np.ndarray, af: np.ndarray) -> np.ndarray:
        """The paper's "at most one own robot moves onto a tile": of the robots ``mv`` (flat,
        ``[m]``) of one player moving onto one tile, the oldest moves; the others idle (``af``
        is edited in place). Returns the movers left."""
        s_n, n_cells = self.num_slots, self.n_cells
        target = self.cell.reshape(-1)[mv] + self._dir_flat[af[mv]]
        key = (mv // s_n * self.num_players + self.owner.reshape(-1)[mv]) * n_cells + target
        order = np.lexsort((self.born.reshape(-1)[mv], key))
        first = np.zeros(mv.size, dtype=bool)
        first[order] = _run_heads(key[order]) == np.arange(mv.size)
        af[mv[~first]] = IDLE
        return mv[first]

    def _build(self, bd: np.ndarray, robot_kind: np.ndarray) -> np.ndarray:
        """Build robots for factory slots ``bd`` (flat, ``[b]``); return their flat slots.

        Runs the compiled loop of ``envs/harvest/kernels.py`` where numba is on, else
        ``_build_reference`` (which defines the rules).
        """
        built = kernels.build_robots(self, bd, robot_kind)
        return self._build_reference(bd, robot_kind) if built is None else built

    def _build_reference(self, bd: np.ndarray, robot_kind: np.ndarray) -> np.ndarray:
        """``_build`` in numpy."""
        k, s_n, r = self._k, self.num_slots, self.robot_slots
        env = bd // s_n
        owner = self.owner.reshape(-1)[bd].astype(np.int64)
        # rank of each build among builds of the same (env, owner) and of the same class (``bd``
        # is ascending, so equal keys stay in slot order)
        pgrp = env * self.num_players + owner
        serial = self.next_serial[env, owner, robot_kind] + _rank_in_group(pgrp * 3 + robot_kind)
        ok = serial < self.cfg.robot_id_pool
        # the k-th build of a player in a world takes the k-th free robot slot of that player
        prank = _rank_in_group(pgrp)
        base = self.factory_slots + owner * r
        free = ~self.alive[env[:, None], base[:, None] + np.arange(r)]  # [b, R]
        free_upto = np.cumsum(free, axis=1)  # free slots in the block up to each one
        ok &= prank < free_upto[:, -1]
        # a build whose pool or slots ran out this very step does nothing (masks prevent most)
        bd, env, owner, robot_kind, serial = bd[ok], env[ok], owner[ok], robot_kind[ok], serial[ok]
        slot = base[ok] + np.argmax(free_upto[ok] > prank[ok, None], axis=1)
        flat = env * s_n + slot
        np.maximum.at(self.next_serial, (env, owner, robot_kind), serial + 1)
        born = self.next_born[env] + _rank_in_group(env)  # builds run in factory slot order
        np.add.at(self.next_born, env, 1)
        self.metal.reshape(-1)[bd] -= k["metal_cost"][robot_kind]
        self.power.reshape(-1)[bd] -= k["power_cost"][robot_kind]
        for arr, value in (
            (self.alive, True),
            (self.ever_alive, True),
            (self.kind, robot_kind),
            (self.owner, owner),
            (self.cell, self.cell.reshape(-1)[bd]),
            (self.serial, serial),
            (self.born, born),
            (self.power, k["init_power"][robot_kind]),
            (self.cargo_ice, 0),
            (self.cargo_ore, 0),
        ):
            arr.reshape(-1)[flat] = value
        np.add.at(self.metrics["robots_built"], (env, owner), 1)
        return flat

    def _move(self, mv: np.ndarray, target: np.ndarray, built: np.ndarray) -> np.ndarray:
        """Move robots ``mv`` (flat) to ``target`` cells and resolve collisions like Lux S2.

        Runs the compiled loop of ``envs/harvest/kernels.py`` where numba is on, else
        ``_move_reference`` (which, with ``resolve_collisions``, defines the rules).

        Returns the flat slots of destroyed robots.
        """
        gone = kernels.move_robots(self, mv, target, built)
        if gone is None:
            return self._move_reference(mv, target, built)
        self._destroy_robots(gone)
        return gone

    def _move_reference(self, mv: np.ndarray, target: np.ndarray, built: np.ndarray):
        """``_move`` in numpy; returns the flat slots of destroyed robots."""
        s_n, n_cells = self.num_slots, self.n_cells
        cell_f, kind_f, power_f = (
            self.cell.reshape(-1),
            self.kind.reshape(-1),
            self.power.reshape(-1),
        )
        rmap_f = self.robot_map.reshape(-1)
        # clear movers from their old tiles, put movers and new robots on their new tiles
        rmap_f[mv // s_n * n_cells + cell_f[mv]] = -1
        cell_f[mv] = target
        arrivals = np.concatenate([mv, built])
        key = arrivals // s_n * n_cells + cell_f[arrivals]
        standing = rmap_f[key]  # the stationary robot already there, or -1
        rmap_f[key] = arrivals % s_n
        # a tile clashes if an arrival found someone there or two arrivals coincide
        clash = (standing >= 0) | (rmap_f[key] != arrivals % s_n)
        if not clash.any():
            return np.zeros(0, dtype=np.int64)
        mark = self._tile_mark
        mark[key[clash]] = True
        on = mark[key]
        mark[key[clash]] = False
        hit = on & (standing >= 0)
        # the stationary robots hit, each once, in slot order
        stationary = np.zeros(self.num_envs * s_n, dtype=bool)
        stationary[key[hit] // n_cells * s_n + standing[hit]] = True
        stationary = stationary.nonzero()[0]
        robots = np.concatenate([arrivals[on], stationary])
        moved = np.concatenate([np.flatnonzero(on) < mv.size, np.zeros(stationary.size, bool)])
        dead, survivors, loss = resolve_collisions(
            tile=robots // s_n * n_cells + cell_f[robots],
            heavy=kind_f[robots] == HEAVY,
            moved=moved,
            power=power_f[robots],
            power_loss_factor=self.cfg.power_loss_factor,
        )
        power_f[robots[survivors]] -= loss[survivors]
        rmap_f[robots // s_n * n_cells + cell_f[robots]] = -1
        surv = robots[survivors]
        rmap_f[surv // s_n * n_cells + cell_f[surv]] = surv % s_n
        gone = robots[dead]
        self._destroy_robots(gone)
        return gone

    def _destroy_robots(self, flat: np.ndarray) -> None:
        """Remove robots (flat slots) and leave their rubble (not under factories)."""
        if flat.size == 0:
            return
        s_n, n_cells = self.num_slots, self.n_cells
        tile = flat // s_n * n_cells + self.cell.reshape(-1)[flat]
        rub = self.rubble.reshape(-1)
        add = self._k["rubble_after_destruction"][self.kind.reshape(-1)[flat]]
        np.add.at(rub, tile, add)
        rub[tile] = np.minimum(rub[tile], self.cfg.max_rubble)
        # rubble on factory tiles is cleared at the end of the step (``_clear_factory_rubble``),
        # after factories that run dry this step are gone, as in Lux
        np.add.at(self.metrics["robots_lost"], (flat // s_n, self.owner.reshape(-1)[flat]), 1)
        self.alive.reshape(-1)[flat] = False

    def _dig_reference(self, dg: np.ndarray, reward_f: np.ndarray, boost_f: np.ndarray) -> None:
        """Robots ``dg`` (flat slots) dig (numpy; the compiled loop is ``kernels.dig``)."""
        cfg, k, s_n, n_cells = self.cfg, self._k, self.num_slots, self.n_cells
        kind_f, owner_f, cell_f = (
            self.kind.reshape(-1),
            self.owner.reshape(-1),
            self.cell.reshape(-1),
        )
        power_f = self.power.reshape(-1)
        ice_c, ore_c = self.cargo_ice.reshape(-1), self.cargo_ore.reshape(-1)
        rubble_f, ice_f, ore_f = self.rubble.reshape(-1), self.ice.reshape(-1), self.ore.reshape(-1)
        dk = kind_f[dg]
        tile = dg // s_n * n_cells + cell_f[dg]
        has_rubble = rubble_f[tile] > 0
        t_r = tile[has_rubble]
        rubble_f[t_r] = np.maximum(rubble_f[t_r] - k["dig_rubble_removed"][dk[has_rubble]], 0)
        gain = k["dig_resource_gain"][dk]
        on_ice = ~has_rubble & ice_f[tile]
        on_ore = ~has_rubble & ~ice_f[tile] & ore_f[tile]
        g_ice = np.where(on_ice, np.minimum(gain, k["cargo_space"][dk] - ice_c[dg]), 0)
        g_ore = np.where(on_ore, np.minimum(gain, k["cargo_space"][dk] - ore_c[dg]), 0)
        ice_c[dg] += g_ice
        ore_c[dg] += g_ore
        power_f[dg] -= k["dig_cost"][dk]
        reward_f[dg] += cfg.reward_ice_dug * g_ice * boost_f[dg]
        np.add.at(self.metrics["ice_dug"], (dg // s_n, owner_f[dg]), g_ice)

    def _transfer(self, tr: np.ndarray, direction: np.ndarray, reward_f, boost_f) -> None:
        """Robots ``tr`` (flat) transfer their cargo (the compiled ``kernels.transfer`` where
        numba is on, else ``_transfer_reference``)."""
        if not kernels.transfer(self, tr, direction, reward_f, boost_f):
            self._transfer_reference(tr, direction, reward_f, boost_f)

    def _transfer_reference(self, tr: np.ndarray, direction: np.ndarray, reward_f, boost_f):
        """``_transfer`` in numpy."""
        cfg, s_n, n_cells = self.cfg, self.num_slots, self.n_cells
        ice_c, ore_c = self.cargo_ice.reshape(-1), self.cargo_ore.reshape(-1)
        owner_f = self.owner.reshape(-1)
        ice_amt, ore_amt = ice_c[tr].copy(), ore_c[tr].copy()
        ice_c[tr] = 0
        ore_c[tr] = 0
        env = tr // s_n
        tile = env * n_cells + self.cell.reshape(-1)[tr] + self._dir_flat[direction]
        fslot = self.factory_map.reshape(-1)[tile]
        fflat = env * s_n + fslot
        to_fac = (fslot >= 0) & (owner_f[np.where(fslot >= 0, fflat, 0)] == owner_f[tr])
        if to_fac.any():
            tf = fflat[to_fac]
            np.add.at(ice_c, tf, ice_amt[to_fac])
            np.add.at(ore_c, tf, ore_amt[to_fac])
            delivered = ice_amt[to_fac] * cfg.reward_ice_delivered * boost_f[tr[to_fac]]
            share = cfg.reward_delivery_robot_share
            reward_f[tr[to_fac]] += share * delivered
            np.add.at(reward_f, tf, (1.0 - share) * delivered)
            np.add.at(
                self.metrics["ice_transferred"], (env[to_fac], owner_f[tr[to_fac]]), ice_amt[to_fac]
            )
        rslot = self.robot_map.reshape(-1)[tile]
        to_rob = ~to_fac & (rslot >= 0)
        if to_rob.any():
            tgt = env[to_rob] * s_n + rslot[to_rob]
            np.add.at(ice_c, tgt, ice_amt[to_rob])
            np.add.at(ore_c, tgt, ore_amt[to_rob])
            cap = self._k["cargo_space"][self.kind.reshape(-1)[tgt]]
            ice_c[tgt] = np.minimum(ice_c[tgt], cap)  # overflow is lost, as in Lux
            ore_c[tgt] = np.minimum(ore_c[tgt], cap)

    def _pickup(self, pk: np.ndarray) -> None:
        """Robots ``pk`` (flat) fill batteries from the own factory under them, oldest robot
        first (Lux serves actions in creation order); the compiled ``kernels.pickup`` where
        numba is on, else ``_pickup_reference``."""
        if not kernels.pickup(self, pk):
            self._pickup_reference(pk)

    def _pickup_reference(self, pk: np.ndarray) -> None:
        """``_pickup`` in numpy."""
        s_n, n_cells = self.num_slots, self.n_cells
        power_f = self.power.reshape(-1)
        env = pk // s_n
        fflat = env * s_n + self.factory_map.reshape(-1)[env * n_cells + self.cell.reshape(-1)[pk]]
        want = self._k["battery_capacity"][self.kind.reshape(-1)[pk]] - power_f[pk]
        order = np.lexsort((self.born.reshape(-1)[pk], fflat))  # per factory, oldest first
        f_sorted, w_sorted = fflat[order], want[order]
        wanted_before = np.cumsum(w_sorted) - w_sorted
        before = wanted_before - wanted_before[_run_heads(f_sorted)]  # by earlier robots there
        got = np.minimum(np.maximum(power_f[f_sorted] - before, 0), w_sorted)
        power_f[pk[order]] += got
        np.add.at(power_f, f_sorted, -got)

    def _destroy_factories(self, where: tuple[np.ndarray, np.ndarray]) -> None:
        env, slot = where
        tiles = env[:, None] * self.n_cells + self.cell[env, slot][:, None] + self._footprint
        rub = self.rubble.reshape(-1)
        rub[tiles] = np.minimum(
            rub[tiles] + self.cfg.factory_rubble_after_destruction, self.cfg.max_rubble
        )
        self.factory_map.reshape(-1)[tiles] = -1
        self.alive[env, slot] = False
        for arr in (self.power, self.cargo_ice, self.cargo_ore, self.water, self.metal):
            arr[env, slot] = 0
        np.add.at(self.metrics["factories_lost"], (env, self.owner[env, slot]), 1)

    def episode_metrics(self, i: int) -> dict[str, Any]:
        """Metrics of world ``i``'s current episode.

        Returns:
            ``{"episode_length": steps, "per_player": [{...}, ...]}`` where each player's dict
            has ``ice_transferred``, ``ice_dug``, ``avg_factories_alive`` (sum over steps of live
            factories / max_cycles), ``robots_built``, ``robots_lost``, ``factories_lost``,
            ``illegal_actions``.
        """
        per_player = []
        for p in range(self.num_players):
            m = {key: float(v[i, p]) for key, v in self.metrics.items()}
            m["avg_factories_alive"] = m.pop("factory_alive_steps") / self.max_cycles
            per_player.append(m)
        return {"episode_length": int(self.t[i]), "per_player": per_player}

    # ------------------------------------------------------- scenario editing
    def place_robot(
        self, i: int, owner: int, kind: int, yx: tuple[int, int], power: int | None = None
    ) -> int:
        """Put a new robot on tile ``yx`` of world ``i`` (for tests, tutorials and debugging).

        The robot takes the owner's first free robot slot and the next serial of its class; it
        counts as built. Call ``refresh()`` after editing.

        Returns:
            The robot's slot.

        Raises:
            ValueError: bad kind/owner, tile off the map or occupied, or no free slot.
        """
        n = self.cfg.map_size
        if kind not in (LIGHT, HEAVY):
            raise ValueError(f"kind must be LIGHT ({LIGHT}) or HEAVY ({HEAVY}), got {kind}")
        if not 0 <= owner < self.num_players:
            raise ValueError(f"owner must be in [0, {self.num_players}), got {owner}")
        y, x = yx
        if not (0 <= y < n and 0 <= x < n):
            raise ValueError(f"tile {yx} is off the {n}x{n} map")
        cell = y * n + x
        if self.robot_map[i, cell] >= 0:
            raise ValueError(f"tile {yx} already holds a robot")
        base = self.factory_slots + owner * self.robot_slots
        free = np.flatnonzero(~self.alive[i, base : base + self.robot_slots])
        if free.size == 0:
            raise ValueError(f"player {owner} has no free robot slot")
        slot = base + int(free[0])
        self.alive[i, slot] = self.ever_alive[i, slot] = True
        self.kind[i, slot], self.owner[i, slot], self.cell[i, slot] = kind, owner, cell
        self.serial[i, slot] = self.next_serial[i, owner, kind]
        self.next_serial[i, owner, kind] += 1
        self.born[i, slot] = self.next_born[i]
        self.next_born[i] += 1
        self.power[i, slot] = self._k["init_power"][kind] if power is None else power
        self.cargo_ice[i, slot] = self.cargo_ore[i, slot] = 0
        self.robot_map[i, cell] = slot
        self.metrics["robots_built"][i, owner] += 1
        return slot

    def refresh(self) -> np.ndarray:
        """Recompute the action masks after editing the state by hand; returns ``[E, S, A]``."""
        self._compute_masks()
        return self.action_mask()

    # ------------------------------------------------------------------ masks
    def _compute_masks(self) -> None:
        """Legal actions of every slot from the current state: ``self._mask`` ``[E, S, A]``.

        Runs the compiled loop of ``envs/harvest/kernels.py`` where numba is on, else
        ``_compute_masks_reference``, which defines the rules (tests hold the two equal).
        """
        if not kernels.action_masks(self):
            self._compute_masks_reference()

    def _compute_masks_reference(self) -> None:
        """Legal actions of every slot from the current state: ``self._mask`` ``[E, S, A]``.

        Robot rows are computed for the live robots only (``[n, 5]`` arrays over the 5
        directions) and scattered into the mask; empty slots keep only ``IDLE``.
        """
        cfg, k = self.cfg, self._k
        e_n, s_n, n_cells, fs, r = (
            self.num_envs,
            self.num_slots,
            self.n_cells,
            self.factory_slots,
            self.robot_slots,
        )
        mask = self._mask
        mask[:] = False
        mask[:, :, IDLE] = True
        # ---- robots: the n live ones, [n] and [n, 5] over the 5 directions ----
        rob = self.alive[:, fs:]
        env, slot = np.nonzero(rob)
        slot += fs
        cell, kind, power = self.cell[env, slot], self.kind[env, slot], self.power[env, slot]
        owner = self._slot_owner[slot][:, None]
        inside = self._nbr_inside[cell]
        tile = self._nbr_cell[cell] + (env * n_cells)[:, None]
        fslot = self.factory_map.reshape(-1)[tile]
        fowner = self._slot_owner[fslot]
        own_fac = inside & (fowner == owner)
        enemy_fac = inside & (fowner >= 0) & ~own_fac
        own_rob = inside & (self._slot_owner[self.robot_map.reshape(-1)[tile]] == owner)
        own_rob[:, 0] = False
        rub = self.rubble.reshape(-1)[tile[:, 1:]]
        cost = np.floor(
            k["move_cost"][kind][:, None] + k["rubble_movement_cost"][kind][:, None] * rub
        )
        m = np.zeros((env.size, NUM_ACTIONS), dtype=bool)
        m[:, IDLE] = True
        m[:, MOVE_N : MOVE_W + 1] = inside[:, 1:] & ~enemy_fac[:, 1:] & (power[:, None] >= cost)
        paper = cfg.action_masks == "paper"
        if paper:  # no move onto an own robot or onto a factory centre
            centre = self.cell.reshape(-1)[env[:, None] * s_n + fslot[:, 1:]] == (
                tile[:, 1:] - (env * n_cells)[:, None]
            )
            m[:, MOVE_N : MOVE_W + 1] &= ~own_rob[:, 1:] & ~((fslot[:, 1:] >= 0) & centre)
        here = tile[:, 0]
        diggable = (
            (self.rubble.reshape(-1)[here] > 0)
            | self.ice.reshape(-1)[here]
            | self.ore.reshape(-1)[here]
        )
        m[:, DIG] = diggable & (fslot[:, 0] < 0) & (power >= k["dig_cost"][kind])
        carrying = (self.cargo_ice[env, slot] + self.cargo_ore[env, slot]) > 0
        target = own_fac if paper else own_fac | own_rob
        m[:, TRANSFER_C : TRANSFER_W + 1] = carrying[:, None] & target
        fpower = self.power.reshape(-1)[env * s_n + fslot[:, 0]]
        m[:, PICKUP] = own_fac[:, 0] & (power < k["battery_capacity"][kind]) & (fpower > 0)
        mask[env, slot] = m
        # ---- factories: [E, P F] ----
        fal = self.alive[:, :fs]
        centre = (np.arange(e_n) * n_cells)[:, None] + self.cell[:, :fs]
        free_slots = r - rob.reshape(e_n, self.num_players, -1).sum(-1)  # [E, P]
        room = fal & (self.robot_map.reshape(-1)[centre] < 0)
        room &= free_slots[:, self._fac_owner] > 0
        metal, fpower = self.metal[:, :fs], self.power[:, :fs]
        for action, rk in ((BUILD_LIGHT, LIGHT), (BUILD_HEAVY, HEAVY)):
            mask[:, :fs, action] = (
                room
                & (metal >= k["metal_cost"][rk])
                & (fpower >= k["power_cost"][rk])
                & (self.next_serial[:, self._fac_owner, rk] < cfg.robot_id_pool)
            )
        if cfg.action_masks == "paper":  # a factory that can build a heavy may not idle
            mask[:, :fs, IDLE] &= ~mask[:, :fs, BUILD_HEAVY]

    def action_mask(self) -> np.ndarray:
        """``[E, S, A]`` bool legal actions now (a copy)."""
        return self._mask.copy()

    def factored_mask(self) -> tuple[np.ndarray, np.ndarray]:
        """The legal actions now in the paper's factorised form (``factor_mask`` of
        ``action_mask()``): ``(type [E, S, 7], direction [E, S, 7, 5])`` bool."""
        return factor_mask(self._mask, self.kind)

    # ---------------------------------------------------------- observations
    def write_planes(self, out: np.ndarray, envs: np.ndarray | None = None) -> None:
        """Write ``[E, P, C, H, W]`` global planes into ``out`` (see ``PLANE_NAMES``).

        Written entity by entity (only the map layers are full-size copies), so the cost grows
        with live entities, not with map area times entities. ``out`` may be a strided view;
        with ``envs`` (``[D]`` world indices) it is ``[D, P, C, H, W]`` for those worlds only.
        Runs the compiled loop of ``envs/harvest/kernels.py`` where numba is on, else
        ``_write_planes_reference`` (tests hold the two equal).
        """
        worlds = np.arange(self.num_envs) if envs is None else np.asarray(envs, dtype=np.int64)
        if not kernels.write_planes(self, out, worlds):
            self._write_planes_reference(out, envs)

    def _write_planes_reference(self, out: np.ndarray, envs: np.ndarray | None = None) -> None:
        """``write_planes`` in numpy: the definition of the planes."""
        cfg = self.cfg
        sel = slice(None) if envs is None else np.asarray(envs)
        t, alive = self.t[sel], self.alive[sel]
        e_n, n = alive.shape[0], cfg.map_size
        # every plane but the map layers and the clock starts as "nothing"
        out[:, :, _P["own_factory"]] = _FILL_VECTOR[_P["own_factory"]]
        out[:, :, _ENTITY_PLANES] = _FILL_VECTOR[_ENTITY_PLANES, None, None]
        step = np.minimum(t / cfg.step_scale, 1.0) * 2.0 - 1.0
        out[:, :, _P["step"]] = step[:, None, None, None]
        out[:, :, _P["day"]] = ((t % cfg.cycle_length) < cfg.day_length)[:, None, None, None]
        grid = (e_n, 1, n, n)
        out[:, :, _P["ice"]] = self.ice[sel].reshape(grid)
        out[:, :, _P["ore"]] = self.ore[sel].reshape(grid)
        out[:, :, _P["rubble"]] = (self.rubble[sel] * (2.0 / cfg.max_rubble) - 1.0).reshape(grid)
        ei, si = np.nonzero(alive)
        gi = ei if envs is None else sel[ei]  # global world index of each entity
        self._write_entities(out, ei, gi, si)

    def _write_entities(self, out: np.ndarray, ei: np.ndarray, gi: np.ndarray, si: np.ndarray):
        """Scatter entity planes: ``ei`` rows of ``out``, ``gi`` worlds, ``si`` slots (``[m]``).

        The per-entity planes of robots (``robot_heavy`` .. ``robot_ore``) and of factories
        (``factory_power`` .. ``factory_water_cost``) are consecutive, so each class is one
        scatter of ``[m, 4]`` or ``[m, 6]`` values.
        """
        n, p_n = self.cfg.map_size, self.num_players
        cell, kind, owner = self.cell[gi, si], self.kind[gi, si], self.owner[gi, si]
        rob = kind > FACTORY
        re, rg, rk, rs, ro = ei[rob], gi[rob], kind[rob], si[rob], owner[rob]
        ry, rx = np.divmod(cell[rob], n)
        value = np.empty((re.size, 4))
        value[:, 0] = rk == HEAVY
        value[:, 1] = self.power[rg, rs]
        value[:, 2] = self.cargo_ice[rg, rs]
        value[:, 3] = self.cargo_ore[rg, rs]
        value[:, 1:] = np.minimum(value[:, 1:] / self._robot_scale[rk], 1.0) * 2.0 - 1.0
        out[re, :, _ROBOT_PLANES, ry, rx] = value[:, None, :]
        out[re, ro, _P["own_robot"], ry, rx] = 1.0
        fac = ~rob
        fe, fg, fs, fo = ei[fac], gi[fac], si[fac], owner[fac]
        fy, fx = np.divmod(cell[fac], n)
        value = np.empty((fe.size, 6))
        for col, arr in enumerate(
            (self.power, self.cargo_ice, self.water, self.cargo_ore, self.metal)
        ):
            value[:, col] = arr[fg, fs]
        value[:, 5] = 0 // LICHEN_WATERING_COST_FACTOR + 1  # no lichen tiles: the cost is 1
        value = np.minimum(value / _FACTORY_PLANE_SCALE, 1.0) * 2.0 - 1.0
        out[fe, :, _FACTORY_PLANES, fy, fx] = value[:, None, :]
        ty = fy[:, None] + _FOOTPRINT_DY[None, :]
        tx = fx[:, None] + _FOOTPRINT_DX[None, :]
        out[fe[:, None], fo[:, None], _P["own_factory"], ty, tx] = 1.0
        if p_n == 2:
            out[re, 1 - ro, _P["enemy"], ry, rx] = 1.0
            out[fe[:, None], 1 - fo[:, None], _P["enemy"], ty, tx] = 1.0

    def self_features(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """``[n, F]`` float32 features of chosen entities (see ``FEATURE_NAMES``).

        Runs the compiled loop of ``envs/harvest/kernels.py`` where numba is on, else
        ``_self_features_reference`` (tests hold the two equal).
        """
        out = kernels.self_features(self, env_index, slot)
        return self._self_features_reference(env_index, slot) if out is None else out

    def _self_features_reference(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """``self_features`` in numpy: the definition of the features."""
        cfg = self.cfg
        ei, si = np.asarray(env_index), np.asarray(slot)
        flat = ei * self.num_slots + si
        kind = self.kind.reshape(-1).take(flat).astype(np.int64)
        t = self.t[ei]
        # built feature by feature ([F, n]), transposed once at the end
        feat = np.empty((len(FEATURE_NAMES), ei.size))
        np.equal(_KINDS[:, None], kind, out=feat[:3])  # is_factory, is_light, is_heavy
        # power, ice, ore, water, metal, x, y, step: divided by their scale for the entity's
        # kind (a column of _feature_scale), clipped to [0, 1], mapped to [-1, 1]
        raw = feat[3:11]
        for row, arr in enumerate(
            (self.power, self.cargo_ice, self.cargo_ore, self.water, self.metal)
        ):
            raw[row] = arr.reshape(-1).take(flat)
        raw[6], raw[5] = np.divmod(self.cell.reshape(-1).take(flat), cfg.map_size)
        raw[7] = t
        raw /= self._feature_scale.take(kind, axis=1)
        np.maximum(raw, 0.0, out=raw)
        np.minimum(raw, 1.0, out=raw)
        raw *= 2.0
        raw -= 1.0
        raw[3:5, kind != FACTORY] = -1.0  # robots hold no water or metal
        feat[11] = (t % cfg.cycle_length) < cfg.day_length
        return np.ascontiguousarray(feat.T, dtype=np.float32)


def factor_mask(mask: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paper's factorised masks of flat ``[..., 14]`` masks.

    Args:
        mask: ``[..., A]`` bool flat legal actions. kind: ``[...]`` the entity kinds
            (``FACTORY`` rows use ``FACTORY_ACTION_TYPES``, others ``UNIT_ACTION_TYPES``).

    Returns:
        ``(type [..., 7], direction [..., 7, 5])`` bool: a type is legal when any of its flat
        actions is; ``direction[..., t, d]`` whether type ``t`` with direction ``d`` is (types
        without a direction use ``d = 0``). Factory rows use the first 4 type columns.
    """
    structure = (np.asarray(kind) == FACTORY)[..., None]
    types = np.zeros((*mask.shape[:-1], len(UNIT_ACTION_TYPES)), dtype=bool)
    direction = np.zeros((*mask.shape[:-1], len(UNIT_ACTION_TYPES), 5), dtype=bool)
    for a, (ut, ud, st) in enumerate(ACTION_FACTORS):
        legal = mask[..., a]
        if ut >= 0:
            on = legal & ~structure[..., 0]
            types[..., ut] |= on
            direction[..., ut, max(ud, 0)] |= on
        if st >= 0:
            on = legal & structure[..., 0]
            types[..., st] |= on
            direction[..., st, 0] |= on
    return types, direction


def compose_action(action_type: np.ndarray, direction: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Flat actions ``[...]`` from the paper's factorised choice (inverse of ``factor_mask``'s
    layout): ``action_type`` in ``UNIT_ACTION_TYPES`` (robots) or ``FACTORY_ACTION_TYPES``
    (factories), ``direction`` 0-4 (ignored by types without one). A combination harvest does
    not offer (self-destruct, recharge, water, a move to the centre) becomes ``IDLE``."""
    table = np.full((2, len(UNIT_ACTION_TYPES), 5), IDLE, dtype=np.int64)
    for a, (ut, ud, st) in enumerate(ACTION_FACTORS):
        if ut >= 0:
            if ud >= 0:
                table[0, ut, ud] = a
            else:
                table[0, ut, :] = a
        if st >= 0:
            table[1, st, :] = a
    structure = (np.asarray(kind) == FACTORY).astype(np.int64)
    return table[structure, np.asarray(action_type), np.asarray(direction)]


def _run_heads(sorted_keys: np.ndarray) -> np.ndarray:
    """``[m]`` index of the first element of each element's run of equal keys (``m > 0``).

    ``arange(m) - heads`` is each element's rank within its run.
    """
    new = np.empty(sorted_keys.size, dtype=bool)
    new[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    return np.maximum.accumulate(np.where(new, np.arange(sorted_keys.size), 0))


def _rank_in_group(keys: np.ndarray) -> np.ndarray:
    """``[m]`` rank of each element among the earlier elements with the same key."""
    order = np.argsort(keys, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(keys.size) - _run_heads(keys[order])
    return rank


def resolve_collisions(
    tile: np.ndarray,
    heavy: np.ndarray,
    moved: np.ndarray,
    power: np.ndarray,
    power_loss_factor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lux S2 collision rules for robots that ended on shared tiles.

    Per tile: if more than one heavy moved in, the heavy with the most power survives (a tie
    destroys everyone) and loses ``ceil(factor x runner-up heavy's power)``; if exactly one heavy
    moved in, it survives unharmed; otherwise a single stationary heavy survives unharmed;
    otherwise the same rules among lights (several lights moved in: most power wins and pays,
    tie destroys all; one light moved in: it survives unharmed). Everyone else is destroyed.

    Args:
        tile: ``[m]`` int, tile key of each robot (robots sharing a key collide).
        heavy: ``[m]`` bool. moved: ``[m]`` bool, the robot moved this step.
        power: ``[m]`` int, power after paying for the move.
        power_loss_factor: the survivor's loss factor.

    Returns:
        ``(dead [m] bool, survivor [m] bool, loss [m] int)``.
    """
    m = tile.size
    survivor = np.zeros(m, dtype=bool)
    loss = np.zeros(m, dtype=np.int64)
    if m == 0:
        return ~survivor, survivor, loss
    # g: [m] group (tile) index; counts: [groups, 4] robots per class, the class of a robot
    # being 0 heavy mover, 1 stationary heavy, 2 light mover, 3 stationary light
    by_tile = np.argsort(tile, kind="stable")
    heads = _run_heads(tile[by_tile])
    g = np.empty(m, dtype=np.int64)
    g[by_tile] = np.cumsum(heads == np.arange(m)) - 1
    cls = 2 * ~heavy + ~moved
    n_g = int(g.max()) + 1
    counts = np.bincount(g * 4 + cls, minlength=4 * n_g).reshape(n_g, 4)
    heavy_in, heavy_still, light_in = counts[:, 0], counts[:, 1], counts[:, 2]
    # which class competes on power in each group, and whether power decides at all
    heavy_fight = heavy_in > 1
    fight = heavy_fight | ((heavy_in == 0) & (heavy_still != 1) & (light_in > 1))
    competitor = (heavy == heavy_fight[g]) & fight[g]
    # sort by (group, competitor first, power desc); the first two of a fight group fight
    order = np.lexsort((-power, ~competitor, g))
    first = np.flatnonzero(heads == np.arange(m))  # the runs of g in order are the same
    fg = np.flatnonzero(fight)
    if fg.size:
        t, r = order[first[fg]], order[first[fg] + 1]
        win = power[t] != power[r]
        survivor[t[win]] = True
        loss[t[win]] = np.ceil(power[r[win]] * power_loss_factor).astype(np.int64)
    # no fight: the lone heavy mover, else the lone stationary heavy, else the lone light mover
    lone = np.where(
        heavy_in == 1,
        0,
        np.where(heavy_still == 1, 1, np.where((heavy_in == 0) & (light_in == 1), 2, -1)),
    )
    survivor |= (cls == lone[g]) & ~fight[g]
    return ~survivor, survivor, loss
