"""The batched array contract every spawnzoo env implements, and every learner talks to.

A batched env steps ``E = num_envs`` independent worlds at once. Every entity (a factory, a
robot, a forager, ...) lives in one of ``S = num_slots`` fixed slots per world. A slot holds at
most one entity at a time; when the entity dies the slot is freed and a later spawn may reuse
it. Learners therefore never see a changing agent set: they see fixed-shape arrays plus masks.

Shapes used throughout (``P`` players, ``A`` actions, ``C`` planes, ``H x W`` map, ``N = H*W``):

=================  ====================  ======================================================
field              shape / dtype         meaning (after the step, unless said otherwise)
=================  ====================  ======================================================
``alive``          ``[E, S]`` bool       the slot holds a live entity
``spawned``        ``[E, S]`` bool       the slot's entity appeared this step: a new trajectory
                                         starts here (always implies ``alive``)
``kind``           ``[E, S]`` int8       entity kind index into ``kind_names``; -1 when empty
``owner``          ``[E, S]`` int8       owning player; -1 when empty
``serial``         ``[E, S]`` int64      the entity's serial number within its (owner, kind)
                                         pool (its agent name's number); -1 when empty
``cell``           ``[E, S]`` int32      flat cell ``y * W + x``; -1 when empty. A slot whose
                                         entity died this step still shows that entity's
                                         kind, owner and last cell (it is empty from the
                                         next step on)
``action_mask``    ``[E, S, A]`` bool    legal actions now; an empty slot allows only action 0
``reward``         ``[E, S]`` float32    reward earned during this step by the entity that acted
                                         in the slot (also for one that died in this step)
``terminated``     ``[E, S]`` bool       the entity that acted ended for good this step (died,
                                         or the episode reached a terminal state)
``truncated``      ``[E, S]`` bool       the entity was alive when the episode hit its time
                                         limit; bootstrap its value from ``final``
``done``           ``[E]`` bool          the world's episode ended this step (and, with
                                         ``auto_reset=True``, the world was reset)
=================  ====================  ======================================================

**After the end.** With ``auto_reset=False`` a world whose episode ended stays as it ended
until the next ``reset``: stepping it is a no-op that changes nothing (its arrays, episode
metrics, time and random stream stay as they were; its row of the ``BatchStep`` repeats its end
state with zero rewards, no flags, ``done`` False and no ``final``; its actions are ignored).
The other worlds of the batch step on, so a caller can play every world to its end (the
evaluation does). ``ended`` says which worlds are over.

``reward``, ``terminated`` and ``truncated`` describe the transition of the entity that acted;
``alive``, ``spawned``, ``kind``, ``owner``, ``cell`` and ``action_mask`` describe the slot after
the step, i.e. after an automatic reset for worlds with ``done``. A slot can therefore be
``terminated`` (the old entity's last transition) and ``spawned`` (the next episode's entity) in
the same step.

Rewards, flags and slots only say *who*; *what the world looks like* comes from
``planes(player)`` (``[E, P, C, H, W]`` float32 global feature planes from each player's point of
view), which is computed only when asked for, and from ``egocentric(...)``, which cuts windows
around chosen slots, also only when asked for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import kernels


@dataclass
class FinalState:
    """The last state of worlds that ended this step, captured before their automatic reset.

    Attributes:
        env_index: ``[D]`` int64, which worlds ended (``D`` = number of done worlds).
        planes: ``[D, P, C, H, W]`` float32, their final global planes (for bootstrapping
            truncated values).
        alive: ``[D, S]`` bool, slots alive at the end (the truncated ones).
        cell: ``[D, S]`` int32, their cells.
        kind: ``[D, S]`` int8, their kinds.
        owner: ``[D, S]`` int8, their owners.
        metrics: one dict per done world: ``{"per_player": [{metric: value}, ...], ...}`` with
            the env's episode metrics (see the env's docstring).
        features: ``[D, S, F]`` float32 own features of every slot at the end (``None`` where
            the env does not provide them), for exact final observations.
    """

    env_index: np.ndarray
    planes: np.ndarray
    alive: np.ndarray
    cell: np.ndarray
    kind: np.ndarray
    owner: np.ndarray
    metrics: list[dict[str, Any]]
    features: np.ndarray | None = None


@dataclass
class BatchStep:
    """What ``BatchedEnv.reset`` and ``BatchedEnv.step`` return (shapes in the module docstring).

    The arrays are fresh copies: a learner may keep them across steps.
    """

    alive: np.ndarray
    spawned: np.ndarray
    kind: np.ndarray
    owner: np.ndarray
    cell: np.ndarray
    action_mask: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    done: np.ndarray
    serial: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    final: FinalState | None = None
    illegal: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """``[E, S]`` bool: the slot's submitted action was masked and ran as the no-op."""


@dataclass(frozen=True)
class StepFlags:
    """The episode flags of one step (``step_flags``).

    Attributes:
        terminated: ``[E, S]`` bool, per entity. truncated: ``[E, S]`` bool, per entity.
        died: ``[E, S]`` bool, entities that acted and are gone after the step.
        env_terminated: ``[E]`` bool. env_truncated: ``[E]`` bool. done: ``[E]`` bool, either.
    """

    terminated: np.ndarray
    truncated: np.ndarray
    died: np.ndarray
    env_terminated: np.ndarray
    env_truncated: np.ndarray
    done: np.ndarray


def step_flags(
    acted: np.ndarray,
    alive: np.ndarray,
    env_terminated: np.ndarray,
    t: np.ndarray,
    max_cycles: int,
) -> StepFlags:
    """Who is terminated or truncated after a step: the rules every world's step shares.

    The rules, written only here:

    * a world is **truncated** when it reached ``max_cycles`` steps without terminating;
      it is **done** when terminated or truncated;
    * an entity is **terminated** when it acted and died in the step, or acted and its world
      terminated; it is **truncated** when it acted, is alive, and its world was truncated;
    * an entity that spawned in the step did not act: it is in no earlier transition and gets
      neither flag (its first transition starts now, see ``spawned_flags``).

    Args:
        acted: ``[E, S]`` bool, the entities alive when the step began (they acted in it).
        alive: ``[E, S]`` bool, the entities alive after the step's rules.
        env_terminated: ``[E]`` bool, worlds whose episode reached a terminal state.
        t: ``[E]`` int, steps of each world's episode, this one included.
        max_cycles: the episode time limit.

    Returns:
        The ``StepFlags``.
    """
    env_truncated = (t >= max_cycles) & ~env_terminated
    died = acted & ~alive
    terminated = died | (acted & alive & env_terminated[:, None])
    truncated = acted & alive & env_truncated[:, None] & ~terminated
    return StepFlags(
        terminated=terminated,
        truncated=truncated,
        died=died,
        env_terminated=env_terminated,
        env_truncated=env_truncated,
        done=env_terminated | env_truncated,
    )


def spawned_flags(built: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """``[E, S]`` bool: the entities spawned in a step that are alive after it.

    Args:
        built: ``[n]`` flat slot indices (``env * S + slot``) of the entities created.
        alive: ``[E, S]`` bool after the step (an entity built and destroyed in the same step
            never took part in a transition).
    """
    spawned = np.zeros(alive.size, dtype=bool)
    spawned[built] = True
    return spawned.reshape(alive.shape) & alive


class BatchedEnv(ABC):
    """Base class of the array API: ``num_envs`` worlds, fixed slots, masks and planes.

    Subclasses set the class attributes and implement ``reset``, ``step``, ``write_planes``,
    ``self_features``, ``slot_cell`` and ``slot_owner``; ``planes`` and ``egocentric`` are shared.

    Attributes:
        num_envs: ``E``, worlds stepped together.
        num_slots: ``S``, entity slots per world.
        num_actions: ``A``, size of the one discrete action space shared by all kinds.
        num_players: ``P``.
        kind_names: name of each kind index, e.g. ``("factory", "light", "heavy")``.
        plane_names: name of each of the ``C`` planes returned by ``planes``.
        map_shape: ``(H, W)``.
        max_cycles: time limit in steps (settable: PettingZoo's tests set it).
    """

    kind_names: tuple[str, ...]
    plane_names: tuple[str, ...]
    feature_names: tuple[str, ...]

    num_envs: int
    num_slots: int
    num_actions: int
    num_players: int
    map_shape: tuple[int, int]
    max_cycles: int

    @abstractmethod
    def reset(self, seed: int | None = None) -> BatchStep:
        """Reset every world. World ``i`` draws from a stream derived from ``(seed, i)``;
        ``seed=None`` after a seeded reset continues the worlds' streams (Gymnasium's rule).

        Returns:
            A ``BatchStep`` with ``spawned == alive``, zero rewards and no flags set.
        """

    @abstractmethod
    def step(self, actions: np.ndarray) -> BatchStep:
        """Advance every world by one step.

        Args:
            actions: ``[E, S]`` integer array in ``[0, A)``. Actions of empty slots are ignored;
                a masked action runs as the no-op (action 0) and is flagged in ``illegal``.

        Raises:
            ValueError: wrong shape, non-integer dtype, or a value outside ``[0, A)``
                (nothing in the worlds changes).
        """

    @abstractmethod
    def write_planes(self, out: np.ndarray, envs: np.ndarray | None = None) -> None:
        """Write the global feature planes of the current state into ``out``.

        Args:
            out: ``[E, P, C, H, W]`` float32, possibly a non-contiguous view (the interior of a
                padded buffer); every element is overwritten.
            envs: ``[D]`` world indices to write only those (``out`` is then ``[D, P, C, H, W]``).
        """

    def planes(self) -> np.ndarray:
        """Global feature planes of the current state.

        Returns:
            ``[E, P, C, H, W]`` float32 in ``[-1, 1]``, plane ``c`` named ``plane_names[c]``,
            seen from each player's side ("own" and "enemy" planes swap between players).
        """
        h, w = self.map_shape
        out = np.empty((self.num_envs, self.num_players, len(self.plane_names), h, w), np.float32)
        self.write_planes(out)
        return out

    @abstractmethod
    def self_features(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """Per-entity features of chosen slots.

        Args:
            env_index: ``[n]`` int, world of each entity.
            slot: ``[n]`` int, slot of each entity.

        Returns:
            ``[n, F]`` float32 in ``[-1, 1]``, feature ``f`` named ``feature_names[f]``.
        """

    @property
    def window_plane_names(self) -> tuple[str, ...]:
        """Planes in an egocentric window: the spatial planes plus an ``off_map`` plane."""
        return tuple(n for n in self.plane_names if n not in self.global_plane_names) + ("off_map",)

    #: planes that hold one value over the whole map (left out of egocentric windows); they
    #: come first in ``plane_names``.
    global_plane_names: tuple[str, ...] = ()

    def egocentric(
        self,
        env_index: np.ndarray,
        slot: np.ndarray,
        radius: int,
        planes: np.ndarray | None = None,
        *,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Square windows of the owner's planes centred on chosen entities.

        Cells outside the map read as each plane's "nothing" value (0 for flags, -1 for scaled
        quantities) and 1 in the extra ``off_map`` plane.

        Args:
            env_index: ``[n]`` int, world of each entity.
            slot: ``[n]`` int, slot of each entity (must be alive).
            radius: ``r``; windows are ``K = 2r + 1`` cells wide.
            planes: ``[E, P, C, H, W]``, the result of ``planes()`` if the caller already has it.
            out: ``[n, C', K, K]`` float32 to write the windows into (it may be a strided view,
                e.g. the window part of ``[n, D]`` observation rows); a new array if ``None``.

        Returns:
            ``[n, C', K, K]`` float32 with ``C' = len(window_plane_names)`` (``out`` if given).
        """
        env_index = np.asarray(env_index, dtype=np.int64)
        slot = np.asarray(slot, dtype=np.int64)
        h, w = self.map_shape
        k, r = 2 * radius + 1, radius
        g = len(self.global_plane_names)
        padded = self._padded_buffer(radius)
        interior = padded[:, :, :-1, r : r + h, r : r + w]
        if planes is None:
            self.write_planes(interior)
        else:
            interior[...] = planes
        y, x = np.divmod(self.slot_cell(env_index, slot), w)
        owner = self.slot_owner(env_index, slot)
        if out is None:
            out = np.empty((env_index.size, padded.shape[2] - g, k, k), np.float32)
        return kernels.gather_windows(padded, env_index, owner, y, x, g, out)

    def _padded_buffer(self, radius: int) -> np.ndarray:
        """``[E, P, C + 1, H + 2r, W + 2r]`` float32 buffer, kept per radius: its border holds
        each plane's "nothing" value and its last plane is ``off_map`` (1 outside the map)."""
        cache = self.__dict__.setdefault("_padded_cache", {})
        buf = cache.get(radius)
        if buf is None:
            names = self.plane_names
            g = len(self.global_plane_names)
            if tuple(names[:g]) != tuple(self.global_plane_names):
                raise TypeError("global planes must come first in plane_names")
            h, w = self.map_shape
            r = radius
            buf = np.empty(
                (self.num_envs, self.num_players, len(names) + 1, h + 2 * r, w + 2 * r), np.float32
            )
            buf[:, :, :-1] = np.array([self.plane_fill[n] for n in names], np.float32)[
                None, None, :, None, None
            ]
            buf[:, :, -1] = 1.0
            buf[:, :, -1, r : r + h, r : r + w] = 0.0
            cache[radius] = buf
        return buf

    #: "nothing" value of each plane, used to pad windows.
    plane_fill: dict[str, float]

    #: kind indices of *structures*: entities that never move and anchor the others (harvest's
    #: factories, skirmish's bases). Learners that treat classes of entities differently (the
    #: hybrid critic's structure/unit value maps, the ``factories=`` grouping rule) read this;
    #: every other kind is a *unit*. Empty when the env has no structures (forage).
    structure_kinds: tuple[int, ...] = ()
    #: slots ``[0, structure_slots)`` hold structures and only structures; units use the rest.
    structure_slots: int = 0

    @abstractmethod
    def slot_cell(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """``[n]`` int64 flat cells of chosen slots (``[n]`` worlds, ``[n]`` slots)."""

    @abstractmethod
    def slot_owner(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """``[n]`` int64 owners of chosen slots (``[n]`` worlds, ``[n]`` slots)."""


class SlotArrayEnv(BatchedEnv):
    """A ``BatchedEnv`` that keeps its entities in ``[E, S]`` arrays (harvest, forage, skirmish).

    It provides ``reset``, ``is_reset``, ``slot_cell``, ``slot_owner``, ``final_planes``, the
    start of every step ``_begin_step``, its end ``_end_step`` (flags from ``step_flags``,
    ended worlds captured by ``_finish``, masks, the ``BatchStep`` from ``_batch``). Subclasses keep
    ``alive`` ``[E, S]`` bool, ``kind``/``owner`` ``[E, S]`` int8, ``cell``/``serial`` ``[E, S]``
    ints and ``_mask`` ``[E, S, A]`` bool (the masks after ``_compute_masks``), set
    ``_seeded = False`` in ``__init__``, and implement ``_reset_world(i)`` (one world, drawing
    from ``self._rngs[i]``), ``_compute_masks()`` and ``episode_metrics(i)``.
    """

    _seeded: bool = False
    _rngs: list[np.random.Generator]
    #: ``[E]`` bool: the world's episode ended and it was not reset (``auto_reset=False``)
    _ended: np.ndarray | None = None
    #: the ended worlds' rows saved by ``_begin_step`` (``_save_rows``); ``_end_step`` restores
    _frozen: tuple[np.ndarray, dict[str, Any]] | None = None

    @property
    def is_reset(self) -> bool:
        """Whether ``reset`` has been called (stepping or drawing needs a reset world)."""
        return self._seeded

    @property
    def ended(self) -> np.ndarray:
        """``[E]`` bool: worlds whose episode ended and that wait for ``reset`` (always False
        with ``auto_reset=True``); stepping them changes nothing (module docstring)."""
        if self._ended is None:
            return np.zeros(self.num_envs, dtype=bool)
        return self._ended.copy()

    def reset(self, seed: int | None = None) -> BatchStep:
        """Reset all worlds; world ``i`` uses ``np.random.SeedSequence(seed).spawn`` stream ``i``.

        As in Gymnasium, ``seed=None`` after a seeded reset continues each world's stream (so
        ``reset(seed=s)`` once, then ``reset()`` per episode, is reproducible); only the first
        reset without a seed draws fresh entropy.

        Returns:
            ``BatchStep`` of ``[E, S]`` arrays: the initial entities alive and ``spawned``, zero
            rewards, no flags.

        Raises:
            ValueError: ``seed`` is not ``None`` or a non-negative integer (nothing changes).
        """
        check_seed(seed)
        if seed is not None or not self._seeded:
            children = np.random.SeedSequence(seed).spawn(self.num_envs)
            self._rngs = [np.random.default_rng(c) for c in children]
            self._seeded = True
        for i in range(self.num_envs):
            self._reset_world(i)
        self._ended = np.zeros(self.num_envs, dtype=bool)
        self._compute_masks()
        zeros = np.zeros((self.num_envs, self.num_slots))
        return self._batch(
            spawned=self.alive.copy(),
            reward=zeros.astype(np.float32),
            terminated=zeros.astype(bool),
            truncated=zeros.astype(bool),
            done=np.zeros(self.num_envs, dtype=bool),
            illegal=zeros.astype(bool),
        )

    def _begin_step(self, actions: Any) -> np.ndarray:
        """What every step starts with: check the world was reset and ``actions`` are valid,
        save the state of worlds whose episode ended (``_end_step`` puts it back: stepping them
        changes nothing), and empty the slots whose entity died in the last step.

        Args:
            actions: ``[E, S]`` ints in ``[0, A)``.

        Returns:
            ``[E, S]`` int64, a copy the step may edit (e.g. masked actions to the no-op).

        Raises:
            RuntimeError: ``reset()`` was not called yet.
            ValueError: ``actions`` has the wrong shape, dtype or a value out of range.
        """
        if not self._seeded:
            raise RuntimeError("call reset() before step()")
        a = validate_actions(actions, self.num_envs, self.num_slots, self.num_actions).copy()
        self._frozen = None
        if self._ended is not None and self._ended.any():
            self._frozen = self._save_rows(np.flatnonzero(self._ended))
        empty = ~self.alive
        self.kind[empty] = -1
        self.owner[empty] = -1
        self.cell[empty] = -1
        self.serial[empty] = -1
        return a

    @abstractmethod
    def _reset_world(self, i: int) -> None:
        """Start a new episode in world ``i`` (its arrays only)."""

    @abstractmethod
    def _compute_masks(self) -> None:
        """Recompute ``_mask`` ``[E, S, A]`` from the current state."""

    @abstractmethod
    def episode_metrics(self, i: int) -> dict[str, Any]:
        """``{"episode_length": ..., "per_player": [{...}, ...]}`` of world ``i``'s episode."""

    def slot_cell(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        return self.cell[env_index, slot]

    def slot_owner(self, env_index: np.ndarray, slot: np.ndarray) -> np.ndarray:
        return self.owner[env_index, slot].astype(np.int64)

    def final_planes(self, envs: np.ndarray) -> np.ndarray:
        """Global planes of chosen worlds only.

        Args:
            envs: ``[D]`` world indices.

        Returns:
            ``[D, P, C, H, W]`` float32, as ``planes()[envs]`` without computing the others.
        """
        h, w = self.map_shape
        out = np.empty((envs.size, self.num_players, len(self.plane_names), h, w), np.float32)
        self.write_planes(out, envs)
        return out

    def _end_step(
        self, flags: StepFlags, *, spawned: np.ndarray, reward: np.ndarray, illegal: np.ndarray
    ) -> BatchStep:
        """What every step ends with: capture (and, with ``auto_reset``, reset) the worlds that
        are done, recompute the masks, return the step's ``BatchStep``.

        Args:
            flags: the step's ``step_flags``.
            spawned: ``[E, S]`` bool entities spawned in the step (updated in place with the
                entities of worlds reset here).
            reward: ``[E, S]`` rewards (returned as float32). illegal: ``[E, S]`` bool.
        """
        if self._frozen is not None:  # ended worlds: back to their end state, no flags
            envs, rows = self._frozen
            self._frozen = None
            self._restore_rows(envs, rows)
            flags = StepFlags(
                **{
                    name: np.where(_rows_of(envs, value.shape), False, value)
                    for name, value in vars(flags).items()
                }
            )
            spawned[envs] = False
            reward[envs] = 0
            illegal[envs] = False
        final = None
        if flags.done.any():
            final = self._finish(np.flatnonzero(flags.done), spawned)
        self._compute_masks()
        return self._batch(
            spawned=spawned,
            reward=reward.astype(np.float32, copy=False),
            terminated=flags.terminated,
            truncated=flags.truncated,
            done=flags.done,
            illegal=illegal,
            final=final,
        )

    def _finish(self, envs: np.ndarray, spawned: np.ndarray) -> FinalState:
        """Capture the end state of worlds ``envs`` (``[D]``) and, with ``auto_reset``, reset
        them and mark their new entities in ``spawned`` (``[E, S]`` bool, updated in place).

        For subclasses that keep ``alive``/``cell``/``kind``/``owner`` as ``[E, S]`` arrays and
        provide ``episode_metrics(i)`` and ``_reset_world(i)``. Planes and own features are
        captured only with ``auto_reset`` (otherwise the world still shows its end state).
        """
        reset = self.auto_reset
        slots = np.arange(self.num_slots)
        final = FinalState(
            env_index=envs,
            planes=self.final_planes(envs) if reset else np.zeros(0, np.float32),
            alive=self.alive[envs].copy(),
            cell=self.cell[envs].astype(np.int32),
            kind=self.kind[envs].copy(),
            owner=self.owner[envs].copy(),
            metrics=[self.episode_metrics(int(i)) for i in envs],
            features=self.self_features(
                np.repeat(envs, self.num_slots), np.tile(slots, envs.size)
            ).reshape(envs.size, self.num_slots, -1)
            if reset
            else None,
        )
        if reset:
            for i in envs:
                self._reset_world(int(i))
            spawned[envs] = self.alive[envs]
        elif self._ended is not None:
            self._ended[envs] = True
        return final

    def _save_rows(self, envs: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Copies of rows ``envs`` (``[D]``) of every array attribute whose first axis is the
        world axis (also inside dicts, e.g. ``metrics``), and of those worlds' random streams.

        Restoring rows of an array that is not per world (a table whose length happens to be
        ``E``) is harmless: a step does not change such tables.
        """
        e = self.num_envs
        rows: dict[str, Any] = {}
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == e:
                rows[name] = value[envs].copy()
            elif isinstance(value, dict):
                inner = {
                    k: v[envs].copy()
                    for k, v in value.items()
                    if isinstance(v, np.ndarray) and v.ndim and v.shape[0] == e
                }
                if inner:
                    rows[name] = inner
        rows["_rngs"] = [self._rngs[int(i)].bit_generator.state for i in envs]
        return envs, rows

    def _restore_rows(self, envs: np.ndarray, rows: dict[str, Any]) -> None:
        """Put back what ``_save_rows`` copied."""
        for name, saved in rows.items():
            if name == "_rngs":
                for i, state in zip(envs.tolist(), saved):
                    self._rngs[i].bit_generator.state = state
            elif isinstance(saved, dict):
                target = getattr(self, name)
                for key, value in saved.items():
                    target[key][envs] = value
            else:
                getattr(self, name)[envs] = saved

    def _batch(
        self, *, spawned, reward, terminated, truncated, done, illegal, final=None
    ) -> BatchStep:
        """The ``BatchStep`` of the current state with this step's flags (fresh copies)."""
        return BatchStep(
            alive=self.alive.copy(),
            spawned=spawned,
            kind=self.kind.copy(),
            owner=self.owner.copy(),
            cell=self.cell.astype(np.int32),
            action_mask=self._mask.copy(),
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            done=done,
            serial=self.serial.copy(),
            final=final,
            illegal=illegal,
        )


def _rows_of(envs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A mask broadcasting to ``shape`` (``[E]`` or ``[E, S]``) that is True on rows ``envs``."""
    mask = np.zeros(shape[0], dtype=bool)
    mask[envs] = True
    return mask.reshape(-1, *([1] * (len(shape) - 1)))


def validate_actions(actions: Any, num_envs: int, num_slots: int, num_actions: int) -> np.ndarray:
    """Check a batch of actions and return it as an ``[E, S]`` int64 array.

    Args:
        actions: array-like ``[E, S]`` of integers in ``[0, A)``.
        num_envs: ``E``. num_slots: ``S``. num_actions: ``A``.

    Raises:
        ValueError: naming the wrong shape, dtype, or the first out-of-range value and where.
    """
    try:
        arr = np.asarray(actions)
    except (ValueError, TypeError) as err:  # ragged nested lists, objects numpy cannot read
        raise ValueError(
            f"actions must be a (num_envs, num_slots) = {(num_envs, num_slots)} integer array: "
            f"{err}"
        ) from None
    if arr.shape != (num_envs, num_slots):
        raise ValueError(
            f"actions must have shape (num_envs, num_slots) = {(num_envs, num_slots)}, "
            f"got {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"actions must be integers, got dtype {arr.dtype}")
    bad = (arr < 0) | (arr >= num_actions)
    if bad.any():
        e, s = np.argwhere(bad)[0]
        raise ValueError(
            f"action {int(arr[e, s])} out of range [0, {num_actions}) at env {e}, slot {s}"
        )
    return arr.astype(np.int64, copy=False)


def check_seed(seed: Any) -> None:
    """Raise ``ValueError`` naming ``seed`` unless it is ``None`` or a non-negative integer
    (what ``np.random.SeedSequence`` takes; a bool is not a seed)."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"seed must be None or an integer >= 0, got {seed!r} ({type(seed).__name__})"
        )
