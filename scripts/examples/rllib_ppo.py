"""RLlib PPO (new API stack) with one shared, action-masking policy on a spawnzoo env.

    python scripts/examples/rllib_ppo.py --env forage-v0 --preset tiny --env-steps 10000

Samples in the driver process (no remote env runners, one local learner) and prints per
iteration the env steps sampled and RLlib's ``episode_return_mean`` (the sum of every agent's
rewards over an episode, a moving mean over recent episodes). Before and after training it
evaluates on the same episodes (seeds 1000, 1001, ...): random legal actions, then the trained
policy (sampled). The numbers of docs/integrations.md come from it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np


def evaluate(env_id: str, preset: str, act, seeds: range) -> float:
    """Mean episode return (every agent's rewards summed) over one episode per seed, actions
    from ``act(obs: dict) -> dict``."""
    from spawnzoo.integrations.rllib import make_rllib_env

    env = make_rllib_env(env_id, preset=preset)
    totals = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total = 0.0
        while env.agents:
            obs, rewards, *_ = env.step(act({a: obs[a] for a in env.agents}))
            total += sum(rewards.values())
        totals.append(total)
    return float(np.mean(totals))


def random_policy(seed: int):
    rng = np.random.default_rng(seed)
    return lambda obs: {
        a: int(rng.choice(np.flatnonzero(o["action_mask"]))) for a, o in obs.items()
    }


def module_policy(algo, mapping, seed: int):
    """Sampled actions of the trained modules (agents grouped by module, one batch each)."""
    import torch
    from ray.rllib.core.columns import Columns

    gen = torch.Generator().manual_seed(seed)

    def act(obs):
        out = {}
        groups: dict[str, list[str]] = {}
        for agent in obs:
            groups.setdefault(mapping(agent, None), []).append(agent)
        for module_id, agents in groups.items():
            batch = {
                k: torch.from_numpy(np.stack([obs[a][k] for a in agents]))
                for k in ("observation", "action_mask")
            }
            with torch.no_grad():
                logits = algo.get_module(module_id).forward_inference({Columns.OBS: batch})[
                    Columns.ACTION_DIST_INPUTS
                ]
            actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)[:, 0]
            out.update(zip(agents, actions.tolist()))
        return out

    return act


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="forage-v0")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--env-steps", type=int, default=10_000, help="env steps to train")
    parser.add_argument("--batch", type=int, default=1000, help="env steps per iteration")
    parser.add_argument("--policies", default="shared", choices=("shared", "kind", "owner"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=16, help="same seeds for both")
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")

    import ray

    from spawnzoo.baselines.common.machine import describe, one_line
    from spawnzoo.integrations.rllib import ppo_config

    print("command:", shlex.join([sys.executable, *sys.argv]))
    seeds = range(1000, 1000 + args.eval_episodes)
    base = evaluate(args.env, args.preset, random_policy(0), seeds)
    print(f"evaluation, random legal actions: mean return {base:.1f} ({len(seeds)} episodes)")
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
        minibatch_size=min(250, args.batch),
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
    trained = evaluate(
        args.env, args.preset, module_policy(algo, config.policy_mapping_fn, 0), seeds
    )
    print(
        f"evaluation, trained policy (sampled): mean return {trained:.1f} ({len(seeds)} episodes)"
    )
    algo.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
