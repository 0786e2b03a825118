"""RLlib PPO (new API stack) with one shared, action-masking policy on a spawnzoo env.

    python scripts/examples/rllib_ppo.py --env forage-v0 --preset tiny --env-steps 10000

Samples in the driver process (no remote env runners, one local learner), prints per
iteration the env steps sampled and RLlib's ``episode_return_mean`` (the sum of every agent's
rewards over an episode, a moving mean over recent episodes), and first the same return of
random legal actions on the same env for scale. The numbers of docs/integrations.md come from it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np


def random_return(env_id: str, preset: str, episodes: int, seed: int) -> float:
    """Mean episode return (all agents' rewards summed) of random legal actions."""
    from spawnzoo.envs import make
    from spawnzoo.envs.core.policies import sample_masked

    env = make(env_id, preset=preset)
    rng = np.random.default_rng(seed)
    totals = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total = 0.0
        while env.agents:
            actions = env.actions_from_slots(sample_masked(rng, env.last_batch.action_mask))
            _, rewards, *_ = env.step(actions)
            total += sum(rewards.values())
        totals.append(total)
    return float(np.mean(totals))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="forage-v0")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--env-steps", type=int, default=10_000, help="env steps to train")
    parser.add_argument("--batch", type=int, default=1000, help="env steps per iteration")
    parser.add_argument("--policies", default="shared", choices=("shared", "kind", "owner"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")

    import ray

    from spawnzoo.baselines.common.machine import describe, one_line
    from spawnzoo.integrations.rllib import ppo_config

    print("command:", shlex.join([sys.executable, *sys.argv]))
    base = random_return(args.env, args.preset, episodes=8, seed=1000)
    print(f"random legal actions: episode_return_mean {base:.1f} (8 episodes)")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    config = ppo_config(
        args.env,
        preset=args.preset,
        policies=args.policies,
        seed=args.seed,
        lr=3e-4,
        gamma=0.99,
        lambda_=0.95,
        train_batch_size_per_learner=args.batch,
        minibatch_size=250,
        num_epochs=4,
        entropy_coeff=0.01,
        vf_loss_coeff=0.5,
    )
    algo = config.build_algo()
    print("machine:", one_line(describe(import_torch=True)))
    start, steps = time.perf_counter(), 0
    while steps < args.env_steps:
        result = algo.train()
        runners = result["env_runners"]
        steps = int(runners["num_env_steps_sampled_lifetime"])
        ret = runners.get("episode_return_mean", float("nan"))
        print(
            f"env steps {steps:>7d}  episode_return_mean {ret:8.1f}  "
            f"episodes {int(runners.get('num_episodes_lifetime', 0)):>4d}  "
            f"{time.perf_counter() - start:6.0f} s",
            flush=True,
        )
    algo.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
