"""SB3 PPO through SuperSuit's vectoriser on a spawnzoo env (one policy for every agent).

    python scripts/examples/supersuit_sb3.py --env forage-v0 --preset tiny --env-steps 10000

The chain: ``black_death(flatten_observations(env))`` (spawnzoo.integrations.supersuit) makes
every pool agent a sub-env for the whole episode, SuperSuit's ``pettingzoo_env_to_vec_env_v1``
and ``concat_vec_envs_v1`` make the SB3 ``VecEnv`` (under SB3's ``VecMonitor``). SB3's plain PPO
does not read action masks: a masked action runs as the env's no-op. Evaluates before and after
training on the same episodes (seeds 1000, 1001, ...) on the unwrapped env: random legal actions,
then the trained policy (sampled); the return is every agent's rewards summed over the episode.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np
import supersuit as ss

from spawnzoo.baselines.common.machine import describe, one_line
from spawnzoo.envs import make
from spawnzoo.integrations.supersuit import black_death, flatten_observations


def evaluate(env_id: str, preset: str, act, seeds: range) -> float:
    env = make(env_id, preset=preset)
    totals = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total = 0.0
        while env.agents:
            obs, rewards, *_ = env.step(act({a: obs[a] for a in env.agents}))
            total += sum(rewards.values())
        totals.append(total)
    return float(np.mean(totals))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="forage-v0")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--env-steps", type=int, default=10_000)
    parser.add_argument("--n-steps", type=int, default=50, help="env steps per PPO rollout")
    parser.add_argument("--eval-episodes", type=int, default=16)
    args = parser.parse_args(argv)
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", one_line(describe(import_torch=True)))
    seeds = range(1000, 1000 + args.eval_episodes)
    rng = np.random.default_rng(0)

    def random_act(obs):
        return {a: int(rng.choice(np.flatnonzero(o["action_mask"]))) for a, o in obs.items()}

    base = evaluate(args.env, args.preset, random_act, seeds)
    print(f"evaluation, random legal actions: mean return {base:.1f} ({len(seeds)} episodes)")

    env = black_death(flatten_observations(make(args.env, preset=args.preset)))
    vec = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(env), 1, num_cpus=0, base_class="stable_baselines3"
    )
    # SB3 reads infos["episode"] as Monitor's {"r", "l"}; the env's own episode metrics sit there
    # on the last step, and VecMonitor writes its record over them
    vec = VecMonitor(vec)
    n_agents = vec.num_envs  # one sub-env per pool agent
    model = PPO(
        "MlpPolicy",
        vec,
        n_steps=args.n_steps,
        batch_size=1024,
        n_epochs=4,
        learning_rate=3e-4,
        ent_coef=0.01,
        device="cpu",
        verbose=0,
    )
    start = time.perf_counter()
    model.learn(total_timesteps=args.env_steps * n_agents)
    print(
        f"trained {args.env_steps} env steps ({args.env_steps * n_agents} pool-agent steps, "
        f"{n_agents} sub-envs) in {time.perf_counter() - start:.0f} s"
    )

    def model_act(obs):
        names = list(obs)
        batch = np.stack([obs[a]["observation"] for a in names])
        actions, _ = model.predict(batch, deterministic=False)
        return dict(zip(names, actions.tolist()))

    trained = evaluate(args.env, args.preset, model_act, seeds)
    print(f"evaluation, trained policy: mean return {trained:.1f} ({len(seeds)} episodes)")


if __name__ == "__main__":
    main()
