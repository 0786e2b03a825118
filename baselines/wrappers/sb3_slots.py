"""A Stable-Baselines3 ``VecEnv`` over the batched core: one sub-env per entity slot.

SB3 vectorises single-agent envs: a fixed number of sub-envs, each running episode after
episode, auto-reset by the ``VecEnv``. The batched core (``spawnzoo.envs.core.batched``) has a
fixed number of *slots*, each holding entity after entity. ``SlotVecEnv`` maps one onto the
other, ``N = E * S`` sub-envs for ``E`` worlds of ``S`` slots (sub-env ``i`` is world
``i // S``, slot ``i % S``):

=========================  ===================================================================
batched core               what SB3 sees in sub-env ``i`` after ``step_wait``
=========================  ===================================================================
a live entity acts         ``reward`` = its reward, ``done`` False, obs = its next obs
it dies (``terminated``)   ``done`` True, ``infos[i]["terminal_observation"]`` = its last obs,
                           ``TimeLimit.truncated`` False, ``infos[i]["episode"] =
                           {"r": return, "l": length}``; obs = the slot's next occupant
it is ``truncated``        the same with ``TimeLimit.truncated`` True: SB3 bootstraps the
                           value of ``terminal_observation`` (the state before the reset)
the slot is empty          a one-step episode of "nothing": zero obs, only action 0 legal,
                           reward 0, ``done`` True, no ``episode`` entry
an entity spawns           its first obs is the sub-env's reset obs: the step before was
                           ``done`` (an empty slot, or the previous occupant's end), so SB3
                           starts a new trajectory (``episode_starts``) exactly there
=========================  ===================================================================

Empty slots cost rollout rows but no policy gradient: with one legal action their masked
log-probability and entropy are constants, so ``MaskablePPO``'s policy loss ignores them; the
value head learns that the zero observation is worth 0. They do enter SB3's advantage
normalisation (which has no activity mask) and its loss means.

Observations are what the PettingZoo adapter calls ``observation`` (``core/parallel.py``): the
owner's egocentric ``K x K`` window (``K = 2 r + 1``, planes ``world.window_plane_names``)
flattened plane by plane, then the entity's own features (``world.feature_names``), as
``Box(-1, 1, (D,), float32)`` with ``D = C' K K + F``. Every kind shares the one
``Discrete(A)`` action space; ``action_masks()`` (``[N, A]`` bool) is what ``MaskablePPO``
reads through ``env_method("action_masks")``.

Shapes: ``reset() -> [N, D]``; ``step(actions [N]) -> (obs [N, D] float32, rewards [N]
float32, dones [N] bool, infos: N dicts)``; ``action_masks() -> [N, A]`` bool.

One ``step_wait`` is one step of the core; worlds reset themselves when their episode ends
(``auto_reset=True``), so a truncated entity's ``terminal_observation`` is cut from the core's
``FinalState``: the window exactly, the own features from ``FinalState.features`` when the core
provides them (``[D, S, F]``) and otherwise from the entity's observation one step earlier.

    world = spawnzoo.envs.make_batched("harvest-v0", num_envs=8, preset="tiny")
    env = SlotVecEnv(world)
    model = sb3_contrib.MaskablePPO("MlpPolicy", env, n_steps=64).learn(50_000)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from spawnzoo.envs.core.batched import BatchedEnv, BatchStep, FinalState

#: ``env_method`` names whose result differs per slot (the rest are shared by all slots)
PER_SLOT_METHODS = ("action_masks",)


def default_obs_radius(world: BatchedEnv) -> int:
    """The egocentric radius the env's own PettingZoo adapter uses (``world.cfg.obs_radius``).

    Raises:
        ValueError: the world has no such setting (pass ``obs_radius`` explicitly).
    """
    radius = getattr(getattr(world, "cfg", None), "obs_radius", None)
    if radius is None:
        raise ValueError(
            f"{type(world).__name__} has no cfg.obs_radius; pass obs_radius= explicitly"
        )
    return int(radius)


def observation_size(world: BatchedEnv, radius: int) -> int:
    """``D = C' K K + F``: the flat observation length for windows of ``radius``."""
    k = 2 * radius + 1
    return len(world.window_plane_names) * k * k + len(world.feature_names)


def slot_observations(
    world: BatchedEnv, radius: int, env_index: np.ndarray, slot: np.ndarray
) -> np.ndarray:
    """Flat observations of chosen live entities, from the world's current state.

    Args:
        world: the batched core.
        radius: window radius ``r``.
        env_index: ``[n]`` int, world of each entity.
        slot: ``[n]`` int, slot of each entity (alive, or died in the last step).

    Returns:
        ``[n, D]`` float32: window ``[C', K, K]`` flattened, then the ``F`` own features.
    """
    n = len(env_index)
    out = np.empty((n, observation_size(world, radius)), dtype=np.float32)
    if n:
        windows = world.egocentric(env_index, slot, radius)
        out[:, : windows[0].size] = windows.reshape(n, -1)
        out[:, windows[0].size :] = world.self_features(env_index, slot)
    return out


def final_windows(
    world: BatchedEnv,
    radius: int,
    planes: np.ndarray,
    row: np.ndarray,
    cell: np.ndarray,
    owner: np.ndarray,
) -> np.ndarray:
    """Egocentric windows cut from given planes (a ``FinalState``), as ``world.egocentric`` cuts
    them from the current state.

    Args:
        world: the batched core (for plane names, fill values and the map shape).
        radius: window radius ``r``.
        planes: ``[D, P, C, H, W]`` global planes.
        row: ``[n]`` int, row of ``planes`` of each entity.
        cell: ``[n]`` int, flat cell ``y * W + x`` of each entity.
        owner: ``[n]`` int, owner of each entity (whose view the window is).

    Returns:
        ``[n, C', K, K]`` float32, planes ``world.window_plane_names``.
    """
    h, w = world.map_shape
    r, k = radius, 2 * radius + 1
    names = world.plane_names
    g = len(world.global_plane_names)
    d, p = planes.shape[:2]
    padded = np.empty((d, p, len(names) + 1, h + 2 * r, w + 2 * r), np.float32)
    padded[:, :, :-1] = np.array([world.plane_fill[n] for n in names], np.float32)[
        None, None, :, None, None
    ]
    padded[:, :, -1] = 1.0  # off_map
    padded[:, :, -1, r : r + h, r : r + w] = 0.0
    padded[:, :, :-1, r : r + h, r : r + w] = planes
    view = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(3, 4))
    y, x = np.divmod(np.asarray(cell, np.int64), w)
    return view[np.asarray(row), np.asarray(owner, np.int64), g:, y, x]


class SlotVecEnv(VecEnv):
    """SB3 ``VecEnv`` with one sub-env per slot of a batched core (see the module docstring).

    Args:
        world: the batched core, built with ``auto_reset=True`` (``make_batched``'s default).
        obs_radius: window radius ``r``; default the env's own (``default_obs_radius``).
        seed: seed of the first ``reset`` (world ``i`` uses stream ``i``); ``seed()`` sets the
            next one, as for any ``VecEnv``.

    Attributes:
        world: the core. num_worlds: ``E``. num_slots: ``S``. num_envs: ``N = E * S``.
        observation_space: ``Box(-1, 1, (D,), float32)``. action_space: ``Discrete(A)``.
        last_batch: the core's last ``BatchStep`` (``[E, S]`` arrays).
        stats: counters since the last ``pop_stats()``: ``entity_steps`` (live slots that
            acted), ``spawned``, ``illegal`` (masked actions run as the no-op), ``steps``
            (core steps) and ``episodes`` (the ``FinalState.metrics`` dict of every world
            episode that ended).
    """

    def __init__(
        self, world: BatchedEnv, *, obs_radius: int | None = None, seed: int | None = None
    ):
        if not getattr(world, "auto_reset", True):
            raise ValueError("SlotVecEnv needs a world built with auto_reset=True")
        self.world = world
        self.obs_radius = default_obs_radius(world) if obs_radius is None else int(obs_radius)
        if self.obs_radius < 1:
            raise ValueError(f"obs_radius must be >= 1, got {self.obs_radius}")
        self.num_worlds, self.num_slots = world.num_envs, world.num_slots
        self.num_actions = world.num_actions
        self.obs_dim = observation_size(world, self.obs_radius)
        self.render_mode = None  # read by VecEnv.__init__ through get_attr
        self._next_seed = seed
        self._batch: BatchStep | None = None
        self._obs = np.zeros((0, self.obs_dim), np.float32)
        self._actions = np.zeros((self.num_worlds, self.num_slots), np.int64)
        n = self.num_worlds * self.num_slots
        self._ep_return = np.zeros(n, np.float64)
        self._ep_length = np.zeros(n, np.int64)
        self.stats: dict[str, Any] = {}
        self.pop_stats()
        super().__init__(
            n,
            spaces.Box(-1.0, 1.0, (self.obs_dim,), np.float32),
            spaces.Discrete(self.num_actions),
        )

    # ------------------------------------------------------------------ the VecEnv API
    def reset(self) -> VecEnvObs:
        """Reset every world (with the pending seed, used once).

        Returns:
            ``[N, D]`` float32 first observations (zeros for empty slots).
        """
        self._batch = self.world.reset(seed=self._next_seed)
        self._next_seed = None
        self._ep_return[:] = 0.0
        self._ep_length[:] = 0
        self._obs = self._observe(self._batch)
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self._obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        """Store ``[N]`` integer actions (a slot's action is ignored when it is empty)."""
        self._actions = np.asarray(actions).reshape(self.num_worlds, self.num_slots)

    def step_wait(self) -> VecEnvStepReturn:
        """Step the core once.

        Returns:
            ``(obs [N, D] float32, rewards [N] float32, dones [N] bool, infos)``: ``infos`` is
            a list of ``N`` dicts; a done sub-env's holds ``terminal_observation`` ``[D]`` and
            ``TimeLimit.truncated``, and, when a real entity's trajectory ended, ``episode``.
        """
        if self._batch is None:
            raise RuntimeError("call reset() before step()")
        acted = self._batch.alive.reshape(-1)
        batch = self.world.step(self._actions)
        reward = np.where(acted, batch.reward.reshape(-1), 0.0).astype(np.float32)
        terminated = batch.terminated.reshape(-1)
        truncated = batch.truncated.reshape(-1) & ~terminated
        ended = acted & (terminated | truncated)
        dones = ~acted | ended
        self._ep_return += reward
        self._ep_length += acted
        terminal = self._terminal_observations(batch, ended)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        empty = np.flatnonzero(dones & ~ended)
        zeros = np.zeros((empty.size, self.obs_dim), np.float32)  # a row each, none shared
        for j, i in enumerate(empty.tolist()):
            infos[i]["terminal_observation"] = zeros[j]
            infos[i]["TimeLimit.truncated"] = False
        ended_idx = np.flatnonzero(ended)
        for j, i in enumerate(ended_idx.tolist()):
            infos[i]["terminal_observation"] = terminal[j]
            infos[i]["TimeLimit.truncated"] = bool(truncated[i])
            infos[i]["episode"] = {"r": float(self._ep_return[i]), "l": int(self._ep_length[i])}
        self._ep_return[dones] = 0.0
        self._ep_length[dones] = 0
        self._count(batch, acted)
        self._batch = batch
        self._obs = self._observe(batch)
        return self._obs.copy(), reward, dones, infos

    def action_masks(self) -> np.ndarray:
        """``[N, A]`` bool legal actions of every sub-env now (empty slots: only action 0)."""
        if self._batch is None:
            raise RuntimeError("call reset() before action_masks()")
        return self._batch.action_mask.reshape(self.num_envs, self.num_actions)

    def close(self) -> None:
        """Nothing to release (the core holds only arrays); safe to call twice."""

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed the next ``reset`` (world ``i`` of the core draws from stream ``i`` of it).

        Returns:
            ``[N]``: the seed for every sub-env (they share their world's stream).
        """
        self._next_seed = seed
        return [seed] * self.num_envs

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """An attribute of the adapter, once per chosen sub-env (slots share one adapter).

        Raises:
            AttributeError: no such attribute (how ``has_attr`` answers False).
        """
        value = getattr(self, attr_name)
        return [value] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the adapter, i.e. of every slot at once.

        Raises:
            ValueError: ``indices`` names only some sub-envs (slots cannot differ).
        """
        if len(self._indices(indices)) != self.num_envs:
            raise ValueError("slots share one world: set_attr applies to all sub-envs or none")
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs
    ) -> list[Any]:
        """Call an adapter method once; per-slot results (``action_masks``) are split by slot.

        Returns:
            One result per chosen sub-env: its row for ``PER_SLOT_METHODS``, else the shared
            result.
        """
        chosen = self._indices(indices)
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        if method_name in PER_SLOT_METHODS:
            return list(result[chosen])
        return [result] * len(chosen)

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """``False`` for every sub-env: slots are not Gymnasium envs and have no wrappers."""
        return [False] * len(self._indices(indices))

    # ------------------------------------------------------------------ extras
    @property
    def last_batch(self) -> BatchStep:
        """The core's last ``BatchStep``."""
        if self._batch is None:
            raise RuntimeError("call reset() first")
        return self._batch

    @property
    def alive(self) -> np.ndarray:
        """``[N]`` bool: the sub-env holds a live entity now (its row is a real sample)."""
        return self.last_batch.alive.reshape(-1)

    def pop_stats(self) -> dict[str, Any]:
        """The counters since the last call (see ``stats``), then zero them."""
        stats = self.stats
        self.stats = {"steps": 0, "entity_steps": 0, "spawned": 0, "illegal": 0, "episodes": []}
        return stats

    # ------------------------------------------------------------------ helpers
    def _indices(self, indices: VecEnvIndices) -> np.ndarray:
        """``[k]`` int64 sub-env indices (all for ``None``, one for an int)."""
        if indices is None:
            return np.arange(self.num_envs)
        if isinstance(indices, (int, np.integer)):
            return np.array([indices], np.int64)
        return np.asarray(list(indices), np.int64)

    def _observe(self, batch: BatchStep) -> np.ndarray:
        """``[N, D]``: live slots' observations, zeros for empty ones."""
        out = np.zeros((self.num_envs, self.obs_dim), np.float32)
        e, s = np.nonzero(batch.alive)
        out[e * self.num_slots + s] = slot_observations(self.world, self.obs_radius, e, s)
        return out

    def _terminal_observations(self, batch: BatchStep, ended: np.ndarray) -> np.ndarray:
        """``[m, D]`` last observations of the ``m`` entities whose trajectory ended.

        In a world that goes on, a dead entity's slot still shows its cell and owner, so its
        view is cut from the current state. In a world that ended (and reset), the window is
        cut from ``FinalState.planes`` and the own features come from ``FinalState.features``
        if the core provides them, else from the entity's previous observation.
        """
        idx = np.flatnonzero(ended)
        out = np.empty((idx.size, self.obs_dim), np.float32)
        if idx.size == 0:
            return out
        e, s = np.divmod(idx, self.num_slots)
        final = batch.final
        was_reset = np.zeros(self.num_worlds, bool)
        if final is not None:
            was_reset[final.env_index] = True
        live = ~was_reset[e]
        out[live] = slot_observations(self.world, self.obs_radius, e[live], s[live])
        if (~live).any():
            out[~live] = self._final_observations(final, e[~live], s[~live], idx[~live])
        return out

    def _final_observations(
        self, final: FinalState, e: np.ndarray, s: np.ndarray, flat: np.ndarray
    ) -> np.ndarray:
        """``[m, D]`` observations of slots ``(e, s)`` (``[m]`` each) in their final state."""
        row_of_world = np.full(self.num_worlds, -1, np.int64)
        row_of_world[final.env_index] = np.arange(len(final.env_index))
        row = row_of_world[e]
        windows = final_windows(
            self.world,
            self.obs_radius,
            final.planes,
            row,
            final.cell[row, s],
            final.owner[row, s],
        )
        m, width = len(e), windows[0].size if len(e) else 0
        out = np.empty((m, self.obs_dim), np.float32)
        out[:, :width] = windows.reshape(m, -1)
        features = getattr(final, "features", None)
        if features is not None:
            out[:, width:] = features[row, s]
        else:
            out[:, width:] = self._obs[flat, width:]
        return out

    def _count(self, batch: BatchStep, acted: np.ndarray) -> None:
        st = self.stats
        st["steps"] += 1
        st["entity_steps"] += int(acted.sum())
        st["spawned"] += int(batch.spawned.sum())
        if batch.illegal.size:
            st["illegal"] += int(batch.illegal.sum())
        if batch.final is not None:
            st["episodes"].extend(batch.final.metrics)
