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

Actor heads, two choices (``heads``):

* ``"factorised"`` (the paper's, §2.3; harvest's default): a structure ("factory") head
  ``Linear(w -> 4)`` over the factory action types, a unit head ``Linear(w -> 7)`` over the unit
  action types, and for each of the 7 unit types its own parameter heads ``Linear(w -> 5)``
  (direction), ``w -> 5`` (resource), ``w -> 10`` (amount) and ``w -> 2`` (repeat). The env
  declares how its flat actions factor (``world.action_factors``: unit type, direction,
  structure type per action). An entity's log-probability is ``log p(type) + log p(direction |
  type)``, each a softmax over its own valid choices (a type is valid when any of its
  parameterisations is): ``joint_logits`` turns the heads' outputs and the flat mask into flat
  logits whose masked softmax is exactly that product, so sampling, log-probs and entropies (the
  chain rule's joint entropy) go through the same ``MaskedCategorical`` as flat heads. Harvest
  offers one resource, amount and repeat (all cargo, a full battery, no queues), so those heads
  have a single valid value, add 0 to every log-probability and never train; they are built so
  that the parameter count is the paper's: 200,512 (embeddings) + 2,500 (critic) + 5,445 (actor
  heads) = **208,457** with 18 input planes at width 32.
* ``"flat"``: each kind has one two-layer head onto the single ``Discrete(A)`` action space of
  the batched core (every env; 4,554 actor-head parameters on harvest at width 32).

BatchNorm in training mode normalises over the whole batch, so in ``train()`` mode the outputs
(and gradients) of one image depend on the other images of the batch, as in the paper. In
``eval()`` mode images are independent.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
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
    # the factorised heads' logit layers (output layers: the paper's gain 0.01)
    "structure_type": "output",
    "unit_type": "output",
    "direction": "output",
    "resource": "output",
    "amount": "output",
    "repeat": "output",
}
HeadsMode = Literal["factorised", "flat"]
#: which parts get the paper's extra weight scale (its §3.7 ablations drop it from one part)
ScaledParts = Literal["all", "outputs", "actor", "critic", "none"]
SCALED_PARTS = ("all", "outputs", "actor", "critic", "none")
#: name prefixes of the actor's modules (everything else is the critic's)
_ACTOR_PARTS = ("embed_actor", "actor_heads")
#: sizes of the paper's parameter heads (its code's ``ActDims``): direction, resource, amount
#: bins, repeat
PARAM_SIZES = {"direction": 5, "resource": 5, "amount": 10, "repeat": 2}


def embedding(
    in_channels: int,
    width: int,
    depth: int,
    stages: int,
    *,
    batch_norm: bool = True,
    spectral: bool = True,
) -> nn.Sequential:
    """Shape-preserving trunk: ``Conv(C->w)``, then per stage ``depth`` x ``SEResidual(w)`` and a
    ``Conv(w->w)`` block (the paper: ``depth=2, stages=2``, i.e. seven conv-ish layers).

    Args:
        in_channels: ``C``.
        width: ``w``.
        depth: SE-residual blocks per stage.
        stages: number of (residuals, conv) stages.
        batch_norm, spectral: BatchNorm and spectral norm in every conv block (the paper: both).

    Returns:
        A module mapping ``[B, C, H, W]`` -> ``[B, w, H, W]``.
    """
    opts = dict(batch_norm=batch_norm, spectral=spectral)
    layers: list[nn.Module] = [ConvBlock(in_channels, width, **opts)]
    for _ in range(stages):
        layers += [SEResidual(width, **opts) for _ in range(depth)]
        layers.append(ConvBlock(width, width, **opts))
    return nn.Sequential(*layers)


class ValueMapHead(nn.Sequential):
    """1x1 conv block ``8 -> 4`` then a 1x1 conv ``4 -> 1`` with bias: ``[B, 8, H, W]`` ->
    ``[B, 1, H, W]``."""

    def __init__(self, in_channels: int = CRITIC_SHARED, hidden: int = CRITIC_HIDDEN, **opts: bool):
        super().__init__()
        self.add_module("hidden", ConvBlock(in_channels, hidden, kernel_size=1, **opts))
        self.add_module("out", nn.Conv2d(hidden, 1, kernel_size=1))


class ActionHead(nn.Sequential):
    """``Linear(w -> w)`` -> LeakyReLU -> ``Linear(w -> A)``: ``[n, w]`` -> ``[n, A]`` logits."""

    def __init__(self, width: int, num_actions: int):
        super().__init__()
        self.add_module("fc", nn.Linear(width, width))
        self.add_module("act", nn.LeakyReLU(LEAKY_SLOPE))
        self.add_module("out", nn.Linear(width, num_actions))


class FactorisedHeads(nn.Module):
    """The paper's factorised actor heads over an env's flat actions.

    Args:
        width: ``w``, feature size.
        action_factors: ``[A, 3]`` ints: per flat action its unit type (or -1), direction (or
            -1: the type has no direction) and structure type (or -1).
        unit_types: ``U``, number of unit action types. structure_types: number of structure
            action types.
    """

    def __init__(
        self, width: int, action_factors: np.ndarray, unit_types: int, structure_types: int
    ):
        super().__init__()
        f = torch.as_tensor(np.asarray(action_factors), dtype=torch.long)
        if f.dim() != 2 or f.shape[1] != 3:
            raise ValueError(f"action_factors must be [A, 3], got {tuple(f.shape)}")
        if int(f[:, 1].max()) >= PARAM_SIZES["direction"]:
            raise ValueError(f"directions must be < {PARAM_SIZES['direction']}")
        self.unit_types = unit_types
        self.structure_types = structure_types
        self.register_buffer("utype", f[:, 0].clone(), persistent=False)
        self.register_buffer("udir", f[:, 1].clone(), persistent=False)
        self.register_buffer("stype", f[:, 2].clone(), persistent=False)
        #: unit types that take a direction (their flat actions are normalised per type)
        self.directed = sorted({int(t) for t in f[f[:, 1] >= 0, 0]})
        self.structure_type = nn.Linear(width, structure_types)
        self.unit_type = nn.Linear(width, unit_types)
        self.params = nn.ModuleList(
            nn.ModuleDict({name: nn.Linear(width, n) for name, n in PARAM_SIZES.items()})
            for _ in range(unit_types)
        )

    @property
    def raw_size(self) -> int:
        """Size of ``forward``'s last dimension: a structure flag, ``max(U, structure types)``
        type logits, then ``U x 5`` direction logits."""
        return 1 + max(self.unit_types, self.structure_types) + self.unit_types * 5

    def forward(self, feats: torch.Tensor, is_structure: torch.Tensor) -> torch.Tensor:
        """``feats [n, w]``, ``is_structure [n]`` bool -> raw head outputs ``[n, raw_size]``."""
        t = max(self.unit_types, self.structure_types)
        unit = nn.functional.pad(self.unit_type(feats), (0, t - self.unit_types))
        struct = nn.functional.pad(self.structure_type(feats), (0, t - self.structure_types))
        types = torch.where(is_structure[:, None], struct, unit)
        dirs = torch.stack([p["direction"](feats) for p in self.params], dim=1)  # [n, U, 5]
        return torch.cat([is_structure[:, None].to(feats.dtype), types, dirs.flatten(1)], dim=1)

    def joint_logits(self, raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Flat logits ``[..., A]`` whose masked softmax is the factorised distribution.

        Unit rows: ``type logit + log_softmax(direction logits over the type's valid
        directions)``; structure rows: the type logit. A type with no valid action keeps a
        finite value (the mask removes it anyway).

        Args:
            raw: ``[..., raw_size]`` from ``forward``. mask: ``[..., A]`` bool legal actions.
        """
        t = max(self.unit_types, self.structure_types)
        flag = raw[..., 0] > 0.5
        types = raw[..., 1 : 1 + t]
        dirs = raw[..., 1 + t :].unflatten(-1, (self.unit_types, 5))
        utype, udir = self.utype.to(raw.device), self.udir.to(raw.device)
        ut, ud, st = utype.clamp(min=0), udir.clamp(min=0), self.stype.to(raw.device).clamp(min=0)
        unit = types[..., ut]  # [..., A]
        direction = dirs[..., ut, ud]  # [..., A]
        has_dir = udir >= 0
        parts = [torch.zeros_like(unit)]
        for typ in self.directed:
            cols = (has_dir & (utype == typ)).to(unit.dtype)  # [A] one type's actions
            valid = mask & (cols > 0)
            d = direction.masked_fill(~valid, -torch.inf)
            lse = torch.logsumexp(d, dim=-1, keepdim=True)
            lse = torch.where(valid.any(-1, keepdim=True), lse, torch.zeros_like(lse))
            parts.append((direction - lse) * cols)
        unit = unit + sum(parts)
        structure = types[..., st]
        return torch.where(flag[..., None], structure, unit)


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
        heads: ``"flat"`` (one head per kind onto ``Discrete(A)``) or ``"factorised"`` (the
            paper's; needs ``action_factors``).
        action_factors: ``[A, 3]`` (see ``FactorisedHeads``), the env's ``action_factors``.
        unit_types, structure_types: numbers of action types of the factorised heads (the
            paper: 7 and 4).
        scaled: where the paper's scaling applies (its §3.7 switches). ``"all"``: every layer
            gets ``weight_scale`` and output layers the 0.01 gain (the paper); ``"outputs"``: only
            the output layers get ``weight_scale`` ("no extra hidden layer scaling");
            ``"actor"`` / ``"critic"``: only that part is scaled, the other keeps plain
            orthogonal init with gain 1 on its output layer ("no value scaling" / "no actor
            scaling"); ``"none"``: no part is ("no scaling").
        batch_norm, spectral: BatchNorm and spectral norm in every conv block (§3.7 switches).

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
        heads: HeadsMode = "flat",
        action_factors: np.ndarray | None = None,
        unit_types: int = 7,
        structure_types: int = 4,
        scaled: ScaledParts = "all",
        batch_norm: bool = True,
        spectral: bool = True,
    ):
        super().__init__()
        if scaled not in SCALED_PARTS:
            raise ValueError(f"scaled must be one of {SCALED_PARTS}, got {scaled!r}")
        if heads not in ("flat", "factorised"):
            raise ValueError(f"heads must be 'flat' or 'factorised', got {heads!r}")
        if heads == "factorised" and action_factors is None:
            raise ValueError("heads='factorised' needs action_factors (the env declares none)")
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
            opts = dict(batch_norm=batch_norm, spectral=spectral)
            self.embed_actor = embedding(in_channels, width, depth, stages, **opts)
            self.embed_critic = embedding(in_channels, width, depth, stages, **opts)
            self.critic_shared = ConvBlock(width, CRITIC_SHARED, **opts)
            self.robot_local = ValueMapHead(**opts)
            self.factory_local = ValueMapHead(**opts)
            self.robot_global = ValueMapHead(**opts)
            self.factory_global = ValueMapHead(**opts)
            if heads == "factorised":
                self.actor_heads = FactorisedHeads(
                    width, action_factors, unit_types, structure_types
                )
            else:
                self.actor_heads = nn.ModuleList(
                    ActionHead(width, num_actions) for _ in range(num_kinds)
                )
        self.heads = heads
        if init == "paper":
            self._init_paper(seed, weight_scale, scaled)

    def _init_paper(self, seed: int, weight_scale: float, scaled: str) -> None:
        """The paper's init, with its scaling on the parts ``scaled`` names (see the class)."""
        roles = self.init_roles()
        for actor in (True, False):
            part = {k: v for k, v in roles.items() if k.startswith(_ACTOR_PARTS) == actor}
            if scaled == "outputs":
                for outputs in (True, False):
                    layers = {k: v for k, v in part.items() if (v == "output") == outputs}
                    scale = weight_scale if outputs else 1.0
                    init_model(self, layers, global_seed=seed, weight_scale=scale, strict=False)
                continue
            on = scaled in ("all", "actor" if actor else "critic")
            if not on:
                part = {k: "output_unscaled" if v == "output" else v for k, v in part.items()}
            scale = weight_scale if on else 1.0
            init_model(self, part, global_seed=seed, weight_scale=scale, strict=False)

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
            ``[B, S, A]`` float logits (``"factorised"`` heads: ``[B, S, R]`` raw head outputs,
            see ``joint_logits``), zero in left-out slots.
        """
        present, cell, kind = self._slots(planes, cell, kind)
        feats = _gather_cells(self.embed_actor(planes), cell).transpose(1, 2)  # [B, S, w]
        if self.heads == "factorised":
            raw = self.actor_heads(feats.flatten(0, 1), self.is_structure_kind[kind].flatten())
            raw = raw.view(*feats.shape[:2], -1)
            return torch.where(present[..., None], raw, torch.zeros_like(raw))
        every = torch.stack([head(feats) for head in self.actor_heads], dim=2)  # [B, S, K, A]
        index = kind[:, :, None, None].expand(-1, -1, 1, self.num_actions)
        logits = every.gather(2, index).squeeze(2)  # [B, S, A]
        return torch.where(present[..., None], logits, torch.zeros_like(logits))

    def joint_logits(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The network's outputs as flat logits ``[..., A]`` for ``MaskedCategorical(., mask)``
        (identity for flat heads; see ``FactorisedHeads.joint_logits``)."""
        if self.heads == "factorised":
            return self.actor_heads.joint_logits(logits, mask)
        return logits

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
