"""Bit-identity of harvest trajectories: a digest of everything the core and the adapter return.

Speed work on ``HarvestWorld`` and ``SlotParallelEnv`` must not change behaviour. These tests
drive both APIs with seeded actions (mostly legal, some masked, some to empty slots) and hash
every array they return (values, dtypes and shapes), the final states of ended worlds, planes
and egocentric windows, and every PettingZoo dict (keys in order, values, info contents). The
stored digests were computed on the code before the speed work; a change to them means a
change in behaviour. (Regenerated on purpose for the Lux parity fixes of issue 25: power
pickups in creation order, rubble under a factory that dies in the step, Manhattan factory
spacing, and the 18th plane ``factory_water_cost``.) They also depend on NumPy's random
streams (map generation and the actions use ``np.random.Generator``), which NumPy keeps stable
but does not promise across versions.
Regenerate (only for an intended rule change or such a NumPy change; say so in the commit):

    .venv/bin/python tests/test_harvest_digest.py
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

import numpy as np
import pytest

from spawnzoo import envs

#: crowded 2-player worlds (many spawns, collisions and deaths) that end within the run
SETTINGS: dict[str, Any] = {
    "players": 2,
    "factories_per_player": (3, 5),
    "init_metal": 10_000,
    "init_water": 90,
    "init_factory_power": 10_000,
    "robot_ids_per_class": 60,
    "max_cycles": 120,
}

EXPECTED = {
    ("batched", 1): "01e682ba69282a3f2293681a0f337e41122278aad7b94272ae789b1b4d3ddba4",
    ("pettingzoo", 1): "b29ff7bf063e817b3d94c6d829961bc94b60bb9c7201dcba5117111946f9d55b",
    ("batched", 2): "cf8524308fe50a90a3371cd11e057fe3816ddfe2c79491a595cfea43212ceb7b",
    ("pettingzoo", 2): "ccf64275b4de4b1de683ba7c2c59570219c5c0592f889433d65ac9db346b97de",
}


class Digest:
    """A running SHA-256 over arrays and plain Python values."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def array(self, arr: Any) -> None:
        arr = np.ascontiguousarray(arr)
        self._h.update(f"{arr.dtype.str}{arr.shape}".encode())
        self._h.update(arr.tobytes())

    def value(self, obj: Any) -> None:
        self._h.update(repr(obj).encode())

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def _actions(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """``[..., A]`` mask -> ``[...]`` actions: legal ones, with ~5% uniformly random (masked)."""
    legal = np.argmax(rng.random(mask.shape) * mask, axis=-1)
    wild = rng.integers(0, mask.shape[-1], legal.shape)
    return np.where(rng.random(legal.shape) < 0.05, wild, legal)


def batched_digest(map_size: int, num_envs: int, steps: int, seed: int, players: int = 2) -> str:
    """Digest of ``steps`` auto-resetting steps of ``num_envs`` worlds (planes and windows too)."""
    settings = {**SETTINGS, "players": players}
    core = envs.make_batched("harvest-v0", num_envs=num_envs, map_size=map_size, **settings)
    rng = np.random.default_rng(seed)
    d = Digest()
    batch = core.reset(seed=seed)
    for t in range(steps + 1):
        if t:
            batch = core.step(_actions(rng, batch.action_mask))
        for name in (
            "alive",
            "spawned",
            "kind",
            "owner",
            "cell",
            "action_mask",
            "reward",
            "terminated",
            "truncated",
            "done",
            "serial",
            "illegal",
        ):
            d.array(getattr(batch, name))
        if batch.final is not None:
            f = batch.final
            for arr in (f.env_index, f.planes, f.alive, f.cell, f.kind, f.owner, f.features):
                d.array(arr)
            d.value(f.metrics)
        if t % 3 == 0:
            planes = core.planes()
            d.array(planes)
            ei, si = np.nonzero(batch.alive)
            d.array(core.egocentric(ei, si, 3))
            d.array(core.egocentric(ei, si, 5, planes=planes))
            d.array(core.self_features(ei, si))
    return d.hexdigest()


def pettingzoo_digest(map_size: int, steps: int, seed: int, players: int = 2) -> str:
    """Digest of ``steps`` PettingZoo steps (resets included) with every dict returned."""
    env = envs.make("harvest-v0", map_size=map_size, **{**SETTINGS, "players": players})
    rng = np.random.default_rng(seed)
    d = Digest()
    obs, infos = env.reset(seed=seed)
    d.value(list(infos.items()))
    for t in range(steps):
        if not env.agents:  # reset() without a seed would draw fresh entropy
            obs, infos = env.reset(seed=seed + t)
            d.value(list(infos.items()))
        agents = list(env.agents)
        masks = np.stack([obs[a]["action_mask"] for a in agents])
        actions = dict(zip(agents, _actions(rng, masks).tolist()))
        if t % 7 == 0 and len(agents) > 1:  # a dead or missing agent's action is left out
            del actions[agents[int(rng.integers(len(agents)))]]
        obs, rewards, terms, truncs, infos = env.step(actions)
        d.value(list(obs))
        for o in obs.values():
            d.array(o["observation"])
            d.array(o["action_mask"])
        for out in (rewards, terms, truncs, infos):
            d.value(list(out.items()))
        d.value(env.agents)
        if t % 5 == 0:
            d.array(env.state())
    env.close()
    return d.hexdigest()


@pytest.mark.parametrize("players", [1, 2])
def test_batched_trajectory_digest(players: int) -> None:
    digest = batched_digest(map_size=24, num_envs=4, steps=300, seed=3, players=players)
    assert digest == EXPECTED["batched", players]


@pytest.mark.parametrize("players", [1, 2])
def test_pettingzoo_trajectory_digest(players: int) -> None:
    digest = pettingzoo_digest(map_size=24, steps=400, seed=5, players=players)
    assert digest == EXPECTED["pettingzoo", players]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "long":
        # the longer before/after check of the speed work (48x48, thousands of steps)
        for players in (1, 2):
            print("batched", players, batched_digest(48, 8, 2000, seed=11, players=players))
            print("pettingzoo", players, pettingzoo_digest(48, 2000, seed=13, players=players))
    else:
        for players in (1, 2):
            print("batched", players, batched_digest(24, 4, 300, seed=3, players=players))
            print("pettingzoo", players, pettingzoo_digest(24, 400, seed=5, players=players))


def test_adapter_notices_an_edited_agents_list() -> None:
    """The adapter remembers its agents' slots between steps; a reordered ``agents`` list
    (edited in place) must still map every agent to its own slot."""
    twins = [envs.make("harvest-v0", map_size=24, **SETTINGS) for _ in range(2)]
    outs = [env.reset(seed=1)[0] for env in twins]
    rng = np.random.default_rng(1)
    for t in range(40):
        agents = list(twins[0].agents)
        masks = np.stack([outs[0][a]["action_mask"] for a in agents])
        actions = dict(zip(agents, _actions(rng, masks).tolist()))
        if t % 10 == 5:
            twins[1].agents.reverse()  # same names, other order, same list object
        results = [env.step(actions) for env in twins]
        outs = [r[0] for r in results]
        for a, b in zip(*results):
            assert sorted(a) == sorted(b)
            for name in a:
                if isinstance(a[name], dict) and "observation" in a[name]:
                    assert np.array_equal(a[name]["observation"], b[name]["observation"])
                else:
                    assert a[name] == b[name]
        assert sorted(twins[0].agents) == sorted(twins[1].agents)
