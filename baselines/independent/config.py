"""Configuration of ``independent``: the shared PPO fields plus the MLP of sb3-contrib's policy.

The ``PPOConfig`` names keep their meaning and map onto ``MaskablePPO``'s arguments:

==================  =========================================================================
``PPOConfig``       ``MaskablePPO``
==================  =========================================================================
``num_envs``        worlds of the batched core; SB3 sees ``num_envs x slots`` sub-envs
``num_steps``       ``n_steps`` (core steps per rollout)
``num_minibatches`` ``batch_size = n_steps x sub-envs / num_minibatches`` (SB3's minibatch)
``update_epochs``   ``n_epochs``
``clip_coef``       ``clip_range`` (and ``clip_range_vf`` when ``clip_vloss``)
``norm_adv``        ``normalize_advantage``
``anneal_lr``       a linear ``learning_rate`` schedule, ``lr x (1 - (cycle - 1) / cycles)``
``adam_eps``        ``policy_kwargs["optimizer_kwargs"]["eps"]``
==================  =========================================================================

``total_timesteps`` and every logged ``env_steps`` count core steps summed over worlds, as for
every method; SB3's own ``num_timesteps`` counts sub-env steps (``x slots``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spawnzoo.baselines.common.config import PPOConfig


@dataclass
class IndependentConfig(PPOConfig):
    """Independent learners with parameter sharing: MaskablePPO on per-entity egocentric views."""

    num_envs: int = 8
    """Training worlds stepped together; SB3 sees worlds x slots sub-envs (tiny: 17 slots)."""
    num_steps: int = 64
    """Core steps per world in one rollout (SB3's ``n_steps``)."""
    update_epochs: int = 8
    """Passes over the rollout per iteration (SB3's ``n_epochs``)."""
    learning_rate: float = 1e-3
    """Adam's learning rate (the start value when annealed)."""
    ent_coef: float = 0.05
    """Entropy bonus coefficient. SB3 averages the entropy over every row and an empty slot's
    is 0, so live entities get about ``ent_coef`` x the live share of slots (tiny: ~1/4)."""
    clip_vloss: bool = False
    """Clip the value prediction to ``old +- clip_coef`` (SB3's ``clip_range_vf``: unlike
    CleanRL it never takes the unclipped loss, which stalls the critic on returns of many
    units, so it is off by default)."""
    net_arch: tuple[int, ...] = field(default_factory=lambda: (64, 64))
    """Hidden layer widths of the actor MLP and, separately, of the critic MLP."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Activation of the hidden layers."""
    ortho_init: bool = True
    """SB3's orthogonal initialisation (gain sqrt(2) hidden, 0.01 actor and 1 critic outputs)."""
    obs_radius: int | None = None
    """Radius of the egocentric window (``2 r + 1`` cells wide); ``none``: the env's own."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.net_arch, list):
            self.net_arch = tuple(self.net_arch)
        if not self.net_arch or any(w < 1 for w in self.net_arch):
            raise ValueError(
                f"{type(self).__name__}: net_arch must be one or more widths >= 1, got "
                f"{self.net_arch}"
            )
        if self.activation not in ("tanh", "relu"):
            raise ValueError(
                f"{type(self).__name__}: activation must be 'tanh' or 'relu', got "
                f"{self.activation!r}"
            )
        if self.obs_radius is not None and self.obs_radius < 1:
            raise ValueError(
                f"{type(self).__name__}: obs_radius must be >= 1 or None, got {self.obs_radius}"
            )
