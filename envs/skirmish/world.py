"""The skirmish rules on numpy slot arrays, stepping many worlds at once.

No pygame and no PettingZoo here: ``SkirmishWorld`` implements ``envs.core.BatchedEnv``. The step
is vectorised over worlds and entities; the only Python loops run over the (rare) worlds that
reset and over the few cells of an attack's range. Order of one step:

1. masked actions become no-ops (masks were computed from the state at the end of last step);
2. attacks, all at once from the positions at the start of the step: damage is summed per
   target, targets at 0 hit points die and leave their cells;
3. builds: each base that builds (and whose team can still pay, in slot order) puts a new unit
   on its first free neighbouring cell;
4. moves, all at once: contested cells, swaps and moves into cells that stay occupied bounce;
5. capture zones are scored, points and income are paid;
6. the clock ticks, the episode end is checked, worlds that ended reset, masks are recomputed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.batched import BatchStep, SlotArrayEnv, spawned_flags, step_flags
from ..core.pool import AgentPool
from ..core.settings import check_world_args
from .config import SkirmishConfig
from .mapgen import generate_map

BASE, MELEE, RANGED = 0, 1, 2
KIND_NAMES = ("base", "melee", "ranged")

# --- the one discrete action space shared by bases and units ---
IDLE = 0
MOVE_N, MOVE_E, MOVE_S, MOVE_W = 1, 2, 3, 4
ATTACK_N, ATTACK_E, ATTACK_S, ATTACK_W = 5, 6, 7, 8
BUILD_MELEE, BUILD_RANGED = 9, 10
NUM_ACTIONS = 11
ACTION_NAMES = (
    "idle",
    "move_n",
    "move_e",
    "move_s",
    "move_w",
    "attack_n",
    "attack_e",
    "attack_s",
    "attack_w",
    "build_melee",
    "build_ranged",
)
#: (dy, dx) of centre, N, E, S, W
DIRS = np.array([(0, 0), (-1, 0), (0, 1), (1, 0), (0, -1)], dtype=np.int64)
#: the order in which a base tries its neighbours when building (indices into ``DIRS``): row 0
#: is player 0's (N E S W); row ``1 + symmetry`` is its image under each map symmetry of
#: ``mapgen.SYMMETRIES`` (half-turn, left-right mirror, top-bottom mirror): player 1's
_SPAWN_ORDER = np.array([[1, 2, 3, 4], [3, 4, 1, 2], [1, 4, 3, 2], [3, 2, 1, 4]])

GLOBAL_PLANES = ("step", "own_resources", "enemy_resources", "own_points", "enemy_points")
PLANE_NAMES = GLOBAL_PLANES + (
    "rock",
    "capture_zone",
    "capture_own",
    "capture_enemy",
    "own_base",
    "enemy_base",
    "own_melee",
    "own_ranged",
    "enemy_melee",
    "enemy_ranged",
    "hp",
)
_P = {name: i for i, name in enumerate(PLANE_NAMES)}
#: value of each plane where there is nothing: 0 for flags, -1 (the minimum) for scaled amounts
PLANE_FILL = {n: -1.0 if n in GLOBAL_PLANES or n == "hp" else 0.0 for n in PLANE_NAMES}
_FILL_VECTOR = np.array([PLANE_FILL[n] for n in PLANE_NAMES], dtype=np.float32)
FEATURE_NAMES = (
    "is_base",
    "is_melee",
    "is_ranged",
    "hp",
    "x",
    "y",
    "step",
    "own_resources",
    "own_points",
    "enemy_points",
)
#: per-player episode metrics (``FinalState.metrics["per_player"][p]``)
METRIC_NAMES = (
    "win",
    "points",
    "units_built",
    "units_lost",
    "bases_alive",
    "bases_lost",
    "capture_points_held",
    "capture_steps",
    "kills",
    "damage_dealt",
    "illegal_actions",
)


def _scale(x: np.ndarray, top: float | np.ndarray) -> np.ndarray:
    """Min-max scale ``[0, top]`` to ``[-1, 1]`` (clipped)."""
    return np.clip(x / top, 0.0, 1.0) * 2.0 - 1.0


class SkirmishWorld(SlotArrayEnv):
    """``num_envs`` skirmish worlds on slot arrays (see ``envs.core.batched`` for the contract).

    Slots ``[0, 2 B)`` hold bases (player ``p`` owns ``[p B, (p+1) B)``, ``B`` =
    ``cfg.bases_per_player``); slots ``[2 B, 2 B + 2 U)`` hold units (player ``p`` owns the
    ``p``-th block of ``U = cfg.unit_slots``).

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
    global_plane_names = GLOBAL_PLANES
    structure_kinds = (BASE,)
    num_actions = NUM_ACTIONS
    action_names = ACTION_NAMES
    num_players = 2

    def __init__(self, config: SkirmishConfig, num_envs: int = 1, auto_reset: bool = True):
        e = check_world_args("SkirmishWorld", config, SkirmishConfig, num_envs, auto_reset)
        self.cfg = cfg = config
        self.num_envs = e
        self.auto_reset = auto_reset
        self.max_cycles = cfg.max_cycles
        n = cfg.map_size
        self.map_shape = (n, n)
        self.n_cells = n * n
        self.bases_per_player = b = cfg.bases_per_player
        self.unit_slots = u = cfg.unit_slots
        self.base_slots = self.structure_slots = 2 * b
        self.num_slots = s = 2 * b + 2 * u
        self.num_capture = k = cfg.capture_points
        self.pool = AgentPool(
            owners=("player_0", "player_1"),
            kinds=KIND_NAMES,
            sizes=(b, cfg.unit_id_pool, cfg.unit_id_pool),
        )
        # per-kind constants, indexed by kind
        classes = (None, cfg.melee, cfg.ranged)
        self.max_hp = np.array([cfg.base_hp, cfg.melee.hp, cfg.ranged.hp], dtype=np.int64)
        self.damage = np.array([0] + [c.damage for c in classes[1:]], dtype=np.int64)
        self.attack_range = np.array([0] + [c.attack_range for c in classes[1:]], dtype=np.int64)
        self.cost = np.array([0] + [c.cost for c in classes[1:]], dtype=np.int64)
        self._dir_flat = DIRS[:, 0] * n + DIRS[:, 1]
        # ---- state ----
        self.rock = np.zeros((e, n * n), dtype=bool)
        self.zone = np.full((e, n * n), -1, dtype=np.int64)  # capture point of each cell
        self.capture_cell = np.zeros((e, k), dtype=np.int64)
        self.holder = np.full((e, k), -1, dtype=np.int8)  # team holding each point, or -1
        self.occupant = np.full((e, n * n), -1, dtype=np.int64)  # slot on each cell, or -1
        self.symmetry = np.zeros(e, dtype=np.int64)
        #: the order in which each team's bases try their neighbours when building: N E S W
        #: for player 0 and its mirror image for player 1
        self.spawn_order = np.zeros((e, 2, 4), dtype=np.int64)
        self.alive = np.zeros((e, s), dtype=bool)
        self.kind = np.full((e, s), -1, dtype=np.int8)
        self.owner = np.full((e, s), -1, dtype=np.int8)
        self.cell = np.full((e, s), -1, dtype=np.int64)
        self.serial = np.full((e, s), -1, dtype=np.int64)
        self.hp = np.zeros((e, s), dtype=np.int64)
        #: ``[E, S]`` bool: the slot's unit changed cell in the last step (for drawing)
        self.moved = np.zeros((e, s), dtype=bool)
        self.resources = np.zeros((e, 2), dtype=np.int64)
        self.points = np.zeros((e, 2), dtype=np.int64)
        self.t = np.zeros(e, dtype=np.int64)
        self.next_serial = np.zeros((e, 2, 3), dtype=np.int64)
        self.metrics = {
            key: np.zeros((e, 2), dtype=np.float64)
            for key in (
                "units_built",
                "units_lost",
                "bases_lost",
                "capture_steps",
                "kills",
                "damage_dealt",
                "illegal_actions",
            )
        }
        self._mask = np.zeros((e, s, NUM_ACTIONS), dtype=bool)
        #: slot each unit's attack in direction N/E/S/W would hit now, or -1: ``[E, S, 4]``
        self._target = np.full((e, s, 4), -1, dtype=np.int64)
        self._rngs: list[np.random.Generator] = []
        self._seeded = False

    def _reset_world(self, i: int) -> None:
        cfg, n = self.cfg, self.cfg.map_size
        m = generate_map(self._rngs[i], cfg)
        self.rock[i] = m.rock.ravel()
        self.symmetry[i] = m.symmetry
        self.spawn_order[i] = _SPAWN_ORDER[[0, 1 + m.symmetry]]
        self.capture_cell[i] = m.capture
        self.zone[i] = -1
        r = cfg.capture_radius
        for j, c in enumerate(m.capture.tolist()):
            y, x = divmod(c, n)
            self.zone[i].reshape(n, n)[y - r : y + r + 1, x - r : x + r + 1] = j
        self.holder[i] = -1
        self.occupant[i] = -1
        for arr, value in (
            (self.alive, False),
            (self.kind, -1),
            (self.owner, -1),
            (self.cell, -1),
            (self.serial, -1),
            (self.hp, 0),
            (self.moved, False),
        ):
            arr[i] = value
        self.resources[i] = cfg.start_resources
        self.points[i] = 0
        self.t[i] = 0
        self.next_serial[i] = 0
        for v in self.metrics.values():
            v[i] = 0
        b = self.bases_per_player
        for p in range(2):
            slots = p * b + np.arange(b)
            self.alive[i, slots] = True
            self.kind[i, slots] = BASE
            self.owner[i, slots] = p
            self.cell[i, slots] = m.bases[p]
            self.serial[i, slots] = np.arange(b)
            self.hp[i, slots] = cfg.base_hp
            self.occupant[i, m.bases[p]] = slots
            self.next_serial[i, p, BASE] = b

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
        e_n, s_n = self.num_envs, self.num_slots
        legal = np.take_along_axis(self._mask, a[..., None], axis=2)[..., 0]
        illegal = self.alive & ~legal
        a[~legal] = IDLE
        if illegal.any():
            ie, islot = np.nonzero(illegal)
            np.add.at(self.metrics["illegal_actions"], (ie, self.owner[ie, islot]), 1)
        acted = self.alive.copy()  # entities whose transition this step describes
        reward = np.zeros((e_n, s_n), dtype=np.float64)
        gained = np.zeros((e_n, 2), dtype=np.int64)  # points each team gains this step

        # ---- 2. attacks ----
        ae, aslot = np.nonzero((a >= ATTACK_N) & (a <= ATTACK_W))
        if ae.size:
            self._attack(ae, aslot, a[ae, aslot] - ATTACK_N, reward, gained)

        # ---- 3. builds ----
        built = np.zeros(0, dtype=np.int64)
        be, bslot = np.nonzero((a >= BUILD_MELEE) & self.alive)
        if be.size:
            built = self._build(be, bslot, a[be, bslot] - BUILD_MELEE + MELEE, acted)

        # ---- 4. moves ----
        self.moved[:] = False
        me, mslot = np.nonzero((a >= MOVE_N) & (a <= MOVE_W) & self.alive)
        if me.size:
            self._move(me, mslot, a[me, mslot])

        # ---- 5. capture, points, income ----
        self._score(reward, gained)

        # ---- 6. clock, episode end ----
        self.t += 1
        bases_alive = self._bases_alive()
        env_term = (bases_alive > 0).sum(axis=1) <= 1
        flags = step_flags(acted, self.alive, env_term, self.t, self.max_cycles)
        done = flags.done
        reward[flags.died] += cfg.reward_death
        if done.any() and cfg.reward_win:
            outcome = self._outcome(np.flatnonzero(done))  # [D, 2]: 1 win, 0 loss, 0.5 draw
            de = np.flatnonzero(done)
            sign = np.zeros((e_n, 2))
            sign[de] = (outcome - 0.5) * 2.0  # +1 / -1 / 0
            owner = self.owner.astype(np.int64).clip(0)
            reward += acted * cfg.reward_win * np.take_along_axis(sign, owner, axis=1)
        spawned = spawned_flags(built, self.alive)
        return self._end_step(flags, spawned=spawned, reward=reward, illegal=illegal)

    def _attack(
        self,
        ae: np.ndarray,
        aslot: np.ndarray,
        direction: np.ndarray,
        reward: np.ndarray,
        gained: np.ndarray,
    ) -> None:
        """Resolve attacks of units ``(ae, aslot)`` (``[m]`` each) in ``direction`` (``[m]``,
        0-3 = N E S W) at once, against the targets the masks were computed with."""
        cfg, s_n = self.cfg, self.num_slots
        target = self._target[ae, aslot, direction]
        dmg = self.damage[self.kind[ae, aslot]]
        hit = np.zeros(self.num_envs * s_n, dtype=np.int64)
        np.add.at(hit, ae * s_n + target, dmg)
        hit = hit.reshape(self.num_envs, s_n)
        reward[ae, aslot] += cfg.reward_damage * dmg
        np.add.at(self.metrics["damage_dealt"], (ae, self.owner[ae, aslot]), dmg)
        self.hp -= hit
        killed = self.alive & (self.hp <= 0)
        if not killed.any():
            return
        # every attacker whose target fell gets the kill reward
        fell = killed[ae, target]
        base = self.kind[ae, target] == BASE
        reward[ae[fell], aslot[fell]] += np.where(
            base[fell], cfg.reward_kill_base, cfg.reward_kill_unit
        )
        ke, ks = np.nonzero(killed)
        victim = self.owner[ke, ks].astype(np.int64)
        is_base = self.kind[ke, ks] == BASE
        np.add.at(self.metrics["kills"], (ke, 1 - victim), 1)
        np.add.at(self.metrics["bases_lost"], (ke[is_base], victim[is_base]), 1)
        np.add.at(self.metrics["units_lost"], (ke[~is_base], victim[~is_base]), 1)
        np.add.at(
            gained,
            (ke, 1 - victim),
            np.where(is_base, cfg.points_per_base_kill, cfg.points_per_unit_kill),
        )
        self.hp[killed] = 0
        self.alive[killed] = False
        self.occupant[ke, self.cell[ke, ks]] = -1

    def _build(
        self, be: np.ndarray, bslot: np.ndarray, unit_kind: np.ndarray, taken: np.ndarray
    ) -> np.ndarray:
        """Build units for bases ``(be, bslot)`` (``[b]``, in slot order within each world);
        return the flat slots (``e * S + s``) of the new units.

        ``taken`` (``[E, S]`` bool) are the slots occupied at the start of the step: a slot freed
        by a death in this step still carries that entity's last transition, so it is not reused
        before the next step.
        """
        u, s_n, n_cells = self.unit_slots, self.num_slots, self.n_cells
        owner = self.owner[be, bslot].astype(np.int64)
        cost = self.cost[unit_kind]
        # builds of one team in one world are paid in slot order while the money lasts
        team = be * 2 + owner
        order = np.lexsort((bslot, team))
        csum = np.cumsum(cost[order])
        start = _group_starts(team[order])
        counts = np.diff(start, append=order.size)
        spent = np.empty_like(csum)
        spent[order] = csum - np.repeat(csum[start] - cost[order][start], counts)
        ok = spent <= self.resources[be, owner]
        # rank among accepted builds of the same team (unit slots) and same class (serials)
        rank_team = _rank(team, bslot, ok)
        rank_kind = _rank(team * 3 + unit_kind, bslot, ok)
        serial = self.next_serial[be, owner, unit_kind] + rank_kind
        base = self.base_slots + owner * u
        blocks = taken[be[:, None], base[:, None] + np.arange(u)[None, :]]  # [b, U]
        free_order = np.argsort(blocks, axis=1, kind="stable")  # free slots first, in order
        ok &= (rank_team < u - blocks.sum(axis=1)) & (serial < self.cfg.unit_id_pool)
        be, bslot, owner, unit_kind, serial = (
            be[ok],
            bslot[ok],
            owner[ok],
            unit_kind[ok],
            serial[ok],
        )
        slot = base[ok] + free_order[ok, rank_team[ok]]
        # the first free neighbour in the team's order (the mask guaranteed one exists)
        dirs = self.spawn_order[be, owner]  # [b, 4]
        nb = self.cell[be, bslot][:, None] + self._dir_flat[dirs]
        free = self._free_neighbours(be, self.cell[be, bslot])
        free = np.take_along_axis(free, dirs - 1, axis=1)
        cell = nb[np.arange(be.size), free.argmax(axis=1)]
        np.maximum.at(self.next_serial, (be, owner, unit_kind), serial + 1)
        np.add.at(self.resources, (be, owner), -self.cost[unit_kind])
        self.alive[be, slot] = True
        self.kind[be, slot] = unit_kind
        self.owner[be, slot] = owner
        self.cell[be, slot] = cell
        self.serial[be, slot] = serial
        self.hp[be, slot] = self.max_hp[unit_kind]
        self.occupant.reshape(-1)[be * n_cells + cell] = slot
        np.add.at(self.metrics["units_built"], (be, owner), 1)
        return be * s_n + slot

    def _move(self, me: np.ndarray, mslot: np.ndarray, action: np.ndarray) -> None:
        """Move units ``(me, mslot)`` (``[m]``) by ``action`` (``[m]``, MOVE_N..MOVE_W) at once.

        A move bounces (the unit stays) when another unit moves to the same cell, when two units
        would swap cells, or when its cell stays occupied (by a unit that does not move away,
        or one whose own move bounced); longer cycles of moves all succeed.
        """
        n_cells, s_n = self.n_cells, self.num_slots
        src = self.cell[me, mslot]
        dst = src + self._dir_flat[action]
        key = me * n_cells + dst
        occ = self.occupant.reshape(-1)
        _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
        ok = cnt[inv] == 1
        # swaps: the unit on my target cell moves onto my cell
        moving_to = np.full(self.num_envs * s_n, -1, dtype=np.int64)
        moving_to[me * s_n + mslot] = dst
        there = occ[key]
        ok &= ~((there >= 0) & (moving_to[me * s_n + there.clip(0)] == src))
        leaves = np.zeros(self.num_envs * s_n, dtype=bool)
        while True:
            leaves[:] = False
            leaves[(me * s_n + mslot)[ok]] = True
            still = ok & ((there < 0) | leaves[me * s_n + there.clip(0)])
            if (still == ok).all():
                break
            ok = still
        occ[(me * n_cells + src)[ok]] = -1
        occ[key[ok]] = mslot[ok]
        self.cell[me[ok], mslot[ok]] = dst[ok]
        self.moved[me[ok], mslot[ok]] = True

    def _score(self, reward: np.ndarray, gained: np.ndarray) -> None:
        """Capture zones, points, income and the per-step capture rewards."""
        cfg, e_n = self.cfg, self.num_envs
        k = self.num_capture
        units = self.alive.copy()
        units[:, : self.base_slots] = False
        ue, us = np.nonzero(units)
        zone = self.zone[ue, self.cell[ue, us]]
        held_count = np.zeros((e_n, 2), dtype=np.int64)
        if k:
            inz = zone >= 0
            count = np.zeros((e_n, k, 2), dtype=np.int64)
            np.add.at(count, (ue[inz], zone[inz], self.owner[ue[inz], us[inz]]), 1)
            holds = (count > 0) & (count[:, :, ::-1] == 0)  # [E, K, 2]
            self.holder[:] = np.where(holds[:, :, 0], 0, np.where(holds[:, :, 1], 1, -1))
            held_count = holds.sum(axis=1)
            mine = inz.copy()
            mine[inz] = self.holder[ue[inz], zone[inz]] == self.owner[ue[inz], us[inz]]
            reward[ue[mine], us[mine]] += cfg.reward_capture
        self.metrics["capture_steps"] += held_count
        gained += cfg.points_per_capture_step * held_count
        self.points += gained
        has_base = self._bases_alive() > 0
        income = cfg.base_income * has_base + cfg.capture_income * held_count
        self.resources = np.minimum(self.resources + income, cfg.resource_cap)
        bases = self.alive[:, : self.base_slots]
        team = np.repeat(np.arange(2), self.bases_per_player)
        reward[:, : self.base_slots] += bases * cfg.reward_base_points * gained[:, team]

    def _bases_alive(self) -> np.ndarray:
        """``[E, 2]`` int64 live bases per team."""
        return self.alive[:, : self.base_slots].reshape(self.num_envs, 2, -1).sum(axis=2)

    def _outcome(self, envs: np.ndarray) -> np.ndarray:
        """``[D, 2]`` float64 result of worlds ``envs`` if they ended now: 1 win, 0 loss, 0.5 draw.

        A team without bases loses to one with bases; otherwise more points win.
        """
        bases = self._bases_alive()[envs] > 0
        pts = self.points[envs]
        lead = np.where(
            bases[:, 0] != bases[:, 1], bases[:, 0].astype(np.int64) - bases[:, 1], 0
        ) + np.where(bases[:, 0] == bases[:, 1], np.sign(pts[:, 0] - pts[:, 1]), 0)
        return np.stack([(1.0 + lead) / 2.0, (1.0 - lead) / 2.0], axis=1)

    def episode_metrics(self, i: int) -> dict[str, Any]:
        """Metrics of world ``i``'s current episode (final ones once it has ended).

        Returns:
            ``{"episode_length": steps, "per_player": [{...}, {...}]}`` where each player's dict
            has ``METRIC_NAMES``: ``win`` (1 won, 0 lost, 0.5 draw; for an episode still
            running, the result if it ended now), ``points``, ``units_built``, ``units_lost``,
            ``bases_alive``, ``bases_lost``, ``capture_points_held`` (now), ``capture_steps``
            (sum over steps of points held), ``kills`` (enemy units and bases destroyed),
            ``damage_dealt``, ``illegal_actions``.
        """
        win = self._outcome(np.array([i]))[0]
        bases = self._bases_alive()[i]
        per_player = []
        for p in range(2):
            m = {
                "win": float(win[p]),
                "points": float(self.points[i, p]),
                "bases_alive": float(bases[p]),
                "capture_points_held": float((self.holder[i] == p).sum()),
            }
            m.update({key: float(v[i, p]) for key, v in self.metrics.items()})
            per_player.append({name: m[name] for name in METRIC_NAMES})
        return {"episode_length": int(self.t[i]), "per_player": per_player}

    # ------------------------------------------------------- scenario editing
    def place_unit(self, i: int, owner: int, kind: int, yx: tuple[int, int], hp: int | None = None):
        """Put a new unit on cell ``yx`` of world ``i`` (for tests, tutorials and debugging).

        The unit takes the owner's first free unit slot and the next serial of its class; it
        counts as built. Call ``refresh()`` after editing.

        Returns:
            The unit's slot.

        Raises:
            ValueError: bad kind/owner, cell off the map, rock or occupied, or no free slot.
        """
        n = self.cfg.map_size
        if kind not in (MELEE, RANGED):
            raise ValueError(f"kind must be MELEE ({MELEE}) or RANGED ({RANGED}), got {kind}")
        if owner not in (0, 1):
            raise ValueError(f"owner must be 0 or 1, got {owner}")
        y, x = yx
        if not (0 <= y < n and 0 <= x < n):
            raise ValueError(f"cell {yx} is off the {n}x{n} map")
        cell = y * n + x
        if self.rock[i, cell] or self.occupant[i, cell] >= 0:
            raise ValueError(f"cell {yx} is rock or already occupied")
        base = self.base_slots + owner * self.unit_slots
        free = np.flatnonzero(~self.alive[i, base : base + self.unit_slots])
        if free.size == 0:
            raise ValueError(f"player {owner} has no free unit slot")
        slot = base + int(free[0])
        self.alive[i, slot] = True
        self.kind[i, slot], self.owner[i, slot], self.cell[i, slot] = kind, owner, cell
        self.serial[i, slot] = self.next_serial[i, owner, kind]
        self.next_serial[i, owner, kind] += 1
        self.hp[i, slot] = self.max_hp[kind] if hp is None else hp
        self.occupant[i, cell] = slot
        self.metrics["units_built"][i, owner] += 1
        return slot

    def refresh(self) -> np.ndarray:
        """Recompute the action masks after editing the state by hand; returns ``[E, S, A]``."""
        self._compute_masks()
        return self.action_mask()

    # ------------------------------------------------------------------ masks
    def _free_neighbours(self, env: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """``[m, 4]`` bool: which of the N E S W neighbours of ``cell`` (``[m]`` flat cells of
        worlds ``env``) are on the map, not rock and empty."""
        n = self.cfg.map_size
        y, x = np.divmod(cell, n)
        ty = y[:, None] + DIRS[None, 1:, 0]
        tx = x[:, None] + DIRS[None, 1:, 1]
        inside = (ty >= 0) & (ty < n) & (tx >= 0) & (tx < n)
        tcell = np.where(inside, ty * n + tx, 0)
        flat = env[:, None] * self.n_cells + tcell
        return inside & ~self.rock.reshape(-1)[flat] & (self.occupant.reshape(-1)[flat] < 0)

    def _compute_masks(self) -> None:
        """Legal actions of every slot from the current state (``self._mask`` ``[E, S, A]``) and
        each unit's attack targets (``self._target`` ``[E, S, 4]``)."""
        cfg, n = self.cfg, self.cfg.map_size
        mask, target = self._mask, self._target
        mask[:] = False
        mask[:, :, IDLE] = True
        target[:] = -1
        e_n, s_n, n_cells = self.num_envs, self.num_slots, self.n_cells
        # what stands on each cell, in one int8 map: 0 empty, 1 rock, 2 + p a base of player p,
        # 4 + p a unit of player p (so ``code & 1`` is the owner of an entity)
        code = self.rock.astype(np.int8)
        ae, aslot = np.nonzero(self.alive)
        code[ae, self.cell[ae, aslot]] = (
            2 + self.owner[ae, aslot] + 2 * (self.kind[ae, aslot] != BASE)
        )
        code_f = code.reshape(-1)
        # ---- units ----
        units = self.alive.copy()
        units[:, : self.base_slots] = False
        ue, us = np.nonzero(units)
        if ue.size:
            cell = self.cell[ue, us]
            y, x = np.divmod(cell, n)
            owner = self.owner[ue, us][:, None]
            reach = self.attack_range[self.kind[ue, us]][:, None]
            start = (ue * n_cells + cell)[:, None]
            found = np.full((ue.size, 4), -1, dtype=np.int64)  # flat cell of the target
            stopped = np.zeros((ue.size, 4), dtype=bool)
            for r in range(1, int(self.attack_range.max()) + 1):
                ty = y[:, None] + r * DIRS[None, 1:, 0]
                tx = x[:, None] + r * DIRS[None, 1:, 1]
                inside = (ty >= 0) & (ty < n) & (tx >= 0) & (tx < n)
                flat = np.where(inside, start + r * self._dir_flat[None, 1:], 0)
                c = np.where(inside, code_f[flat], 1)  # off the map reads as rock
                if r == 1:
                    moves = (c == 0) | (c >= 4)  # empty or a unit (which may move away)
                enemy = ~stopped & (c >= 2) & (r <= reach) & ((c & 1) != owner)
                found[enemy] = flat[enemy]
                stopped |= c != 0
            es = ue * s_n + us
            mask_f = mask.reshape(e_n * s_n, NUM_ACTIONS)
            mask_f[es, MOVE_N : MOVE_W + 1] = moves
            mask_f[es, ATTACK_N : ATTACK_W + 1] = found >= 0
            occ_f = self.occupant.reshape(-1)
            target.reshape(e_n * s_n, 4)[es] = np.where(found >= 0, occ_f[found.clip(0)], -1)
        # ---- bases ----
        bases = self.alive[:, : self.base_slots]
        if bases.any():
            be, bs = np.nonzero(bases)
            owner = self.owner[be, bs].astype(np.int64)
            room = self._free_neighbours(be, self.cell[be, bs]).any(axis=1)
            units_alive = self.alive[:, self.base_slots :].reshape(self.num_envs, 2, -1).sum(-1)
            room &= units_alive[be, owner] < self.unit_slots
            money = self.resources[be, owner]
            for action, kind in ((BUILD_MELEE, MELEE), (BUILD_RANGED, RANGED)):
                mask[be, bs, action] = (
                    room
                    & (money >= self.cost[kind])
                    & (self.next_serial[be, owner, kind] < cfg.unit_id_pool)
                )

    def action_mask(self) -> np.ndarray:
        """``[E, S, A]`` bool legal actions now (a copy)."""
        return self._mask.copy()

    def attack_targets(self) -> np.ndarray:
        """``[E, S, 4]`` int64: the slot each unit's attack N/E/S/W would hit now, or -1."""
        return self._target.copy()

    # ---------------------------------------------------------- observations
    def write_planes(self, out: np.ndarray, envs: np.ndarray | None = None) -> None:
        """Write ``[E, 2, C, H, W]`` global planes into ``out`` (see ``PLANE_NAMES``).

        ``own_*`` / ``enemy_*`` planes are seen from each player's side (index 1 of ``out``).
        ``out`` may be a strided view; with ``envs`` (``[D]`` world indices) it is
        ``[D, 2, C, H, W]`` for those worlds only.
        """
        cfg = self.cfg
        sel = slice(None) if envs is None else np.asarray(envs)
        t, alive = self.t[sel], self.alive[sel]
        e_n, n = alive.shape[0], cfg.map_size
        out[:] = _FILL_VECTOR[None, None, :, None, None]
        me = np.arange(2)
        res = _scale(self.resources[sel], cfg.resource_cap)  # [D, 2]
        pts = _scale(self.points[sel], cfg.points_scale)
        out[:, :, _P["step"]] = _scale(t, max(self.max_cycles, 1))[:, None, None, None]
        for name, values, who in (
            ("own_resources", res, me),
            ("enemy_resources", res, 1 - me),
            ("own_points", pts, me),
            ("enemy_points", pts, 1 - me),
        ):
            out[:, :, _P[name]] = values[:, who][:, :, None, None]
        grid = (e_n, 1, n, n)
        out[:, :, _P["rock"]] = self.rock[sel].reshape(grid)
        zone = self.zone[sel]
        out[:, :, _P["capture_zone"]] = (zone >= 0).reshape(grid)
        if self.num_capture:
            held = np.take_along_axis(self.holder[sel], zone.clip(0), axis=1)
            held = np.where(zone >= 0, held, -1).reshape(e_n, 1, n, n)
            out[:, :, _P["capture_own"]] = held == me[None, :, None, None]
            out[:, :, _P["capture_enemy"]] = held == (1 - me)[None, :, None, None]
        ei, si = np.nonzero(alive)
        gi = ei if envs is None else sel[ei]  # global world index of each entity
        kind, owner = self.kind[gi, si].astype(np.int64), self.owner[gi, si].astype(np.int64)
        y, x = np.divmod(self.cell[gi, si], n)
        out[ei, :, _P["hp"], y, x] = _scale(self.hp[gi, si], self.max_hp[kind])[:, None]
        own_plane = np.array([_P["own_base"], _P["own_melee"], _P["own_ranged"]])
        enemy_plane = np.array([_P["enemy_base"], _P["enemy_melee"], _P["enemy_ranged"]])
        out[ei, owner, own_plane[kind], y, x] = 1.0
        out[ei, 1 - owner, enemy_plane[kind], y, x] = 1.0

    def self_features(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """``[n, F]`` float32 features of chosen entities (see ``FEATURE_NAMES``); an empty slot
        reads as a base of player 0 at cell 0 (learners mask it out)."""
        cfg = self.cfg
        ei, si = np.asarray(env_index, dtype=np.int64), np.asarray(slot, dtype=np.int64)
        kind = self.kind[ei, si].astype(np.int64).clip(0)
        owner = self.owner[ei, si].astype(np.int64).clip(0)
        out = np.empty((ei.size, len(FEATURE_NAMES)), dtype=np.float32)
        out[:, 0] = kind == BASE
        out[:, 1] = kind == MELEE
        out[:, 2] = kind == RANGED
        out[:, 3] = _scale(self.hp[ei, si], self.max_hp[kind])
        y, x = np.divmod(self.cell[ei, si].clip(0), cfg.map_size)
        out[:, 4] = _scale(x, cfg.map_size - 1)
        out[:, 5] = _scale(y, cfg.map_size - 1)
        out[:, 6] = _scale(self.t[ei], max(self.max_cycles, 1))
        out[:, 7] = _scale(self.resources[ei, owner], cfg.resource_cap)
        out[:, 8] = _scale(self.points[ei, owner], cfg.points_scale)
        out[:, 9] = _scale(self.points[ei, 1 - owner], cfg.points_scale)
        return out


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Indices ``[g]`` where a new run of equal keys begins in ``sorted_keys`` ``[m]`` (m > 0)."""
    return np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))


def _rank(group: np.ndarray, order_key: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``[m]`` int64: how many earlier (by ``order_key``) members of the same ``group`` have
    ``count`` set, for each of ``m`` items."""
    order = np.lexsort((order_key, group))
    g, c = group[order], count[order].astype(np.int64)
    csum = np.cumsum(c)
    start = _group_starts(g)
    before = csum - c - np.repeat(csum[start] - c[start], np.diff(start, append=g.size))
    out = np.empty_like(before)
    out[order] = before
    return out
