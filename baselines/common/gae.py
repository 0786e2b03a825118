"""Generalised advantage estimation over rollouts with a group dimension and activity masks.

Every PPO quantity of spawnzoo's learners is kept per *group* (a slot, an entity, a team, the whole
env: the caller decides). A group's trajectory may end mid-rollout (its entity died, or the
episode ended) and its slot may start a new trajectory later (a new entity spawned there); between
the two the group is inactive. This module is the only implementation of GAE in the project.
"""

from __future__ import annotations

import torch


def masked_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    active: torch.Tensor,
    starts: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns per group, cut at each trajectory's end.

    ``t + 1`` continues the trajectory of ``t`` unless ``dones[t]`` (it ended after step ``t``)
    or ``starts[t + 1]`` (a new trajectory begins in that group at ``t + 1``). After the last
    step, an unfinished trajectory bootstraps from ``last_values``. Inactive steps get zero
    advantage and return and do not pass anything backwards.

    Truncated trajectories: mark them done and add ``gamma * V(final state)`` to their last
    reward beforehand (the caller has the final state).

    Args:
        rewards: ``[T, E, G]`` float.
        values: ``[T, E, G]`` float, ``V(s_t)`` of the group at step ``t``.
        dones: ``[T, E, G]`` bool, the group's trajectory ended after step ``t``.
        active: ``[T, E, G]`` bool, the group acted at step ``t``.
        starts: ``[T, E, G]`` bool, a new trajectory starts at step ``t`` (e.g. ``spawned``).
        last_values: ``[E, G]`` float, ``V`` of the state after the rollout.
        gamma: discount. gae_lambda: GAE's lambda.

    Returns:
        ``(advantages, returns)``, each ``[T, E, G]`` float, zero where inactive.
    """
    if not (rewards.shape == values.shape == dones.shape == active.shape == starts.shape):
        raise ValueError(
            "rewards, values, dones, active and starts must share one [T, E, G] shape, got "
            f"{[tuple(x.shape) for x in (rewards, values, dones, active, starts)]}"
        )
    if last_values.shape != rewards.shape[1:]:
        raise ValueError(
            f"last_values must be [E, G] = {tuple(rewards.shape[1:])}, "
            f"got {tuple(last_values.shape)}"
        )
    steps = rewards.shape[0]
    active_f = active.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    next_adv = torch.zeros_like(last_values)
    next_value = last_values
    # continues[t]: step t + 1 belongs to the trajectory of step t
    not_done = (~dones).to(rewards.dtype)
    for t in reversed(range(steps)):
        if t + 1 < steps:
            cont = not_done[t] * (~starts[t + 1]).to(rewards.dtype) * active_f[t + 1]
        else:
            cont = not_done[t]
        delta = rewards[t] + gamma * next_value * cont - values[t]
        adv = (delta + gamma * gae_lambda * cont * next_adv) * active_f[t]
        advantages[t] = adv
        next_adv = adv
        next_value = values[t]
    returns = (advantages + values) * active_f
    return advantages, returns
