"""A Gymnasium single-agent view of one world: the monolithic single brain (paper §2.1-2.2).

One decision maker plays one player of one world of the batched core: it sees the player's
global planes and picks an action for every cell of the map at once; each of the player's
entities does what its cell says. This is the paper's "multi-agent dictatorship" as a plain
``gymnasium.Env``, so single-agent libraries (sb3-contrib's ``MaskablePPO``) can train it.

=====================  ==================================================================
observation            ``Box(-1, 1, (C, H, W), float32)``: the player's planes (player 0:
                       the PettingZoo env's ``state()``)
action                 ``MultiDiscrete([A] * H*W)``: the action of every cell ``y * W + x``
``action_masks()``     ``[H*W * A]`` bool, the rows of ``[H*W, A]`` (sb3-contrib's flat
                       layout): a cell allows what any of the player's live entities on it
                       allows (the union); a cell without one allows only 0
reward                 the sum of the player's entities' rewards in the step
terminated             the world's episode ended before its time limit
truncated              the episode reached ``max_cycles``
=====================  ==================================================================

An entity whose cell's action is illegal for it does the no-op (0). In harvest, robot actions
(0-11) and factory actions (0, 12, 13) share only the no-op, so a robot on its factory's centre
and the factory never contend for their cell. With several players, the other players' entities
idle. When the episode ends the observation is the final state's (the core has already reset the
world; call ``reset`` as usual).

    view = MonolithicView("harvest-v0", preset="tiny")
    model = sb3_contrib.MaskablePPO("MlpPolicy", view, n_steps=64).learn(10_000)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from spawnzoo.envs.core.batched import BatchStep
from spawnzoo.envs.core.registry import make_batched


class MonolithicView(gym.Env):
    """One player of one world as a single-agent env with per-cell actions.

    Args:
        env_id: registered env id.
        player: the player the agent plays.
        **env_kwargs: the env's settings (``preset="tiny"``, ``players=1``, ...).

    Raises:
        ValueError: ``player`` is not a player of the env.
    """

    metadata = {"render_modes": []}

    def __init__(self, env_id: str = "harvest-v0", *, player: int = 0, **env_kwargs: Any):
        self.world = make_batched(env_id, num_envs=1, **env_kwargs)
        if not 0 <= player < self.world.num_players:
            raise ValueError(f"player must be in [0, {self.world.num_players}), got {player}")
        self.player = player
        h, w = self.world.map_shape
        self.num_cells, self.num_actions = h * w, self.world.num_actions
        c = len(self.world.plane_names)
        self.observation_space = spaces.Box(-1.0, 1.0, (c, h, w), np.float32)
        self.action_space = spaces.MultiDiscrete(np.full(h * w, self.num_actions, np.int64))
        self._batch: BatchStep | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode (the world's seed is drawn from the env's ``np_random``).

        Returns:
            ``(planes [C, H, W] float32, {})``.
        """
        super().reset(seed=seed)
        self._batch = self.world.reset(seed=int(self.np_random.integers(2**31 - 1)))
        return self._planes(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Give every entity of the player its cell's action and step the world.

        Args:
            action: ``[H*W]`` ints in ``[0, A)``.

        Returns:
            ``(planes [C, H, W], reward, terminated, truncated, info)``; ``info["illegal"]``
            counts the cells whose action no entity there may take (``action_masks`` says
            which; their entities idle).
        """
        if self._batch is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action, dtype=np.int64).reshape(-1)
        if action.shape != (self.num_cells,):
            raise ValueError(f"action must have shape ({self.num_cells},), got {action.shape}")
        b = self._batch
        mine = self._mine(b)  # [S]
        slot_action = np.where(mine, action[np.clip(b.cell[0], 0, None)], 0)  # [S]
        legal = np.take_along_axis(b.action_mask[0], slot_action[:, None], axis=1)[:, 0]
        cell_legal = self._cell_masks(b)[np.arange(self.num_cells), action]
        illegal = int((~cell_legal).sum())
        slot_action = np.where(legal, slot_action, 0)
        nb = self.world.step(slot_action[None])
        self._batch = nb
        reward = float(nb.reward[0][mine].sum())
        done = bool(nb.done[0])
        truncated = done and bool(nb.truncated[0][mine].any())
        terminated = done and not truncated
        if done and nb.final is not None and len(nb.final.planes):
            obs = nb.final.planes[0, self.player].astype(np.float32)
        else:
            obs = self._planes()
        return obs, reward, terminated, truncated, {"illegal": illegal}

    def action_masks(self) -> np.ndarray:
        """Legal actions of every cell.

        Returns:
            ``[H*W * A]`` bool; row ``c`` of its ``[H*W, A]`` reshape is cell ``c``'s mask.
        """
        if self._batch is None:
            raise RuntimeError("call reset() before action_masks()")
        return self._cell_masks(self._batch).reshape(-1)

    def _cell_masks(self, b: BatchStep) -> np.ndarray:
        """``[H*W, A]`` bool: the union of the masks of the player's live entities per cell."""
        masks = np.zeros((self.num_cells, self.num_actions), dtype=bool)
        masks[:, 0] = True
        mine = self._mine(b)
        np.logical_or.at(masks, b.cell[0][mine], b.action_mask[0][mine])
        return masks

    def _mine(self, b: BatchStep) -> np.ndarray:
        """``[S]`` bool: the player's live entities."""
        return b.alive[0] & (b.owner[0] == self.player)

    def _planes(self) -> np.ndarray:
        return self.world.planes()[0, self.player]
