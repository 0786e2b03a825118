"""Configuration of the centralized learners: the shared PPO fields plus their networks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spawnzoo.baselines.common.config import LARGE_MAP_SIDE, PPOConfig


def dashnet_size(map_side: int) -> tuple[int, int]:
    """(width, blocks) of DashNet for a map: the paper's code widths (64 x 4 SE blocks) on maps
    of ``LARGE_MAP_SIDE`` and larger; below, 16 x 1, the hybrid's and MAPPO's critic's size,
    so a comparison on small maps fits a CPU."""
    return (64, 4) if map_side >= LARGE_MAP_SIDE else (16, 1)


def bottlenet_size(map_side: int) -> tuple[int, int, int]:
    """(width, bottleneck blocks, depth) of BottleNet for a map: the paper's code on maps of
    ``LARGE_MAP_SIDE`` and larger (32 -> 256 channels, "simple" bottleneck of 2 blocks), 16 wide
    below; as many halvings as leave at least 3 x 3 cells (48 -> 3 at depth 4, 24 -> 3 at 3,
    12 -> 3 at 2), at most the paper's 4; one bottleneck block on maps under 24 cells."""
    depth = 1
    while depth < 4 and map_side // 2 ** (depth + 1) >= 3:
        depth += 1
    return (32 if map_side >= LARGE_MAP_SIDE else 16), (2 if map_side >= 24 else 1), depth


def mappo_critic_size(map_side: int) -> tuple[int, int]:
    """(width, blocks) of MAPPO's critic DashNet: 32 x 2 on maps of ``LARGE_MAP_SIDE`` and
    larger, 16 x 1 below."""
    return (32, 2) if map_side >= LARGE_MAP_SIDE else (16, 1)


@dataclass
class MonolithicConfig(PPOConfig):
    """The paper's single brain: global planes in, per-cell actions and one global value out.

    It trains with the shared grouped PPO with one group per (world, player) holding all its
    entities: one reward (the sum of the entities'), one value, one log-prob (the sum of the
    entities'), one done per step.
    """

    network: Literal["dashnet", "bottlenet"] = "dashnet"
    """Extractor (paper §2.2): ``dashnet`` (shape preserving) or ``bottlenet`` (U-Net; the value
    is read from its own encoder's bottleneck)."""
    width: int | None = None
    """DashNet: channels of its trunks (paper code: 64); BottleNet: channels of its first level,
    doubled at each level (paper code: 32). ``None``: by map size and network
    (``dashnet_size``, ``bottlenet_size``: DashNet 64 on maps of 48 x 48 and larger, else 16;
    BottleNet 32, else 16)."""
    blocks: int | None = None
    """DashNet: SE-residual blocks in each trunk (paper: 4); BottleNet: residual blocks of the
    bottleneck (paper's "simple": 2). ``None``: by map size and network (DashNet 4 on maps of
    48 x 48 and larger, else 1; BottleNet 2 on maps of 24 x 24 and larger, else 1)."""
    depth: int | None = None
    """BottleNet only: down (and up) blocks, each halving the map (paper: 4). ``None``: by map
    size (48 -> 4, 24 -> 3, 12 -> 2: a 3 x 3 bottleneck on each; at most 4)."""
    bottleneck: str = "simple"
    """BottleNet only: the paper's bottleneck variant (§2.2): ``simple`` (``blocks`` residual
    blocks), ``dilated`` (dilation 2 and 4 conv blocks first), ``multiscale`` (parallel 1x1 to
    7x7 branches first) or ``inception`` (an inception module first; in the paper's code)."""
    init: str = "paper"
    """``paper`` (orthogonal, role gains, per-layer seeds) or ``default`` (PyTorch's)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if self.init not in ("paper", "default"):
            raise ValueError(f"{name}: init must be 'paper' or 'default', got {self.init!r}")
        if self.bottleneck not in ("simple", "dilated", "multiscale", "inception"):
            raise ValueError(
                f"{name}: bottleneck must be 'simple', 'dilated', 'multiscale' or 'inception', "
                f"got {self.bottleneck!r}"
            )
        if self.network != "bottlenet" and self.bottleneck != "simple":
            raise ValueError(f"{name}: bottleneck is a BottleNet setting; use network='bottlenet'")
        if self.network == "dashnet":
            if self.depth is not None:
                raise ValueError(
                    f"{name}: depth is a BottleNet setting; use network='bottlenet' or leave "
                    f"depth None (got {self.depth})"
                )
            width, blocks = dashnet_size(self.map_side)
            depth = None
        elif self.network == "bottlenet":
            width, blocks, depth = bottlenet_size(self.map_side)
        else:
            raise ValueError(
                f"{name}: network must be 'dashnet' or 'bottlenet', got {self.network!r}"
            )
        if self.width is None:
            self.width = width
        if self.blocks is None:
            self.blocks = blocks
        if self.depth is None:
            self.depth = depth
        if self.network == "dashnet" and (self.width < 4 or self.width % 4):
            raise ValueError(f"{name}: width must be a positive multiple of 4, got {self.width}")
        if self.width < 1:
            raise ValueError(f"{name}: width must be >= 1, got {self.width}")
        if self.blocks < 0:
            raise ValueError(f"{name}: blocks must be >= 0, got {self.blocks}")
        if self.depth is not None and self.depth < 1:
            raise ValueError(f"{name}: depth must be >= 1, got {self.depth}")


@dataclass
class MappoConfig(PPOConfig):
    """MAPPO: a shared actor on egocentric views, a centralized critic on the global planes.

    Trajectories are per entity (the hybrid's ``"entity"`` grouping). ``reward="team"`` gives
    every entity the player's summed reward of the step (MAPPO's shared reward, the hybrid's
    ``globalise=("reward",)``); ``reward="own"`` keeps each entity's own reward.
    """

    reward: Literal["team", "own"] = "team"
    """``team``: every entity learns from the player's summed reward; ``own``: its own."""
    actor_hidden: tuple[int, ...] = field(default_factory=lambda: (64, 64))
    """Hidden widths of the actor MLP (tanh) over window + own features."""
    obs_radius: int | None = None
    """Radius of the egocentric window (``2 r + 1`` cells); ``None``: the env's own."""
    width: int | None = None
    """Channels of the critic's DashNet; ``None``: by map size (``mappo_critic_size``: 32 on
    maps of 48 x 48 and larger, else 16)."""
    blocks: int | None = None
    """SE-residual blocks of the critic's DashNet; ``None``: by map size (2 on maps of 48 x 48
    and larger, else 1)."""
    init: str = "paper"
    """``paper`` (orthogonal, role gains, per-layer seeds) or ``default`` (PyTorch's)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if self.reward not in ("team", "own"):
            raise ValueError(f"{name}: reward must be 'team' or 'own', got {self.reward!r}")
        if self.init not in ("paper", "default"):
            raise ValueError(f"{name}: init must be 'paper' or 'default', got {self.init!r}")
        if isinstance(self.actor_hidden, list):
            self.actor_hidden = tuple(self.actor_hidden)
        if not self.actor_hidden or any(w < 1 for w in self.actor_hidden):
            raise ValueError(f"{name}: actor_hidden must be widths >= 1, got {self.actor_hidden}")
        if self.obs_radius is not None and self.obs_radius < 1:
            raise ValueError(f"{name}: obs_radius must be >= 1 or None, got {self.obs_radius}")
        width, blocks = mappo_critic_size(self.map_side)
        if self.width is None:
            self.width = width
        if self.blocks is None:
            self.blocks = blocks
        if self.width < 4 or self.width % 4:
            raise ValueError(f"{name}: width must be a positive multiple of 4, got {self.width}")
        if self.blocks < 0:
            raise ValueError(f"{name}: blocks must be >= 0, got {self.blocks}")
