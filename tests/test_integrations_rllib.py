"""RLlib (ray[rllib] 2.60, new API stack) on every env: ``spawnzoo.integrations.rllib``.

The env declares the whole agent pool with spaces, keeps ``agents`` in step with the env, ends an
episode with exactly one ``__all__`` (also on a final step that mixes deaths and truncation), and
PPO with the masking module trains on it (one local iteration, no remote workers) and never
picks a masked action. Skipped without the ``[rllib]`` extra.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "ray.rllib", reason="the [rllib] extra is not installed (pip install '.[rllib]')"
)

import ray
from gymnasium import spaces
from ray.rllib.core.columns import Columns

from spawnzoo.envs import REGISTRY
from spawnzoo.integrations.rllib import (
    MaskedMLPModule,
    RLlibEnv,
    make_rllib_env,
    masking_module_spec,
    ppo_config,
    register_rllib_env,
)

ENV_IDS = sorted(REGISTRY)


def play(env: RLlibEnv, seed: int, steps: int = 200) -> dict[str, int]:
    """Random legal actions for up to ``steps`` steps (resetting after an episode), checking
    the RLlib contract at every step. Returns counts of spawns, deaths and episode ends."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    counts = {"spawned": 0, "died": 0, "episodes": 0}
    live = set(obs)
    for _ in range(steps):
        assert set(env.agents) == live == set(env.unwrapped_env.agents)
        for agent, o in obs.items():
            assert env.observation_spaces[agent].contains(o), agent
        actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in live}
        obs, rewards, terms, truncs, infos = env.step(actions)
        assert set(obs) == set(rewards) == set(infos) == set(terms) - {"__all__"}
        assert set(obs) >= live  # the dying and the truncated get their last observation
        counts["spawned"] += len(set(obs) - live)
        counts["died"] += sum(v for k, v in terms.items() if k != "__all__")
        ended = bool(env.unwrapped_env.last_batch.done[0])
        assert terms["__all__"] + truncs["__all__"] == int(ended)  # exactly one at the end
        if ended:
            assert not env.agents
            # at max_cycles __all__ alone carries the truncation (RLlib's episode would turn
            # per-agent truncations into terminations; see the last test)
            raw = env.unwrapped_env
            on_time = raw.world.t[0] >= raw.max_cycles and not all(terms[a] for a in obs)
            assert truncs["__all__"] == on_time
            assert not any(v for k, v in truncs.items() if k != "__all__")
            counts["episodes"] += 1
            obs, _ = env.reset()
            live = set(obs)
        else:
            live = {a for a in obs if not (terms[a] or truncs[a])}
    return counts


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_env_declares_the_pool_and_follows_spawns_and_deaths(env_id):
    env = make_rllib_env(env_id, preset="tiny")
    raw = env.unwrapped_env
    assert env.possible_agents == list(raw.possible_agents)
    assert set(env.observation_spaces) == set(env.action_spaces) == set(env.possible_agents)
    space = env.observation_spaces[env.possible_agents[-1]]
    assert isinstance(space, spaces.Dict) and space["action_mask"].dtype == np.float32
    counts = play(env, seed=1, steps=300)
    assert counts["spawned"] > 0 and counts["died"] > 0 and counts["episodes"] >= 2, counts


def test_a_final_step_that_mixes_deaths_and_truncation_ends_the_episode_once():
    """RLlib's own wrapper says ``__all__`` only when all are terminated or all truncated."""
    found = 0
    for seed in range(40):
        env = make_rllib_env("forage-v0", preset="tiny", max_cycles=30)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        while env.agents:
            actions = {
                a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents
            }
            obs, _, terms, truncs, _ = env.step(actions)
        died = [a for a, v in terms.items() if v and a != "__all__"]
        if died and len(died) < len(obs):  # some died in the last step, the others timed out
            assert truncs["__all__"] and not terms["__all__"]
            found += 1
    assert found, "no mixed final step in 40 seeds: pick other settings"


def test_bad_env_config_names_the_missing_key():
    with pytest.raises(ValueError, match="env_id"):
        RLlibEnv({"preset": "tiny"})
    with pytest.raises(ValueError, match="policies must be one of"):
        ppo_config("forage-v0", preset="tiny", policies="per_agent")


def test_the_masking_module_never_samples_a_masked_action():
    import torch

    env = make_rllib_env("harvest-v0", preset="tiny")
    agent = env.possible_agents[0]
    spec = masking_module_spec(hidden=(16,))
    spec.observation_space = env.observation_spaces[agent]
    spec.action_space = env.action_spaces[agent]
    module = spec.build()
    assert isinstance(module, MaskedMLPModule)
    gen = torch.Generator().manual_seed(0)
    n, a = 256, env.action_spaces[agent].n
    mask = (torch.rand(n, a, generator=gen) < 0.3).float()
    mask[torch.arange(n), torch.randint(a, (n,), generator=gen)] = 1.0  # one legal at least
    obs = torch.rand(n, env.observation_spaces[agent]["observation"].shape[0], generator=gen)
    out = module.forward_exploration({Columns.OBS: {"observation": obs, "action_mask": mask}})
    dist = module.get_exploration_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
    actions = dist.sample()
    assert mask[torch.arange(n), actions].all()
    probs = torch.softmax(out[Columns.ACTION_DIST_INPUTS], -1)
    assert (probs[mask == 0] == 0).all() and torch.isfinite(dist.entropy()).all()
    values = module.compute_values({Columns.OBS: {"observation": obs, "action_mask": mask}})
    assert values.shape == (n,)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_one_ppo_iteration_trains_and_its_policy_plays_only_legal_actions(local_ray, env_id):
    config = ppo_config(
        env_id,
        preset="tiny",
        settings={"max_cycles": 24},
        hidden=(32,),
        seed=0,
        train_batch_size_per_learner=48,
        minibatch_size=48,
        num_epochs=1,
    )
    algo = config.build_algo()
    try:
        module = algo.get_module("shared")
        before = [p.detach().clone() for p in module.parameters()]
        result = algo.train()
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 48
        assert result["env_runners"]["num_episodes_lifetime"] >= 1  # episodes ended in it
        after = list(algo.get_module("shared").parameters())
        assert any(not b.equal(p) for b, p in zip(before, after))  # it learned something
        # the trained module drives an episode: the env never sees a masked action
        import torch

        env = make_rllib_env(env_id, preset="tiny", max_cycles=24)
        obs, _ = env.reset(seed=5)
        while env.agents:
            names = list(env.agents)
            batch = {
                key: torch.from_numpy(np.stack([obs[a][key] for a in names]))
                for key in ("observation", "action_mask")
            }
            logits = module.forward_exploration({Columns.OBS: batch})[Columns.ACTION_DIST_INPUTS]
            actions = torch.distributions.Categorical(logits=logits).sample().tolist()
            obs, _, _, _, infos = env.step(dict(zip(names, actions)))
            assert not any(infos[a]["illegal_action"] for a in names)
    finally:
        algo.stop()


def test_a_registered_name_builds_the_env_with_overrides(local_ray):
    from ray.tune.registry import ENV_CREATOR, _global_registry

    name = register_rllib_env("skirmish-v0", name="test-skirmish", preset="tiny", max_cycles=9)
    env = _global_registry.get(ENV_CREATOR, name)({"max_cycles": 7})
    assert isinstance(env, RLlibEnv) and env.unwrapped_env.max_cycles == 7


def test_the_ppo_example_trains_and_evaluates(local_ray, capsys, monkeypatch):
    from script_helpers import load_script

    script = load_script("scripts/examples/rllib_ppo.py")
    monkeypatch.setattr(ray, "init", lambda **kwargs: None)  # the fixture's ray is running
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    script.main(["--env-steps", "100", "--batch", "100", "--eval-episodes", "1"])
    out = capsys.readouterr().out
    assert "evaluation, random legal actions" in out and "evaluation, trained policy" in out
    assert out.count("env steps") == 1


def test_rllib_keeps_the_truncated_agents_of_a_time_limit_end_bootstrappable(local_ray):
    """RLlib 2.60 marks every agent terminated once all are flagged done; with the truncation
    in ``__all__`` alone, agents alive at ``max_cycles`` stay truncated, not terminated."""
    config = ppo_config(
        "forage-v0", preset="tiny", settings={"max_cycles": 10}, hidden=(8,), seed=0,
        train_batch_size_per_learner=40, minibatch_size=40,
    )  # fmt: skip
    algo = config.build_algo()
    try:
        episodes = algo.env_runner.sample(num_timesteps=25, random_actions=True)
        ended = [ep for ep in episodes if ep.is_done and ep.env_t == 10]
        assert ended
        for episode in ended:
            agents = list(episode.agent_episodes.values())
            assert all(sa.is_done for sa in agents)
            timed_out = [sa for sa in agents if sa.is_truncated and not sa.is_terminated]
            assert timed_out  # bootstrapped by PPO's value function
            # the others died: terminated (those dying in the last step are also truncated)
            assert all(sa.is_terminated for sa in agents if sa not in timed_out)
    finally:
        algo.stop()
