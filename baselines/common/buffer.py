"""Rollout storage at slot level: what a cycle of the batched core produced, ``[T, E, ...]``.

Learners keep per-slot quantities here and sum them into their groups (entities, teams, the
whole world) when they compute targets, so one buffer serves every way of separating
trajectories. Planes are stored once per (world, player) image, not per agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Rollout:
    """Slot-level storage of one cycle: ``[T, E, ...]`` tensors (``P`` players per image)."""

    planes: torch.Tensor  # [T, E, P, C, H, W]
    cell: torch.Tensor  # [T, E, S] long
    kind: torch.Tensor
    owner: torch.Tensor
    serial: torch.Tensor
    active: torch.Tensor  # [T, E, S] bool: the slot's entity acts at t
    spawned: torch.Tensor  # [T, E, S] bool: a new entity (trajectory) starts at t
    mask: torch.Tensor  # [T, E, S, A] bool
    actions: torch.Tensor  # [T, E, S] long
    logp: torch.Tensor  # [T, E, S]
    values: torch.Tensor  # [T, E, S]
    rewards: torch.Tensor  # [T, E, S]
    terminated: torch.Tensor  # [T, E, S] bool
    truncated: torch.Tensor  # [T, E, S] bool

    @classmethod
    def empty(
        cls,
        t: int,
        e: int,
        p: int,
        s: int,
        a: int,
        plane_shape,
        fp16: bool,
        device: str | torch.device = "cpu",
    ) -> Rollout:
        """Zeroed storage for ``t`` steps of ``e`` worlds, ``p`` players, ``s`` slots, ``a``
        actions and ``plane_shape = (C, H, W)`` planes (float16 planes with ``fp16``), on
        ``device`` (the learner's: a GPU learner then keeps storage, targets and losses there
        and copies each step's tensors once, instead of each minibatch's)."""

        def z(*shape, dtype=torch.float32):
            return torch.zeros(*shape, dtype=dtype, device=device)

        return cls(
            planes=z(t, e, p, *plane_shape, dtype=torch.float16 if fp16 else torch.float32),
            cell=z(t, e, s, dtype=torch.long),
            kind=z(t, e, s, dtype=torch.long),
            owner=z(t, e, s, dtype=torch.long),
            serial=z(t, e, s, dtype=torch.long),
            active=z(t, e, s, dtype=torch.bool),
            spawned=z(t, e, s, dtype=torch.bool),
            mask=z(t, e, s, a, dtype=torch.bool),
            actions=z(t, e, s, dtype=torch.long),
            logp=z(t, e, s),
            values=z(t, e, s),
            rewards=z(t, e, s),
            terminated=z(t, e, s, dtype=torch.bool),
            truncated=z(t, e, s, dtype=torch.bool),
        )

    @classmethod
    def for_world(
        cls, num_steps: int, world, fp16: bool = False, device: str | torch.device = "cpu"
    ) -> Rollout:
        """``empty`` sized for a batched world: ``[num_steps, E, ...]`` with its worlds,
        players, slots, actions and ``(C, H, W)`` planes, on ``device``."""
        return cls.empty(
            num_steps,
            world.num_envs,
            world.num_players,
            world.num_slots,
            world.num_actions,
            (len(world.plane_names), *world.map_shape),
            fp16,
            device,
        )
