"""Configuration of the centralized learners: the shared PPO fields plus their networks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spawnzoo.baselines.common.config import PPOConfig

#: (width, blocks) of DashNet per env preset: the paper's code widths on ``paper``, CPU-sized below
#: (the hybrid's and MAPPO's critic's size on ``small``, so a comparison there fits a CPU)
DASHNET_BY_PRESET = {"paper": (64, 4), "small": (16, 1), "tiny": (16, 1)}
#: (width, bottleneck blocks, depth) of BottleNet per env preset: the paper's code on ``paper``
#: (32 -> 256 channels, 48 -> 3 cells, "simple" bottleneck); every preset ends at 3 x 3 cells
BOTTLENET_BY_PRESET = {"paper": (32, 2, 4), "small": (16, 2, 3), "tiny": (16, 1, 2)}


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
    doubled at each level (paper code: 32). ``None``: by preset and network (DashNet paper 64,
    small and tiny 16; BottleNet paper 32, small and tiny 16)."""
    blocks: int | None = None
    """DashNet: SE-residual blocks in each trunk (paper: 4); BottleNet: residual blocks of the
    bottleneck (paper's "simple": 2). ``None``: by preset and network (DashNet paper 4, small
    and tiny 1; BottleNet paper and small 2, tiny 1)."""
    depth: int | None = None
    """BottleNet only: down (and up) blocks, each halving the map (paper: 4). ``None``: by preset
    (paper 4, small 3, tiny 2: a 3 x 3 bottleneck on each)."""
    init: str = "paper"
    """``paper`` (orthogonal, role gains, per-layer seeds) or ``default`` (PyTorch's)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if self.init not in ("paper", "default"):
            raise ValueError(f"{name}: init must be 'paper' or 'default', got {self.init!r}")
        if self.network == "dashnet":
            if self.depth is not None:
                raise ValueError(
                    f"{name}: depth is a BottleNet setting; use network='bottlenet' or leave "
                    f"depth None (got {self.depth})"
                )
            width, blocks = DASHNET_BY_PRESET.get(self.preset or "", DASHNET_BY_PRESET["paper"])
            depth = None
        elif self.network == "bottlenet":
            width, blocks, depth = BOTTLENET_BY_PRESET.get(
                self.preset or "", BOTTLENET_BY_PRESET["paper"]
            )
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


#: (critic width, critic blocks) per env preset
MAPPO_CRITIC_BY_PRESET = {"paper": (32, 2), "small": (16, 1), "tiny": (16, 1)}


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
    """Channels of the critic's DashNet; ``None``: by preset (paper 32, small/tiny 16)."""
    blocks: int | None = None
    """SE-residual blocks of the critic's DashNet; ``None``: by preset (paper 2, else 1)."""
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
        width, blocks = MAPPO_CRITIC_BY_PRESET.get(self.preset or "", (32, 2))
        if self.width is None:
            self.width = width
        if self.blocks is None:
            self.blocks = blocks
        if self.width < 4 or self.width % 4:
            raise ValueError(f"{name}: width must be a positive multiple of 4, got {self.width}")
        if self.blocks < 0:
            raise ValueError(f"{name}: blocks must be >= 0, got {self.blocks}")
