"""MAPPO: a shared actor on each entity's egocentric view, a centralized critic on the map.

Centralized training with decentralized execution (Yu et al. 2022, "The Surprising
Effectiveness of PPO in Cooperative Multi-Agent Games"): every entity acts from its own local
observation with one shared actor; the critic sees the global state. In the paper's table
(§2.1) this is "distributed, global obs" for the critic and "distributed, local obs" for the
actor, with per-entity trajectories (the hybrid's ``"entity"`` grouping, §3.1) and either the
team reward (MAPPO's shared reward) or each entity's own.

Shapes (``B`` images = (world, player) pairs, ``C`` planes of which the first ``G`` are global,
``H x W`` map, ``S`` slots, ``n`` present slots, ``K = 2r + 1``, ``C' = C - G + 1``):

* actor input per entity: its ``[C', K, K]`` window of the owner's planes (the spatial planes
  padded with each plane's "nothing" value, plus ``off_map``), exactly
  ``BatchedEnv.egocentric``, flattened, then own features: the ``C`` planes at its cell (harvest:
  power, cargo, factory stores, step, day), its one-hot over the env's ``kind_names`` and its
  ``(x, y)`` scaled to ``[-1, 1]``
  (the information of ``BatchedEnv.self_features``). The windows are cut inside the network
  from the stored global planes, so the rollout keeps one ``[C, H, W]`` image per (world,
  player) rather than one observation per entity, and the shared ``collect`` / ``update``
  run unchanged.
* actor: MLP (tanh) ``C' K K + C + K_kinds + 2 -> hidden -> A`` logits, one for all kinds (the
  masks tell kinds apart).
* critic: DashNet ``[B, C, H, W] -> [B, w, H, W]``; a 1x1 conv gives one local value map per
  kind, a linear layer on the spatial mean one global scalar per kind; an entity's value is
  its kind's map at its cell plus its kind's scalar (like the hybrid critic, §2.3).

    spawnzoo train mappo --env harvest-v0 --preset small --total-timesteps 100000 --seed 1
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
from spawnzoo.baselines.nets.layers import count_parameters

from .config import MappoConfig
from .monolithic import DashNet

_ROLE_OF_LEAF = {
    "conv": "hidden",
    "squeeze": "se_relu",
    "excite": "se_sigmoid",
    "out": "output",
    "fc": "head_hidden",
}


class MappoPolicy(nn.Module):
    """Shared egocentric actor and centralized per-entity critic, with the slot contract.

    Args:
        in_channels: ``C``.
        num_actions: ``A``.
        num_kinds: entity kinds.
        num_global: ``G``, leading planes that hold one value over the map (left out of
            windows; ``BatchedEnv.global_plane_names``).
        fill: ``C`` floats, each plane's "nothing" value outside the map
            (``BatchedEnv.plane_fill`` in plane order).
        radius: window radius ``r``.
        hidden: actor MLP widths.
        width: critic DashNet channels (a multiple of 4).
        blocks: critic DashNet SE-residual blocks.
        seed: seed of the init.
        init: ``"paper"`` or ``"default"``.

    Raises:
        ValueError: inconsistent sizes or an unknown ``init``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_actions: int,
        num_kinds: int,
        num_global: int,
        fill: tuple[float, ...],
        radius: int,
        hidden: tuple[int, ...] = (64, 64),
        width: int = 32,
        blocks: int = 2,
        seed: int = 0,
        init: str = "paper",
    ):
        super().__init__()
        if len(fill) != in_channels or not 0 <= num_global < in_channels or radius < 1:
            raise ValueError(
                f"need len(fill) == in_channels ({len(fill)} vs {in_channels}), "
                f"0 <= num_global < in_channels (got {num_global}) and radius >= 1 ({radius})"
            )
        if init not in ("paper", "default"):
            raise ValueError(f"init must be 'paper' or 'default', got {init!r}")
        self.num_actions, self.num_kinds = num_actions, num_kinds
        self.num_global, self.radius = num_global, radius
        self.register_buffer("fill", torch.tensor(fill[num_global:], dtype=torch.float32))
        k = 2 * radius + 1
        self.obs_size = (in_channels - num_global + 1) * k * k + in_channels + num_kinds + 2
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            actor = nn.Sequential()
            size = self.obs_size
            for i, h in enumerate(hidden):
                actor.add_module(f"fc{i}", nn.Linear(size, h))
                actor.add_module(f"act{i}", nn.Tanh())
                size = h
            actor.add_module("out", nn.Linear(size, num_actions))
            self.actor = actor
            self.embed_critic = DashNet(in_channels, width, blocks)
            self.value_maps = nn.Sequential()
            self.value_maps.add_module("out", nn.Conv2d(width, num_kinds, kernel_size=1))
            self.value_global = nn.Sequential()
            self.value_global.add_module("out", nn.Linear(width, num_kinds))
        if init == "paper":
            roles = {
                name: _ROLE_OF_LEAF[name.rsplit(".", 1)[-1].rstrip("0123456789")]
                for name, m in self.named_modules()
                if isinstance(m, nn.Conv2d | nn.Linear)
            }
            init_model(self, roles, global_seed=seed)

    def windows(self, planes: torch.Tensor, b: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        """Egocentric windows of chosen entities, as ``BatchedEnv.egocentric`` cuts them.

        Args:
            planes: ``[B, C, H, W]`` float (each image is its owner's view).
            b: ``[n]`` long image of each entity.
            cell: ``[n]`` long flat cell ``y * W + x`` of each entity.

        Returns:
            ``[n, C', K, K]`` float: the spatial planes then ``off_map``.
        """
        bsz, _, h, w = planes.shape
        r, k = self.radius, 2 * self.radius + 1
        hp, wp = h + 2 * r, w + 2 * r
        spatial = planes[:, self.num_global :]
        padded = self.fill.view(1, -1, 1, 1).expand(bsz, -1, hp, wp).clone()
        padded[:, :, r : r + h, r : r + w] = spatial
        off_map = torch.ones(bsz, 1, hp, wp, dtype=planes.dtype, device=planes.device)
        off_map[:, :, r : r + h, r : r + w] = 0.0
        flat = torch.cat([padded, off_map], dim=1).flatten(2)  # [B, C', Hp*Wp]
        y, x = torch.div(cell, w, rounding_mode="floor"), cell % w
        d = torch.arange(k, device=cell.device)
        pos = (y[:, None, None] + d[None, :, None]) * wp + (x[:, None, None] + d[None, None, :])
        win = flat[b[:, None], :, pos.flatten(1)]  # [n, K*K, C']
        return win.transpose(1, 2).reshape(len(b), -1, k, k)

    def observations(
        self, planes: torch.Tensor, b: torch.Tensor, cell: torch.Tensor, kind: torch.Tensor
    ) -> torch.Tensor:
        """The actor's input of chosen entities.

        Args:
            planes: ``[B, C, H, W]``. b, cell, kind: ``[n]`` long.

        Returns:
            ``[n, obs_size]`` float: window flattened plane by plane, then own features.
        """
        h, w = planes.shape[2:]
        y, x = torch.div(cell, w, rounding_mode="floor"), cell % w
        at_cell = planes[b, :, y, x]  # [n, C]
        kinds = nn.functional.one_hot(kind, self.num_kinds).to(planes.dtype)
        xy = torch.stack([x / max(w - 1, 1), y / max(h - 1, 1)], dim=1).to(planes.dtype) * 2 - 1
        own = torch.cat([at_cell, kinds, xy], dim=1)
        return torch.cat([self.windows(planes, b, cell).flatten(1), own], dim=1)

    def forward(
        self, planes: torch.Tensor, cell: torch.Tensor, kind: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values of every slot (the hybrid's slot contract).

        Args:
            planes: ``[B, C, H, W]`` float.
            cell: ``[B, S]`` long flat cells; -1 for slots to leave out.
            kind: ``[B, S]`` long kinds; -1 for empty slots.

        Returns:
            ``(logits [B, S, A], values [B, S])``, zero in left-out slots.
        """
        if planes.dim() != 4 or cell.shape != kind.shape or cell.shape[:1] != planes.shape[:1]:
            raise ValueError(
                f"planes {tuple(planes.shape)} must be [B, C, H, W] and cell {tuple(cell.shape)}, "
                f"kind {tuple(kind.shape)} both [B, S]"
            )
        present = (cell >= 0) & (kind >= 0)
        b, s = torch.nonzero(present, as_tuple=True)
        c, k = cell[b, s].long(), kind[b, s].long()
        logits = planes.new_zeros(*cell.shape, self.num_actions)
        logits[b, s] = self.actor(self.observations(planes, b, c, k))
        feats = self.embed_critic(planes)  # [B, w, H, W]
        local = self.value_maps(feats).flatten(2)  # [B, K, H*W]
        scalar = self.value_global(feats.mean(dim=(2, 3)))  # [B, K]
        values = planes.new_zeros(cell.shape)
        values[b, s] = local[b, k, c] + scalar[b, k]
        return logits, values

    def describe(self) -> dict[str, int]:
        """Trainable parameters: ``actor``, ``critic_embedding``, ``critic_heads``, ``total``."""
        return {
            "actor": count_parameters(self.actor),
            "critic_embedding": count_parameters(self.embed_critic),
            "critic_heads": count_parameters(self.value_maps) + count_parameters(self.value_global),
            "total": count_parameters(self),
        }


def obs_radius(cfg: MappoConfig, world) -> int:
    """``cfg.obs_radius``, else the env's own (``world.cfg.obs_radius``).

    Raises:
        ValueError: neither is set (the env has no ``cfg.obs_radius``).
    """
    if cfg.obs_radius is not None:
        return cfg.obs_radius
    radius = getattr(getattr(world, "cfg", None), "obs_radius", None)
    if radius is None:
        raise ValueError(f"{type(world).__name__} has no cfg.obs_radius; set obs_radius")
    return int(radius)


def build_policy(cfg: MappoConfig, world) -> MappoPolicy:
    """The network for ``world``'s planes, kinds and action space."""
    return MappoPolicy(
        in_channels=len(world.plane_names),
        num_actions=world.num_actions,
        num_kinds=len(world.kind_names),
        num_global=len(world.global_plane_names),
        fill=tuple(world.plane_fill[n] for n in world.plane_names),
        radius=obs_radius(cfg, world),
        hidden=cfg.actor_hidden,
        width=cfg.width,
        blocks=cfg.blocks,
        seed=cfg.seed,
        init=cfg.init,
    )


def train(config: MappoConfig) -> RunResult:
    """Train MAPPO per ``config``: the shared grouped PPO with per-entity groups
    (``grouped.ppo.train_grouped``); returns the run directory and its summary."""
    # one trajectory per entity; the team reward gives every entity the player's summed reward
    team = ("reward",) if config.reward == "team" else ()
    return train_grouped(config, build_policy, "mappo", Separation("entity", globalise=team))


def load_agent(config: MappoConfig, state: dict, world, **options) -> SlotPolicyAgent:
    """A checkpoint's weights as a policy for ``world`` (``options``: ``seed``, ``greedy``,
    ``device``; see ``load_slot_agent``)."""
    return load_slot_agent(build_policy, config, state, world, **options)
