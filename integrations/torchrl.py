"""TorchRL (torchrl 0.14, tensordict 0.14) on spawnzoo envs: ``pip install 'spawnzoo[torchrl]'``.

TorchRL's ``PettingZooWrapper`` reads every possible agent at reset, sends actions for every
possible agent, fails on string infos and, by default, ends the episode when one agent is
missing. ``make_torchrl_env`` gives TorchRL an ``EnvBase`` over the env's slots instead: one
group ``"agents"`` of ``S`` slots (the core's fixed entity slots; an entity keeps its slot for
life, a new entity takes a free slot), with a ``mask`` saying which slots hold an agent that acts.

Keys (``S`` slots, ``D`` observation length, ``A`` actions), batch size ``[]``:

==================================  ================  ============================================
key                                 shape / dtype     meaning
==================================  ================  ============================================
``("agents", "observation")``       ``[S, D]`` f32    the agent's observation (the PettingZoo
                                                      env's ``observation``); zeros in empty slots
``("agents", "action_mask")``       ``[S, A]`` bool   legal actions; an empty slot allows only 0
``("agents", "mask")``              ``[S]`` bool      the slot holds an agent that acts now
``("agents", "kind")``, ``owner``   ``[S]`` int64     index into ``kind_names`` / ``owner_names``
                                                      (-1: empty)
``("agents", "action")``            ``[S]`` int64     input; ignored where ``mask`` is False
``("agents", "reward")``            ``[S, 1]`` f32    reward of the slot's agent in this step
``("agents", "terminated")``,       ``[S, 1]`` bool   the agent that acted in this slot ended in
``"truncated"``, ``"done"``                           this step (died or game over / time limit)
``("agents", "illegal_action")``    ``[S]`` bool      the action was masked and ran as the no-op
``"done"``, ``"terminated"``,       ``[1]`` bool      the episode ended; ``truncated`` when any
``"truncated"``                                       agent was truncated (``max_cycles``)
``"state"`` (``state=True``)        ``[C, H, W]`` f32 the global planes (``env.state()``)
==================================  ================  ============================================

Only the episode flags are TorchRL done keys, so ``rollout`` and the collectors run through
deaths and spawns and reset at the episode's end. The per-slot flags are observations; give them
to the value estimator: ``GAE(...).set_keys(done=("agents", "done"), terminated=("agents",
"terminated"))``. A slot's agent that died or was truncated in a step has its last observation
in that step's ``next`` (``mask`` False there), so truncation bootstraps. ``rand_action`` (and so
``rollout()`` without a policy) samples legal actions. Use ``SerialEnv``/``ParallelEnv`` for
several worlds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spawnzoo.envs import make

from . import require

torch = require("torch", "torchrl")
require("torchrl", "torchrl")

from tensordict import TensorDict, TensorDictBase  # noqa: E402
from torchrl.data import Binary, Bounded, Categorical, Composite, Unbounded  # noqa: E402
from torchrl.envs import EnvBase  # noqa: E402

__all__ = ["SlotTorchRLEnv", "make_torchrl_env"]


class SlotTorchRLEnv(EnvBase):
    """A spawnzoo env as a TorchRL ``EnvBase`` over fixed agent slots (see the module doc).

    Args:
        env_id: a registered spawnzoo env (``"forage-v0"``).
        preset: its preset (``"tiny"``).
        state: add the global planes as ``"state"`` (for centralized critics).
        device: where the tensors are put.
        **settings: env settings (``players``, ``max_cycles``, ...), checked by the env.
    """

    batch_locked = True

    def __init__(
        self,
        env_id: str,
        *,
        preset: str | None = None,
        state: bool = False,
        device: Any = "cpu",
        **settings: Any,
    ):
        super().__init__(device=device, batch_size=torch.Size([]))
        self.env_id = env_id
        self.pettingzoo_env = make(env_id, **({"preset": preset} if preset else {}), **settings)
        world = self.world = self.pettingzoo_env.world
        self.radius = self.pettingzoo_env.obs_radius
        k = 2 * self.radius + 1
        self._window_shape = (len(world.window_plane_names), k, k)
        self._n_window = int(np.prod(self._window_shape))
        s, a = world.num_slots, world.num_actions
        d = self._n_window + len(world.feature_names)
        self.num_slots, self.num_actions, self.observation_size = s, a, d
        self.with_state = state
        self.kind_names = self.pettingzoo_env.kind_names
        self.owner_names = self.pettingzoo_env.owner_names
        self._acting = np.zeros(s, dtype=bool)  # [S] slots whose agent acts in the next step
        self._next_seed: int | None = None

        flag = Categorical(2, shape=(s, 1), dtype=torch.bool, device=device)
        slot_ids = {
            name: Bounded(-1, max(len(names) - 1, 0), (s,), dtype=torch.int64, device=device)
            for name, names in (("kind", self.kind_names), ("owner", self.owner_names))
        }
        agents = Composite(
            observation=Bounded(-1.0, 1.0, (s, d), dtype=torch.float32, device=device),
            action_mask=Binary(n=a, shape=(s, a), dtype=torch.bool, device=device),
            mask=Categorical(2, shape=(s,), dtype=torch.bool, device=device),
            illegal_action=Categorical(2, shape=(s,), dtype=torch.bool, device=device),
            terminated=flag.clone(),
            truncated=flag.clone(),
            done=flag.clone(),
            **slot_ids,
            shape=(s,),
            device=device,
        )
        observation = Composite(agents=agents, device=device)
        if state:
            h, w = world.map_shape
            planes = (len(world.plane_names), h, w)
            observation["state"] = Bounded(-1.0, 1.0, planes, dtype=torch.float32, device=device)
        self.observation_spec = observation
        self.action_spec = Composite(
            agents=Composite(
                action=Categorical(a, shape=(s,), dtype=torch.int64, device=device),
                shape=(s,),
                device=device,
            ),
            device=device,
        )
        self.reward_spec = Composite(
            agents=Composite(
                reward=Unbounded(shape=(s, 1), dtype=torch.float32, device=device),
                shape=(s,),
                device=device,
            ),
            device=device,
        )
        episode_flag = Categorical(2, shape=(1,), dtype=torch.bool, device=device)
        self.done_spec = Composite(
            done=episode_flag.clone(),
            terminated=episode_flag.clone(),
            truncated=episode_flag.clone(),
            device=device,
        )

    # ------------------------------------------------------------------ EnvBase
    def _set_seed(self, seed: int | None) -> None:
        """The next reset starts from ``seed``; later resets continue its stream."""
        self._next_seed = seed

    def _reset(self, tensordict: TensorDictBase | None = None, **kwargs: Any) -> TensorDictBase:
        batch = self.world.reset(seed=self._next_seed)
        self._next_seed = None
        self._acting = batch.alive[0].copy()
        s = self.num_slots
        no = np.zeros(s, dtype=bool)
        out = self._observe(batch, shown=self._acting, acting=self._acting, illegal=no)
        out.update(self._flags(no, no, False, False))
        return out

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        action = tensordict.get(("agents", "action")).reshape(-1).cpu().numpy()
        acted = self._acting
        actions = np.where(acted, action, 0).astype(np.int64)[None]
        batch = self.world.step(actions)
        ended = bool(batch.done[0])
        terminated = batch.terminated[0] & acted
        truncated = batch.truncated[0] & acted
        acting = batch.alive[0] & ~terminated & ~truncated & (not ended)
        illegal = batch.illegal[0] & acted if batch.illegal.size else np.zeros_like(acted)
        # the agents that acted get their last observation, the new ones their first
        out = self._observe(batch, shown=acted | acting, acting=acting, illegal=illegal)
        reward = np.where(acted, batch.reward[0], 0.0).astype(np.float32)
        out.set(("agents", "reward"), torch.as_tensor(reward, device=self.device).unsqueeze(-1))
        out.update(self._flags(terminated, truncated, ended, truncated.any()))
        self._acting = acting
        return out

    def rand_action(self, tensordict: TensorDictBase | None = None) -> TensorDictBase:
        """Uniform legal actions from the tensordict's ``("agents", "action_mask")``."""
        if tensordict is None:
            tensordict = TensorDict(batch_size=self.batch_size, device=self.device)
        mask = tensordict.get(("agents", "action_mask"), None)
        if mask is None:
            return super().rand_action(tensordict)
        flat = mask.reshape(-1, mask.shape[-1]).float()
        action = torch.multinomial(flat, 1).reshape(mask.shape[:-1])
        tensordict.set(("agents", "action"), action)
        return tensordict

    # ------------------------------------------------------------------ helpers
    def _observe(
        self, batch: Any, *, shown: np.ndarray, acting: np.ndarray, illegal: np.ndarray
    ) -> TensorDictBase:
        """Observations ``[S, D]`` of the ``shown`` slots (zeros elsewhere), masks of the
        ``acting`` ones."""
        world, s = self.world, self.num_slots
        obs = np.zeros((s, self.observation_size), np.float32)
        slots = np.flatnonzero(shown)
        if slots.size:
            env0 = np.zeros(slots.size, dtype=np.int64)
            rows = np.empty((slots.size, self.observation_size), np.float32)
            windows = rows[:, : self._n_window].reshape(slots.size, *self._window_shape)
            world.egocentric(env0, slots, self.radius, out=windows)
            rows[:, self._n_window :] = world.self_features(env0, slots)
            obs[slots] = rows
        action_mask = batch.action_mask[0] & acting[:, None]
        action_mask[~acting, 0] = True  # an empty slot "plays" 0, which the core ignores
        kind = np.where(shown, world.kind[0], -1).astype(np.int64)
        owner = np.where(shown, world.owner[0], -1).astype(np.int64)
        dev = self.device
        out = TensorDict(
            {
                "agents": TensorDict(
                    {
                        "observation": torch.as_tensor(obs, device=dev),
                        "action_mask": torch.as_tensor(action_mask, device=dev),
                        "mask": torch.as_tensor(acting.copy(), device=dev),
                        "kind": torch.as_tensor(kind, device=dev),
                        "owner": torch.as_tensor(owner, device=dev),
                        "illegal_action": torch.as_tensor(illegal.copy(), device=dev),
                    },
                    batch_size=(s,),
                    device=dev,
                )
            },
            batch_size=self.batch_size,
            device=dev,
        )
        if self.with_state:
            out.set("state", torch.as_tensor(world.planes()[0, 0], device=dev))
        return out

    def _flags(
        self, terminated: np.ndarray, truncated: np.ndarray, episode_end: bool, truncated_any: bool
    ) -> TensorDictBase:
        """Per-slot flags ``[S, 1]`` and the episode's ``[1]``."""
        dev = self.device
        slot = {
            "terminated": torch.as_tensor(terminated.copy(), device=dev).unsqueeze(-1),
            "truncated": torch.as_tensor(truncated.copy(), device=dev).unsqueeze(-1),
            "done": torch.as_tensor(terminated | truncated, device=dev).unsqueeze(-1),
        }
        trunc = bool(episode_end and truncated_any)
        return TensorDict(
            {
                **{("agents", k): v for k, v in slot.items()},
                "done": torch.tensor([episode_end], device=dev),
                "terminated": torch.tensor([episode_end and not trunc], device=dev),
                "truncated": torch.tensor([trunc], device=dev),
            },
            batch_size=self.batch_size,
            device=dev,
        )

    def close(self, *, raise_if_closed: bool = True) -> None:
        self.pettingzoo_env.close()
        super().close(raise_if_closed=raise_if_closed)


def make_torchrl_env(
    env_id: str, *, preset: str | None = None, state: bool = False, device: Any = "cpu", **settings
) -> SlotTorchRLEnv:
    """A TorchRL env of ``env_id`` (``preset`` and settings as for ``spawnzoo.envs.make``)."""
    return SlotTorchRLEnv(env_id, preset=preset, state=state, device=device, **settings)
