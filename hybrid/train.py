"""Train the hybrid: masked PPO whose every quantity is kept per entity or group.

The hybrid is the paper's network (``policy.py``) trained by the shared grouped masked PPO
(``spawnzoo.baselines.grouped.ppo``): rollout, per-player group advantages, epochs x
players x minibatches, evaluation, log, checkpoint.

    spawnzoo train hybrid --env harvest-v0 --preset small --total-timesteps 100000 --seed 1
"""

from __future__ import annotations

from spawnzoo.baselines.common.runs import RunResult
from spawnzoo.baselines.grouped.ppo import (
    Separation,
    SlotPolicyAgent,
    load_slot_agent,
    train_grouped,
)

from .config import HybridConfig
from .policy import HybridPolicy

#: the trained hybrid as a policy (``act(batch) -> actions``)
HybridAgent = SlotPolicyAgent


def build_policy(cfg: HybridConfig, world) -> HybridPolicy:
    """The network for ``world``'s planes, kinds, structure kinds and action space (with the
    paper's factorised heads where ``cfg.heads`` and the world allow).

    Raises:
        ValueError: ``heads="factorised"`` on a world that declares no ``action_factors``.
    """
    factors = getattr(world, "action_factors", None)
    heads = cfg.heads if cfg.heads != "auto" else ("flat" if factors is None else "factorised")
    types = {}
    if heads == "factorised" and factors is not None:
        types = dict(
            unit_types=len(world.unit_action_types),
            structure_types=len(world.structure_action_types),
        )
    return HybridPolicy(
        heads=heads,
        action_factors=factors,
        **types,
        in_channels=len(world.plane_names),
        num_actions=world.num_actions,
        num_kinds=len(world.kind_names),
        structure_kinds=tuple(world.structure_kinds),
        width=cfg.width,
        depth=cfg.depth,
        stages=cfg.stages,
        critic=cfg.critic,
        seed=cfg.seed,
        weight_scale=cfg.weight_scale,
        init=cfg.init,
        scaled=cfg.scaled,
        batch_norm=cfg.batch_norm,
        spectral=cfg.spectral_norm,
    )


def separation(cfg: HybridConfig) -> Separation:
    """The config's trajectory separation switches (grouping, reward weight, ablations, top-N)."""
    return Separation(
        grouping=cfg.grouping,
        own_reward_weight=cfg.own_reward_weight,
        globalise=tuple(cfg.globalise),
        top_n=cfg.top_n,
        top_n_by=cfg.top_n_by,
    )


def train(config: HybridConfig) -> RunResult:
    """Train the hybrid per ``config``; returns the run directory and its summary."""
    return train_grouped(config, build_policy, "hybrid", separation(config))


def load_agent(config: HybridConfig, state: dict, world, **options) -> SlotPolicyAgent:
    """A checkpoint's weights as a policy for ``world`` (``options``: ``seed``, ``greedy``,
    ``device``; see ``load_slot_agent``)."""
    return load_slot_agent(build_policy, config, state, world, **options)
