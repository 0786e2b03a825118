"""TorchRL IPPO (one shared actor and critic, action masking) on a spawnzoo env.

    python scripts/examples/torchrl_ippo.py --env forage-v0 --preset tiny --env-steps 10000

TorchRL's own pieces over ``make_torchrl_env``: a ``Collector``, a ``ProbabilisticActor`` with
``MaskedCategorical``, ``ClipPPOLoss`` with its GAE reading the per-slot ``("agents", "done")``
and ``("agents", "terminated")``. PPO updates use only the slots that held an acting agent
(``("agents", "mask")``). Prints per batch the env steps and the mean return of the episodes
that ended in it (every agent's rewards summed over the episode), and evaluates before and
after training on the same episodes (seeds 1000, 1001, ...): random legal actions, then the
trained policy (sampled). The numbers of docs/integrations.md come from it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.collectors import Collector
from torchrl.envs.utils import ExplorationType, set_exploration_type
from torchrl.modules import MaskedCategorical, ProbabilisticActor, ValueOperator
from torchrl.objectives import ClipPPOLoss, ValueEstimators

from spawnzoo.baselines.common.machine import describe, one_line
from spawnzoo.integrations.torchrl import make_torchrl_env

AGENTS = "agents"


def mlp(n_in: int, n_out: int, hidden: int = 64, gain: float = 1.0) -> nn.Sequential:
    net = nn.Sequential(
        nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
        nn.Linear(hidden, n_out),
    )  # fmt: skip
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, gain if layer is net[-1] else 2**0.5)
            nn.init.zeros_(layer.bias)
    return net


def evaluate(env, policy, seeds: range) -> float:
    """Mean episode return (every agent's rewards summed), one episode per seed."""
    totals = []
    for seed in seeds:
        env.set_seed(seed)
        with torch.no_grad(), set_exploration_type(ExplorationType.RANDOM):  # sampled actions
            episode = env.rollout(100_000, policy)  # stops at the episode's end
        totals.append(float(episode["next", AGENTS, "reward"].sum()))
    return sum(totals) / len(totals)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="forage-v0")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--env-steps", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="env steps per update")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--minibatch", type=int, default=1024, help="agent steps")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=16)
    args = parser.parse_args(argv)
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", one_line(describe(import_torch=True)))
    torch.manual_seed(args.seed)

    env = make_torchrl_env(args.env, preset=args.preset)
    seeds = range(1000, 1000 + args.eval_episodes)
    base = evaluate(env, None, seeds)
    print(f"evaluation, random legal actions: mean return {base:.1f} ({len(seeds)} episodes)")

    d, a = env.observation_size, env.num_actions
    logits = TensorDictModule(
        mlp(d, a, gain=0.01), in_keys=[(AGENTS, "observation")], out_keys=[(AGENTS, "logits")]
    )
    actor = ProbabilisticActor(
        logits,
        in_keys={"logits": (AGENTS, "logits"), "mask": (AGENTS, "action_mask")},
        out_keys=[(AGENTS, "action")],
        distribution_class=MaskedCategorical,
        return_log_prob=True,
        log_prob_key=(AGENTS, "sample_log_prob"),
    )
    critic = ValueOperator(
        mlp(d, 1), in_keys=[(AGENTS, "observation")], out_keys=[(AGENTS, "state_value")]
    )
    loss = ClipPPOLoss(actor, critic, clip_epsilon=0.2, entropy_coeff=0.01)
    loss.set_keys(
        reward=(AGENTS, "reward"),
        action=(AGENTS, "action"),
        sample_log_prob=(AGENTS, "sample_log_prob"),
        value=(AGENTS, "state_value"),
        done=(AGENTS, "done"),
        terminated=(AGENTS, "terminated"),
        advantage=(AGENTS, "advantage"),
        value_target=(AGENTS, "value_target"),
    )
    loss.make_value_estimator(ValueEstimators.GAE, gamma=0.99, lmbda=0.95)
    optim = torch.optim.Adam(loss.parameters(), lr=args.lr)

    env.set_seed(args.seed)
    collector = Collector(
        env,
        actor,
        frames_per_batch=args.batch,
        total_frames=args.env_steps,
        auto_register_policy_transforms=False,
    )
    start, steps, running = time.perf_counter(), 0, 0.0
    for data in collector:
        with torch.no_grad():
            loss.value_estimator(data)
        # episode returns: all agents' rewards summed, cut where the episode ended
        per_step = data["next", AGENTS, "reward"].sum((-2, -1))
        ends, returns = data["next", "done"].reshape(-1), []
        for t in range(per_step.shape[0]):
            running += float(per_step[t])
            if ends[t]:
                returns.append(running)
                running = 0.0
        # PPO on the agent steps of acting slots only
        rows = data[AGENTS][data[AGENTS, "mask"]]
        rows = TensorDict({AGENTS: rows}, batch_size=rows.batch_size)
        for _ in range(args.epochs):
            for idx in torch.randperm(rows.shape[0]).split(args.minibatch):
                out = loss(rows[idx])
                total = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
                optim.zero_grad()
                total.backward()
                nn.utils.clip_grad_norm_(loss.parameters(), 0.5)
                optim.step()
        collector.update_policy_weights_()
        steps += data.numel()
        mean = f"{sum(returns) / len(returns):8.1f}" if returns else "       -"
        print(
            f"env steps {steps:>7d}  episodes ended {len(returns):>3d}  mean return {mean}  "
            f"agent steps {rows.shape[0]:>6d}  {time.perf_counter() - start:6.0f} s",
            flush=True,
        )
    collector.shutdown()
    trained = evaluate(make_torchrl_env(args.env, preset=args.preset), actor, seeds)
    print(
        f"evaluation, trained policy (sampled): mean return {trained:.1f} ({len(seeds)} episodes)"
    )


if __name__ == "__main__":
    main()
