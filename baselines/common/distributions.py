"""Masked categorical distributions: illegal actions get no probability and no entropy."""

from __future__ import annotations

import torch


class MaskedCategorical:
    """A categorical over the legal actions of each row.

    Args:
        logits: ``[..., A]`` float.
        mask: ``[..., A]`` bool, at least one true per row (rows of inactive entities should
            allow only the no-op).
    """

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor):
        if logits.shape != mask.shape:
            raise ValueError(f"logits {tuple(logits.shape)} and mask {tuple(mask.shape)} differ")
        self.mask = mask
        # far below any real logit, yet finite after subtracting the row max (so no inf, and no
        # NaN in gradients); -1e9 does not fit in half precision, half its range does
        masked = torch.full_like(logits, max(-1e9, torch.finfo(logits.dtype).min / 2))
        self.logits = torch.where(mask, logits, masked)
        self.log_probs = torch.log_softmax(self.logits, dim=-1)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[...]`` long: one legal action per row."""
        probs = self.log_probs.exp().reshape(-1, self.logits.shape[-1])
        return torch.multinomial(probs, 1, generator=generator).reshape(self.logits.shape[:-1])

    def mode(self) -> torch.Tensor:
        """``[...]`` long: the most likely legal action of each row."""
        return self.logits.argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``[...]`` float: log-probability of ``actions`` (``[...]`` long)."""
        return self.log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """``[...]`` float: entropy over the legal actions only (0 for a single legal action)."""
        p = self.log_probs.exp()
        return -(torch.where(self.mask, p * self.log_probs, torch.zeros_like(p))).sum(-1)
