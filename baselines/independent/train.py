"""Train ``independent``: sb3-contrib's MaskablePPO with one policy shared by every entity.

Every entity (harvest: every factory and robot) is its own learner on its own egocentric
observation and its own reward (independent PPO), and all of them share one set of weights
(parameter sharing); the env's own features (``feature_names``; harvest: the kind one-hot
``is_factory``, ``is_light``, ``is_heavy``) let the shared policy act differently per kind.
Nothing here is env-specific: the slot VecEnv reads the batched contract only, with the
window radius of ``obs_radius`` or the env's ``cfg.obs_radius``. SB3 drives the loop;
spawnzoo provides the data path (``wrappers.SlotVecEnv``: one SB3 sub-env per entity slot),
the evaluation, the metric names and the run directory that every method shares.

Reads top to bottom: seed -> envs -> model -> run directory (resume) -> ``model.learn`` with a
callback that, after every rollout-and-update cycle, evaluates, logs and checkpoints.

    spawnzoo train independent --env harvest-v0 --preset tiny --total-timesteps 40960 --seed 1
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger

from spawnzoo.baselines.common import metrics as M
from spawnzoo.baselines.common.evaluation import (
    EvalResult,
    MilestoneTracker,
    check_opponent,
    evaluate,
    finish_run,
)
from spawnzoo.baselines.common.progress import TrainingProgress, progress_bar
from spawnzoo.baselines.common.protocol import train_reset_seed
from spawnzoo.baselines.common.runs import RunDir, RunResult
from spawnzoo.baselines.common.seeding import seed_everything
from spawnzoo.baselines.nets.layers import count_parameters
from spawnzoo.baselines.wrappers.sb3_slots import (
    SlotVecEnv,
    default_obs_radius,
    slot_observations,
)
from spawnzoo.envs import make_batched
from spawnzoo.envs.core.batched import BatchedEnv, BatchStep

from .config import IndependentConfig

METHOD = "independent"

#: SB3's ``train/`` log entry -> (shared key, sign)
SB3_LOSSES: dict[str, tuple[str, float]] = {
    "train/policy_gradient_loss": (M.LOSSES_POLICY, 1.0),
    "train/value_loss": (M.LOSSES_VALUE, 1.0),
    "train/entropy_loss": (M.LOSSES_ENTROPY, -1.0),  # SB3 logs -entropy
    "train/approx_kl": (M.LOSSES_APPROX_KL, 1.0),
    "train/clip_fraction": (M.LOSSES_CLIP_FRACTION, 1.0),
    "train/explained_variance": (M.LOSSES_EXPLAINED_VARIANCE, 1.0),
    "train/learning_rate": (M.CHARTS_LEARNING_RATE, 1.0),
}


class IndependentAgent:
    """A trained shared policy as a policy of any world of the env: ``act(batch) -> actions``.

    Args:
        world: the batched core it plays (evaluation worlds included).
        model: a ``MaskablePPO`` or its ``MaskableActorCriticPolicy``.
        obs_radius: window radius; default the env's own (must match training).
        seed: seed of the sampling generator.
        greedy: take the most probable legal action instead of sampling.
    """

    def __init__(
        self,
        world: BatchedEnv,
        model: MaskablePPO | MaskableActorCriticPolicy,
        *,
        obs_radius: int | None = None,
        seed: int | None = None,
        greedy: bool = False,
    ):
        self.world, self.greedy = world, greedy
        self.policy: MaskableActorCriticPolicy = getattr(model, "policy", model)
        self.obs_radius = default_obs_radius(world) if obs_radius is None else obs_radius
        self.generator = torch.Generator().manual_seed(0 if seed is None else seed)

    @torch.no_grad()
    def act(self, batch: BatchStep) -> np.ndarray:
        """``[E, S]`` int64 actions: sampled from the masked policy for live slots, 0 elsewhere."""
        actions = np.zeros(batch.alive.shape, np.int64)
        e, s = np.nonzero(batch.alive)
        if e.size == 0:
            return actions
        self.policy.set_training_mode(False)
        obs = torch.as_tensor(
            slot_observations(self.world, self.obs_radius, e, s), device=self.policy.device
        )
        dist = self.policy.get_distribution(obs, action_masks=batch.action_mask[e, s])
        probs = dist.distribution.probs.cpu()  # [n, A], exactly 0 on masked actions
        if self.greedy:
            chosen = probs.argmax(dim=1)
        else:
            chosen = torch.multinomial(probs, 1, generator=self.generator)[:, 0]
        actions[e, s] = chosen.numpy()
        return actions


def build_model(cfg: IndependentConfig, env: SlotVecEnv) -> MaskablePPO:
    """The MaskablePPO learner for ``env`` with ``cfg``'s settings (see ``config.py``)."""
    cycles = max(cfg.num_iterations, 1)

    def learning_rate(progress_remaining: float) -> float:
        # SB3 asks after each rollout, when 1 - cycle / cycles remains: the cycle's start value
        if not cfg.anneal_lr:
            return cfg.learning_rate
        return cfg.learning_rate * min(1.0, progress_remaining + 1.0 / cycles)

    model = MaskablePPO(
        "MlpPolicy",
        env,
        learning_rate=learning_rate,
        n_steps=cfg.num_steps,
        batch_size=cfg.num_steps * env.num_envs // cfg.num_minibatches,
        n_epochs=cfg.update_epochs,
        gamma=cfg.gamma,
        gae_lambda=cfg.gae_lambda,
        clip_range=cfg.clip_coef,
        clip_range_vf=cfg.clip_coef if cfg.clip_vloss else None,
        normalize_advantage=cfg.norm_adv,
        ent_coef=cfg.ent_coef,
        vf_coef=cfg.vf_coef,
        max_grad_norm=cfg.max_grad_norm,
        target_kl=cfg.target_kl,
        policy_kwargs={
            "net_arch": {"pi": list(cfg.net_arch), "vf": list(cfg.net_arch)},
            "activation_fn": {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[cfg.activation],
            "ortho_init": cfg.ortho_init,
            "optimizer_kwargs": {"eps": cfg.adam_eps},
        },
        device=cfg.device,
        seed=cfg.seed,
        verbose=0,
    )
    model.set_logger(Logger(folder=None, output_formats=[]))  # we log into the RunDir
    return model


def load_agent(
    config: IndependentConfig,
    state: dict[str, torch.Tensor],
    world: BatchedEnv,
    *,
    seed: int | None = None,
    greedy: bool = False,
    device: str = "cpu",
) -> IndependentAgent:
    """A checkpoint's MaskablePPO policy weights as a policy for ``world``: the model is rebuilt
    by ``build_model`` on one training world of the run's settings (it only needs the spaces).

    Raises:
        RuntimeError: ``state`` does not fit the policy (torch's ``load_state_dict`` message).
    """
    shape_world = make_batched(config.env_id, num_envs=1, **config.env_kwargs)
    model = build_model(
        dataclasses.replace(config, device=device),
        SlotVecEnv(shape_world, obs_radius=config.obs_radius),
    )
    model.policy.load_state_dict(state)
    return IndependentAgent(world, model, obs_radius=config.obs_radius, seed=seed, greedy=greedy)


def evaluate_model(
    cfg: IndependentConfig, model: MaskablePPO, *, final: bool = False
) -> EvalResult:
    """The shared evaluation protocol on the current policy: the in-training maps, or with
    ``final`` the held-out ones."""
    seed = cfg.final_map_seed if final else cfg.eval_map_seed
    return evaluate(
        lambda world: IndependentAgent(world, model, obs_radius=cfg.obs_radius, seed=seed),
        **(cfg.final_eval_kwargs if final else cfg.eval_kwargs),
    )


class CycleCallback(BaseCallback):
    """After each rollout-and-update cycle: training metrics, evaluation, log, checkpoint.

    SB3 calls ``_on_rollout_start`` after the previous cycle's update and ``_on_training_end``
    after the last one; both close the pending cycle.

    Args:
        cfg: the run's config. run: its directory. env: the training ``SlotVecEnv``.
        milestones: the run's tracker (restored on resume). bar: the progress display.
        cycle: cycles completed before this ``learn`` call. agent_steps: likewise.
        last_eval: ``(to_metrics(), to_dict())`` of the latest evaluation before it, if any.
    """

    def __init__(
        self,
        cfg: IndependentConfig,
        run: RunDir,
        env: SlotVecEnv,
        milestones: MilestoneTracker,
        bar: TrainingProgress,
        cycle: int = 0,
        agent_steps: int = 0,
        last_eval: tuple[dict[str, float], dict[str, Any] | None] = ({}, None),
    ):
        super().__init__()
        self.cfg, self.run, self.slot_env = cfg, run, env
        self.milestones, self.bar = milestones, bar
        self.cycle, self.agent_steps = cycle, agent_steps
        self.final_metrics, self.final_eval = last_eval
        self._pending = False
        self._t0 = self._rollout_s = 0.0

    @property
    def env_steps(self) -> int:
        """Core steps summed over worlds so far."""
        return self.cycle * self.cfg.batch_size

    def _on_rollout_start(self) -> None:
        self._close_cycle()
        self.slot_env.pop_stats()  # this rollout counts from zero
        self._t0 = time.perf_counter()

    def _on_rollout_end(self) -> None:
        self._rollout_s = time.perf_counter() - self._t0
        self._t0 = time.perf_counter()
        self._pending = True

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self._close_cycle()

    def _close_cycle(self) -> None:
        if not self._pending:
            return
        self._pending = False
        cfg, update_s = self.cfg, time.perf_counter() - self._t0
        self.cycle += 1
        stats = self.slot_env.pop_stats()
        self.agent_steps += stats["entity_steps"]
        seconds = self._rollout_s + update_s
        logged = self.model.logger.name_to_value
        metrics: dict[str, float] = {
            key: sign * float(logged[name]) for name, (key, sign) in SB3_LOSSES.items()
        }
        metrics |= {
            M.CHARTS_ITERATION: self.cycle,
            M.CHARTS_ENV_STEPS: self.env_steps,
            M.CHARTS_ROLLOUT_SECONDS: self._rollout_s,
            M.CHARTS_UPDATE_SECONDS: update_s,
            M.CHARTS_SPS: cfg.batch_size / seconds,
            M.CHARTS_AGENT_SPS: stats["entity_steps"] / seconds,
            M.AGENTS_ALIVE_MEAN: stats["entity_steps"] / cfg.batch_size,
            M.AGENTS_SPAWNED: stats["spawned"],
            M.AGENTS_ILLEGAL_FRACTION: stats["illegal"] / max(stats["entity_steps"], 1),
        }
        if stats["episodes"]:
            lengths = [ep["episode_length"] for ep in stats["episodes"]]
            metrics[M.CHARTS_EPISODE_LENGTH] = float(np.mean(lengths))
        if cfg.should_evaluate(self.cycle):
            metrics |= self.evaluate(self.model)
        self.run.log(self.env_steps, metrics)
        if cfg.should_checkpoint(self.cycle):
            self.run.save_checkpoint(
                self.cycle,
                env_steps=self.env_steps,
                agent_steps=self.agent_steps,
                model=self.model.policy,
                optimizer=self.model.policy.optimizer,
                state={
                    "milestones": self.milestones.state_dict(),
                    "final_metrics": self.final_metrics,
                    "final_eval": self.final_eval,
                },
            )
        self.bar.update(self.cycle, metrics)

    def evaluate(self, model: MaskablePPO) -> dict[str, float]:
        """Evaluate ``model``'s policy now; remember it as the final one; return its metrics."""
        result = evaluate_model(self.cfg, model)
        self.milestones.update(self.env_steps, result.full_length_fraction)
        self.final_metrics, self.final_eval = result.to_metrics(), result.to_dict()
        return self.final_metrics


def train(config: IndependentConfig) -> RunResult:
    """Train ``independent`` per ``config``; returns the run directory and its summary."""
    cfg = config
    seed_everything(cfg.seed, deterministic=cfg.torch_deterministic)
    world = make_batched(cfg.env_id, num_envs=cfg.num_envs, **cfg.env_kwargs)
    check_opponent(cfg.eval_opponent, cfg.env_id, world)
    env = SlotVecEnv(world, obs_radius=cfg.obs_radius)
    model = build_model(cfg, env)
    run = RunDir.for_config(cfg, method=METHOD)
    milestones = MilestoneTracker()
    done_cycles, agent_steps, last_eval = 0, 0, ({}, None)
    ckpt = run.resume(model=model.policy, optimizer=model.policy.optimizer) if cfg.resume else None
    if ckpt is not None:
        done_cycles, agent_steps = ckpt["cycle"], ckpt.get("agent_steps", 0)
        milestones.load_state_dict(ckpt["state"]["milestones"])
        last_eval = ckpt["state"]["final_metrics"], ckpt["state"]["final_eval"]
    rollout = cfg.num_steps * env.num_envs  # SB3 counts sub-env steps
    model.num_timesteps = done_cycles * rollout
    env.seed(train_reset_seed(cfg.seed, done_cycles))
    with progress_bar(
        cfg.num_iterations, enabled=cfg.progress, unit="cycles", start=done_cycles
    ) as bar:
        callback = CycleCallback(
            cfg, run, env, milestones, bar, done_cycles, agent_steps, last_eval
        )
        remaining = max(cfg.num_iterations - done_cycles, 0) * rollout
        if remaining:
            model.learn(remaining, callback=callback, log_interval=None, reset_num_timesteps=False)
        if callback.final_eval is None:  # never evaluated: total_timesteps 0 only evaluates
            run.log(callback.env_steps, callback.evaluate(model))
    final = evaluate_model(cfg, model, final=True)  # the held-out maps: the final numbers
    return finish_run(
        run,
        cfg,
        milestones,
        final,
        env_steps=callback.env_steps,
        agent_steps=callback.agent_steps,
        parameter_count=count_parameters(model.policy),
        last_eval_metrics=callback.final_metrics,
        extra={"sb3_sub_envs": env.num_envs, "obs_dim": env.obs_dim},
    )
