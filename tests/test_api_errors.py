"""Bad input fails loudly with a message naming what was wrong, and changes nothing."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from spawnzoo.envs import make, make_batched, spec
from spawnzoo.envs.harvest.world import BUILD_LIGHT, MOVE_N, NUM_ACTIONS

#: every piece of world state a step could touch
STATE = (
    "ice",
    "ore",
    "rubble",
    "factory_map",
    "robot_map",
    "alive",
    "kind",
    "owner",
    "cell",
    "serial",
    "power",
    "cargo_ice",
    "cargo_ore",
    "water",
    "metal",
    "t",
    "next_serial",
    "metrics",
)


def snapshot(env) -> dict:
    """Copies of a batched core's state, or of a PettingZoo env's world and bookkeeping."""
    world = getattr(env, "world", env)
    arrays = {name: copy.deepcopy(getattr(world, name)) for name in STATE}
    arrays["mask"] = world.action_mask()
    if world is not env:
        arrays["last_actions"] = env.last_actions.copy()
        arrays["last_mask"] = env.last_batch.action_mask.copy()
    return {"arrays": arrays, "agents": list(getattr(env, "agents", []))}


def assert_unchanged(env, before: dict) -> None:
    after = snapshot(env)
    assert after["agents"] == before["agents"]
    assert after["arrays"].keys() == before["arrays"].keys()
    for name in before["arrays"]:
        a, b = before["arrays"][name], after["arrays"][name]
        if isinstance(a, dict):
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}[{key}]")
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def played(steps: int, seed: int = 3, **settings):
    """A 2-player tiny env after ``steps`` of seeded random legal play, and its action log."""
    env = make("harvest-v0", preset="tiny", players=2, **settings)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    log = []
    for _ in range(steps):
        actions = {
            a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in sorted(env.agents)
        }
        log.append(actions)
        obs, *_ = env.step(actions)
    return env, obs, log


def replay(log, seed: int = 3, **settings):
    env = make("harvest-v0", preset="tiny", players=2, **settings)
    env.reset(seed=seed)
    for actions in log:
        env.step(actions)
    return env


def a_dead_agent(env, obs, rng: np.random.Generator, max_steps: int = 200) -> str:
    """Play on until some agent terminates; return its name."""
    for _ in range(max_steps):
        actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
        obs, _, terminations, _, _ = env.step(actions)
        dead = [a for a, done in terminations.items() if done]
        if dead and env.agents:
            return dead[0]
    raise AssertionError("no agent died")


# ----------------------------------------------------------------- bad agents and actions
BAD_ACTIONS = [
    pytest.param(NUM_ACTIONS, "out of range", id="too-large"),
    pytest.param(-1, "out of range", id="negative"),
    pytest.param(1.5, "integer", id="fraction"),
    pytest.param("a", "integer", id="string"),
    pytest.param("1", "integer", id="numeric-string"),
    pytest.param(None, "integer", id="none"),
    pytest.param([1], "integer", id="list"),
]


@pytest.mark.parametrize(("value", "problem"), BAD_ACTIONS)
def test_bad_action_values_are_rejected_naming_agent_and_value(value, problem):
    env, _, log = played(12)
    agent = sorted(env.agents)[-1]
    others = {a: 0 for a in env.agents if a != agent}
    before = snapshot(env)
    state = env.state()
    with pytest.raises(ValueError, match=problem) as err:
        env.step({**others, agent: value})
    assert repr(agent) in str(err.value) and str(value) in str(err.value)
    assert_unchanged(env, before)
    np.testing.assert_array_equal(env.state(), state)
    # the next valid step gives exactly what an untouched twin gives
    twin = replay(log)
    actions = {a: 0 for a in env.agents}
    out, twin_out = env.step(actions), twin.step(actions)
    for mine, theirs in zip(out, twin_out):
        assert mine.keys() == theirs.keys()
    for agent_ in out[0]:
        for key in ("observation", "action_mask"):
            np.testing.assert_array_equal(out[0][agent_][key], twin_out[0][agent_][key])
    np.testing.assert_array_equal(env.state(), twin.state())
    assert out[1] == twin_out[1] and out[2] == twin_out[2] and out[4] == twin_out[4]


@pytest.mark.parametrize("which", ["none", "some"])
def test_agents_left_out_of_the_action_dict_idle(which):
    env, _, log = played(6)
    twin = replay(log)
    given = {} if which == "none" else {a: 0 for a in sorted(env.agents)[:1]}
    out = env.step(given)
    twin_out = twin.step({a: 0 for a in twin.agents})
    assert out[1] == twin_out[1] and out[2] == twin_out[2] and out[4] == twin_out[4]
    np.testing.assert_array_equal(env.state(), twin.state())


@pytest.mark.parametrize(
    ("value", "as_int"),
    [(12.0, 12), (np.float64(12.0), 12), (np.float32(12.0), 12), (True, 1)],
    ids=["float", "np.float64", "np.float32", "bool"],
)
def test_integral_non_int_actions_either_run_as_that_integer_or_raise_value_error(value, as_int):
    """Documented errors are ValueErrors; an integral float must never crash another way."""
    env = make("harvest-v0", preset="tiny")
    twin = make("harvest-v0", preset="tiny")
    env.reset(seed=0)
    twin.reset(seed=0)
    (factory,) = env.agents
    before = snapshot(env)
    try:
        out = env.step({factory: value})
    except ValueError as err:
        assert repr(factory) in str(err)
        assert_unchanged(env, before)
        return
    twin_out = twin.step({factory: as_int})
    assert list(out[0]) == list(twin_out[0]) and out[4] == twin_out[4]
    np.testing.assert_array_equal(env.state(), twin.state())


@pytest.mark.parametrize("agent", ["bogus", "player_7_light_0", "player_0_factory_99"])
def test_unknown_agents_are_rejected(agent):
    env, _, _ = played(3)
    before = snapshot(env)
    with pytest.raises(ValueError, match="unknown agent") as err:
        env.step({agent: 0})
    assert repr(agent) in str(err.value)
    assert_unchanged(env, before)


def test_not_yet_spawned_agent_is_rejected():
    env, _, _ = played(3)
    unborn = env.possible_agents[-1]  # player 1's last heavy name: not built in 3 steps
    assert unborn not in env.agents and unborn.startswith("player_1_heavy_")
    before = snapshot(env)
    with pytest.raises(ValueError, match="not alive") as err:
        env.step({**{a: 0 for a in env.agents}, unborn: 0})
    assert repr(unborn) in str(err.value)
    assert_unchanged(env, before)


def test_dead_agent_is_rejected():
    env, obs, _ = played(0)
    dead = a_dead_agent(env, obs, np.random.default_rng(1))
    assert dead in env.possible_agents and dead not in env.agents
    before = snapshot(env)
    with pytest.raises(ValueError, match="not alive") as err:
        env.step({dead: 0})
    assert repr(dead) in str(err.value)
    assert_unchanged(env, before)


def test_step_before_reset_is_an_error():
    env = make("harvest-v0", preset="tiny")
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


# --------------------------------------------------------------------------- strictness
@pytest.mark.parametrize("env_id", ["harvest-v0", "forage-v0", "skirmish-v0"])
def test_step_after_the_episode_ended_is_an_error_and_changes_nothing(env_id):
    env = make(env_id, preset="tiny", max_cycles=5)
    env.reset(seed=0)
    while env.agents:
        *_, infos = env.step({a: 0 for a in env.agents})
    metrics = next(iter(infos.values()))["episode"]
    t = int(env.world.t[0])
    for actions in ({}, {"player_0_anything_0": 0}):
        with pytest.raises(RuntimeError, match="episode has ended.*reset"):
            env.step(actions)
    assert int(env.world.t[0]) == t == metrics["episode_length"] == 5  # the world did not move
    env.reset(seed=0)  # and a reset starts the next episode as usual
    assert env.agents and env.step({a: 0 for a in env.agents})


def test_kind_and_owner_names_of_any_pool_agent():
    env = make("harvest-v0", preset="tiny", players=2)
    env.reset(seed=0)
    assert env.kind_of("player_1_heavy_7") == "heavy"  # not spawned: still named
    assert env.owner_of("player_1_heavy_7") == "player_1"
    assert env.kind_names == ("factory", "light", "heavy")
    assert env.owner_names == ("player_0", "player_1")
    for name in ("player_2_heavy_0", "player_0_heavy"):
        with pytest.raises(ValueError, match=f"unknown agent {name!r}"):
            env.kind_of(name)
        with pytest.raises(ValueError, match=f"unknown agent {name!r}"):
            env.owner_of(name)


def test_strict_env_raises_on_a_masked_action_and_changes_nothing():
    env = make("harvest-v0", preset="tiny", strict=True)
    obs, _ = env.reset(seed=0)
    factory = env.agents[0]
    assert not obs[factory]["action_mask"][MOVE_N]
    before = snapshot(env)
    with pytest.raises(ValueError, match="masked") as err:
        env.step({factory: MOVE_N})
    assert repr(factory) in str(err.value) and str(MOVE_N) in str(err.value)
    assert_unchanged(env, before)
    # a legal action goes through
    _, _, _, _, infos = env.step({factory: BUILD_LIGHT})
    assert not infos[factory]["illegal_action"]
    assert len(env.agents) == 2


def test_lenient_env_runs_a_masked_action_as_the_no_op_and_says_so():
    env = make("harvest-v0", preset="tiny")
    twin = make("harvest-v0", preset="tiny")
    obs, _ = env.reset(seed=0)
    twin.reset(seed=0)
    factory = env.agents[0]
    assert not obs[factory]["action_mask"][MOVE_N]
    out = env.step({factory: MOVE_N})
    twin_out = twin.step({factory: 0})
    assert out[4][factory]["illegal_action"] and not twin_out[4][factory]["illegal_action"]
    np.testing.assert_array_equal(env.state(), twin.state())
    assert out[1] == twin_out[1]
    assert env.world.metrics["illegal_actions"][0, 0] == 1


# ------------------------------------------------------------------------ bad settings
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"preset": "tiny", "colour": "red"}, "colour"),
        ({"preset": "huge"}, "huge"),
        ({"preset": "tiny", "players": 3}, "players"),
        ({"preset": "tiny", "players": 2, "map_size": 13}, "map_size"),
        ({"preset": "tiny", "render_mode": "ansi"}, "render_mode"),
        ({"preset": "tiny", "max_cycles": 0}, "max_cycles"),
        ({"preset": "tiny", "placement": "best"}, "placement"),
    ],
)
def test_bad_settings_raise_a_value_error_naming_the_problem(kwargs, named):
    with pytest.raises(ValueError, match=named):
        make("harvest-v0", **kwargs)


def test_odd_map_error_says_it_must_be_even():
    with pytest.raises(ValueError, match="even"):
        make("harvest-v0", preset="tiny", players=2, map_size=13)


def test_unknown_env_id_lists_the_registered_ones():
    with pytest.raises(ValueError, match="harvest-v0"):
        spec("harvest-v9")
    with pytest.raises(ValueError, match="harvest-v9"):
        make("harvest-v9")
    with pytest.raises(ValueError, match="harvest-v9"):
        make_batched("harvest-v9", num_envs=2)


def test_unknown_agent_spaces_are_rejected():
    env = make("harvest-v0", preset="tiny")
    with pytest.raises(ValueError, match="bogus"):
        env.observation_space("bogus")
    with pytest.raises(ValueError, match="bogus"):
        env.action_space("bogus")


# ------------------------------------------------------------------------- batched core
@pytest.fixture
def core():
    core = make_batched("harvest-v0", num_envs=2, preset="tiny", players=2)
    core.reset(seed=4)
    rng = np.random.default_rng(4)
    for _ in range(10):  # some robots on the map
        mask = core.action_mask()
        core.step(np.where(mask, rng.random(mask.shape), -1).argmax(-1))
    return core


def test_batched_step_rejects_a_wrong_shape(core):
    before = snapshot(core)
    e, s = core.num_envs, core.num_slots
    for shape in [(e, s + 1), (e + 1, s), (e * s,), (1, e, s)]:
        with pytest.raises(ValueError, match="shape") as err:
            core.step(np.zeros(shape, dtype=np.int64))
        assert str(shape) in str(err.value)
    assert_unchanged(core, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, bool])
def test_batched_step_rejects_non_integer_dtypes(core, dtype):
    before = snapshot(core)
    with pytest.raises(ValueError, match="integer") as err:
        core.step(np.zeros((core.num_envs, core.num_slots), dtype=dtype))
    assert np.dtype(dtype).name in str(err.value)
    assert_unchanged(core, before)


@pytest.mark.parametrize("value", [-1, NUM_ACTIONS, 1000])
def test_batched_step_rejects_out_of_range_actions_naming_where(core, value):
    before = snapshot(core)
    actions = np.zeros((core.num_envs, core.num_slots), dtype=np.int64)
    actions[1, 5] = value
    with pytest.raises(ValueError, match="out of range") as err:
        core.step(actions)
    assert f"action {value}" in str(err.value)
    assert "env 1" in str(err.value) and "slot 5" in str(err.value)
    assert_unchanged(core, before)


def test_batched_step_before_reset_is_an_error():
    core = make_batched("harvest-v0", num_envs=2, preset="tiny")
    with pytest.raises(RuntimeError, match="reset"):
        core.step(np.zeros((2, core.num_slots), dtype=np.int64))


def test_batched_core_rejects_no_worlds():
    with pytest.raises(ValueError, match="num_envs"):
        make_batched("harvest-v0", num_envs=0, preset="tiny")
