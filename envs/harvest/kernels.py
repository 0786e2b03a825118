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
    paper,
):
    e_n, s_n, a_n = mask.shape
    p_n = next_serial.shape[1]
    own_fac = np.zeros(5, np.bool_)
    own_rob = np.zeros(5, np.bool_)
    free = np.zeros(p_n, np.int64)
    flat = mask.reshape(-1)  # C-contiguous: cleared in one pass
    flat[:] = False
    for i in range(e_n * s_n):
        flat[i * a_n + _IDLE] = True
    for e in range(e_n):
        for p in range(p_n):
            free[p] = robot_slots
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
                    ok = inside and not enemy_fac and pw >= cost
                    if paper:  # no move onto an own robot or onto a factory centre
                        ok = ok and not own_rob[d] and not (fslot >= 0 and cell[e, fslot] == t)
                    mask[e, s, _MOVE_N + d - 1] = ok
            here = nbr_cell[c, 0]
            here_fac = factory_map[e, here]
            diggable = rubble[e, here] > 0 or ice[e, here] or ore[e, here]
            mask[e, s, _DIG] = diggable and here_fac < 0 and pw >= dig_cost[kd]
            carrying = cargo_ice[e, s] + cargo_ore[e, s] > 0
            for d in range(5):  # the paper's masks: into the own factory only
                target = own_fac[d] or (own_rob[d] and not paper)
                mask[e, s, _TRANSFER_C + d] = carrying and target
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
            if paper and mask[e, s, _BUILD_LIGHT + 1]:  # one that can build a heavy may not idle
                mask[e, s, _IDLE] = False


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
        world.cfg.action_masks == "paper",
    )
    return True


# ------------------------------------------------------------------ planes
# plane indices (envs/harvest/world.py PLANE_NAMES)
_STEP, _DAY, _OWN_FACTORY, _ICE, _ORE, _RUBBLE, _OWN_ROBOT, _ENEMY = 0, 1, 2, 3, 4, 5, 6, 7
_ROBOT_HEAVY, _FACTORY_POWER = 8, 12


def _planes_loop(  # pragma: no cover - compiled
    out,
    worlds,
    fill,
    t,
    step_scale,
    cycle_length,
    day_length,
    ice,
    ore,
    rubble,
    max_rubble,
    alive,
    kind,
    owner,
    cell,
    power,
    cargo_ice,
    cargo_ore,
    water,
    metal,
    robot_scale,
    factory_scale,
    water_cost,
):
    d_n, p_n, c_n, h, w = out.shape
    s_n = alive.shape[1]
    rub_scale = 2.0 / max_rubble
    for d in range(d_n):
        e = worlds[d]
        step = min(t[e] / step_scale, 1.0) * 2.0 - 1.0
        day = 1.0 if (t[e] % cycle_length) < day_length else 0.0
        for p in range(p_n):
            for y in range(h):
                for x in range(w):
                    out[d, p, _STEP, y, x] = step
            for y in range(h):
                for x in range(w):
                    out[d, p, _DAY, y, x] = day
            for y in range(h):
                for x in range(w):
                    out[d, p, _OWN_FACTORY, y, x] = fill[_OWN_FACTORY]
            for y in range(h):
                for x in range(w):
                    out[d, p, _ICE, y, x] = 1.0 if ice[e, y * w + x] else 0.0
            for y in range(h):
                for x in range(w):
                    out[d, p, _ORE, y, x] = 1.0 if ore[e, y * w + x] else 0.0
            for y in range(h):
                for x in range(w):
                    out[d, p, _RUBBLE, y, x] = rubble[e, y * w + x] * rub_scale - 1.0
            for c in range(_OWN_ROBOT, c_n):
                v = fill[c]
                for y in range(h):
                    for x in range(w):
                        out[d, p, c, y, x] = v
        for s in range(s_n):
            if not alive[e, s]:
                continue
            k, o = kind[e, s], owner[e, s]
            y, x = cell[e, s] // w, cell[e, s] % w
            if k > 0:  # a robot
                v0 = 1.0 if k == 2 else 0.0
                v1 = min(power[e, s] / robot_scale[k, 0], 1.0) * 2.0 - 1.0
                v2 = min(cargo_ice[e, s] / robot_scale[k, 1], 1.0) * 2.0 - 1.0
                v3 = min(cargo_ore[e, s] / robot_scale[k, 2], 1.0) * 2.0 - 1.0
                for p in range(p_n):
                    out[d, p, _ROBOT_HEAVY, y, x] = v0
                    out[d, p, _ROBOT_HEAVY + 1, y, x] = v1
                    out[d, p, _ROBOT_HEAVY + 2, y, x] = v2
                    out[d, p, _ROBOT_HEAVY + 3, y, x] = v3
                out[d, o, _OWN_ROBOT, y, x] = 1.0
                if p_n == 2:
                    out[d, 1 - o, _ENEMY, y, x] = 1.0
            else:  # a factory: its values on the centre, its footprint 3x3
                v0 = min(power[e, s] / factory_scale[0], 1.0) * 2.0 - 1.0
                v1 = min(cargo_ice[e, s] / factory_scale[1], 1.0) * 2.0 - 1.0
                v2 = min(water[e, s] / factory_scale[2], 1.0) * 2.0 - 1.0
                v3 = min(cargo_ore[e, s] / factory_scale[3], 1.0) * 2.0 - 1.0
                v4 = min(metal[e, s] / factory_scale[4], 1.0) * 2.0 - 1.0
                v5 = min(water_cost / factory_scale[5], 1.0) * 2.0 - 1.0
                for p in range(p_n):
                    out[d, p, _FACTORY_POWER, y, x] = v0
                    out[d, p, _FACTORY_POWER + 1, y, x] = v1
                    out[d, p, _FACTORY_POWER + 2, y, x] = v2
                    out[d, p, _FACTORY_POWER + 3, y, x] = v3
                    out[d, p, _FACTORY_POWER + 4, y, x] = v4
                    out[d, p, _FACTORY_POWER + 5, y, x] = v5
                for fy in range(y - 1, y + 2):
                    for fx in range(x - 1, x + 2):
                        out[d, o, _OWN_FACTORY, fy, fx] = 1.0
                        if p_n == 2:
                            out[d, 1 - o, _ENEMY, fy, fx] = 1.0


def write_planes(world, out, worlds) -> bool:
    """Write ``HarvestWorld.write_planes``'s planes of worlds ``worlds`` (``[D]`` int64) into
    ``out`` (``[D, P, C, H, W]`` float32, possibly strided) with the compiled loop.

    Returns ``False`` (and writes nothing) when kernels are off; the caller then runs
    ``HarvestWorld._write_planes_reference``.
    """
    fn = compiled(_planes_loop)
    if fn is None:
        return False
    from .world import _FACTORY_PLANE_SCALE, _FILL_VECTOR, LICHEN_WATERING_COST_FACTOR

    cfg = world.cfg
    fn(
        out,
        worlds,
        _FILL_VECTOR,
        world.t,
        cfg.step_scale,
        cfg.cycle_length,
        cfg.day_length,
        world.ice,
        world.ore,
        world.rubble,
        cfg.max_rubble,
        world.alive,
        world.kind,
        world.owner,
        world.cell,
        world.power,
        world.cargo_ice,
        world.cargo_ore,
        world.water,
        world.metal,
        world._robot_scale,
        _FACTORY_PLANE_SCALE,
        0 // LICHEN_WATERING_COST_FACTOR + 1,  # a factory's watering cost: no lichen tiles
    )
    return True


# ------------------------------------------------------------------ moves and collisions
def _move_loop(  # pragma: no cover - compiled
    mv, target, built, cell, kind, power, rmap, s_n, n_cells, factor, head, link
):
    # cell, kind, power: [E * S] flat slot arrays; rmap: [E * N] robot slot per tile;
    # head: [E * N] int64 scratch, -1 everywhere on entry and on return; link: [2 m] scratch
    n_mv, m = mv.shape[0], mv.shape[0] + built.shape[0]
    for i in range(n_mv):
        f = mv[i]
        rmap[f // s_n * n_cells + cell[f]] = -1
        cell[f] = target[i]
    # group the arrivals (movers, then new robots) and the robot already standing on each tile
    robots = np.empty(2 * m, np.int64)
    moved = np.empty(2 * m, np.bool_)
    keys = np.empty(m, np.int64)
    n_r = n_keys = 0
    for j in range(m):
        f = mv[j] if j < n_mv else built[j - n_mv]
        key = f // s_n * n_cells + cell[f]
        if head[key] < 0:
            keys[n_keys] = key
            n_keys += 1
            standing = rmap[key]
            if standing >= 0:
                robots[n_r] = f // s_n * s_n + standing
                moved[n_r] = False
                link[n_r] = head[key]
                head[key] = n_r
                n_r += 1
        robots[n_r] = f
        moved[n_r] = j < n_mv
        link[n_r] = head[key]
        head[key] = n_r
        n_r += 1
    gone = np.empty(n_r, np.int64)
    n_gone = 0
    for g in range(n_keys):
        key = keys[g]
        first = head[key]
        head[key] = -1
        if link[first] < 0:  # one robot: no collision
            rmap[key] = robots[first] % s_n
            continue
        # counts per class: heavy movers, stationary heavies, light movers
        heavy_in = heavy_still = light_in = 0
        i = first
        while i >= 0:
            heavy = kind[robots[i]] == 2
            if heavy and moved[i]:
                heavy_in += 1
            elif heavy:
                heavy_still += 1
            elif moved[i]:
                light_in += 1
            i = link[i]
        heavy_fight = heavy_in > 1
        fight = heavy_fight or (heavy_in == 0 and heavy_still != 1 and light_in > 1)
        winner = -1
        loss = 0
        if fight:  # the competitors (heavies, or lights) fight on power
            best = second = -(1 << 62)
            best_n = 0
            i = first
            while i >= 0:
                f = robots[i]
                if (kind[f] == 2) == heavy_fight:
                    pw = power[f]
                    if pw > best:
                        second = best
                        best, best_n, winner = pw, 1, f
                    elif pw == best:
                        best_n += 1
                        second = pw
                    elif pw > second:
                        second = pw
                i = link[i]
            if best_n > 1:
                winner = -1
            else:
                loss = math.ceil(second * factor)
        else:  # the lone heavy mover, else the lone stationary heavy, else the lone light mover
            i = first
            while i >= 0:
                f = robots[i]
                heavy = kind[f] == 2
                if heavy_in == 1:
                    ok = heavy and moved[i]
                elif heavy_still == 1:
                    ok = heavy and not moved[i]
                else:
                    ok = light_in == 1 and not heavy and moved[i]
                if ok:
                    winner = f
                i = link[i]
        rmap[key] = -1
        i = first
        while i >= 0:
            f = robots[i]
            if f == winner:
                power[f] -= loss
                rmap[key] = f % s_n
            else:
                gone[n_gone] = f
                n_gone += 1
            i = link[i]
    return gone[:n_gone]


def move_robots(world, mv, target, built):
    """Move robots ``mv`` (flat slots, ``[m]``) to ``target`` cells, put the new robots
    ``built`` on the map and resolve collisions, with the compiled loop.

    Returns:
        ``[g]`` flat slots of the robots destroyed (not yet removed), or ``None`` when kernels
        are off (the caller then runs the numpy path, ``HarvestWorld._move_reference``).
    """
    fn = compiled(_move_loop)
    if fn is None:
        return None
    head = world.__dict__.get("_move_head")
    if head is None:
        head = world._move_head = np.full(world.robot_map.size, -1, np.int64)
    link = np.empty(2 * (mv.size + built.size), np.int64)
    return fn(
        mv.astype(np.int64, copy=False),
        target.astype(np.int64, copy=False),
        built.astype(np.int64, copy=False),
        world.cell.reshape(-1),
        world.kind.reshape(-1),
        world.power.reshape(-1),
        world.robot_map.reshape(-1),
        world.num_slots,
        world.n_cells,
        float(world.cfg.power_loss_factor),
        head,
        link,
    )


# ------------------------------------------------------------------ own features
def _features_loop(  # pragma: no cover - compiled
    flat, kind, power, cargo_ice, cargo_ore, water, metal, cell, t, s_n, scale, n, cycle, day, out
):
    # flat: [m] e * S + s; scale: [8, kinds] (a kind of -1, an empty slot, reads the last)
    for i in range(flat.shape[0]):
        f = flat[i]
        e = f // s_n
        k = kind[f]
        col = k if k >= 0 else scale.shape[1] + k
        for j in range(3):
            out[i, j] = 1.0 if k == j else 0.0
        c = cell[f]
        raw = (power[f], cargo_ice[f], cargo_ore[f], water[f], metal[f], c % n, c // n, t[e])
        for j in range(8):
            v = raw[j] / scale[j, col]
            v = min(max(v, 0.0), 1.0)
            out[i, 3 + j] = v * 2.0 - 1.0
        if k != 0:  # robots hold no water or metal
            out[i, 6] = -1.0
            out[i, 7] = -1.0
        out[i, 11] = 1.0 if (t[e] % cycle) < day else 0.0


def self_features(world, env_index, slot):
    """``HarvestWorld.self_features`` with the compiled loop: ``[n, F]`` float32, or ``None``
    when kernels are off (the caller then runs ``_self_features_reference``)."""
    fn = compiled(_features_loop)
    if fn is None:
        return None
    ei = np.asarray(env_index, dtype=np.int64)
    flat = ei * world.num_slots + np.asarray(slot, dtype=np.int64)
    out = np.empty((flat.size, 12), np.float32)
    cfg = world.cfg
    fn(
        flat.reshape(-1),
        world.kind.reshape(-1),
        world.power.reshape(-1),
        world.cargo_ice.reshape(-1),
        world.cargo_ore.reshape(-1),
        world.water.reshape(-1),
        world.metal.reshape(-1),
        world.cell.reshape(-1),
        world.t,
        world.num_slots,
        world._feature_scale,
        cfg.map_size,
        cfg.cycle_length,
        cfg.day_length,
        out,
    )
    return out


# ------------------------------------------------------------------ builds
def _build_loop(  # pragma: no cover - compiled
    bd,
    robot_kind,
    alive,
    ever_alive,
    kind,
    owner,
    cell,
    serial,
    power,
    cargo_ice,
    cargo_ore,
    metal,
    next_serial,
    robots_built,
    born,
    next_born,
    s_n,
    factory_slots,
    r,
    pool,
    metal_cost,
    power_cost,
    init_power,
):
    # slot arrays flat ([E * S]); next_serial [E, P, 3]; robots_built [E, P]
    m = bd.shape[0]
    slot = np.full(m, -1, np.int64)
    new_serial = np.empty(m, np.int64)
    # pass 1, on the state before any of this step's builds: the k-th build of a player in a
    # world takes the player's k-th free robot slot and the next names of its class
    for i in range(m):
        f = bd[i]
        e, o, k = f // s_n, owner[f], robot_kind[i]
        rank_player = rank_class = 0
        j = i - 1
        while j >= 0 and bd[j] // s_n == e:  # ``bd`` ascends: a world's builds are together
            if owner[bd[j]] == o:
                rank_player += 1
                rank_class += robot_kind[j] == k
            j -= 1
        new_serial[i] = next_serial[e, o, k] + rank_class
        base = e * s_n + factory_slots + o * r
        free = 0
        for j in range(r):
            if not alive[base + j]:
                if free == rank_player:
                    slot[i] = base + j
                    break
                free += 1
    # pass 2: the builds whose name and slot exist happen (masks prevent most failures)
    built = np.empty(m, np.int64)
    n_built = 0
    for i in range(m):
        if slot[i] < 0 or new_serial[i] >= pool:
            continue
        f, nf, k = bd[i], slot[i], robot_kind[i]
        e, o = f // s_n, owner[f]
        next_serial[e, o, k] = max(next_serial[e, o, k], new_serial[i] + 1)
        metal[f] -= metal_cost[k]
        power[f] -= power_cost[k]
        alive[nf] = True
        ever_alive[nf] = True
        kind[nf] = k
        owner[nf] = o
        cell[nf] = cell[f]
        serial[nf] = new_serial[i]
        born[nf] = next_born[e]  # creation order: builds run in factory slot order
        next_born[e] += 1
        power[nf] = init_power[k]
        cargo_ice[nf] = 0
        cargo_ore[nf] = 0
        robots_built[e, o] += 1
        built[n_built] = nf
        n_built += 1
    return built[:n_built]


def build_robots(world, bd, robot_kind):
    """Build robots for factory slots ``bd`` (flat, ascending, ``[b]``) of classes
    ``robot_kind`` (``[b]``) with the compiled loop.

    Returns:
        ``[b']`` flat slots of the new robots, or ``None`` when kernels are off (the caller
        then runs ``HarvestWorld._build_reference``).
    """
    fn = compiled(_build_loop)
    if fn is None:
        return None
    k = world._k
    return fn(
        bd.astype(np.int64, copy=False),
        robot_kind.astype(np.int64, copy=False),
        world.alive.reshape(-1),
        world.ever_alive.reshape(-1),
        world.kind.reshape(-1),
        world.owner.reshape(-1),
        world.cell.reshape(-1),
        world.serial.reshape(-1),
        world.power.reshape(-1),
        world.cargo_ice.reshape(-1),
        world.cargo_ore.reshape(-1),
        world.metal.reshape(-1),
        world.next_serial,
        world.metrics["robots_built"],
        world.born.reshape(-1),
        world.next_born,
        world.num_slots,
        world.factory_slots,
        world.robot_slots,
        world.cfg.robot_id_pool,
        k["metal_cost"],
        k["power_cost"],
        k["init_power"],
    )


# ------------------------------------------------------------------ digs, transfers, pickups
def _dig_loop(  # pragma: no cover - compiled
    dg,
    kind,
    owner,
    cell,
    power,
    cargo_ice,
    cargo_ore,
    rubble,
    ice,
    ore,
    reward,
    boost,
    ice_dug,
    s_n,
    n_cells,
    rubble_removed,
    resource_gain,
    cargo_space,
    dig_cost,
    reward_ice_dug,
):
    # slot arrays flat [E * S] (reward, boost too); tile arrays flat [E * N]; ice_dug [E, P]
    for i in range(dg.shape[0]):
        f = dg[i]
        e, k = f // s_n, kind[f]
        t = e * n_cells + cell[f]
        g_ice = g_ore = 0
        if rubble[t] > 0:
            rubble[t] = max(rubble[t] - rubble_removed[k], 0)
        elif ice[t]:
            g_ice = min(resource_gain[k], cargo_space[k] - cargo_ice[f])
        elif ore[t]:
            g_ore = min(resource_gain[k], cargo_space[k] - cargo_ore[f])
        cargo_ice[f] += g_ice
        cargo_ore[f] += g_ore
        power[f] -= dig_cost[k]
        reward[f] += reward_ice_dug * g_ice * boost[f]
        ice_dug[e, owner[f]] += g_ice


def dig(world, dg, reward_f, boost) -> bool:
    """Robots ``dg`` (flat slots, ``[d]``) dig, with the compiled loop; ``False`` (nothing
    done) when kernels are off (the caller then runs ``HarvestWorld._dig_reference``)."""
    fn = compiled(_dig_loop)
    if fn is None:
        return False
    k = world._k
    fn(
        dg.astype(np.int64, copy=False),
        world.kind.reshape(-1),
        world.owner.reshape(-1),
        world.cell.reshape(-1),
        world.power.reshape(-1),
        world.cargo_ice.reshape(-1),
        world.cargo_ore.reshape(-1),
        world.rubble.reshape(-1),
        world.ice.reshape(-1),
        world.ore.reshape(-1),
        reward_f,
        boost,
        world.metrics["ice_dug"],
        world.num_slots,
        world.n_cells,
        k["dig_rubble_removed"],
        k["dig_resource_gain"],
        k["cargo_space"],
        k["dig_cost"],
        float(world.cfg.reward_ice_dug),
    )
    return True


def _transfer_loop(  # pragma: no cover - compiled
    tr,
    direction,
    kind,
    owner,
    cell,
    cargo_ice,
    cargo_ore,
    factory_map,
    robot_map,
    reward,
    boost,
    ice_transferred,
    dir_flat,
    s_n,
    n_cells,
    cargo_space,
    reward_ice_delivered,
    share,
):
    m = tr.shape[0]
    ice_amt = np.empty(m, np.int64)
    ore_amt = np.empty(m, np.int64)
    for i in range(m):  # every sender is emptied first
        f = tr[i]
        ice_amt[i], ore_amt[i] = cargo_ice[f], cargo_ore[f]
        cargo_ice[f] = 0
        cargo_ore[f] = 0
    to_robot = np.full(m, -1, np.int64)
    for i in range(m):  # targets are looked up after movement
        f = tr[i]
        e = f // s_n
        t = e * n_cells + cell[f] + dir_flat[direction[i]]
        fslot = factory_map[t]
        if fslot >= 0 and owner[e * s_n + fslot] == owner[f]:
            tf = e * s_n + fslot
            cargo_ice[tf] += ice_amt[i]
            cargo_ore[tf] += ore_amt[i]
            delivered = ice_amt[i] * reward_ice_delivered * boost[f]
            reward[f] += share * delivered
            reward[tf] += (1.0 - share) * delivered
            ice_transferred[e, owner[f]] += ice_amt[i]
        elif robot_map[t] >= 0:
            to_robot[i] = e * s_n + robot_map[t]
    for i in range(m):  # into robots: everything added, then the overflow lost
        g = to_robot[i]
        if g >= 0:
            cargo_ice[g] += ice_amt[i]
            cargo_ore[g] += ore_amt[i]
    for i in range(m):
        g = to_robot[i]
        if g >= 0:
            cap = cargo_space[kind[g]]
            cargo_ice[g] = min(cargo_ice[g], cap)
            cargo_ore[g] = min(cargo_ore[g], cap)


def transfer(world, tr, direction, reward_f, boost) -> bool:
    """Robots ``tr`` (flat slots) transfer in ``direction`` (0 centre, 1-4 N E S W), with the
    compiled loop; ``False`` when kernels are off (``HarvestWorld._transfer_reference``)."""
    fn = compiled(_transfer_loop)
    if fn is None:
        return False
    cfg = world.cfg
    fn(
        tr.astype(np.int64, copy=False),
        direction.astype(np.int64, copy=False),
        world.kind.reshape(-1),
        world.owner.reshape(-1),
        world.cell.reshape(-1),
        world.cargo_ice.reshape(-1),
        world.cargo_ore.reshape(-1),
        world.factory_map.reshape(-1),
        world.robot_map.reshape(-1),
        reward_f,
        boost,
        world.metrics["ice_transferred"],
        world._dir_flat,
        world.num_slots,
        world.n_cells,
        world._k["cargo_space"],
        float(cfg.reward_ice_delivered),
        float(cfg.reward_delivery_robot_share),
    )
    return True


def _pickup_loop(  # pragma: no cover - compiled
    pk, kind, cell, power, born, factory_map, s_n, n_cells, battery_capacity
):
    m = pk.shape[0]
    fac = np.empty(m, np.int64)
    got = np.empty(m, np.int64)
    wanted = np.zeros(power.shape[0], np.int64)  # per factory: wanted by earlier robots there
    ages = np.empty(m, np.int64)
    for i in range(m):
        ages[i] = born[pk[i]]
    order = np.argsort(ages, kind="mergesort")  # oldest first (stable: ties in slot order)
    for j in range(m):  # the robots at one factory are served oldest first
        i = order[j]
        f = pk[i]
        e = f // s_n
        g = e * s_n + factory_map[e * n_cells + cell[f]]
        want = battery_capacity[kind[f]] - power[f]
        got[i] = min(max(power[g] - wanted[g], 0), want)
        wanted[g] += want
        fac[i] = g
    for i in range(m):
        power[pk[i]] += got[i]
        power[fac[i]] -= got[i]


def pickup(world, pk) -> bool:
    """Robots ``pk`` (flat slots, ascending) take power from the own factory under them, oldest
    first, with the compiled loop; ``False`` when kernels are off
    (``HarvestWorld._pickup_reference``)."""
    fn = compiled(_pickup_loop)
    if fn is None:
        return False
    fn(
        pk.astype(np.int64, copy=False),
        world.kind.reshape(-1),
        world.cell.reshape(-1),
        world.power.reshape(-1),
        world.born.reshape(-1),
        world.factory_map.reshape(-1),
        world.num_slots,
        world.n_cells,
        world._k["battery_capacity"],
    )
    return True
