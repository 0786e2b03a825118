"""SuperSuit on spawnzoo envs: its per-agent wrappers work with agents that spawn and die; its
vectorisers and ``black_death`` do not on their own, as ``docs/methods/independent.md`` says
(``spawnzoo.integrations.supersuit`` fills those gaps: ``tests/test_integrations_supersuit.py``).

SuperSuit's observation wrappers need a ``Box``; spawnzoo's observations are
``Dict(observation, action_mask)``, so each chain starts with SuperSuit's own
``observation_lambda_v0`` keeping ``observation`` (the recipe of the docs). Every registered env
runs under its tiny conformance settings. The limits are pinned to SuperSuit 3.11.0: when one of
those tests starts failing, SuperSuit changed and the docs need a look.
"""

from __future__ import annotations

import numpy as np
import pytest
import supersuit as ss
from pettingzoo.test import parallel_api_test

from spawnzoo.envs import REGISTRY, make

CASES = [
    pytest.param(
        spec.id, settings, id=f"{spec.id}:" + ",".join(f"{k}={v}" for k, v in settings.items())
    )
    for spec in REGISTRY.values()
    for settings in spec.conformance
    if settings.get("preset") == "tiny"
]

#: PettingZoo's api test warns, expectedly, about agents leaving before the name pool is used up
PETTINGZOO_WARNINGS = pytest.mark.filterwarnings(
    "error::UserWarning:pettingzoo.test",
    "ignore:No agents present but not all possible_agents are terminated:UserWarning",
    "ignore:Observation space for each agent probably should be:UserWarning",
    "ignore:Observation is not a NumPy array:UserWarning",  # the Dict of the raw env
)


def observation_only(env):
    """Keep the ``Box`` ``observation`` of the ``Dict`` (SuperSuit's own lambda wrapper)."""
    return ss.observation_lambda_v0(
        env, lambda obs, space: obs["observation"], lambda space: space["observation"]
    )


def obs_dim(env) -> int:
    """``D``, the length of the ``observation`` entry."""
    return env.observation_space(env.possible_agents[0])["observation"].shape[0]


#: name -> a wrapper chain (observation wrappers on top of ``observation_only``)
WRAPPERS = {
    "dtype_v0": lambda env: ss.dtype_v0(observation_only(env), np.float64),
    "flatten_v0": lambda env: ss.flatten_v0(observation_only(env)),
    "reshape_v0": lambda env: ss.reshape_v0(observation_only(env), (obs_dim(env), 1)),
    "normalize_obs_v0": lambda env: ss.normalize_obs_v0(observation_only(env), 0.0, 1.0),
    "frame_stack_v1": lambda env: ss.frame_stack_v1(observation_only(env), 3),
    "delay_observations_v0": lambda env: ss.delay_observations_v0(observation_only(env), 2),
    "max_observation_v0": lambda env: ss.max_observation_v0(observation_only(env), 2),
    # type_only=True would read "player" as every agent's type (names are {owner}_{kind}_{n})
    "agent_indicator_v0": lambda env: ss.agent_indicator_v0(observation_only(env), False),
    "pad_observations_v0": lambda env: ss.pad_observations_v0(observation_only(env)),
    "nan_zeros_v0": lambda env: ss.nan_zeros_v0(observation_only(env)),
    "clip_reward_v0": lambda env: ss.clip_reward_v0(env, -1.0, 1.0),
    "sticky_actions_v0": lambda env: ss.sticky_actions_v0(env, 0.25),
    "pad_action_space_v0": lambda env: ss.pad_action_space_v0(env),
    "stacked chain": lambda env: ss.frame_stack_v1(
        ss.normalize_obs_v0(ss.dtype_v0(observation_only(env), np.float64), -1.0, 1.0), 2
    ),
}


def play(env, seed: int) -> dict[str, int]:
    """One episode of random legal actions (masks from the core); every observation must lie in
    its agent's wrapped space. Returns how many agents spawned and died."""
    base = env.unwrapped
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    counts = {"spawned": 0, "died": 0}
    while env.agents:
        mask = base.last_batch.action_mask[0]
        actions = {a: int(rng.choice(np.flatnonzero(mask[base.slot_of(a)]))) for a in env.agents}
        before = set(env.agents)
        obs, rewards, terms, truncs, _ = env.step(actions)
        counts["spawned"] += len(set(obs) - before)
        counts["died"] += sum(terms.values())
        for agent, o in obs.items():
            assert env.observation_space(agent).contains(o), agent
    return counts


@PETTINGZOO_WARNINGS
@pytest.mark.parametrize("wrapper", list(WRAPPERS))
@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_per_agent_wrappers_work_with_spawning_agents(env_id, settings, wrapper):
    env = WRAPPERS[wrapper](make(env_id, **settings))
    parallel_api_test(env, num_cycles=100)
    counts = play(env, seed=3)
    assert counts["spawned"] > 0 and counts["died"] > 0, counts  # the hard cases happened


@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_frame_stack_gives_a_spawned_agent_a_fresh_history(env_id, settings):
    env = ss.frame_stack_v1(observation_only(make(env_id, **settings)), 3)
    raw = env.unwrapped
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    d = raw.observation_space(raw.possible_agents[0])["observation"].shape[0]
    fresh = 0
    while env.agents and fresh < 3:
        mask = raw.last_batch.action_mask[0]
        before = set(env.agents)
        obs, *_ = env.step(
            {a: int(rng.choice(np.flatnonzero(mask[raw.slot_of(a)]))) for a in env.agents}
        )
        for agent in set(obs) - before:  # first observation of a new agent
            slot = raw.slot_of(agent)
            own = raw.world.egocentric(np.zeros(1, int), np.array([slot]), raw.obs_radius)
            assert not obs[agent][: 2 * d].any()  # no history: zeros, not a dead agent's frames
            np.testing.assert_array_equal(obs[agent][2 * d : 2 * d + own.size], own.ravel())
            fresh += 1
    assert fresh


# ---------------------------------------------------------------------- the limits
@pytest.mark.parametrize(("env_id", "settings"), CASES)
def test_vectorising_agents_is_where_supersuit_stops(env_id, settings):
    """Documented limits (use ``spawnzoo.baselines.wrappers.SlotVecEnv``, or
    ``spawnzoo.integrations.supersuit.black_death`` before vectorising)."""
    # every possible agent must be present from reset on
    vec = ss.pettingzoo_env_to_vec_env_v1(observation_only(make(env_id, **settings)))
    with pytest.raises(AssertionError, match="agent death"):
        vec.reset(seed=0)
    # black death knows only the agents of reset: the first spawn is a KeyError
    with pytest.raises(KeyError):
        play(ss.black_death_v3(observation_only(make(env_id, **settings))), seed=0)
    # frame skipping needs the env's np_random and, given one, keeps stepping dead agents
    with pytest.raises(AttributeError, match="np_random"):
        play(ss.frame_skip_v0(make(env_id, **settings), 2, default_action=0), seed=0)
    env = make(env_id, **settings)
    env.np_random = np.random.default_rng(0)
    with pytest.raises(ValueError, match="not alive"):
        for seed in range(5):
            play(ss.frame_skip_v0(env, 3, default_action=0), seed=seed)
