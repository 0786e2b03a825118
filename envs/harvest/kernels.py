"""Compiled loops (numba) of harvest's hot paths; see ``envs.core.kernels`` for the scheme.

``HarvestWorld._compute_masks_reference`` (numpy) defines what ``action_masks`` must write;
``tests/test_kernels.py`` holds them equal on random states.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.kernels import compiled

# the action ids (envs/harvest/world.py); repeated here so the compiled loop sees constants
_IDLE, _MOVE_N, _DIG, _TRANSFER_C, _PICKUP, _BUILD_LIGHT = 0, 1, 5, 6, 11, 12
_LIGHT, _HEAVY = 1, 2


def _action_masks_loop(  # pragma: no cover - compiled
    mask,
    alive,
    kind,
    cell,
    power,
    cargo_ice,
    cargo_ore,
    metal,
    next_serial,
    factory_map,
    robot_map,
    rubble,
    ice,
    ore,
    nbr_inside,
    nbr_cell,
    slot_owner,
    move_cost,
    rubble_movement_cost,
    dig_cost,
    battery_capacity,
    metal_cost,
    power_cost,
    factory_slots,
    robot_slots,
    robot_id_pool,
):
    e_n, s_n, a_n = mask.shape
    p_n = next_serial.shape[1]
    own_fac = np.zeros(5, np.bool_)
    own_rob = np.zeros(5, np.bool_)
    free = np.zeros(p_n, np.int64)
    for e in range(e_n):
        for p in range(p_n):
            free[p] = robot_slots
        for s in range(s_n):
            for a in range(a_n):
                mask[e, s, a] = False
            mask[e, s, _IDLE] = True
        # ---- robots ----
        for s in range(factory_slots, s_n):
            if not alive[e, s]:
                continue
            owner = slot_owner[s]
            free[owner] -= 1
            c, kd, pw = cell[e, s], kind[e, s], power[e, s]
            for d in range(5):
                inside = nbr_inside[c, d]
                t = nbr_cell[c, d]
                fslot = factory_map[e, t]
                fowner = slot_owner[fslot] if fslot >= 0 else -1
                own_fac[d] = inside and fowner == owner
                enemy_fac = inside and fowner >= 0 and not own_fac[d]
                rslot = robot_map[e, t]
                rowner = slot_owner[rslot] if rslot >= 0 else -1
                own_rob[d] = d > 0 and inside and rowner == owner
                if d > 0:
                    cost = math.floor(move_cost[kd] + rubble_movement_cost[kd] * rubble[e, t])
                    mask[e, s, _MOVE_N + d - 1] = inside and not enemy_fac and pw >= cost
            here = nbr_cell[c, 0]
            here_fac = factory_map[e, here]
            diggable = rubble[e, here] > 0 or ice[e, here] or ore[e, here]
            mask[e, s, _DIG] = diggable and here_fac < 0 and pw >= dig_cost[kd]
            carrying = cargo_ice[e, s] + cargo_ore[e, s] > 0
            for d in range(5):
                mask[e, s, _TRANSFER_C + d] = carrying and (own_fac[d] or own_rob[d])
            mask[e, s, _PICKUP] = (
                own_fac[0] and pw < battery_capacity[kd] and power[e, here_fac] > 0
            )
        # ---- factories ----
        for s in range(factory_slots):
            if not alive[e, s]:
                continue
            owner = slot_owner[s]
            room = robot_map[e, cell[e, s]] < 0 and free[owner] > 0
            for rk in (_LIGHT, _HEAVY):
                mask[e, s, _BUILD_LIGHT + rk - _LIGHT] = (
                    room
                    and metal[e, s] >= metal_cost[rk]
                    and power[e, s] >= power_cost[rk]
                    and next_serial[e, owner, rk] < robot_id_pool
                )


def action_masks(world) -> bool:
    """Write ``world._mask`` (``[E, S, A]`` bool) from its state with the compiled loop.

    Returns ``False`` (and writes nothing) when kernels are off; the caller then runs
    ``HarvestWorld._compute_masks_reference``.
    """
    fn = compiled(_action_masks_loop)
    if fn is None:
        return False
    k = world._k
    fn(
        world._mask,
        world.alive,
        world.kind,
        world.cell,
        world.power,
        world.cargo_ice,
        world.cargo_ore,
        world.metal,
        world.next_serial,
        world.factory_map,
        world.robot_map,
        world.rubble,
        world.ice,
        world.ore,
        world._nbr_inside,
        world._nbr_cell,
        world._slot_owner,
        k["move_cost"],
        k["rubble_movement_cost"],
        k["dig_cost"],
        k["battery_capacity"],
        k["metal_cost"],
        k["power_cost"],
        world.factory_slots,
        world.robot_slots,
        world.cfg.robot_id_pool,
    )
    return True
