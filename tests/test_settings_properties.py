"""Property tests over the settings of all three envs (issue 27): random overrides of the tiny
preset, legal and bad, drawn from each field's declared rule (``bad_input.bad_values``).

* A value its rule rejects (wrong type, NaN, infinity, out of range, a pair of the wrong shape)
  always raises ``ValueError`` naming the first such setting, what it accepts and the value.
* Settings every rule accepts either build or raise ``ValueError`` naming one of them (checks
  over several settings); what builds gives observations inside the declared ``Box(-1, 1)``,
  legal masks and finite rewards (skirmish's documented ``NoRoomError`` aside).
* A refused setting changes nothing: an env that saw it is in the state of a twin that did not.

The default suite runs a few hundred draws per env; ``-m slow`` runs thousands.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from bad_input import assert_same, bad_values, deadline, legal_values, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spawnzoo.envs import make
from spawnzoo.envs.core.settings import Instance, NoRoomError, Rejected, rule_of
from spawnzoo.envs.forage.config import ForageConfig
from spawnzoo.envs.forage.config import make_config as forage_config
from spawnzoo.envs.harvest.config import HarvestConfig
from spawnzoo.envs.harvest.config import make_config as harvest_config
from spawnzoo.envs.skirmish.config import SkirmishConfig
from spawnzoo.envs.skirmish.config import make_config as skirmish_config

ENVS = {
    "harvest-v0": (HarvestConfig, harvest_config),
    "forage-v0": (ForageConfig, forage_config),
    "skirmish-v0": (SkirmishConfig, skirmish_config),
}
#: fields drawn here (nested unit classes are checked in test_settings.py)
FIELDS = {
    env_id: [
        f.name for f in dataclasses.fields(cls) if not isinstance(rule_of(cls, f.name), Instance)
    ]
    for env_id, (cls, _) in ENVS.items()
}
#: the largest integer drawn for a field when an env is built from the settings (keeps the
#: worlds small and the steps fast); amounts, rates and rewards are drawn over their full range
SMALL = {
    "map_size": 16,
    "max_cycles": 30,
    "factories_per_player": 3,
    "robot_slots_per_player": 24,
    "robot_ids_per_class": 48,
    "agent_slots_per_player": 48,
    "agent_ids_per_player": 96,
    "initial_agents": 12,
    "unit_slots_per_player": 24,
    "unit_ids_per_kind": 48,
    "bases_per_player": 3,
    "capture_points": 6,
    "capture_radius": 3,
    "obs_radius": 6,
    "cluster_size": 12,
    "patch_size": 12,
    "factory_min_distance": 16,
    "base_min_distance": 16,
    "cycle_length": 60,
    "day_length": 60,
    "max_age": 60,
}
FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEEP = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def overrides(env_id: str, bad: bool, small: bool = False) -> st.SearchStrategy[dict]:
    """1-3 overridden settings of ``env_id``; with ``bad``, at least one value its rule rejects."""
    cls = ENVS[env_id][0]

    @st.composite
    def changes(draw) -> dict:
        names = draw(st.lists(st.sampled_from(FIELDS[env_id]), min_size=1, max_size=3, unique=True))
        out = {}
        for i, name in enumerate(names):
            rule = rule_of(cls, name)
            if bad and (i == 0 or draw(st.booleans())):
                out[name] = draw(bad_values(rule), label=name)
            else:
                out[name] = draw(legal_values(rule, SMALL.get(name) if small else None), label=name)
        return out

    return changes()


def rejected(cls: type, name: str, value) -> bool:
    try:
        rule_of(cls, name).normalise(value)
    except Rejected:
        return True
    return False


def check_refused_or_built(env_id: str, changes: dict) -> object | None:
    """Build the tiny preset's config with ``changes``: a rejected value must be refused naming
    the first such field; accepted ones build or are refused naming one of the changed fields.
    Returns the config, or ``None`` when it was refused."""
    cls, make_config = ENVS[env_id]
    order = [f.name for f in dataclasses.fields(cls)]
    bad = [name for name in order if name in changes and rejected(cls, name, changes[name])]
    with deadline(10):
        try:
            config = make_config(preset="tiny", **changes)
        except ValueError as err:
            message = str(err)
            assert message.startswith(f"{cls.__name__}: "), message
            if bad:
                rule = rule_of(cls, bad[0])
                assert message.startswith(
                    f"{cls.__name__}: {bad[0]} must be {rule.describe()}, got "
                )
            else:
                assert any(name in message for name in changes), message
            return None
    assert not bad, f"{bad} were accepted"
    for f in dataclasses.fields(cls):  # normalised: every field passes its rule unchanged
        value = getattr(config, f.name)
        assert rule_of(cls, f.name).normalise(value) == value
    assert config.replace() == config
    return config


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_bad_settings_are_refused_naming_the_setting_its_range_and_the_value(env_id):
    @FAST
    @given(changes=overrides(env_id, bad=True))
    def run(changes):
        assert check_refused_or_built(env_id, changes) is None

    run()


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_legal_settings_build_or_are_refused_naming_one_of_them(env_id):
    @FAST
    @given(changes=overrides(env_id, bad=False))
    def run(changes):
        check_refused_or_built(env_id, changes)

    run()


def play_and_check(env_id: str, changes: dict, seed: int, steps: int) -> None:
    """Build an env with ``changes``, reset and play random legal steps, checking that
    observations, the state and rewards stay inside their declared spaces."""
    if check_refused_or_built(env_id, changes) is None:
        return
    env = make(env_id, preset="tiny", **changes)
    rng = np.random.default_rng(seed)
    with deadline(30):
        try:
            obs, _ = env.reset(seed=seed)
        except NoRoomError as err:  # documented: crowded skirmish maps
            assert env_id == "skirmish-v0" and "could not place" in str(err)
            return
        for _ in range(steps):
            assert env.state() in env.state_space
            for agent, o in obs.items():
                assert o in env.observation_space(agent), agent
                assert o["action_mask"].any()
                # the paper's masks forbid a factory to idle while it can build a heavy robot
                assert o["action_mask"][0] == 1 or changes.get("action_masks") == "paper"
            if not env.agents:
                break
            actions = {
                a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents
            }
            obs, rewards, *_ = env.step(actions)
            assert all(math.isfinite(r) for r in rewards.values()), rewards


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_envs_built_from_legal_settings_keep_observations_and_rewards_in_their_spaces(env_id):
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(changes=overrides(env_id, bad=False, small=True), seed=st.integers(0, 2**16))
    def run(changes, seed):
        play_and_check(env_id, changes, seed, steps=8)

    run()


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_a_refused_setting_changes_nothing(env_id):
    """Refused at ``make``, at ``config.replace`` and at the ``max_cycles`` setter: the env is
    then in the state of a twin that never saw the settings, and steps exactly as it does."""
    env, twin = make(env_id, preset="tiny"), make(env_id, preset="tiny")

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(changes=overrides(env_id, bad=True), seed=st.integers(0, 2**16))
    def run(changes, seed):
        env.reset(seed=seed)
        twin.reset(seed=seed)
        with pytest.raises(ValueError):
            make(env_id, preset="tiny", **changes)
        with pytest.raises(ValueError):
            env.config.replace(**changes)
        bad_cycles = changes.get("max_cycles")
        if "max_cycles" in changes and rejected(type(env.config), "max_cycles", bad_cycles):
            with pytest.raises(ValueError, match="max_cycles must be"):
                env.max_cycles = bad_cycles
        assert_same(snapshot(env), snapshot(twin))
        actions = {a: 0 for a in env.agents}
        assert_same(env.step(actions), twin.step(actions), "step")

    run()


# ------------------------------------------------------------------------------ deep runs
@pytest.mark.slow
@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_deep_bad_and_legal_settings(env_id):
    @DEEP
    @given(changes=st.one_of(overrides(env_id, bad=True), overrides(env_id, bad=False)))
    def run(changes):
        check_refused_or_built(env_id, changes)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_deep_envs_from_legal_settings(env_id):
    @settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(changes=overrides(env_id, bad=False, small=True), seed=st.integers(0, 2**16))
    def run(changes, seed):
        play_and_check(env_id, changes, seed, steps=20)

    run()
