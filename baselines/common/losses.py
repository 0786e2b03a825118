"""PPO's losses with explicit masks: inactive entries add exactly zero and do not dilute means."""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the true entries of ``mask`` (same shape); 0 when there are none.

    Inactive entries are selected away, not multiplied by 0, so a NaN or inf there cannot leak.
    """
    picked = torch.where(mask, x, torch.zeros_like(x))
    return picked.sum() / mask.sum().clamp_min(1).to(x.dtype)


def normalize_advantages(adv: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Standardise ``adv`` over the active entries (``mask``, same shape); inactive become 0.

    Uses the population standard deviation (divides by the number of active entries).
    """
    mean = masked_mean(adv, mask)
    var = masked_mean((adv - mean) ** 2, mask)
    return torch.where(mask, (adv - mean) / (var.sqrt() + eps), torch.zeros_like(adv))


def policy_loss(
    new_logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_coef: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clipped surrogate loss over active entries.

    Args:
        new_logp, old_logp, advantages: same shape ``[...]`` float. mask: ``[...]`` bool.
        clip_coef: PPO's epsilon.

    Returns:
        ``(loss, approx_kl, clip_fraction)`` scalars (diagnostics without gradient).
    """
    log_ratio = torch.where(mask, new_logp - old_logp, torch.zeros_like(new_logp))
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip_coef).to(ratio.dtype), mask)
    return loss, approx_kl, clip_fraction


def value_loss(
    new_values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_coef: float | None,
) -> torch.Tensor:
    """Half the (clipped, when ``clip_coef`` is set) squared error over active entries.

    Args:
        new_values, old_values, returns: same shape ``[...]`` float. mask: ``[...]`` bool.
    """
    unclipped = (new_values - returns) ** 2
    if clip_coef is None:
        return 0.5 * masked_mean(unclipped, mask)
    clipped_values = old_values + (new_values - old_values).clamp(-clip_coef, clip_coef)
    clipped = (clipped_values - returns) ** 2
    return 0.5 * masked_mean(torch.maximum(unclipped, clipped), mask)
