"""``SlotVecEnv``: the SB3 ``VecEnv`` with one sub-env per entity slot.

What an entity's life looks like to SB3 (death -> done with a terminal observation, a unit in a
reused slot -> a new episode, truncation -> bootstrapped, empty slots -> one legal no-op and no
episode statistics) is checked against the core's own arrays and against what sb3-contrib's
``MaskablePPO`` actually stored in its rollout buffer.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import (
    VecCheckNan,
    VecEnv,
    VecEnvWrapper,
    VecFrameStack,
    VecNormalize,
)

from spawnzoo.baselines.wrappers import SlotVecEnv, observation_size, slot_observations
from spawnzoo.baselines.wrappers.sb3_slots import final_windows
from spawnzoo.envs import make, make_batched
from spawnzoo.envs.core.policies import sample_masked
from spawnzoo.envs.harvest import HarvestWorld, make_config

TINY = {"preset": "tiny"}


def random_actions(env: SlotVecEnv, rng: np.random.Generator) -> np.ndarray:
    """``[N]`` uniformly random legal actions."""
    return sample_masked(rng, env.action_masks())


class CapturingWorld(HarvestWorld):
    """Harvest that records every live entity's observation just before an automatic reset
    (the ground truth for ``terminal_observation``), and either keeps the final own features
    that harvest hands ``FinalState`` (``features``, ``[D, S, F]``; checked against its own
    capture) or withholds them, as an env without them would."""

    radius = 5

    def __init__(self, *args, provide_features: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.provide_features = provide_features
        self.captured: dict[tuple[int, int], np.ndarray] = {}

    def _finish(self, envs, spawned):
        rows, slots = np.nonzero(self.alive[envs])
        obs = slot_observations(self, self.radius, envs[rows], slots)
        self.captured = {(int(envs[r]), int(s)): o for r, s, o in zip(rows, slots, obs)}
        d, s_n = len(envs), self.num_slots
        features = self.self_features(np.repeat(envs, s_n), np.tile(np.arange(s_n), d))
        final = super()._finish(envs, spawned)
        np.testing.assert_array_equal(final.features, features.reshape(d, s_n, -1))
        if not self.provide_features:
            final.features = None
        return final


def capturing_env(provide_features: bool, num_envs: int = 2, **settings) -> SlotVecEnv:
    config = make_config(None, "tiny", **settings)
    world = CapturingWorld(config, num_envs, provide_features=provide_features)
    return SlotVecEnv(world, obs_radius=CapturingWorld.radius, seed=3)


# ---------------------------------------------------------------------- spaces, observations
def test_one_sub_env_per_slot_with_flat_egocentric_observations():
    world = make_batched("harvest-v0", num_envs=3, **TINY)
    env = SlotVecEnv(world, seed=0)
    assert isinstance(env, VecEnv)
    assert env.num_envs == 3 * world.num_slots == 3 * 17
    k = 2 * world.cfg.obs_radius + 1
    d = 17 * k * k + 12  # 16 spatial planes + off_map, then 12 own features
    assert env.obs_dim == observation_size(world, world.cfg.obs_radius) == d
    assert env.observation_space.shape == (d,) and env.observation_space.dtype == np.float32
    assert env.action_space.n == 14
    obs = env.reset()
    assert obs.shape == (env.num_envs, d) and obs.dtype == np.float32
    assert env.observation_space.contains(obs[0])
    alive = env.alive
    assert alive.sum() == 3  # one factory per world on tiny at reset
    assert not obs[~alive].any()  # empty slots read all zeros
    masks = env.action_masks()
    assert masks.shape == (env.num_envs, 14) and masks.dtype == bool
    assert (masks[~alive] == np.eye(14, dtype=bool)[0]).all()  # only the no-op
    assert masks[alive].sum(axis=1).min() >= 2  # a factory may build


def test_observation_is_the_pettingzoo_adapters_observation():
    """Slot rows carry exactly what ``obs[agent]["observation"]`` carries in the dict API."""
    pz = make("harvest-v0", **TINY, players=2)
    pz_obs, _ = pz.reset(seed=11)
    env = SlotVecEnv(make_batched("harvest-v0", num_envs=1, **TINY, players=2), seed=11)
    obs = env.reset()
    for agent, o in pz_obs.items():
        np.testing.assert_array_equal(obs[pz.slot_of(agent)], o["observation"])


def test_final_windows_cut_like_egocentric():
    world = make_batched("harvest-v0", num_envs=2, **TINY, players=2)
    batch = world.reset(seed=4)
    e, s = np.nonzero(batch.alive)
    expected = world.egocentric(e, s, 3)
    got = final_windows(world, 3, world.planes(), e, world.cell[e, s], world.owner[e, s])
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------- the VecEnv contract
def test_vec_env_methods_and_masking_hooks():
    env = SlotVecEnv(make_batched("harvest-v0", num_envs=2, **TINY), seed=0)
    env.reset()
    n = env.num_envs
    assert is_masking_supported(env) and env.has_attr("action_masks")
    assert not env.has_attr("no_such_thing")
    np.testing.assert_array_equal(get_action_masks(env), env.action_masks())
    rows = env.env_method("action_masks", indices=[0, 20])
    np.testing.assert_array_equal(np.stack(rows), env.action_masks()[[0, 20]])
    assert len(env.env_method("action_masks", indices=5)) == 1
    assert env.get_attr("render_mode") == [None] * n
    assert env.get_attr("obs_radius", indices=[1, 2]) == [env.obs_radius] * 2
    assert env.env_is_wrapped(VecEnvWrapper) == [False] * n
    with pytest.raises(ValueError, match="all sub-envs"):
        env.set_attr("obs_radius", 3, indices=[0])
    env.set_attr("marker", 7)
    assert env.get_attr("marker", indices=[3]) == [7]
    env.close()
    env.close()


def test_seeding_and_errors():
    def first(seed):
        env = SlotVecEnv(make_batched("harvest-v0", num_envs=2, **TINY))
        assert env.seed(seed) == [seed] * env.num_envs
        return env.reset()

    np.testing.assert_array_equal(first(5), first(5))
    assert not np.array_equal(first(5), first(6))
    env = SlotVecEnv(make_batched("harvest-v0", num_envs=1, **TINY))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(env.num_envs, np.int64))
    with pytest.raises(ValueError, match="auto_reset"):
        SlotVecEnv(make_batched("harvest-v0", num_envs=1, auto_reset=False, **TINY))
    with pytest.raises(ValueError, match="obs_radius"):
        SlotVecEnv(make_batched("harvest-v0", num_envs=1, **TINY), obs_radius=0)


# ---------------------------------------------------------------------- slot semantics
def test_dones_episodes_and_new_trajectories_follow_the_core():
    """Step random legal actions; every sub-env's flags and stats agree with the core."""
    env = SlotVecEnv(make_batched("harvest-v0", num_envs=2, **TINY, max_cycles=24), seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    n = env.num_envs
    ret, length = np.zeros(n), np.zeros(n, np.int64)
    seen = {"death": 0, "reuse": 0, "truncated": 0}
    died = np.zeros(n, bool)  # slot's occupant died earlier in this episode
    for _ in range(60):
        before = env.last_batch
        acted = before.alive.reshape(-1)
        obs, rewards, dones, infos = env.step(random_actions(env, rng))
        after = env.last_batch
        core_reward = after.reward.reshape(-1)
        term = after.terminated.reshape(-1)
        trunc = after.truncated.reshape(-1)
        world_done = np.repeat(after.done, env.num_slots)
        ended = acted & (term | trunc)
        np.testing.assert_array_equal(dones, ~acted | ended)
        np.testing.assert_array_equal(rewards, np.where(acted, core_reward, 0.0))
        ret += rewards
        length += acted
        for i in range(n):
            info = infos[i]
            if not dones[i]:
                assert info == {}
                continue
            assert info["terminal_observation"].shape == (env.obs_dim,)
            assert info["TimeLimit.truncated"] == bool(ended[i] and trunc[i])
            if ended[i]:  # a real entity's trajectory ends: its episode statistics
                assert info["episode"] == {"r": pytest.approx(ret[i]), "l": int(length[i])}
                assert length[i] >= 1
            else:  # an empty slot: a one-step episode of nothing, not counted
                assert "episode" not in info and not info["terminal_observation"].any()
        ret[dones], length[dones] = 0.0, 0
        spawned = after.spawned.reshape(-1)
        assert dones[spawned].all()  # a new entity always starts a new trajectory
        death = acted & term & ~world_done
        reuse = spawned & died & ~world_done
        seen["death"] += int(death.sum())
        seen["reuse"] += int(reuse.sum())
        seen["truncated"] += int((acted & trunc).sum())
        died = (died | death) & ~reuse & ~world_done
        alive = after.alive.reshape(-1)
        assert not obs[~alive].any() and (env.action_masks()[~alive].sum(axis=1) == 1).all()
    assert min(seen.values()) >= 1, seen  # every case happened


@pytest.mark.parametrize("provide_features", [True, False])
def test_truncation_is_flagged_with_the_final_observation(provide_features):
    env = capturing_env(provide_features, max_cycles=10)
    env.reset()
    rng = np.random.default_rng(1)
    for _ in range(9):
        prev, _, dones, infos = env.step(random_actions(env, rng))
    assert not env.world.captured and not any(i.get("TimeLimit.truncated") for i in infos)
    acted = env.alive.copy()
    obs, _, dones, infos = env.step(random_actions(env, rng))
    truncated = [i for i, info in enumerate(infos) if info.get("TimeLimit.truncated")]
    assert truncated and dones.all()  # every sub-env's episode ended with the worlds
    lived = [e * env.num_slots + s for e, s in env.world.captured]
    # all that acted and lived to the end (a robot built in the last step never acted)
    assert sorted(truncated) == sorted(i for i in lived if acted[i])
    width = env.obs_dim - 12
    for i in truncated:
        terminal = infos[i]["terminal_observation"]
        truth = env.world.captured[divmod(i, env.num_slots)]
        np.testing.assert_array_equal(terminal[:width], truth[:width])  # window: exact
        if provide_features:
            np.testing.assert_array_equal(terminal[width:], truth[width:])
        else:  # the core has no final features: the entity's previous ones stand in
            np.testing.assert_array_equal(terminal[width:], prev[i, width:])
        assert "episode" in infos[i]
    np.testing.assert_array_equal(env.alive, env.last_batch.spawned.reshape(-1))  # new episode


def test_episode_end_by_termination_is_not_bootstrapped():
    """A factory that runs dry ends the 1-player game: terminated, not truncated."""
    env = SlotVecEnv(make_batched("harvest-v0", num_envs=1, **TINY, init_water=3), seed=0)
    env.reset()
    for _ in range(10):
        prev_alive = env.alive.copy()
        _, _, dones, infos = env.step(np.zeros(env.num_envs, np.int64))  # never build
        if env.last_batch.done.any():
            break
    assert env.last_batch.done[0] and not env.last_batch.truncated.any()
    (factory,) = np.flatnonzero(prev_alive)
    info = infos[factory]
    assert dones[factory] and info["TimeLimit.truncated"] is False
    assert info["episode"]["l"] == 4  # 3 water: drinks at steps 1..3, dry at step 4


# ---------------------------------------------------------------------- against SB3's buffers
class Recorder(VecEnvWrapper):
    """Keeps every step's core batches, rewards, dones and infos of the wrapped SlotVecEnv."""

    def __init__(self, venv: SlotVecEnv):
        super().__init__(venv)
        self.batches = []
        self.steps = []

    def reset(self):
        obs = self.venv.reset()
        self.batches = [self.venv.last_batch]
        self.first_obs = obs
        return obs

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self.batches.append(self.venv.last_batch)
        self.steps.append({"obs": obs, "rewards": rewards, "dones": dones, "infos": infos})
        return obs, rewards, dones, infos


class BufferSnapshot(BaseCallback):
    """Copies the rollout buffer and the policy that filled it, before the update."""

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buf = self.model.rollout_buffer
        self.buffer = {
            name: getattr(buf, name).copy()
            for name in ("observations", "actions", "rewards", "episode_starts", "action_masks")
        }
        self.policy_state = copy.deepcopy(self.model.policy.state_dict())


def test_maskable_ppo_rollout_buffer_holds_the_slot_semantics():
    """Deaths, slot reuse, truncation and empty slots as MaskablePPO stored them."""
    steps, gamma = 48, 0.9
    env = Recorder(SlotVecEnv(make_batched("harvest-v0", num_envs=2, **TINY, max_cycles=20)))
    n, s_n = env.num_envs, env.venv.num_slots
    model = MaskablePPO(
        "MlpPolicy",
        env,
        n_steps=steps,
        batch_size=steps * n,
        n_epochs=1,
        gamma=gamma,
        seed=2,
        stats_window_size=10_000,
        policy_kwargs={"net_arch": [16]},
    )
    snap = BufferSnapshot()
    model.learn(steps * n, callback=snap)
    buf = snap.buffer
    model.policy.load_state_dict(snap.policy_state)  # the critic that bootstrapped
    np.testing.assert_array_equal(buf["observations"][0], env.first_obs)
    starts = buf["episode_starts"].astype(bool)
    assert starts[0].all()
    counts = {"death": 0, "reuse": 0, "truncated": 0, "empty": 0}
    died = np.zeros(n, bool)
    expected_episodes = []
    ret, length = np.zeros(n), np.zeros(n, np.int64)
    for t, step in enumerate(env.steps):
        before, after = env.batches[t], env.batches[t + 1]
        acted = before.alive.reshape(-1)
        core_reward = np.where(acted, after.reward.reshape(-1), 0.0)
        term, trunc = after.terminated.reshape(-1), after.truncated.reshape(-1)
        spawned = after.spawned.reshape(-1)
        world_done = np.repeat(after.done, s_n)
        # the observation SB3 acted on, and the masks it used
        if t + 1 < steps:
            np.testing.assert_array_equal(buf["observations"][t + 1], step["obs"])
        empty = ~acted
        assert (buf["action_masks"][t][empty] == np.eye(14)[0]).all()
        assert (buf["actions"][t][empty] == 0).all()
        assert not buf["observations"][t][empty].any()
        assert (buf["rewards"][t][empty] == 0).all()
        counts["empty"] += int(empty.sum())
        # a continuing entity is one trajectory; a new one (spawn, reuse, reset) starts one
        if t + 1 < steps:
            going_on = acted & ~term & ~trunc
            assert not starts[t + 1][going_on].any()
            assert starts[t + 1][spawned].all()
            assert starts[t + 1][empty].all()
            assert starts[t + 1][acted & (term | trunc)].all()
        # deaths are not bootstrapped; truncations add gamma * V(final observation)
        death = acted & term
        np.testing.assert_allclose(buf["rewards"][t][death], core_reward[death], rtol=1e-6)
        cut = np.flatnonzero(acted & trunc)
        if cut.size:
            final = np.stack([step["infos"][i]["terminal_observation"] for i in cut])
            with torch.no_grad():
                values = model.policy.predict_values(torch.as_tensor(final)).numpy()[:, 0]
            np.testing.assert_allclose(
                buf["rewards"][t][cut], core_reward[cut] + gamma * values, rtol=1e-5, atol=1e-6
            )
        going = acted & ~trunc & ~death
        np.testing.assert_allclose(buf["rewards"][t][going], core_reward[going], rtol=1e-6)
        # bookkeeping of the events and of the episodes SB3 should have counted
        real_death = death & ~world_done
        reuse = spawned & died & ~world_done
        counts["death"] += int(real_death.sum())
        counts["reuse"] += int(reuse.sum())
        counts["truncated"] += cut.size
        died = (died | real_death) & ~reuse & ~world_done
        ret += core_reward
        length += acted
        for i in np.flatnonzero(acted & (term | trunc)):
            expected_episodes.append((ret[i], length[i]))
        done = step["dones"]
        ret[done], length[done] = 0.0, 0
    assert min(counts.values()) >= 1, counts
    got = [(ep["r"], ep["l"]) for ep in model.ep_info_buffer]
    assert len(got) == len(expected_episodes)  # real entities only: no empty-slot episodes
    for (r, le), (er, el) in zip(got, expected_episodes):
        assert le == el and r == pytest.approx(er, abs=1e-5)


def test_sb3_vec_env_wrappers_and_learning_run_on_top():
    """VecNormalize, VecFrameStack and VecCheckNan wrap it; masks pass through them."""
    base = SlotVecEnv(make_batched("harvest-v0", num_envs=1, **TINY, max_cycles=12), seed=0)
    env = VecCheckNan(VecFrameStack(VecNormalize(base, norm_reward=False), n_stack=2))
    obs = env.reset()
    assert obs.shape == (base.num_envs, 2 * base.obs_dim)
    np.testing.assert_array_equal(get_action_masks(env), base.action_masks())
    model = MaskablePPO(
        "MlpPolicy",
        env,
        n_steps=16,
        batch_size=64,
        n_epochs=1,
        seed=0,
        policy_kwargs={"net_arch": [8]},
    )
    model.learn(2 * 16 * base.num_envs)
    assert model.num_timesteps == 2 * 16 * base.num_envs
    assert model.ep_info_buffer and all(ep["l"] >= 1 for ep in model.ep_info_buffer)
