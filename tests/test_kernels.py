"""The compiled kernels (numba) return exactly what their numpy references return.

``envs/core/kernels.py`` and ``envs/<env>/kernels.py`` replace numpy code on hot paths; the numpy
code stays as the reference (and runs where numba is missing or ``SPAWNZOO_NO_NUMBA=1``). Here
both run on the same random states of every env, played forward with random actions (mostly
legal, some masked) so the states hold spawns, collisions, deaths and crowded tiles, and must
agree element for element. A rule changed in a reference and not in its kernel fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from spawnzoo import envs
from spawnzoo.envs.core import kernels

pytestmark = pytest.mark.skipif(
    not kernels.numba_enabled(), reason="numba is not installed or SPAWNZOO_NO_NUMBA=1"
)

#: (env, settings) crowded enough that windows overlap map edges and each other
CASES = [
    (
        "harvest-v0",
        {
            "map_size": 24,
            "players": 2,
            "factories_per_player": (3, 5),
            "init_metal": 10_000,
            "init_water": 90,
            "init_factory_power": 10_000,
            "robot_ids_per_class": 60,
            "max_cycles": 80,
        },
    ),
    ("harvest-v0", {"map_size": 24, "players": 1}),
    ("forage-v0", {"preset": "tiny"}),
    ("forage-v0", {"preset": "small"}),
    ("skirmish-v0", {"preset": "tiny"}),
]


def _random_states(env_id: str, settings: dict, steps: int, seed: int):
    """A 3-world batched core played ``steps`` random steps, yielded every few steps."""
    core = envs.make_batched(env_id, num_envs=3, **settings)
    rng = np.random.default_rng(seed)
    batch = core.reset(seed=seed)
    for t in range(steps):
        legal = np.argmax(rng.random(batch.action_mask.shape) * batch.action_mask, axis=-1)
        wild = rng.integers(0, core.num_actions, legal.shape)
        batch = core.step(np.where(rng.random(legal.shape) < 0.05, wild, legal))
        if t % 4 == 0:
            yield core, batch


@pytest.mark.parametrize(("env_id", "settings"), CASES)
@pytest.mark.parametrize("radius", [0, 2, 5])
def test_window_gather_kernel_equals_reference(env_id, settings, radius):
    checked = 0
    for core, batch in _random_states(env_id, settings, 60, seed=radius + 1):
        ei, si = np.nonzero(batch.alive)
        if ei.size == 0:
            continue
        k = 2 * radius + 1
        g = len(core.global_plane_names)
        core.egocentric(ei[:1], si[:1], radius)  # fills the padded buffer
        padded = core._padded_buffer(radius)
        y, x = np.divmod(core.slot_cell(ei, si).astype(np.int64), core.map_shape[1])
        owner = core.slot_owner(ei, si)
        shape = (ei.size, padded.shape[2] - g, k, k)
        # a strided destination (the window part of observation rows), as the adapter uses
        rows_a = np.full((ei.size, shape[1] * k * k + 7), np.nan, np.float32)
        rows_b = rows_a.copy()
        out_a = rows_a[:, : shape[1] * k * k].reshape(shape)
        out_b = rows_b[:, : shape[1] * k * k].reshape(shape)
        kernels.gather_windows(padded, ei, owner, y, x, g, out_a)
        kernels.gather_windows_reference(padded, ei, owner, y, x, g, out_b)
        assert np.array_equal(rows_a, rows_b, equal_nan=True)
        assert not np.isnan(out_a).any() and np.isnan(rows_a[:, -7:]).all()
        # and what egocentric returns matches a window cut by hand from the planes
        planes = core.planes()
        j = int(np.argmax(y + x))
        win = core.egocentric(ei, si, radius)[j]
        h, w = core.map_shape
        for c, name in enumerate(core.window_plane_names[:-1]):
            fill = core.plane_fill[name]
            for dy in range(k):
                for dx in range(k):
                    yy, xx = y[j] + dy - radius, x[j] + dx - radius
                    inside = 0 <= yy < h and 0 <= xx < w
                    want = planes[ei[j], owner[j], g + c, yy, xx] if inside else fill
                    assert win[c, dy, dx] == want
                    assert win[-1, dy, dx] == (0.0 if inside else 1.0)
        checked += 1
    assert checked >= 10


#: few robot slots: building is masked by full slots, not only by names or metal
FULL_SLOTS = {**CASES[0][1], "map_size": 32, "robot_slots_per_player": 12}
#: the paper's masks (no moves onto own robots or factory centres, transfers into factories
#: only, factories that can build a heavy may not idle) and its one-mover-per-tile rule
PAPER_MASKS = {**CASES[0][1], "action_masks": "paper"}


@pytest.mark.parametrize("settings", [CASES[0][1], CASES[1][1], FULL_SLOTS, PAPER_MASKS])
def test_harvest_mask_kernel_equals_reference(settings):
    checked = 0
    for core, _ in _random_states("harvest-v0", settings, 120, seed=7):
        core._compute_masks()
        fast = core._mask.copy()
        core._mask[:] = True  # the reference must overwrite everything
        core._compute_masks_reference()
        assert np.array_equal(fast, core._mask)
        checked += int(core.alive[:, core.factory_slots :].sum())
    assert checked > 200  # many robots were compared, not only factories


def test_harvest_mask_kernel_covers_every_robot_action():
    """The random states reach every mask bit both ways (the comparison is not vacuous)."""
    seen_true = np.zeros(14, bool)
    seen_false = np.zeros(14, bool)
    for _core, batch in _random_states("harvest-v0", CASES[0][1], 120, seed=11):
        live = batch.alive
        seen_true |= batch.action_mask[live].any(axis=0)
        seen_false |= (~batch.action_mask[live]).any(axis=0)
    assert seen_true.all() and seen_false[1:].all()


def test_no_numba_switch_uses_the_references():
    code = (
        "from spawnzoo.envs.core import kernels; import spawnzoo.envs as e;"
        "c = e.make_batched('harvest-v0', num_envs=2, map_size=24); c.reset(seed=0);"
        "c.egocentric([0], [0], 2); import sys;"
        "print(kernels.numba_enabled(), 'numba' in sys.modules)"
    )
    env = {**os.environ, kernels.NO_NUMBA_VARIABLE: "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("settings", [CASES[0][1], CASES[1][1]])
def test_harvest_planes_kernel_equals_reference(settings):
    checked = 0
    for core, _ in _random_states("harvest-v0", settings, 100, seed=3):
        h, w = core.map_shape
        shape = (core.num_envs, core.num_players, len(core.plane_names), h, w)
        # into a strided view (the interior of a padded buffer), all worlds and a subset
        for envs_arg in (None, np.array([2, 0])):
            d = shape[0] if envs_arg is None else envs_arg.size
            bufs = [np.full((d, shape[1], shape[2] + 1, h + 4, w + 4), np.nan, np.float32)]
            bufs.append(bufs[0].copy())
            fast, ref = (b[:, :, :-1, 2:-2, 2:-2] for b in bufs)
            core.write_planes(fast, envs_arg)
            core._write_planes_reference(ref, envs_arg)
            assert np.array_equal(bufs[0], bufs[1], equal_nan=True)
            assert not np.isnan(fast).any()
        checked += 1
    assert checked >= 20


def _harvest_state(core) -> list[np.ndarray]:
    names = ("alive", "kind", "owner", "cell", "serial", "power", "cargo_ice", "cargo_ore")
    names += ("water", "metal", "rubble", "robot_map", "factory_map", "t", "next_serial")
    names += ("born", "next_born")
    return [getattr(core, n).copy() for n in names] + [m.copy() for m in core.metrics.values()]


@pytest.mark.parametrize("settings", [CASES[0][1], CASES[1][1], FULL_SLOTS, PAPER_MASKS])
def test_harvest_step_with_kernels_equals_the_numpy_step(settings, monkeypatch):
    """Two copies of the same worlds, one stepped with every kernel, one with none (the numpy
    references), agree on every state array and every returned array after every step."""
    fast, ref = (envs.make_batched("harvest-v0", num_envs=3, **settings) for _ in range(2))
    batches = [fast.reset(seed=9), ref.reset(seed=9)]
    rng = np.random.default_rng(9)
    collisions = ended = 0
    for _ in range(150):
        mask = batches[0].action_mask
        legal = np.argmax(rng.random(mask.shape) * mask, axis=-1)
        wild = rng.integers(0, fast.num_actions, legal.shape)
        actions = np.where(rng.random(legal.shape) < 0.05, wild, legal)
        lost = fast.metrics["robots_lost"].sum()
        batches[0] = fast.step(actions)
        collisions += fast.metrics["robots_lost"].sum() > lost
        with monkeypatch.context() as m:
            m.setitem(kernels._state, "enabled", False)
            batches[1] = ref.step(actions)
        for a, b in zip(_harvest_state(fast), _harvest_state(ref)):
            assert np.array_equal(a, b)
        for name in ("alive", "spawned", "action_mask", "reward", "terminated", "truncated"):
            assert np.array_equal(getattr(batches[0], name), getattr(batches[1], name)), name
        if batches[0].final is not None:  # ended worlds: their last planes and features
            for name in ("env_index", "planes", "features"):
                a, b = (getattr(x.final, name) for x in batches)
                assert np.array_equal(a, b), name
            ended += 1
    assert collisions >= 10
    assert ended >= 1 or settings.get("max_cycles", 1000) > 150


@pytest.mark.parametrize("settings", [CASES[0][1], CASES[1][1]])
def test_harvest_features_kernel_equals_reference(settings):
    checked = 0
    for core, batch in _random_states("harvest-v0", settings, 100, seed=4):
        # every slot of every world, empty ones included (final states read them all)
        ei = np.repeat(np.arange(core.num_envs), core.num_slots)
        si = np.tile(np.arange(core.num_slots), core.num_envs)
        fast = core.self_features(ei, si)
        ref = core._self_features_reference(ei, si)
        assert fast.dtype == ref.dtype == np.float32 and fast.shape == ref.shape
        assert np.array_equal(fast, ref)
        checked += int(batch.alive.sum())
    assert checked > 200


def test_kernels_compile_without_a_cache_folder(monkeypatch):
    """Where numba finds no writable cache folder it refuses ``cache=True``; the kernels are
    then compiled for this process only instead of failing."""
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    monkeypatch.setitem(kernels._state, "compiled", {})

    def loop(a):  # pragma: no cover - compiled
        a[0] = 7

    x = np.zeros(2)
    kernels.compiled(loop)(x)
    assert x.tolist() == [7.0, 0.0]


def test_harvest_transfer_kernel_caps_robot_cargo_like_the_reference(monkeypatch):
    """Two robots hand ice to a third nearly full one in the same step: the overflow is lost,
    with the kernel as with the numpy transfer."""
    from spawnzoo.envs.harvest.world import LIGHT, TRANSFER_E, TRANSFER_W

    worlds = []
    for enabled in (True, False):
        core = envs.make_batched("harvest-v0", num_envs=1, map_size=24, players=1)
        core.reset(seed=2)
        free = (core.factory_map[0] < 0) & (core.robot_map[0] < 0)
        y = next(y for y in range(24) if free[y * 24 + 5 : y * 24 + 8].all())
        left, mid, right = (core.place_robot(0, 0, LIGHT, (y, x)) for x in (5, 6, 7))
        core.cargo_ice[0, [left, mid, right]] = (40, 90, 50)
        core.cargo_ore[0, [left, mid, right]] = (0, 95, 10)
        core.refresh()
        actions = np.zeros((1, core.num_slots), np.int64)
        actions[0, left], actions[0, right] = TRANSFER_E, TRANSFER_W
        with monkeypatch.context() as m:
            m.setitem(kernels._state, "enabled", enabled)
            core.step(actions)
        worlds.append(core)
        cap = core.cfg.light.cargo_space
        assert core.cargo_ice[0, mid] == min(90 + 40 + 50, cap)
        assert core.cargo_ore[0, mid] == min(95 + 10, cap)
        assert core.cargo_ice[0, left] == core.cargo_ice[0, right] == 0
    for a, b in zip(_harvest_state(worlds[0]), _harvest_state(worlds[1])):
        assert np.array_equal(a, b)
