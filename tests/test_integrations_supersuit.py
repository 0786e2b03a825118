"""``spawnzoo.integrations.supersuit`` on every env: each wrapper steps 500 steps (episodes
included) against an unwrapped twin given the same actions, passes PettingZoo's api test, and
composes with SuperSuit's own observation wrappers and its SB3 vectoriser.

SuperSuit's own ``black_death_v3`` and ``agent_indicator_v0(type_only=True)`` still fail on
these envs (``tests/test_supersuit.py`` pins that); these are the replacements.
"""

from __future__ import annotations

import numpy as np
import pytest
import supersuit as ss
from pettingzoo.test import parallel_api_test

from spawnzoo.envs import REGISTRY, make
from spawnzoo.integrations.supersuit import black_death, flatten_observations, kind_indicator

ENV_IDS = sorted(REGISTRY)
STEPS = 500

PETTINGZOO_WARNINGS = pytest.mark.filterwarnings(
    "ignore:No agents present but not all possible_agents are terminated:UserWarning",
    "ignore:Observation space for each agent probably should be:UserWarning",
    "ignore:Observation is not a NumPy array:UserWarning",
    "ignore:The observation contains negative numbers:UserWarning",
)


def twin_run(wrapped, env_id: str, seed: int, check) -> dict[str, int]:
    """``STEPS`` steps of random legal actions on ``wrapped`` and an unwrapped twin (same env
    and seed, the same actions), resetting both when the twin's episode ends; ``check(twin_out,
    wrapped_out, live_before)`` compares every step. Returns spawn/death/episode counts."""
    twin = make(env_id, preset="tiny")
    rng = np.random.default_rng(seed)
    t_obs, t_infos = twin.reset(seed=seed)
    w_out = wrapped.reset(seed=seed)
    check((t_obs, t_infos), w_out, set())
    counts = {"spawned": 0, "died": 0, "episodes": 0}
    for _ in range(STEPS):
        live = set(twin.agents)
        actions = {a: int(rng.choice(np.flatnonzero(t_obs[a]["action_mask"]))) for a in live}
        t_out = twin.step(actions)
        w_out = wrapped.step(actions)
        check(t_out, w_out, live)
        t_obs = t_out[0]
        counts["spawned"] += len(set(t_obs) - live)
        counts["died"] += sum(t_out[2].values())
        if not twin.agents:
            assert not wrapped.agents  # ended in the same step, not one later
            counts["episodes"] += 1
            t_obs, t_infos = twin.reset()
            check((t_obs, t_infos), wrapped.reset(), set())
    assert counts["spawned"] and counts["died"] and counts["episodes"], counts
    return counts


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_black_death_keeps_the_pool_and_ends_with_the_env(env_id):
    env = black_death(make(env_id, preset="tiny"))
    pool = list(env.possible_agents)

    def check(t_out, w_out, live_before):
        t_obs, w_obs = t_out[0], w_out[0]
        assert list(w_obs) == pool  # every pool agent in every dict, pool order
        infos = w_out[-1]
        for agent in pool:
            if agent in t_obs:
                np.testing.assert_array_equal(
                    w_obs[agent]["observation"], t_obs[agent]["observation"]
                )
                assert infos[agent]["active"]
            else:
                assert not w_obs[agent]["observation"].any()
                assert w_obs[agent]["action_mask"].tolist() == [1] + [0] * (
                    len(w_obs[agent]["action_mask"]) - 1
                )
                assert not infos[agent]["active"]
            if agent in t_obs or agent == pool[-1]:  # live ones, and one black one
                assert env.observation_space(agent).contains(w_obs[agent])
        if len(t_out) == 2:  # a reset
            assert env.agents == pool
            return
        _, t_rew, t_term, t_trunc, _ = t_out
        _, w_rew, w_term, w_trunc, _ = w_out
        assert w_rew == {a: t_rew.get(a, 0.0) for a in pool}
        ended = not env.env.agents
        if not ended:
            assert not any(w_term.values()) and not any(w_trunc.values())
            assert env.agents == pool
        else:
            truncated = any(t_trunc.values())
            assert all(w_term[a] or w_trunc[a] for a in pool)
            for agent in pool:
                if agent in t_term:
                    assert (w_term[agent], w_trunc[agent]) == (t_term[agent], t_trunc[agent])
                else:
                    assert (w_term[agent], w_trunc[agent]) == (not truncated, truncated)

    twin_run(env, env_id, seed=2, check=check)


@pytest.mark.parametrize("mask", ["info", "append", "drop"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_flatten_observations_gives_the_box_and_keeps_the_mask(env_id, mask):
    env = flatten_observations(make(env_id, preset="tiny"), mask=mask)
    d = env.observation_space(env.possible_agents[0]).shape[0]

    def check(t_out, w_out, live_before):
        t_obs, w_obs = t_out[0], w_out[0]
        assert list(w_obs) == list(t_obs)
        for agent, o in w_obs.items():
            want = t_obs[agent]["observation"]
            if mask == "append":
                want = np.concatenate([want, t_obs[agent]["action_mask"].astype(np.float32)])
            np.testing.assert_array_equal(o, want)
            assert o.shape == (d,) and env.observation_space(agent).contains(o)
            if mask == "info":
                np.testing.assert_array_equal(
                    w_out[-1][agent]["action_mask"], t_obs[agent]["action_mask"]
                )
            else:
                assert "action_mask" not in w_out[-1][agent]
        assert w_out[1:-1] == t_out[1:-1]  # rewards and flags untouched

    twin_run(env, env_id, seed=4, check=check)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_kind_indicator_reads_the_true_kind(env_id):
    env = kind_indicator(flatten_observations(make(env_id, preset="tiny")), owner=True)
    raw = env.unwrapped
    k, p = len(raw.kind_names), len(raw.owner_names)
    seen = set()

    def check(t_out, w_out, live_before):
        for agent, o in w_out[0].items():
            np.testing.assert_array_equal(o[: -(k + p)], t_out[0][agent]["observation"])
            kind, owner = np.flatnonzero(o[-(k + p) : -p]), np.flatnonzero(o[-p:])
            assert kind.tolist() == [raw.kind_names.index(raw.kind_of(agent))]
            assert owner.tolist() == [t_out[-1][agent]["owner"]]
            seen.add(raw.kind_of(agent))

    twin_run(env, env_id, seed=5, check=check)
    assert len(seen) == len(raw.kind_names) or env_id == "forage-v0"  # every kind was read


@PETTINGZOO_WARNINGS
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_wrappers_pass_pettingzoos_api_test_and_compose_with_supersuit(env_id):
    chains = {
        "black_death": lambda e: black_death(e),
        "flatten + frame_stack": lambda e: ss.frame_stack_v1(flatten_observations(e), 2),
        "flatten + normalize + dtype": lambda e: ss.dtype_v0(
            ss.normalize_obs_v0(flatten_observations(e), 0.0, 1.0), np.float64
        ),
        "kind_indicator + pad": lambda e: ss.pad_observations_v0(
            kind_indicator(flatten_observations(e, mask="append"))
        ),
        "black_death + flatten": lambda e: flatten_observations(black_death(e)),
    }
    for name, chain in chains.items():
        env = chain(make(env_id, preset="tiny"))
        parallel_api_test(env, num_cycles=200)  # the twin tests above take 500 steps
        assert env.agents == [] or env.agents, name
        env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_supersuits_sb3_vectoriser_runs_on_black_death(env_id):
    env = black_death(flatten_observations(make(env_id, preset="tiny", max_cycles=30)))
    n = len(env.possible_agents)
    vec = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(env), 2, num_cpus=0, base_class="stable_baselines3"
    )
    assert vec.num_envs == 2 * n
    obs = vec.reset()
    assert obs.shape == (2 * n, env.observation_space(env.possible_agents[0]).shape[0])
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(60):
        obs, rewards, dones, infos = vec.step(rng.integers(0, vec.action_space.n, 2 * n))
        ends += dones.all()
        assert dones.any() == dones.all()  # the whole pool ends together, when the env does
    assert ends >= 2
    vec.close()


def test_sb3_ppo_learns_a_rollout_through_supersuit():
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    env = black_death(flatten_observations(make("forage-v0", preset="tiny", max_cycles=5)))
    vec = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(env), 1, num_cpus=0, base_class="stable_baselines3"
    )
    # the env's own infos["episode"] (its metrics) is not SB3's Monitor record: VecMonitor's
    # replaces it (without, SB3's logger fails with KeyError 'r' once an episode ended)
    vec = VecMonitor(vec)
    # no seed=: SB3 would call vec.seed(), which SuperSuit 3.11's ConcatVecEnv lacks
    model = PPO("MlpPolicy", vec, n_steps=8, batch_size=256, n_epochs=1, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=8 * vec.num_envs)  # episodes of 5 steps end inside it
    assert model.ep_info_buffer and all("r" in info for info in model.ep_info_buffer)
    assert any(not b.equal(p) for b, p in zip(before, model.policy.parameters()))
    vec.close()


def test_the_sb3_example_trains_and_evaluates(capsys):
    from script_helpers import load_script

    script = load_script("scripts/examples/supersuit_sb3.py")
    script.main(["--env-steps", "16", "--n-steps", "8", "--eval-episodes", "1"])
    out = capsys.readouterr().out
    assert "evaluation, random legal actions" in out and "evaluation, trained policy" in out
    assert "trained 16 env steps" in out
