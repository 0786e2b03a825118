"""Configuration of ``rllib-ppo``: the shared PPO fields, mapped onto RLlib's, plus its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from spawnzoo.baselines.common.config import PPOConfig


@dataclass
class RLlibPPOConfig(PPOConfig):
    """RLlib's PPO (new API stack) with one shared, action-masking policy over every unit.

    The shared fields map onto RLlib's: ``learning_rate`` -> ``lr`` (annealed linearly to 0
    with ``anneal_lr``), ``gamma``, ``gae_lambda`` -> ``lambda_``, ``clip_coef`` ->
    ``clip_param``, ``ent_coef`` -> ``entropy_coeff``, ``vf_coef`` -> ``vf_loss_coeff``,
    ``max_grad_norm`` -> ``grad_clip``, ``update_epochs`` -> ``num_epochs``; an iteration
    samples ``num_envs * num_steps`` env steps (``train_batch_size_per_learner``) and splits
    them into ``num_minibatches``. RLlib steps one PettingZoo world per env runner, so
    ``num_envs`` only sizes the batch. ``adam_eps``, ``norm_adv``, ``clip_vloss`` and
    ``target_kl`` are RLlib's own (RLlib has no switch for them); ``torch_deterministic`` applies
    to the run's process (the local learner), not to remote env runners.
    """

    num_env_runners: int = 0
    """RLlib's remote env runners (sampling processes, one CPU each, beside the run's own);
    0 samples in the run's process."""
    hidden: tuple[int, ...] = field(default_factory=lambda: (64, 64))
    """Layer sizes of the policy's and the value's MLPs over an agent's observation (its
    egocentric window and own features)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if not isinstance(self.num_env_runners, int) or self.num_env_runners < 0:
            raise ValueError(f"{name}: num_env_runners must be >= 0, got {self.num_env_runners!r}")
        self.hidden = tuple(self.hidden)
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"{name}: hidden must be layer sizes >= 1, got {self.hidden!r}")
