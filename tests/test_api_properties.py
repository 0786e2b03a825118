"""Property tests over the env API of all three envs under bad input (issue 27): after a few
random legal steps, a bad action dict, action array, seed or ``max_cycles`` raises
``ValueError`` naming what was wrong, and the env is then in the state of a twin that never saw
it and steps exactly as the twin does.

Bad input covered: out-of-range, fractional, NaN, string, None, container and complex actions;
actions for agents that are unknown, dead or not yet spawned, and keys that are not names; action
dicts that are not dicts; strict envs given masked actions; on the batched core, arrays of the
wrong shape or dtype (floats with NaN or infinities, bools, objects, strings), out-of-range
values of every integer dtype, ragged lists and junk. Actions of empty slots are ignored on the
batched core (documented), which is checked against the twin too.

Infinite actions to the PettingZoo adapter are refused like every other bad value (issue 27
item 5). ``step()`` after the episode ended (item 4) is a ``RuntimeError``, checked in
``tests/test_api_errors.py``; the tests here never step an ended episode.

The default suite runs a few hundred draws per env; ``-m slow`` runs thousands.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from bad_input import assert_same, deadline, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spawnzoo.envs import make, make_batched
from spawnzoo.envs.core.policies import sample_masked

ENV_IDS = ["forage-v0", "harvest-v0", "skirmish-v0"]
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEEP = settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------ the PettingZoo API
def legal_actions(rng: np.random.Generator, obs: dict, agents: list[str]) -> dict[str, int]:
    return {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in agents}


def played_pair(envs: tuple, seed: int, warmup: int) -> dict:
    """Reset both envs with ``seed`` and play the same ``warmup`` random legal steps (fewer if
    the episode ends: an ended episode is never stepped). Returns the last observations."""
    env, twin = envs
    obs, _ = env.reset(seed=seed)
    twin.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(warmup):
        actions = legal_actions(rng, obs, env.agents)
        obs, *_ = env.step(actions)
        twin.step(actions)
        if not env.agents:  # episode over: start another one
            obs, _ = env.reset(seed=seed + 1)
            twin.reset(seed=seed + 1)
    return obs


#: action values the adapter must refuse
BAD_VALUES = st.one_of(
    st.integers(max_value=-1),
    st.integers(min_value=1000),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.just(np.float32("nan")),
    st.sampled_from([np.float64(0.5), np.float32(2.25), -np.int64(3), np.uint64(2**63)]),
    st.text(max_size=4),
    st.sampled_from([None, [0], (1,), {"a": 1}, b"1", 1j, object(), np.array([[0, 1]])]),
)


@st.composite
def bad_action_dicts(draw, env, obs: dict):
    """``(actions, words)``: a bad action dict for ``env`` and words its error must contain."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    actions: dict = legal_actions(rng, obs, env.agents)
    kind = draw(st.sampled_from(["value", "agent", "key", "container"]))
    if kind == "value" and env.agents:
        agent = draw(st.sampled_from(sorted(env.agents)))
        value = draw(BAD_VALUES)
        actions[agent] = value
        return actions, repr(agent)
    if kind in ("value", "agent"):  # a name that is not alive: dead, unborn or unknown
        gone = sorted(set(env.possible_agents) - set(env.agents))
        unknown = st.text(max_size=12).filter(lambda a: a not in env.agents)
        agent = draw(st.sampled_from(gone) | unknown if gone else unknown)
        actions[agent] = 0
        return actions, repr(agent)
    if kind == "key":
        key = draw(st.sampled_from([0, None, 1.5, ("player_0",), b"player_0_forager_0"]))
        actions[key] = 0
        return actions, repr(key)
    container = draw(st.sampled_from([None, 0, "idle", list(actions.items()), list(actions)]))
    return container, "actions must be a dict"


def check_refused(envs: tuple, bad, words: str) -> None:
    """``envs[0].step(bad)`` raises a ValueError with ``words``; nothing changes."""
    env, twin = envs
    with deadline(10), pytest.raises(ValueError) as err:
        env.step(bad)
    assert words in str(err.value), str(err.value)
    assert_same(snapshot(env), snapshot(twin))
    if env.agents:
        actions = {a: 0 for a in env.agents}
        assert_same(env.step(actions), twin.step(actions), "next step")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_action_dicts_are_refused_and_change_nothing(env_id):
    envs = make(env_id, preset="tiny"), make(env_id, preset="tiny")

    @FAST
    @given(seed=st.integers(0, 2**16), warmup=st.integers(0, 12), data=st.data())
    def run(seed, warmup, data):
        obs = played_pair(envs, seed, warmup)
        bad, words = data.draw(bad_action_dicts(envs[0], obs))
        check_refused(envs, bad, words)

    run()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_strict_envs_refuse_masked_actions_and_change_nothing(env_id):
    envs = make(env_id, preset="tiny", strict=True), make(env_id, preset="tiny", strict=True)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.integers(0, 2**16), warmup=st.integers(0, 12), data=st.data())
    def run(seed, warmup, data):
        obs = played_pair(envs, seed, warmup)
        env = envs[0]
        masked = [
            (a, int(i)) for a in env.agents for i in np.flatnonzero(obs[a]["action_mask"] == 0)
        ]
        if not masked:
            return
        agent, action = data.draw(st.sampled_from(masked))
        rng = np.random.default_rng(seed)
        actions = {**legal_actions(rng, obs, env.agents), agent: action}
        check_refused(envs, actions, f"action {action} for {agent!r} is masked")

    run()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_seeds_and_max_cycles_are_refused_and_change_nothing(env_id):
    envs = make(env_id, preset="tiny"), make(env_id, preset="tiny")
    junk = st.sampled_from([None, "1", 1.5, math.nan, math.inf, True, [3], -(2**70)])

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        seed=st.integers(0, 2**16), warmup=st.integers(0, 8), bad=st.integers(max_value=-1) | junk
    )
    def run(seed, warmup, bad):
        env, twin = envs
        played_pair(envs, seed, warmup)
        if bad is not None:  # None is a legal seed
            with pytest.raises(ValueError, match="seed must be None or an integer >= 0"):
                env.reset(seed=bad)
        with pytest.raises(ValueError, match="max_cycles must be an integer in"):
            env.max_cycles = bad if bad is not None else 0
        assert_same(snapshot(env), snapshot(twin))

    run()


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("value", [math.inf, -math.inf, np.float32("inf"), np.float64("-inf")])
def test_an_infinite_action_is_a_value_error(env_id, value):
    envs = make(env_id, preset="tiny"), make(env_id, preset="tiny")
    played_pair(envs, 0, 0)
    agent = envs[0].agents[0]
    check_refused(envs, {agent: value}, repr(agent))


# ------------------------------------------------------------------------- the batched core
def played_cores(cores: tuple, seed: int, warmup: int) -> None:
    """Reset both cores with ``seed`` and play the same random legal steps (auto-reset)."""
    rng = np.random.default_rng(seed)
    for core in cores:
        core.reset(seed=seed)
    for _ in range(warmup):
        actions = sample_masked(rng, cores[0].action_mask())
        for core in cores:
            core.step(actions)


INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@st.composite
def bad_action_arrays(draw, core):
    """``(actions, words)``: a bad actions argument for ``core`` and words its error contains."""
    e, s, a = core.num_envs, core.num_slots, core.num_actions
    kind = draw(st.sampled_from(["shape", "dtype", "range", "ragged", "junk"]))
    if kind == "shape":
        shape = draw(
            st.lists(st.integers(0, 6), min_size=0, max_size=3).filter(
                lambda sh: tuple(sh) != (e, s)
            )
        )
        return np.zeros(shape, np.int64), "actions must have shape"
    if kind == "dtype":
        dtype = draw(st.sampled_from([np.float32, np.float64, bool, object, str, np.complex64]))
        fill = draw(st.sampled_from([0, 1, math.nan, math.inf, -math.inf, 0.5]))
        arr = np.zeros((e, s), dtype=np.float64)
        arr[draw(st.integers(0, e - 1)), draw(st.integers(0, s - 1))] = fill
        return arr.astype(dtype), "actions must be integers"
    if kind == "range":
        dtype = draw(st.sampled_from(INT_DTYPES))
        info = np.iinfo(dtype)
        values = st.integers(info.min, -1) if info.min < 0 else st.nothing()
        value = draw(values | st.integers(a, info.max))
        arr = np.zeros((e, s), dtype=dtype)
        i, j = draw(st.integers(0, e - 1)), draw(st.integers(0, s - 1))
        arr[i, j] = value
        return arr, f"action {value} out of range [0, {a}) at env {i}, slot {j}"
    if kind == "ragged":
        rows = [[0] * s for _ in range(e)]
        rows[draw(st.integers(0, e - 1))] = [0] * draw(st.integers(0, s - 1))
        return rows, "actions must be a"
    junk = draw(st.sampled_from([None, "0", {"a": 0}, 3, [[None] * s] * e]))
    return junk, "actions must"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_action_arrays_are_refused_and_change_nothing(env_id):
    cores = tuple(make_batched(env_id, num_envs=3, preset="tiny") for _ in range(2))

    @FAST
    @given(seed=st.integers(0, 2**16), warmup=st.integers(0, 10), data=st.data())
    def run(seed, warmup, data):
        played_cores(cores, seed, warmup)
        core, twin = cores
        bad, words = data.draw(bad_action_arrays(core))
        with deadline(10), pytest.raises(ValueError) as err:
            core.step(bad)
        assert words in str(err.value), str(err.value)
        assert_same(snapshot(core), snapshot(twin))
        zeros = np.zeros((core.num_envs, core.num_slots), np.int64)
        assert_same(core.step(zeros), twin.step(zeros), "next step")

    run()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_actions_of_empty_slots_are_ignored(env_id):
    """Documented handling: any in-range action of a slot with no live entity changes nothing."""
    cores = tuple(make_batched(env_id, num_envs=2, preset="tiny") for _ in range(2))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.integers(0, 2**16), warmup=st.integers(0, 10), junk_seed=st.integers(0, 2**16))
    def run(seed, warmup, junk_seed):
        played_cores(cores, seed, warmup)
        core, twin = cores
        rng = np.random.default_rng(seed)
        actions = sample_masked(rng, core.action_mask())
        junk = np.random.default_rng(junk_seed).integers(0, core.num_actions, actions.shape)
        with_junk = np.where(core.alive, actions, junk)
        assert_same(core.step(with_junk), twin.step(actions), "step")
        assert_same(snapshot(core), snapshot(twin))

    run()


# ------------------------------------------------------------------------------ deep runs
@pytest.mark.slow
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_deep_bad_action_dicts(env_id):
    envs = tuple(
        make(env_id, preset="tiny", **({} if env_id == "skirmish-v0" else {"players": 2}))
        for _ in range(2)
    )

    @DEEP
    @given(seed=st.integers(0, 2**16), warmup=st.integers(0, 40), data=st.data())
    def run(seed, warmup, data):
        obs = played_pair(envs, seed, warmup)
        bad, words = data.draw(bad_action_dicts(envs[0], obs))
        check_refused(envs, bad, words)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_deep_bad_action_arrays(env_id):
    cores = tuple(make_batched(env_id, num_envs=4, preset="tiny") for _ in range(2))

    @DEEP
    @given(seed=st.integers(0, 2**16), warmup=st.integers(0, 40), data=st.data())
    def run(seed, warmup, data):
        played_cores(cores, seed, warmup)
        core, twin = cores
        bad, words = data.draw(bad_action_arrays(core))
        with pytest.raises(ValueError) as err:
            core.step(bad)
        assert words in str(err.value), str(err.value)
        assert_same(snapshot(core), snapshot(twin))

    run()
