"""Reference policies as methods: ``random`` and the env's scripted ``heuristic``.

They do not learn. ``train`` evaluates the policy with the protocol every learner uses
(``common.evaluation``: the run's in-training maps for the curve, the held-out maps for the
final numbers) and writes the same run directory, so ``compare`` can put them in the
same tables and plots. With ``eval_opponent`` set, the reference policy plays player 0 against
that scripted opponent (``random`` vs ``heuristic``: the floor of a win-rate table). Since the
policy never changes it is evaluated once; that result is
logged at env step 0 and at every point where a learner with the same config would evaluate
(``config.should_evaluate``), so its curve is a flat line over the same x range and its
milestones are 0 when it already reaches the threshold untrained (and ``None`` otherwise).
"""

from __future__ import annotations

from spawnzoo.envs.core.registry import make_batched, make_policy

from .common.config import PPOConfig
from .common.evaluation import (
    MilestoneTracker,
    check_opponent,
    check_policy_name,
    evaluate,
    protocol_record,
)
from .common.metrics import EVAL_EPISODE_LENGTH, EVAL_FULL_LENGTH_FRACTION
from .common.progress import TrainingProgress
from .common.runs import RunDir, RunResult


def train_reference(config: PPOConfig, policy: str) -> RunResult:
    """Evaluate reference policy ``policy`` and write its run directory.

    Args:
        config: the run's config; only the env, seed, evaluation, run-directory and
            ``total_timesteps`` / ``num_envs`` / ``num_steps`` (the evaluation schedule) fields
            matter.
        policy: a policy of ``make_policy`` (``"random"``, or one of the env's, e.g.
            ``"heuristic"``), seeded with ``config.seed``.

    Returns:
        The run directory and its summary (``parameter_count`` 0, ``env_steps`` 0).

    Raises:
        ValueError: the env has no policy ``policy`` (the message lists its policies), or
            ``eval_opponent`` cannot play (``check_opponent``); raised before a run directory
            is made.
    """
    check_policy_name(config.env_id, policy)
    check_opponent(
        config.eval_opponent, config.env_id, make_batched(config.env_id, **config.env_kwargs)
    )
    run = RunDir.for_config(config, method=policy)
    with run, TrainingProgress(0, enabled=config.progress) as progress:
        result = evaluate(
            lambda world: make_policy(config.env_id, policy, world, seed=config.seed),
            **config.eval_kwargs,
        )
        metrics = result.to_metrics()
        progress.message(
            f"{policy} on {config.env_id}: {result.num_episodes} episodes of at most "
            f"{result.max_cycles} steps: length {metrics[EVAL_EPISODE_LENGTH]:.1f}, "
            f"full length {metrics[EVAL_FULL_LENGTH_FRACTION]:.0%}"
        )
        tracker = MilestoneTracker()
        schedule = [0] + [
            i * config.batch_size
            for i in range(1, config.num_iterations + 1)
            if config.should_evaluate(i)
        ]
        run.truncate_metrics(-1)  # a resumed reference run starts its rows over
        for env_steps in schedule:
            run.log(env_steps, metrics)
            tracker.update(env_steps, result.full_length_fraction)
        final = evaluate(  # the held-out maps, as for the learners
            lambda world: make_policy(config.env_id, policy, world, seed=config.seed),
            **config.final_eval_kwargs,
        )
        summary = run.write_summary(
            env_steps=0,
            agent_steps=0,
            parameter_count=0,
            final_metrics=final.to_metrics(),
            milestones=tracker.milestones(),
            final_eval=final.to_dict(),
            extra={
                "protocol": protocol_record(config, tracker),
                "last_eval_metrics": metrics,
                "policy": policy,
                "eval_env_steps": sum(result.episode_lengths) + sum(final.episode_lengths),
                "eval_opponent": config.eval_opponent,
            },
        )
    return RunResult(run.path, summary)


def train_random(config: PPOConfig) -> RunResult:
    """``train_reference(config, "random")``: uniformly random legal actions."""
    return train_reference(config, "random")


def train_heuristic(config: PPOConfig) -> RunResult:
    """``train_reference(config, "heuristic")``: the env's scripted policy."""
    return train_reference(config, "heuristic")
