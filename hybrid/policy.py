"""The hybrid network of the paper (§2.3, "SimpleNet"): one shape-preserving conv pass over the
global map, then per-entity actor heads and per-entity values read off at each entity's cell.

Shapes (``B`` images = (world, player) pairs, ``C`` planes, ``H x W`` map, ``S`` slots,
``A`` actions, ``w`` width):

* input planes ``[B, C, H, W]``; entity cells ``[B, S]`` (flat ``y * W + x``, -1 for a slot
  that is empty or belongs to another player) and kinds ``[B, S]`` (-1 for empty);
* actor: ``embed_actor(planes)`` ``[B, w, H, W]`` -> gathered at the cells ``[B, S, w]`` -> the
  head of each entity's kind -> logits ``[B, S, A]``;
* critic: ``embed_critic(planes)`` ``[B, w, H, W]`` -> shared conv block ``[B, 8, H, W]`` -> four
  ``[B, 1, H, W]`` maps: unit-local, structure-local, unit-global and structure-global. An
  entity's value is its class's local map at its cell plus the spatial mean of its class's
  global map. The classes come from the env: *structures* are the kinds in
  ``BatchedEnv.structure_kinds`` (harvest's factories, skirmish's bases), *units* every other
  kind. The modules keep the paper's names (``factory_*`` maps serve structures, ``robot_*``
  maps units), so harvest checkpoints and per-layer init seeds stay the same; on an env
  without structures (forage) the structure maps are simply never read.

There is no bottleneck: the embedding is ``H x W`` in, ``H x W`` out, so the same weights run on
any map size and each entity's action depends on its receptive field plus the squeeze-excitation
summaries of the whole map. Actor and critic have separate embeddings (no weight sharing).

Unlike the paper's factorised Lux action heads, each kind here has one two-layer head onto the
single ``Discrete(A)`` action space of the batched core; the embeddings and the critic are the
paper's exactly (200,512 + 2,500 parameters with 18 input planes at width 32).

BatchNorm in training mode normalises over the whole batch, so in ``train()`` mode the outputs
(and gradients) of one image depend on the other images of the batch, as in the paper. In
``eval()`` mode images are independent.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from spawnzoo.baselines.nets.initialization import LEAKY_SLOPE, init_model
from spawnzoo.baselines.nets.layers import SE_REDUCTION, ConvBlock, SEResidual, count_parameters

#: channels of the critic's shared conv block and of its heads' hidden 1x1 block (the paper's)
CRITIC_SHARED, CRITIC_HIDDEN = 8, 4

#: which value maps the critic uses: the paper's local + global, or global only (its code
#: snapshot and ablation: an entity's value is the global scalar of its class)
CriticMode = Literal["local+global", "global"]
InitMode = Literal["paper", "default"]

#: init role of each weight layer, by the last component of its qualified name
_ROLE_OF_LEAF = {
    "conv": "hidden",  # every spectral-normalised conv block
    "fc": "head_hidden",  # the actor heads' hidden linear (not in the paper: left unscaled)
    "squeeze": "se_relu",
    "excite": "se_sigmoid",
    "out": "output",  # actor logits and critic value maps
}


def embedding(in_channels: int, width: int, depth: int, stages: int) -> nn.Sequential:
    """Shape-preserving trunk: ``Conv(C->w)``, then per stage ``depth`` x ``SEResidual(w)`` and a
    ``Conv(w->w)`` block (the paper: ``depth=2, stages=2``, i.e. seven conv-ish layers).

    Args:
        in_channels: ``C``.
        width: ``w``.
        depth: SE-residual blocks per stage.
        stages: number of (residuals, conv) stages.

    Returns:
        A module mapping ``[B, C, H, W]`` -> ``[B, w, H, W]``.
    """
    layers: list[nn.Module] = [ConvBlock(in_channels, width)]
    for _ in range(stages):
        layers += [SEResidual(width) for _ in range(depth)]
        layers.append(ConvBlock(width, width))
    return nn.Sequential(*layers)


class ValueMapHead(nn.Sequential):
    """1x1 conv block ``8 -> 4`` then a 1x1 conv ``4 -> 1`` with bias: ``[B, 8, H, W]`` ->
    ``[B, 1, H, W]``."""

    def __init__(self, in_channels: int = CRITIC_SHARED, hidden: int = CRITIC_HIDDEN):
        super().__init__()
        self.add_module("hidden", ConvBlock(in_channels, hidden, kernel_size=1))
        self.add_module("out", nn.Conv2d(hidden, 1, kernel_size=1))


class ActionHead(nn.Sequential):
    """``Linear(w -> w)`` -> LeakyReLU -> ``Linear(w -> A)``: ``[n, w]`` -> ``[n, A]`` logits."""

    def __init__(self, width: int, num_actions: int):
        super().__init__()
        self.add_module("fc", nn.Linear(width, width))
        self.add_module("act", nn.LeakyReLU(LEAKY_SLOPE))
        self.add_module("out", nn.Linear(width, num_actions))


class HybridPolicy(nn.Module):
    """Actor-critic with per-entity outputs from one global conv pass per image.

    Args:
        in_channels: ``C``, input planes (harvest: 17; the paper: 18).
        num_actions: ``A``, size of the shared discrete action space.
        num_kinds: ``K``, entity kinds; one actor head per kind.
        structure_kinds: kinds read by the structure ("factory") value maps
            (``BatchedEnv.structure_kinds``; harvest: ``(0,)``); every other kind is a unit and
            reads the unit ("robot") maps. Empty: every kind is a unit.
        width: ``w``, channels of both embeddings (the paper: 32).
        depth: SE-residual blocks per embedding stage (the paper: 2).
        stages: embedding stages (the paper: 2).
        critic: ``"local+global"`` (the paper) or ``"global"`` (local maps left out: an entity's
            value is its class's global scalar; the parameters stay, so checkpoints match).
        seed: global seed of the per-layer init (also seeds torch's default init, locally).
        weight_scale: extra factor on every initialised weight (the paper: 0.01).
        init: ``"paper"`` (orthogonal, role gains, per-layer seeds, ``weight_scale``) or
            ``"default"`` (torch's own init, drawn from ``seed``).

    Raises:
        ValueError: a non-positive size, a structure kind outside ``[0, K)``, or an unknown
            ``critic`` / ``init``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_actions: int,
        num_kinds: int = 3,
        structure_kinds: tuple[int, ...] = (),
        width: int = 32,
        depth: int = 2,
        stages: int = 2,
        critic: CriticMode = "local+global",
        seed: int = 0,
        weight_scale: float = 0.01,
        init: InitMode = "paper",
    ):
        super().__init__()
        sizes = dict(in_channels=in_channels, num_actions=num_actions, num_kinds=num_kinds)
        sizes.update(width=width, stages=stages)
        for key, value in sizes.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        if not isinstance(depth, int) or depth < 0:
            raise ValueError(f"depth must be a non-negative int, got {depth!r}")
        if width % SE_REDUCTION:
            raise ValueError(f"width must be a multiple of {SE_REDUCTION}, got {width}")
        if critic not in ("local+global", "global"):
            raise ValueError(f"critic must be 'local+global' or 'global', got {critic!r}")
        if init not in ("paper", "default"):
            raise ValueError(f"init must be 'paper' or 'default', got {init!r}")
        structure_kinds = tuple(int(k) for k in structure_kinds)
        if any(not 0 <= k < num_kinds for k in structure_kinds):
            raise ValueError(
                f"structure_kinds {structure_kinds} must be kind indices in [0, {num_kinds})"
            )
        self.num_actions = num_actions
        self.num_kinds = num_kinds
        self.structure_kinds = structure_kinds
        self.critic = critic
        # kind -> reads the structure maps; not saved (checkpoints hold weights only)
        is_structure = torch.zeros(num_kinds, dtype=torch.bool)
        is_structure[list(structure_kinds)] = True
        self.register_buffer("is_structure_kind", is_structure, persistent=False)

        # torch's default init and spectral norm's vectors draw from the global RNG: draw them
        # from `seed` without disturbing the caller's stream
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            self.embed_actor = embedding(in_channels, width, depth, stages)
            self.embed_critic = embedding(in_channels, width, depth, stages)
            self.critic_shared = ConvBlock(width, CRITIC_SHARED)
            self.robot_local = ValueMapHead()
            self.factory_local = ValueMapHead()
            self.robot_global = ValueMapHead()
            self.factory_global = ValueMapHead()
            self.actor_heads = nn.ModuleList(
                ActionHead(width, num_actions) for _ in range(num_kinds)
            )
        if init == "paper":
            init_model(self, self.init_roles(), global_seed=seed, weight_scale=weight_scale)

    def init_roles(self) -> dict[str, str]:
        """Init role (a key of ``nets.initialization.GAINS``) of every weight layer, by name.

        Returns:
            ``{qualified module name: role}`` for every ``nn.Conv2d`` and ``nn.Linear``.
        """
        return {
            name: _ROLE_OF_LEAF[name.rsplit(".", 1)[-1]]
            for name, m in self.named_modules()
            if isinstance(m, nn.Conv2d | nn.Linear)
        }

    def forward(
        self, planes: torch.Tensor, cell: torch.Tensor, kind: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values of every slot.

        Args:
            planes: ``[B, C, H, W]`` float.
            cell: ``[B, S]`` long, flat cell ``y * W + x``; -1 for slots to leave out (empty or
                another player's).
            kind: ``[B, S]`` long, kind in ``[0, K)``; -1 for empty slots.

        Returns:
            ``(logits [B, S, A], values [B, S])``, zero in left-out slots.
        """
        return self.logits_only(planes, cell, kind), self.value_only(planes, cell, kind)

    def logits_only(
        self, planes: torch.Tensor, cell: torch.Tensor, kind: torch.Tensor
    ) -> torch.Tensor:
        """Actor only (skips the critic embedding, as the paper does at inference).

        Args:
            planes: ``[B, C, H, W]`` float.
            cell: ``[B, S]`` long (-1 = leave out).
            kind: ``[B, S]`` long (-1 = empty).

        Returns:
            ``[B, S, A]`` float logits, zero in left-out slots.
        """
        present, cell, kind = self._slots(planes, cell, kind)
        feats = _gather_cells(self.embed_actor(planes), cell).transpose(1, 2)  # [B, S, w]
        every = torch.stack([head(feats) for head in self.actor_heads], dim=2)  # [B, S, K, A]
        index = kind[:, :, None, None].expand(-1, -1, 1, self.num_actions)
        logits = every.gather(2, index).squeeze(2)  # [B, S, A]
        return torch.where(present[..., None], logits, torch.zeros_like(logits))

    def value_only(
        self, planes: torch.Tensor, cell: torch.Tensor, kind: torch.Tensor
    ) -> torch.Tensor:
        """Critic only (skips the actor embedding).

        Args:
            planes: ``[B, C, H, W]`` float.
            cell: ``[B, S]`` long (-1 = leave out).
            kind: ``[B, S]`` long (-1 = empty).

        Returns:
            ``[B, S]`` float values, zero in left-out slots.
        """
        present, cell, kind = self._slots(planes, cell, kind)
        x = self.critic_shared(self.embed_critic(planes))  # [B, 8, H, W]
        is_structure = self.is_structure_kind[kind]  # [B, S]
        scalars = torch.stack(
            [self.robot_global(x).mean(dim=(1, 2, 3)), self.factory_global(x).mean(dim=(1, 2, 3))],
            dim=1,
        )  # [B, 2]: unit, structure
        values = scalars.gather(1, is_structure.long())  # [B, S]
        if self.critic == "local+global":
            local = torch.cat([self.robot_local(x), self.factory_local(x)], dim=1)  # [B, 2, H, W]
            at_cell = _gather_cells(local, cell)  # [B, 2, S]
            values = values + torch.where(is_structure, at_cell[:, 1], at_cell[:, 0])
        return torch.where(present, values, torch.zeros_like(values))

    def describe(self) -> dict[str, int]:
        """Trainable parameters per part.

        Returns:
            ``{"actor_embedding", "critic_embedding", "critic_heads", "actor_heads", "total"}``
            -> counts (critic heads include the shared 3x3 block).
        """
        parts = {
            "actor_embedding": self.embed_actor,
            "critic_embedding": self.embed_critic,
            "critic_heads": [
                self.critic_shared,
                self.robot_local,
                self.factory_local,
                self.robot_global,
                self.factory_global,
            ],
            "actor_heads": self.actor_heads,
        }
        counts = {
            key: sum(count_parameters(m) for m in (mods if isinstance(mods, list) else [mods]))
            for key, mods in parts.items()
        }
        counts["total"] = count_parameters(self)
        return counts

    def _slots(
        self, planes: torch.Tensor, cell: torch.Tensor, kind: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validate shapes; return ``(present [B, S] bool, cell, kind)`` with left-out slots'
        cell and kind clamped to 0 so that gathers stay in range (their outputs are masked)."""
        if planes.dim() != 4:
            raise ValueError(f"planes must be [B, C, H, W], got {tuple(planes.shape)}")
        if cell.shape != kind.shape or cell.dim() != 2 or cell.shape[0] != planes.shape[0]:
            raise ValueError(
                f"cell {tuple(cell.shape)} and kind {tuple(kind.shape)} must both be [B, S] "
                f"with B = {planes.shape[0]}"
            )
        present = (cell >= 0) & (kind >= 0)
        return present, cell.clamp(min=0).long(), kind.clamp(min=0).long()


def _gather_cells(maps: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Read ``[B, D, H, W]`` maps at flat cells ``[B, S]`` (in range) -> ``[B, D, S]``."""
    flat = maps.flatten(2)  # [B, D, H*W]
    return flat.gather(2, cell[:, None, :].expand(-1, flat.shape[1], -1))
