"""The package as users meet it: imports, entry points, names, spaces, pickling."""

from __future__ import annotations

import inspect
import pickle
import re
import subprocess
import sys
import textwrap

import numpy as np
import pettingzoo
import pytest
from gymnasium import spaces

import spawnzoo.envs
from spawnzoo.envs import REGISTRY, make, make_batched
from spawnzoo.envs import harvest_v0 as harvest_module
from spawnzoo.envs.core.batched import BatchedEnv
from spawnzoo.envs.harvest.harvest import HarvestEnv


def test_importing_the_env_suite_does_not_import_torch():
    code = textwrap.dedent(
        """
        import sys
        import spawnzoo.envs
        env = spawnzoo.envs.make("harvest-v0", preset="tiny")
        env.reset(seed=0)
        core = spawnzoo.envs.make_batched("harvest-v0", num_envs=2, preset="tiny")
        core.reset(seed=0)
        heavy = [m for m in ("torch", "tensorflow", "jax") if m in sys.modules]
        print(",".join(heavy) or "clean")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


# ---------------------------------------------------------------------- entry points
def test_every_way_of_building_harvest_gives_the_same_env():
    made = make("harvest-v0", preset="tiny", players=2)
    via_pz = pettingzoo.make("parallel", "spawnzoo/harvest-v0", preset="tiny", players=2)
    via_module = harvest_module.parallel_env(preset="tiny", players=2)
    for env in (made, via_pz, via_module):
        assert isinstance(env, HarvestEnv) and isinstance(env, pettingzoo.ParallelEnv)
        assert env.config == made.config
        assert env.config.map_size == 12 and env.config.players == 2
    states = []
    for env in (made, via_pz, via_module):
        env.reset(seed=8)
        states.append(env.state())
    np.testing.assert_array_equal(states[0], states[1])
    np.testing.assert_array_equal(states[0], states[2])
    aec = harvest_module.env(preset="tiny")
    assert isinstance(aec, pettingzoo.AECEnv)
    aec.reset(seed=0)
    assert aec.agent_selection in aec.agents


def test_make_batched_builds_the_array_core_from_the_same_settings():
    core = make_batched("harvest-v0", num_envs=3, preset="small", players=2, max_cycles=50)
    assert isinstance(core, BatchedEnv)
    assert (core.num_envs, core.num_players, core.map_shape) == (3, 2, (24, 24))
    assert core.max_cycles == 50
    batch = core.reset(seed=0)
    assert batch.alive.shape == (3, core.num_slots)
    assert batch.action_mask.shape == (3, core.num_slots, core.num_actions)
    assert core.planes().shape == (3, 2, len(core.plane_names), 24, 24)


def test_registry_entries_are_complete():
    assert "harvest-v0" in REGISTRY
    for env_id, spec in REGISTRY.items():
        assert re.fullmatch(r"[a-z_]+-v\d+", env_id)
        assert spec.conformance, env_id
        assert set(spawnzoo.envs.presets(env_id)) >= {"tiny"}


# ------------------------------------------------------------------------------ names
@pytest.mark.parametrize("players", [1, 2])
def test_possible_agents_follow_the_naming_scheme(players):
    env = make("harvest-v0", preset="tiny", players=players)
    world = env.world
    pattern = re.compile(r"player_(\d+)_(factory|light|heavy)_(\d+)")
    counts: dict[tuple[int, str], list[int]] = {}
    for name in env.possible_agents:
        match = pattern.fullmatch(name)
        assert match, name
        owner, kind, serial = match.groups()
        counts.setdefault((int(owner), kind), []).append(int(serial))
    assert len(set(env.possible_agents)) == len(env.possible_agents)
    pool = env.config.robot_id_pool
    expected = {}
    for p in range(players):
        expected |= {(p, "factory"): world.max_factories, (p, "light"): pool, (p, "heavy"): pool}
    assert {key: len(serials) for key, serials in counts.items()} == expected
    for serials in counts.values():
        assert serials == list(range(len(serials)))  # numbered 0, 1, 2, ... in order
    assert len(env.possible_agents) == players * (world.max_factories + 2 * pool)
    env.reset(seed=0)
    assert env.agents == [f"player_{p}_factory_0" for p in range(players)]


# ----------------------------------------------------------------------------- spaces
def test_spaces_are_the_same_objects_on_every_call_and_have_the_documented_shapes():
    env = make("harvest-v0", preset="tiny", players=2)
    agents = [env.possible_agents[0], env.possible_agents[-1]]  # alive at reset / never built
    first = {a: (env.observation_space(a), env.action_space(a)) for a in agents}
    env.reset(seed=0)
    env.step({a: 0 for a in env.agents})
    for agent in agents:
        obs_space, act_space = first[agent]
        assert env.observation_space(agent) is obs_space
        assert env.action_space(agent) is act_space
        assert act_space == spaces.Discrete(14)
        k = 2 * env.config.obs_radius + 1
        assert obs_space["observation"].shape == (17 * k * k + 12,)
        assert obs_space["observation"].dtype == np.float32
        assert obs_space["action_mask"].shape == (14,) and obs_space["action_mask"].dtype == np.int8
    assert env.state_space.shape == (18, 12, 12)


# --------------------------------------------------------------------------- pickling
def test_ezpickle_kwargs_match_the_constructor_signature():
    params = inspect.signature(HarvestEnv.__init__).parameters
    keyword_only = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keyword_only == {"preset", "render_mode", "strict", "config"}
    env = make("harvest-v0", preset="tiny", players=2, strict=True, max_cycles=33)
    kwargs = env._ezpickle_kwargs
    assert set(kwargs) == keyword_only | {"players", "max_cycles"}
    assert kwargs["preset"] == "tiny" and kwargs["strict"] is True
    assert kwargs["players"] == 2 and kwargs["max_cycles"] == 33
    assert env._ezpickle_args == ()
    # the stored kwargs rebuild the same env
    rebuilt = HarvestEnv(**kwargs)
    assert rebuilt.config == env.config and rebuilt.strict


def test_pickle_round_trip_rebuilds_an_equal_env():
    env = make("harvest-v0", preset="tiny", players=2, max_cycles=33, strict=True)
    obs, _ = env.reset(seed=5)
    env.step({a: 0 for a in env.agents})  # state is not pickled, settings are
    clone = pickle.loads(pickle.dumps(env))
    assert clone is not env and isinstance(clone, HarvestEnv)
    assert clone.config == env.config and clone.strict and clone.max_cycles == 33
    assert clone.possible_agents == env.possible_agents
    obs, infos = env.reset(seed=6)
    clone_obs, clone_infos = clone.reset(seed=6)
    assert list(obs) == list(clone_obs) and infos == clone_infos
    for agent in obs:
        np.testing.assert_array_equal(obs[agent]["observation"], clone_obs[agent]["observation"])
        np.testing.assert_array_equal(obs[agent]["action_mask"], clone_obs[agent]["action_mask"])
    np.testing.assert_array_equal(env.state(), clone.state())


def test_the_wheel_ships_every_package_under_spawnzoo_and_nothing_else(tmp_path):
    """The top-level folders map into spawnzoo.*; every package below them is found (none
    listed by hand goes missing), py.typed ships, and nothing named bare envs/baselines/hybrid
    or setup.py does."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).parents[1]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + [str(root), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("spawnzoo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("spawnzoo/", "spawnzoo-")) for n in names), names
    shipped = {str(Path(n).parent) for n in names if n.endswith("__init__.py")}
    for layer in ("envs", "baselines", "hybrid", "cli"):
        for init in (root / layer).rglob("__init__.py"):
            rel = init.parent.relative_to(root).as_posix()
            assert f"spawnzoo/{rel}" in shipped, f"{rel} is not in the wheel"
    assert "spawnzoo/envs/py.typed" in names
