"""``rllib-ppo``: RLlib's PPO as a member of the zoo, through ``spawnzoo.integrations.rllib``.

An independent learner as a Ray user knows it: one shared policy for every unit (factories and
robots alike), an MLP over the unit's own observation (its egocentric window and features), the
illegal actions masked out (``MaskedMLPModule``), sampled by RLlib's env runners on the
PettingZoo env (``num_env_runners`` processes; 0 samples in the run's process) and trained by
RLlib's PPO learner. What makes it a member of the zoo is the outline around RLlib's loop: it
writes the same run directory, and it is evaluated by the shared protocol
(``common.evaluation.evaluate``: the same fresh batched worlds, seed and length as every other
method), the trained module acting on the batched core through ``ModuleAgent``, which cuts
the same observations as the PettingZoo adapter for every live slot at once.

Checkpoints: ``checkpoints/cycle_NNNN.pt`` holds the module's weights (what ``load_agent``
reads, for the report and ``spawnzoo render --policy``), and ``checkpoints/rllib_NNNN/`` the
whole RLlib algorithm of the latest checkpoint (optimizer, counters, connectors), from which
``resume`` continues; without it (a crash between the two) resumption starts from the weights
with a fresh optimizer, and says so in the log.

Ray: a run started inside a Ray worker (``spawnzoo compare --backend ray``) uses that cluster
for its env runners; otherwise a local Ray is started for the run (RLlib needs one even without
env runners; it takes seconds), whose env runners take one CPU each, beside the run's own.
"""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import torch

from spawnzoo.integrations.rllib import make_rllib_env, masking_module_spec, ppo_config

from ..common import metrics as M
from ..common.distributions import MaskedCategorical
from ..common.evaluation import MilestoneTracker, check_opponent, evaluate, finish_run
from ..common.progress import TrainingProgress
from ..common.runs import RunDir, RunResult
from ..common.seeding import seed_everything
from .config import RLlibPPOConfig

#: the one RLlib module every agent maps to (``ppo_config(policies="shared")``)
MODULE_ID = "shared"
#: the folder of RLlib's full algorithm state after ``cycle``: ``checkpoints/rllib_0007``
RLLIB_STATE = "rllib_{cycle:04d}"


class ModuleAgent:
    """A masking RLlib module as a policy for a batched world: ``act(batch) -> [E, S]``.

    Each live slot's observation is cut as the PettingZoo adapter cuts it (egocentric window
    of radius ``obs_radius`` over ``world.window_plane_names``, then ``world.self_features``),
    for all live slots of all worlds in one call; empty slots get the no-op 0.

    Args:
        world: the batched env being played. module: a ``MaskedMLPModule`` (eval mode).
        obs_radius: the adapter's window radius for this env and settings.
        seed: seed of the sampling generator. greedy: take the most likely legal action.
    """

    def __init__(
        self, world: Any, module: Any, obs_radius: int, *, seed: int | None = None,
        greedy: bool = False,
    ):  # fmt: skip
        self.world, self.module, self.radius, self.greedy = world, module, obs_radius, greedy
        self.generator = torch.Generator().manual_seed(0 if seed is None else seed)
        k = 2 * obs_radius + 1
        self._window = len(world.window_plane_names) * k * k
        self._dim = self._window + len(world.feature_names)

    def observations(self, batch: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(envs [n], slots [n], obs [n, D] float32)`` of the live slots of ``batch``: the
        PettingZoo adapter's ``observation`` of the agent in each."""
        envs, slots = np.nonzero(batch.alive)
        k = 2 * self.radius + 1
        obs = np.empty((envs.size, self._dim), np.float32)
        if envs.size:
            windows = obs[:, : self._window].reshape(envs.size, -1, k, k)
            self.world.egocentric(envs, slots, self.radius, out=windows)
            obs[:, self._window :] = self.world.self_features(envs, slots)
        return envs, slots, obs

    @torch.inference_mode()
    def act(self, batch: Any) -> np.ndarray:
        """``[E, S]`` int64 actions: sampled (or the mode) from the masked policy."""
        from ray.rllib.core.columns import Columns

        actions = np.zeros(batch.alive.shape, dtype=np.int64)
        envs, slots, obs = self.observations(batch)
        if envs.size == 0:
            return actions
        mask = torch.from_numpy(np.ascontiguousarray(batch.action_mask[envs, slots]))  # [n, A]
        out = self.module.forward_inference(
            {Columns.OBS: {"observation": torch.from_numpy(obs), "action_mask": mask.float()}}
        )
        dist = MaskedCategorical(out[Columns.ACTION_DIST_INPUTS], mask)
        chosen = dist.mode() if self.greedy else dist.sample(self.generator)
        actions[envs, slots] = chosen.numpy()
        return actions


def env_facts(config: RLlibPPOConfig) -> tuple[Any, Any, int]:
    """(observation space, action space, window radius) of one agent of ``config``'s env."""
    env = make_rllib_env(config.env_id, preset=config.preset, **config.env_settings)
    first = env.possible_agents[0]
    facts = env.observation_spaces[first], env.action_spaces[first], env.unwrapped_env.obs_radius
    env.close()
    return facts


def build_module(config: RLlibPPOConfig) -> tuple[Any, int]:
    """A fresh ``MaskedMLPModule`` for ``config``'s env (eval mode) and the window radius."""
    obs_space, act_space, radius = env_facts(config)
    spec = masking_module_spec(config.hidden)
    spec.observation_space, spec.action_space = obs_space, act_space
    module = spec.build()
    module.eval()
    return module, radius


def build_algo(config: RLlibPPOConfig) -> Any:
    """RLlib's PPO for ``config``: ``ppo_config`` (shared masking module) with the shared PPO
    fields mapped onto RLlib's."""
    batch = config.batch_size
    lr: Any = config.learning_rate
    if config.anneal_lr:
        lr = [[0, config.learning_rate], [config.total_timesteps, 0.0]]
    rl_config = ppo_config(
        config.env_id,
        preset=config.preset,
        settings=config.env_settings,
        policies="shared",
        hidden=config.hidden,
        seed=config.seed,
        num_env_runners=config.num_env_runners,
        lr=lr,
        gamma=config.gamma,
        lambda_=config.gae_lambda,
        clip_param=config.clip_coef,
        entropy_coeff=config.ent_coef,
        vf_loss_coeff=config.vf_coef,
        grad_clip=config.max_grad_norm,
        num_epochs=config.update_epochs,
        train_batch_size_per_learner=batch,
        minibatch_size=max(1, batch // config.num_minibatches),
    )
    rl_config = rl_config.learners(num_gpus_per_learner=1 if config.device != "cpu" else 0)
    return rl_config.build_algo()


def _start_ray(config: RLlibPPOConfig) -> bool:
    """Start a local Ray (no dashboard) unless this process is connected to one already (RLlib's
    algorithm needs one even without env runners, and would start one with its dashboard);
    whether one was started here."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(
        address="local",
        num_cpus=config.num_env_runners + 1,
        include_dashboard=False,
        log_to_driver=False,
    )
    return True


def train(config: RLlibPPOConfig) -> RunResult:
    """Train ``config`` into its run directory; see the module docstring."""
    import ray

    seed_everything(config.seed, deterministic=config.torch_deterministic)
    check_opponent(config.eval_opponent, config.env_id, _eval_world(config))
    run = RunDir.for_config(config, method="rllib-ppo")
    started_ray = _start_ray(config)
    algo = build_algo(config)
    module, radius = build_module(config)
    params = sum(p.numel() for p in module.parameters())
    milestones, final_metrics, final_eval = MilestoneTracker(), {}, None
    start_cycle, env_steps, agent_steps = 0, 0, 0
    try:
        ckpt = run.resume(model=module)
        if ckpt is not None:
            start_cycle, env_steps = ckpt["cycle"], ckpt["env_steps"]
            agent_steps = ckpt["agent_steps"]
            milestones.load_state_dict(ckpt["state"]["milestones"])
            # the last evaluation so far: a run killed after its last checkpoint ends with it
            final_metrics = ckpt["state"].get("final_metrics", {})
            final_eval = ckpt["state"].get("final_eval")
            state = run.checkpoint_dir / RLLIB_STATE.format(cycle=start_cycle)
            if state.is_dir():
                algo.restore_from_path(str(state))
            else:
                print(f"no {state.name}: resuming from the weights, with a fresh optimizer")
                algo.set_weights({MODULE_ID: module.state_dict()})
        with run, TrainingProgress(config.num_iterations, enabled=config.progress) as bar:
            for cycle in range(start_cycle + 1, config.num_iterations + 1):
                result = algo.train()
                runners, learner = result["env_runners"], result["learners"][MODULE_ID]
                steps = int(runners["num_env_steps_sampled_lifetime"])
                agents = int(_total(runners.get("num_agent_steps_sampled_lifetime", 0)))
                sampled, env_steps = steps - env_steps, steps
                agent_steps = agents if agents else agent_steps
                module.set_state(algo.get_weights([MODULE_ID])[MODULE_ID])
                metrics = {
                    M.CHARTS_ITERATION: cycle,
                    M.LOSSES_POLICY: float(learner["policy_loss"]),
                    M.LOSSES_VALUE: float(learner["vf_loss"]),
                    M.LOSSES_ENTROPY: float(learner["entropy"]),
                    M.LOSSES_APPROX_KL: float(learner.get("mean_kl_loss", float("nan"))),
                    M.CHARTS_SPS: sampled / max(result.get("time_this_iter_s", 0.0), 1e-9),
                }
                if "episode_len_mean" in runners:
                    metrics[M.CHARTS_EPISODE_LENGTH] = float(runners["episode_len_mean"])
                if config.should_evaluate(cycle):
                    outcome = _evaluate(config, module, radius)
                    milestones.update(env_steps, outcome.full_length_fraction)
                    final_metrics, final_eval = outcome.to_metrics(), outcome.to_dict()
                    metrics.update(final_metrics)
                run.log(env_steps, metrics)
                if config.should_checkpoint(cycle):
                    last = {"final_metrics": final_metrics, "final_eval": final_eval}
                    _save(run, algo, module, cycle, env_steps, agent_steps, milestones, last)
                bar.update(cycle, metrics)
            if final_eval is None:  # never evaluated (no full iteration)
                outcome = _evaluate(config, module, radius)
                milestones.update(env_steps, outcome.full_length_fraction)
                final_metrics, final_eval = outcome.to_metrics(), outcome.to_dict()
                if config.num_iterations == 0:  # no iteration logged a row
                    run.log(env_steps, final_metrics)
            final = _evaluate(config, module, radius, held_out=True)  # the run's final numbers
            return finish_run(
                run,
                config,
                milestones,
                final,
                env_steps=env_steps,
                agent_steps=agent_steps,
                parameter_count=params,
                last_eval_metrics=final_metrics,
                extra={
                    "num_env_runners": config.num_env_runners,
                    "rllib_module": f"MaskedMLPModule {list(config.hidden)}",
                },
            )

    finally:
        algo.stop()
        if started_ray:
            ray.shutdown()


def _evaluate(config: RLlibPPOConfig, module: Any, radius: int, *, held_out: bool = False) -> Any:
    """The shared protocol's in-training evaluation, or with ``held_out`` the final one on the
    held-out maps; actions sampled with the maps' seed."""
    seed = config.final_map_seed if held_out else config.eval_map_seed
    return evaluate(
        lambda world: ModuleAgent(world, module, radius, seed=seed),
        **(config.final_eval_kwargs if held_out else config.eval_kwargs),
    )


def _save(
    run: RunDir, algo: Any, module: Any, cycle: int, env_steps: int, agent_steps: int,
    milestones: MilestoneTracker, last: dict[str, Any],
) -> None:  # fmt: skip
    """RLlib's state first (a fresh folder, then the older ones removed), then the weights'
    checkpoint, which is what makes ``cycle`` the one to resume from."""
    run.checkpoint_dir.mkdir(exist_ok=True)
    state = run.checkpoint_dir / RLLIB_STATE.format(cycle=cycle)
    shutil.rmtree(state, ignore_errors=True)  # a half-written one of an earlier attempt
    algo.save_to_path(str(state))
    run.save_checkpoint(
        cycle,
        env_steps=env_steps,
        agent_steps=agent_steps,
        model=module,
        state={"milestones": milestones.state_dict(), **last},
    )
    for old in run.checkpoint_dir.glob("rllib_*"):
        if old != state and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _total(value: Any) -> float:
    """A per-agent (or per-module) dict of counts summed, or the count itself."""
    return float(sum(value.values())) if isinstance(value, dict) else float(value)


def _eval_world(config: RLlibPPOConfig) -> Any:
    from spawnzoo.envs import make_batched

    return make_batched(config.env_id, num_envs=1, **config.env_kwargs)


def load_agent(
    config: RLlibPPOConfig,
    state: dict[str, torch.Tensor],
    world: Any,
    *,
    seed: int | None = None,
    greedy: bool = False,
    device: str = "cpu",
) -> ModuleAgent:
    """A checkpoint's module weights as a policy for ``world`` (``registry.MethodSpec``)."""
    module, radius = build_module(config)
    module.load_state_dict(state)
    return ModuleAgent(world, module.to(device), radius, seed=seed, greedy=greedy)


__all__ = ["ModuleAgent", "build_algo", "build_module", "load_agent", "train"]
