"""Masked categorical distributions: illegal actions get no probability and no entropy."""

from __future__ import annotations

import torch

#: logit given to illegal actions (finite, so 0 x it stays 0 in sums)
MASKED_LOGIT = -1e9


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
        self.logits = torch.where(mask, logits, torch.full_like(logits, MASKED_LOGIT))
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
