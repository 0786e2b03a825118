"""forage-v0 as users meet it: entry points, spaces, pickling, errors, PettingZoo's max_cycles."""

from __future__ import annotations

import copy
import inspect
import pickle
import types
from functools import partial

import numpy as np
import pettingzoo
import pytest
from gymnasium import spaces
from pettingzoo.test import max_cycles_test

from spawnzoo.envs import forage_v0, make, make_batched, presets
from spawnzoo.envs.forage.forage import ForageEnv
from spawnzoo.envs.forage.world import MOVE_N, NUM_ACTIONS

#: every piece of world state a step could touch
STATE = (
    "food",
    "fertile",
    "agent_map",
    "alive",
    "kind",
    "owner",
    "cell",
    "serial",
    "energy",
    "age",
    "t",
    "next_serial",
    "metrics",
    "population_steps",
)


def test_every_way_of_building_forage_gives_the_same_env():
    made = make("forage-v0", preset="tiny", players=2)
    via_pz = pettingzoo.make("parallel", "spawnzoo/forage-v0", preset="tiny", players=2)
    via_module = forage_v0.parallel_env(preset="tiny", players=2)
    states = []
    for env in (made, via_pz, via_module):
        assert isinstance(env, ForageEnv) and env.config == made.config
        env.reset(seed=8)
        states.append(env.state())
    np.testing.assert_array_equal(states[0], states[1])
    np.testing.assert_array_equal(states[0], states[2])
    aec = forage_v0.env(preset="tiny")
    assert isinstance(aec, pettingzoo.AECEnv)
    aec.reset(seed=0)
    assert aec.agent_selection in aec.agents


def test_presets_scale_from_tiny_to_thousands_and_carry_an_evaluation_length():
    table = presets("forage-v0")
    assert set(table) == {"tiny", "small", "large"}
    sizes = {}
    for name, preset in table.items():
        core = make_batched("forage-v0", num_envs=1, preset=name)
        assert preset.eval_max_cycles > core.max_cycles
        sizes[name] = (core.map_shape, core.num_slots, int(core.reset(seed=0).alive.sum()))
        assert core.cfg.obs_radius >= 1
    assert sizes["tiny"] == ((16, 16), 32, 8)
    assert sizes["small"][0] == (32, 32)
    assert sizes["large"][0] == (128, 128) and sizes["large"][2] >= 1000


def test_spaces_and_names_have_the_documented_shapes():
    env = make("forage-v0", preset="tiny", players=2)
    assert len(env.possible_agents) == 2 * env.config.agent_id_pool
    assert env.possible_agents[0] == "player_0_forager_0"
    assert env.possible_agents[-1] == f"player_1_forager_{env.config.agent_id_pool - 1}"
    env.reset(seed=0)
    assert env.agents == [f"player_{p}_forager_{i}" for p in (0, 1) for i in range(8)]
    agent = env.possible_agents[-1]
    k = 2 * env.config.obs_radius + 1
    assert env.action_space(agent) == spaces.Discrete(5)
    assert env.observation_space(agent)["observation"].shape == (7 * k * k + 6,)
    assert env.observation_space(agent)["action_mask"].shape == (5,)
    assert env.state_space.shape == (7, 16, 16)
    assert env.world.window_plane_names == (
        "food",
        "fertile",
        "own_agent",
        "enemy",
        "energy",
        "age",
        "off_map",
    )
    assert env.world.structure_kinds == () and env.world.structure_slots == 0


def test_ezpickle_kwargs_match_the_constructor_and_pickling_rebuilds_the_env():
    params = inspect.signature(ForageEnv.__init__).parameters
    keyword_only = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keyword_only == {"preset", "render_mode", "strict", "config"}
    env = make("forage-v0", preset="tiny", players=2, strict=True, max_cycles=33)
    assert set(env._ezpickle_kwargs) == keyword_only | {"players", "max_cycles"}
    env.reset(seed=5)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.config == env.config and clone.strict and clone.max_cycles == 33
    obs, infos = env.reset(seed=6)
    clone_obs, clone_infos = clone.reset(seed=6)
    assert list(obs) == list(clone_obs) and infos == clone_infos
    np.testing.assert_array_equal(env.state(), clone.state())


def snapshot(env) -> dict:
    world = env.world
    return {name: copy.deepcopy(getattr(world, name)) for name in STATE} | {
        "agents": list(env.agents)
    }


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ({"player_0_forager_99": 0}, "not alive in this episode"),
        ({"nobody": 0}, "unknown agent 'nobody'"),
        ({"player_0_forager_0": NUM_ACTIONS}, "out of range"),
        ({"player_0_forager_0": 1.5}, "must be an integer"),
    ],
)
def test_bad_actions_raise_and_change_nothing(actions, message):
    env = make("forage-v0", preset="tiny")
    env.reset(seed=1)
    before = snapshot(env)
    with pytest.raises(ValueError, match=message):
        env.step({**{a: 0 for a in env.agents}, **actions})
    after = snapshot(env)
    for key, value in before.items():
        if isinstance(value, dict):
            for k in value:
                np.testing.assert_array_equal(value[k], after[key][k])
        else:
            np.testing.assert_array_equal(value, after[key])


def test_strict_mode_refuses_a_masked_move_and_default_mode_flags_it():
    for strict in (True, False):
        env = make("forage-v0", map_size=8, initial_agents=1, strict=strict)
        env.reset(seed=0)
        world = env.world
        world.remove_agent(0, 0)
        world.place_agent(0, 0, (0, 3))
        env._last.action_mask[:] = world.refresh()
        agent = env.agents[0]
        if strict:
            with pytest.raises(ValueError, match="masked"):
                env.step({agent: MOVE_N})
        else:
            *_, infos = env.step({agent: MOVE_N})
            assert infos[agent]["illegal_action"]


def test_batched_core_rejects_bad_action_arrays():
    core = make_batched("forage-v0", num_envs=2, preset="tiny")
    with pytest.raises(RuntimeError, match="reset"):
        core.step(np.zeros((2, core.num_slots), np.int64))
    core.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        core.step(np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match="integers"):
        core.step(np.zeros((2, core.num_slots)))
    with pytest.raises(ValueError, match="num_envs"):
        make_batched("forage-v0", num_envs=0)


def test_pettingzoo_max_cycles_with_a_pool_of_agents_alive_from_the_start():
    # PettingZoo's max_cycles_test needs most possible agents alive from the first step to the
    # last: a pool of exactly the initial agents (no births possible) does that
    settings = dict(preset="tiny", players=2, agent_slots_per_player=8, agent_ids_per_player=8)
    env = forage_v0.parallel_env(**settings)
    env.reset(seed=0)
    assert len(env.agents) == len(env.possible_agents) == 16
    module = types.SimpleNamespace(
        parallel_env=partial(forage_v0.parallel_env, **settings),
        env=partial(forage_v0.env, **settings),
    )
    max_cycles_test(module)
