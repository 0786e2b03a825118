"""The monolithic single brain of the paper (§2.1-2.2): one network over the global map.

One decision maker sees the player's global planes and emits every action at once; there is
one value, one reward (the sum of the entities') and one trajectory per (world, player).

Network (``B`` images = (world, player) pairs, ``C`` planes, ``H x W`` map, ``w`` width,
``A`` actions, ``S`` slots):

* extractor, one of the paper's two (``network``):

  - ``DashNet``, shape preserving: input 3x3 conv block ``C -> w`` -> ``blocks`` x SE-residual
    ``w`` -> output 3x3 conv block ``w -> w``, ``[B, C, H, W] -> [B, w, H, W]``. The blocks are
    the hybrid's (``baselines/nets/layers.py``: spectral-normalised conv, BatchNorm,
    LeakyReLU; squeeze-excitation).
  - ``BottleNet``, the U-Net of ``bottlenet.py``: ``depth`` down blocks to a bottleneck of
    ``blocks`` residual blocks and back up with summed skips, ``[B, C, H, W] -> [B, w, H, W]``.

* actor: its own extractor -> 1x1 conv ``w -> A`` -> per-cell logits ``[B, A, H, W]``, the
  global action tensor. An entity's logits are those of its cell (``[B, S, A]``); the entity's
  mask makes them its distribution. In harvest, factory actions (0, 12, 13) and robot actions
  (0-11) only share the no-op, so a robot standing on a factory centre and the factory read
  the same cell without contention.
* critic: its own extractor (DashNet; for BottleNet only the encoder and bottleneck) -> global
  average pool ``[B, w']`` -> linear -> one value per image. (The paper's actor and critic have
  separate extractors, §2.2.)

To train with the shared grouped PPO (``grouped/ppo.py``: ``collect`` fills a slot-level
``Rollout``, ``player_targets`` sums slot quantities into groups, ``update`` is masked PPO on
group tensors) the policy keeps the slot contract ``forward(planes, cell, kind) -> (logits
[B, S, A], values [B, S])`` and writes the image's value on its first live slot (0 elsewhere),
so the sum over the one group of the ``"global"`` grouping is the global value. The joint
log-prob of the global action is the sum of the entities' (empty cells have one legal action and
add nothing), which is what the group sum computes.

    spawnzoo train monolithic --env harvest-v0 --preset small --total-timesteps 100000 --seed 1
    spawnzoo train monolithic --network bottlenet --preset small --total-timesteps 100000
"""

from __future__ import annotations

import torch
from torch import nn

from spawnzoo.baselines.common.runs import RunResult
from spawnzoo.baselines.grouped.ppo import (
    Separation,
    SlotPolicyAgent,
    load_slot_agent,
    train_grouped,
)
from spawnzoo.baselines.nets.initialization import init_model
from spawnzoo.baselines.nets.layers import ConvBlock, SEResidual, count_parameters

from .bottlenet import BottleNet, BottleNetEncoder
from .config import MonolithicConfig

#: init role of each weight layer, by the last component of its qualified name
_ROLE_OF_LEAF = {
    "conv": "hidden",  # every 3x3 conv block (stride 1 or 2)
    "skip": "hidden",  # BottleNet's 1x1 projections, summed before a LeakyReLU
    "up": "hidden",  # BottleNet's transposed convs, followed by BatchNorm and LeakyReLU
    "squeeze": "se_relu",
    "excite": "se_sigmoid",
    "out": "output",
}


class DashNet(nn.Sequential):
    """Shape-preserving extractor: ``ConvBlock(C -> w)``, ``blocks`` x ``SEResidual(w)``,
    ``ConvBlock(w -> out)``.

    Args:
        in_channels: ``C``.
        width: ``w``, channels of the residual blocks (a multiple of 4).
        blocks: SE-residual blocks (the paper: 4).
        out_channels: channels of the output block; ``None``: ``w``.

    Shapes:
        ``[B, C, H, W]`` -> ``[B, out, H, W]`` for any ``H x W``.
    """

    def __init__(self, in_channels: int, width: int, blocks: int, out_channels: int | None = None):
        super().__init__()
        self.add_module("input", ConvBlock(in_channels, width))
        for i in range(blocks):
            self.add_module(f"res{i}", SEResidual(width))
        self.add_module("output", ConvBlock(width, out_channels or width))


class MonolithicPolicy(nn.Module):
    """Single-brain actor-critic: per-cell logits and one global value per image.

    Args:
        in_channels: ``C``, input planes (harvest: 17).
        num_actions: ``A``.
        width: ``w``; DashNet: channels of both trunks (paper code: 64); BottleNet: channels of
            the first level and of the actor's output (paper code: 32).
        blocks: DashNet: SE-residual blocks per trunk (paper: 4); BottleNet: residual blocks of
            the bottleneck (paper: 2).
        seed: seed of the init (also of torch's default init, drawn locally).
        init: ``"paper"`` (orthogonal, ``baselines.nets.initialization`` role gains, per-layer
            seeds) or ``"default"`` (torch's own).
        network: ``"dashnet"`` or ``"bottlenet"``.
        depth: BottleNet's down blocks (paper: 4); must be ``None`` for DashNet.

    Raises:
        ValueError: a non-positive size, a DashNet width that is not a multiple of 4, an
            unknown ``init`` or ``network``, or a ``depth`` that does not fit the network.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_actions: int,
        width: int = 64,
        blocks: int = 4,
        seed: int = 0,
        init: str = "paper",
        network: str = "dashnet",
        depth: int | None = None,
        bottleneck: str = "simple",
    ):
        super().__init__()
        for key, value in dict(in_channels=in_channels, num_actions=num_actions).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        if network == "dashnet":
            if not isinstance(width, int) or width < 4 or width % 4:
                raise ValueError(f"width must be a positive multiple of 4, got {width!r}")
            if depth is not None:
                raise ValueError(f"depth is a BottleNet setting; DashNet takes None, got {depth}")
        elif network == "bottlenet":
            if not isinstance(depth, int) or depth < 1:
                raise ValueError(f"BottleNet needs a depth >= 1, got {depth!r}")
        else:
            raise ValueError(f"network must be 'dashnet' or 'bottlenet', got {network!r}")
        if not isinstance(blocks, int) or blocks < 0:
            raise ValueError(f"blocks must be a non-negative int, got {blocks!r}")
        if init not in ("paper", "default"):
            raise ValueError(f"init must be 'paper' or 'default', got {init!r}")
        self.num_actions = num_actions
        self.network = network
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            if network == "dashnet":
                self.embed_actor = DashNet(in_channels, width, blocks)
                self.embed_critic = DashNet(in_channels, width, blocks)
                critic_channels = width
            else:
                self.embed_actor = BottleNet(in_channels, width, depth, blocks, bottleneck)
                self.embed_critic = BottleNetEncoder(in_channels, width, depth, blocks, bottleneck)
                critic_channels = self.embed_critic.out_channels
            self.actor_head = nn.Sequential()
            self.actor_head.add_module("out", nn.Conv2d(width, num_actions, kernel_size=1))
            self.value_head = nn.Sequential()
            self.value_head.add_module("out", nn.Linear(critic_channels, 1))
        if init == "paper":
            roles = {
                name: _ROLE_OF_LEAF[name.rsplit(".", 1)[-1]]
                for name, m in self.named_modules()
                if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)
            }
            init_model(self, roles, global_seed=seed)

    def action_logits(self, planes: torch.Tensor) -> torch.Tensor:
        """The global action tensor.

        Args:
            planes: ``[B, C, H, W]`` float.

        Returns:
            ``[B, A, H, W]`` float per-cell logits.
        """
        return self.actor_head(self.embed_actor(planes))

    def global_value(self, planes: torch.Tensor) -> torch.Tensor:
        """One value per image: the critic's features (full map for DashNet, bottleneck for
        BottleNet), averaged over cells, through a linear layer.

        Args:
            planes: ``[B, C, H, W]`` float.

        Returns:
            ``[B]`` float.
        """
        return self.value_head(self.embed_critic(planes).mean(dim=(2, 3))).squeeze(-1)

    def forward(
        self, planes: torch.Tensor, cell: torch.Tensor, kind: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The slot contract of the shared grouped PPO.

        Args:
            planes: ``[B, C, H, W]`` float.
            cell: ``[B, S]`` long flat cells ``y * W + x``; -1 for slots to leave out.
            kind: ``[B, S]`` long kinds; -1 for empty slots (kinds are not read otherwise: the
                network acts per cell).

        Returns:
            ``(logits [B, S, A], values [B, S])``: each slot's cell logits; the image's global
            value on its first present slot. Both zero in left-out slots.
        """
        if planes.dim() != 4 or cell.shape != kind.shape or cell.shape[:1] != planes.shape[:1]:
            raise ValueError(
                f"planes {tuple(planes.shape)} must be [B, C, H, W] and cell {tuple(cell.shape)}, "
                f"kind {tuple(kind.shape)} both [B, S]"
            )
        present = (cell >= 0) & (kind >= 0)  # [B, S]
        flat = self.action_logits(planes).flatten(2)  # [B, A, H*W]
        index = cell.clamp(min=0).long()[:, None, :].expand(-1, flat.shape[1], -1)
        logits = flat.gather(2, index).transpose(1, 2)  # [B, S, A]
        logits = torch.where(present[..., None], logits, torch.zeros_like(logits))
        s = torch.arange(cell.shape[1], device=cell.device).expand_as(cell)
        first = torch.where(present, s, cell.shape[1]).min(dim=1, keepdim=True).values  # [B, 1]
        holder = (s == first) & present
        values = torch.where(holder, self.global_value(planes)[:, None], torch.zeros(()))
        return logits, values

    def describe(self) -> dict[str, int]:
        """Trainable parameters per part: ``actor_embedding``, ``critic_embedding``,
        ``actor_head``, ``value_head`` and ``total``."""
        parts = {
            "actor_embedding": self.embed_actor,
            "critic_embedding": self.embed_critic,
            "actor_head": self.actor_head,
            "value_head": self.value_head,
        }
        counts = {key: count_parameters(m) for key, m in parts.items()}
        counts["total"] = count_parameters(self)
        return counts


def build_policy(cfg: MonolithicConfig, world) -> MonolithicPolicy:
    """The network for ``world``'s planes and action space."""
    return MonolithicPolicy(
        in_channels=len(world.plane_names),
        num_actions=world.num_actions,
        width=cfg.width,
        blocks=cfg.blocks,
        seed=cfg.seed,
        init=cfg.init,
        network=cfg.network,
        depth=cfg.depth,
        bottleneck=cfg.bottleneck,
    )


def train(config: MonolithicConfig) -> RunResult:
    """Train the single brain per ``config``; returns the run directory and its summary.

    The hybrid's ``collect``, ``player_targets`` and ``update`` with one group per (world,
    player) (the ``global`` grouping) and this module's network, through the shared
    ``baselines/grouped/ppo.py``.
    """
    # one group per (world, player): all of the player's entities, the team's summed reward
    return train_grouped(config, build_policy, "monolithic", Separation(grouping="global"))


def load_agent(config: MonolithicConfig, state: dict, world, **options) -> SlotPolicyAgent:
    """A checkpoint's weights as a policy for ``world`` (``options``: ``seed``, ``greedy``,
    ``device``; see ``load_slot_agent``)."""
    return load_slot_agent(build_policy, config, state, world, **options)
