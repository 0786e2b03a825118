"""BottleNet: the paper's U-Net extractor for the monolithic single brain (§2.2).

The map is squeezed through ``depth`` downsampling blocks to a small bottleneck and brought back
to full resolution, so every cell's output can depend on the whole map (DashNet, the other
monolithic extractor, sees only its receptive field). With ``c_i = width * 2**i`` channels at
level ``i`` (the paper's code: ``width=32, depth=4``, ``C -> 32 -> 64 -> 128 -> 256``, spatial
``48 -> 24 -> 12 -> 6 -> 3``):

* **encoder**: ``depth`` down blocks, each a residual block ``c_{i-1} -> c_i`` at the level's
  resolution, then a 3x3 stride-2 conv block that halves ``H`` and ``W``;
* **bottleneck** at ``c = c_{depth-1}`` channels, one of the paper's four (``bottleneck``):
  ``simple`` (the paper's default): ``blocks`` residual blocks; ``dilated``: 3x3 conv blocks with
  dilation 2 and then 4, then ``blocks`` residual blocks; ``multiscale``: parallel 1x1, 3x3, 5x5
  and 7x7 spectral-normalised convs of ``c / 4`` channels each, concatenated, BatchNorm and
  LeakyReLU, then ``blocks`` residual blocks; ``inception`` (in the paper's code, not described
  in its text; this is the classic inception module): parallel 1x1, 1x1 -> 3x3, 1x1 -> 3x3 -> 3x3
  and 3x3 average pool -> 1x1 branches of ``c / 4`` channels, concatenated, BatchNorm and
  LeakyReLU, then ``blocks`` residual blocks. ``c`` must be a multiple of 4 for the last two;
* **decoder**: ``depth`` up blocks, each a 3x3 stride-2 transposed conv (doubles ``H``, ``W``)
  with BatchNorm and LeakyReLU to the level's ``c_i`` channels, summed (not concatenated, as in
  the paper's code) with the encoder's residual output of the same level, then a residual
  block. The last block ends at ``c_0 = width`` channels and full resolution, where its skip
  brings back the first level's full-resolution features: a cell's output knows its exact cell.

The residual block is the paper's BottleNet block: two conv blocks (spectral-normalised 3x3 conv,
BatchNorm, LeakyReLU 0.01), squeeze-excitation with reduction 16, a 1x1 projection of the input
when the channels change, the sum, then LeakyReLU.

Maps whose sides are not multiples of ``2**depth`` (harvest ``small`` is 24 wide, ``tiny`` 12)
are zero-padded at the bottom and right before the encoder and cropped back after the decoder;
zero is what the convolutions already see beyond the map's edge.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from spawnzoo.baselines.nets.initialization import LEAKY_SLOPE
from spawnzoo.baselines.nets.layers import ConvBlock, SqueezeExcite

#: squeeze-excitation reduction of BottleNet's residual blocks (the paper's code: 16)
BOTTLENET_SE_REDUCTION = 16


class StridedConvBlock(nn.Sequential):
    """Spectral-normalised 3x3 stride-2 conv (no bias) -> BatchNorm2d -> LeakyReLU(0.01).

    Shapes:
        ``[B, in_channels, H, W]`` -> ``[B, out_channels, ceil(H / 2), ceil(W / 2)]``.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        conv = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False)
        self.add_module("conv", spectral_norm(conv))
        self.add_module("norm", nn.BatchNorm2d(out_channels))
        self.add_module("act", nn.LeakyReLU(LEAKY_SLOPE))


class UNetResidual(nn.Module):
    """BottleNet's residual block: two conv blocks and squeeze-excitation, plus the (projected)
    input, then LeakyReLU.

    Args:
        in_channels: input channels.
        out_channels: output channels; a 1x1 conv projects the input when they differ.

    Shapes:
        ``[B, in_channels, H, W]`` -> ``[B, out_channels, H, W]``.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.block1 = ConvBlock(in_channels, out_channels)
        self.block2 = ConvBlock(out_channels, out_channels)
        self.se = SqueezeExcite(out_channels, min(BOTTLENET_SE_REDUCTION, out_channels))
        self.skip = (
            nn.Conv2d(in_channels, out_channels, 1, bias=False)
            if in_channels != out_channels
            else nn.Identity()
        )
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual step: ``[B, in, H, W]`` -> ``[B, out, H, W]``."""
        return self.act(self.skip(x) + self.se(self.block2(self.block1(x))))


class DownBlock(nn.Module):
    """A residual block at the current resolution, then a stride-2 conv block.

    Shapes:
        ``[B, in_channels, H, W]`` -> ``(skip [B, out_channels, H, W], down [B, out_channels,
        H / 2, W / 2])`` (``H``, ``W`` even).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.res = UNetResidual(in_channels, out_channels)
        self.down = StridedConvBlock(out_channels, out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The level's features (the decoder's skip) and their downsampled copy."""
        skip = self.res(x)
        return skip, self.down(skip)


class UpBlock(nn.Module):
    """Transposed 3x3 stride-2 conv (no bias) -> BatchNorm2d -> LeakyReLU, plus the skip, then
    a residual block.

    Shapes:
        ``x [B, in_channels, h, w]``, ``skip [B, out_channels, 2 h, 2 w]`` -> ``[B,
        out_channels, 2 h, 2 w]``.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(
            in_channels, out_channels, 3, stride=2, padding=1, output_padding=1, bias=False
        )
        self.norm = nn.BatchNorm2d(out_channels)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)
        self.res = UNetResidual(out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample 2x and add the encoder's features of that level."""
        return self.res(self.act(self.norm(self.up(x))) + skip)


class DilatedConvBlock(nn.Sequential):
    """Spectral-normalised 3x3 conv with ``dilation`` (no bias) -> BatchNorm2d -> LeakyReLU,
    shape preserving."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.add_module("conv", spectral_norm(conv))
        self.add_module("norm", nn.BatchNorm2d(channels))
        self.add_module("act", nn.LeakyReLU(LEAKY_SLOPE))


class _Conv(nn.Sequential):
    """A bare spectral-normalised ``k x k`` "same" conv (no bias): one branch's last layer."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False
        )
        self.add_module("conv", spectral_norm(conv))


class ParallelBranches(nn.Module):
    """Branches run side by side on one input, concatenated, then BatchNorm and LeakyReLU.

    Args:
        branches: modules ``[B, c, H, W] -> [B, c_k, H, W]`` with ``sum(c_k) = c``.
    """

    def __init__(self, branches: list[nn.Module], channels: int):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.norm = nn.BatchNorm2d(channels)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, c, H, W]`` -> ``[B, c, H, W]``."""
        return self.act(self.norm(torch.cat([b(x) for b in self.branches], dim=1)))


def multiscale(c: int) -> ParallelBranches:
    """1x1, 3x3, 5x5 and 7x7 branches of ``c / 4`` channels each (the paper's multi-scale)."""
    return ParallelBranches([_Conv(c, c // 4, k) for k in (1, 3, 5, 7)], c)


def inception(c: int) -> ParallelBranches:
    """The classic inception module with ``c / 4`` channels per branch."""
    q = c // 4
    return ParallelBranches(
        [
            _Conv(c, q, 1),
            nn.Sequential(ConvBlock(c, q, kernel_size=1), _Conv(q, q, 3)),
            nn.Sequential(ConvBlock(c, q, kernel_size=1), ConvBlock(q, q), _Conv(q, q, 3)),
            nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), _Conv(c, q, 1)),
        ],
        c,
    )


#: the paper's bottleneck variants (§2.2)
BOTTLENECKS = ("simple", "dilated", "multiscale", "inception")


def bottleneck_layers(kind: str, c: int, blocks: int) -> nn.Sequential:
    """The bottleneck ``kind`` at ``c`` channels with ``blocks`` residual blocks (see the module
    docstring): ``[B, c, h, w] -> [B, c, h, w]``.

    Raises:
        ValueError: an unknown ``kind``, or ``c`` not a multiple of 4 for the branched ones.
    """
    if kind not in BOTTLENECKS:
        raise ValueError(f"bottleneck must be one of {BOTTLENECKS}, got {kind!r}")
    if kind in ("multiscale", "inception") and c % 4:
        raise ValueError(f"the {kind} bottleneck needs channels divisible by 4, got {c}")
    head: list[nn.Module] = []
    if kind == "dilated":
        head = [DilatedConvBlock(c, 2), DilatedConvBlock(c, 4)]
    elif kind == "multiscale":
        head = [multiscale(c)]
    elif kind == "inception":
        head = [inception(c)]
    return nn.Sequential(*head, *(UNetResidual(c, c) for _ in range(blocks)))


def _check_sizes(in_channels: int, width: int, depth: int, blocks: int) -> None:
    for key, value, low in (
        ("in_channels", in_channels, 1),
        ("width", width, 1),
        ("depth", depth, 1),
        ("blocks", blocks, 0),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"BottleNet: {key} must be an int >= {low}, got {value!r}")


class BottleNetEncoder(nn.Module):
    """BottleNet's encoder and bottleneck: the map down to ``2**depth`` times fewer cells a side.

    The critic of the monolithic policy uses one on its own (the value is read from the
    bottleneck); ``BottleNet`` adds the decoder to another.

    Args:
        in_channels: ``C``.
        width: ``c_0``, channels of the first level; level ``i`` has ``width * 2**i``.
        depth: down blocks (the paper: 4).
        blocks: residual blocks of the bottleneck (the paper's "simple" bottleneck: 2).
        bottleneck: ``simple``, ``dilated``, ``multiscale`` or ``inception`` (see the module).

    Shapes:
        ``[B, C, H, W]`` -> ``[B, width * 2**(depth - 1), ceil(H / 2**depth),
        ceil(W / 2**depth)]`` for any ``H x W``.

    Raises:
        ValueError: a size below its minimum (``in_channels``, ``width``, ``depth`` >= 1,
            ``blocks`` >= 0).
    """

    def __init__(
        self, in_channels: int, width: int, depth: int, blocks: int, bottleneck: str = "simple"
    ):
        super().__init__()
        _check_sizes(in_channels, width, depth, blocks)
        self.depth = depth
        self.channels = [width * 2**i for i in range(depth)]
        self.downs = nn.ModuleList(
            DownBlock(c_in, c_out)
            for c_in, c_out in zip([in_channels, *self.channels[:-1]], self.channels)
        )
        self.bottleneck = bottleneck_layers(bottleneck, self.channels[-1], blocks)

    @property
    def out_channels(self) -> int:
        """Channels of the bottleneck: ``width * 2**(depth - 1)``."""
        return self.channels[-1]

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-pad the bottom and right of ``[B, C, H, W]`` to multiples of ``2**depth``."""
        step = 2**self.depth
        h, w = x.shape[-2:]
        return nn.functional.pad(x, (0, -w % step, 0, -h % step))

    def levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every level's features (before its downsampling) and the bottleneck's.

        Args:
            x: ``[B, C, H, W]`` (padded here).

        Returns:
            ``depth + 1`` tensors: level ``i`` ``[B, width * 2**i, H' / 2**i, W' / 2**i]`` for
            ``i = 0 .. depth - 1`` with ``H', W'`` the padded sides, then the bottleneck
            ``[B, width * 2**(depth - 1), H' / 2**depth, W' / 2**depth]``.
        """
        if x.dim() != 4:
            raise ValueError(f"BottleNet input must be [B, C, H, W], got {tuple(x.shape)}")
        outputs = []
        x = self.pad(x)
        for down in self.downs:
            skip, x = down(x)
            outputs.append(skip)
        outputs.append(self.bottleneck(x))
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck features: ``[B, C, H, W]`` -> ``[B, out_channels, H', W']`` with
        ``H' = ceil(H / 2**depth)``, ``W' = ceil(W / 2**depth)``."""
        return self.levels(x)[-1]


class BottleNet(nn.Module):
    """The paper's U-Net: encoder, bottleneck, decoder with summed skips, full resolution out.

    Args:
        in_channels: ``C``.
        width: ``c_0``, channels of the first level and of the output (the paper's code: 32).
        depth: down and up blocks (the paper: 4).
        blocks: residual blocks of the bottleneck (the paper's "simple" bottleneck: 2).
        bottleneck: ``simple``, ``dilated``, ``multiscale`` or ``inception``.

    Shapes:
        ``[B, C, H, W]`` -> ``[B, width, H, W]`` for any ``H x W`` (padded inside to multiples
        of ``2**depth``, cropped back).
    """

    def __init__(
        self, in_channels: int, width: int, depth: int, blocks: int, bottleneck: str = "simple"
    ):
        super().__init__()
        self.encoder = BottleNetEncoder(in_channels, width, depth, blocks, bottleneck)
        c = self.encoder.channels
        # deepest first: from the bottleneck (c[-1]) up to level 0 (c[0] = width)
        self.ups = nn.ModuleList(
            UpBlock(c[min(i + 1, depth - 1)], c[i]) for i in reversed(range(depth))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-cell features: ``[B, C, H, W]`` -> ``[B, width, H, W]``."""
        h, w = x.shape[-2:]
        *skips, y = self.encoder.levels(x)
        for up, skip in zip(self.ups, reversed(skips)):
            y = up(y, skip)
        return y[..., :h, :w]
