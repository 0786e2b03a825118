"""Conv building blocks shared by the learners' networks (the paper's §2.2-2.3 blocks).

Every hidden conv is a 3x3 "same" convolution without bias, wrapped in spectral norm, followed by
BatchNorm2d and LeakyReLU(0.01); squeeze-excitation residual blocks add a channel gate computed
from the whole map. Shapes: ``[B, C, H, W]`` in, ``[B, C', H, W]`` out (shape preserving).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .initialization import LEAKY_SLOPE

#: squeeze-excitation reduction (the paper's: 32 -> 8 -> 32)
SE_REDUCTION = 4


class ConvBlock(nn.Sequential):
    """Conv (no bias) with spectral norm -> BatchNorm2d -> LeakyReLU(0.01), same padding.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd kernel size (3 in the embedding, 1 in the critic heads).
        batch_norm: ``False`` leaves BatchNorm out (the paper's §3.7 ablation; ``norm`` is then
            an identity, so module names stay the same).
        spectral: ``False`` leaves spectral norm out (the paper's §3.7 ablation).

    Shapes:
        ``[B, in_channels, H, W]`` -> ``[B, out_channels, H, W]``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        batch_norm: bool = True,
        spectral: bool = True,
    ):
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False
        )
        super().__init__()
        self.add_module("conv", spectral_norm(conv) if spectral else conv)
        self.add_module("norm", nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity())
        self.add_module("act", nn.LeakyReLU(LEAKY_SLOPE))


class SqueezeExcite(nn.Module):
    """Channel gates from the spatial mean: Linear(w -> w/r) + ReLU -> Linear(w/r -> w) + sigmoid.

    Args:
        channels: ``w``.
        reduction: ``r``.
    """

    def __init__(self, channels: int, reduction: int = SE_REDUCTION):
        super().__init__()
        self.squeeze = nn.Linear(channels, channels // reduction)
        self.excite = nn.Linear(channels // reduction, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel by its gate.

        Args:
            x: ``[B, w, H, W]``.

        Returns:
            ``[B, w, H, W]``: ``x * gate`` with ``gate`` ``[B, w, 1, 1]`` in ``(0, 1)``.
        """
        s = torch.relu(self.squeeze(x.mean(dim=(2, 3))))
        return x * torch.sigmoid(self.excite(s))[:, :, None, None]


class SEResidual(nn.Module):
    """Two 3x3 conv blocks and squeeze-excitation, added to the input (no activation after).

    Args:
        channels: ``w`` (input = output channels).
        batch_norm, spectral: as ``ConvBlock``'s.
    """

    def __init__(self, channels: int, *, batch_norm: bool = True, spectral: bool = True):
        super().__init__()
        opts = dict(batch_norm=batch_norm, spectral=spectral)
        self.block1 = ConvBlock(channels, channels, **opts)
        self.block2 = ConvBlock(channels, channels, **opts)
        self.se = SqueezeExcite(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual step.

        Args:
            x: ``[B, w, H, W]``.

        Returns:
            ``[B, w, H, W]``.
        """
        return x + self.se(self.block2(self.block1(x)))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``, counted like the paper: spectral norm's raw weight
    counts, its ``u``/``v`` buffers and BatchNorm's running statistics do not."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
