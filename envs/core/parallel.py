"""The PettingZoo ``ParallelEnv`` adapter over a one-world ``BatchedEnv``.

Users get the standard dict API; learners use the batched core directly. Both run the same rules,
so the adapter does only bookkeeping: slot <-> agent name, dicts in and out, observations cut
from the core's planes. Each spawned entity becomes a fresh agent name from the world's
``AgentPool``; a dying agent appears in that step's dicts with ``terminations[a] = True`` and then
leaves ``agents``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from .batched import BatchedEnv, BatchStep
from .settings import MAX_CYCLES, Int, Rejected, shown


class SlotParallelEnv(ParallelEnv):
    """Dict API over ``world`` (a ``BatchedEnv`` with ``num_envs == 1`` and no auto-reset).

    Subclasses build the world, set ``metadata`` and implement ``_make_renderer``.

    Observations are ``Dict(observation=Box(-1, 1, (D,), float32), action_mask=Box(0, 1, (A,),
    int8))`` where ``observation`` is the egocentric window (``[C', K, K]`` flattened, planes
    ``world.window_plane_names``) followed by the agent's own features
    (``world.feature_names``). All agents share one ``Discrete(A)`` action layout; the mask
    says which actions an agent's kind can take now.

    Infos hold numbers only, so libraries that make a tensor of every info value (TorchRL) take
    them as they are: ``cell`` ``(x, y)`` ints, ``kind`` an index into ``kind_names``, ``owner``
    an index into ``owner_names``, ``illegal_action`` a bool, and on the episode's last step
    ``episode`` (the owner's episode metrics, numbers). ``kind_of(agent)`` and
    ``owner_of(agent)`` give the names. ``step`` after the episode ended (``agents`` empty)
    raises ``RuntimeError``: call ``reset()``.

    Args:
        world: the rules, one world.
        obs_radius: egocentric window radius ``r`` (``K = 2r + 1``).
        render_mode: ``None``, ``"human"`` or ``"rgb_array"``.
        strict: raise ``ValueError`` on a masked action instead of running the no-op.
    """

    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "is_parallelizable": True}

    def __init__(
        self,
        world: BatchedEnv,
        *,
        obs_radius: int,
        render_mode: str | None = None,
        strict: bool = False,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        if not isinstance(strict, bool):
            raise ValueError(f"strict must be True or False, got {shown(strict)}")
        if world.num_envs != 1:
            raise ValueError("the PettingZoo adapter drives exactly one world (num_envs=1)")
        self.world = world
        self.render_mode = render_mode
        self.strict = strict
        self.obs_radius = obs_radius
        pool = world.pool
        self.possible_agents = list(pool.names)
        self.agents: list[str] = []
        self._agents_given: list[str] = []  # a copy of what ``agents`` was set to, to notice edits
        self._agent_slots = np.zeros(0, dtype=np.int64)  # [n] core slot of each of ``agents``
        k = 2 * obs_radius + 1
        self._obs_dim = len(world.window_plane_names) * k * k + len(world.feature_names)
        self._obs_spaces: dict[str, spaces.Dict] = {}
        self._act_spaces: dict[str, spaces.Discrete] = {}
        self._space_seed: int | None = None
        self._slot_of: dict[str, int] = {}
        self._name_of_slot: list[str | None] = [None] * world.num_slots
        self._renderer: Any = None
        self._last: BatchStep | None = None
        self._last_actions = np.zeros(world.num_slots, dtype=np.int64)

    # ---------------------------------------------------------------- spaces
    def observation_space(self, agent: str) -> spaces.Dict:
        space = self._obs_spaces.get(agent)
        if space is None:
            idx = self.world.pool.index(agent)
            space = spaces.Dict(
                {
                    "observation": spaces.Box(-1.0, 1.0, (self._obs_dim,), np.float32),
                    "action_mask": spaces.Box(0, 1, (self.world.num_actions,), np.int8),
                }
            )
            if self._space_seed is not None:
                space.seed(self._space_seed + 2 * idx)
            self._obs_spaces[agent] = space
        return space

    def action_space(self, agent: str) -> spaces.Discrete:
        space = self._act_spaces.get(agent)
        if space is None:
            idx = self.world.pool.index(agent)
            space = spaces.Discrete(self.world.num_actions)
            if self._space_seed is not None:
                space.seed(self._space_seed + 2 * idx + 1)
            self._act_spaces[agent] = space
        return space

    @property
    def state_space(self) -> spaces.Box:
        h, w = self.world.map_shape
        return spaces.Box(-1.0, 1.0, (len(self.world.plane_names), h, w), np.float32)

    @property
    def max_cycles(self) -> int:
        """Steps before truncation (PettingZoo's tests set this attribute)."""
        return self.world.max_cycles

    @max_cycles.setter
    def max_cycles(self, value: int) -> None:
        rule = Int(1, MAX_CYCLES)
        try:
            self.world.max_cycles = rule.normalise(value)
        except Rejected:
            raise ValueError(f"max_cycles must be {rule.describe()}, got {shown(value)}") from None

    # ------------------------------------------------------------ reset/step
    def reset(self, seed: int | None = None, options: dict | None = None):
        batch = self.world.reset(seed=seed)
        # every pool space (also of agents that spawn later) is seeded from the reset seed,
        # so PettingZoo's seed tests see the same samples for late-spawning agents
        self._space_seed = (
            int(np.random.SeedSequence(seed).generate_state(1)[0]) if seed is not None else None
        )
        if seed is not None:
            for agent, space in self._obs_spaces.items():
                space.seed(self._space_seed + 2 * self.world.pool.index(agent))
            for agent, space in self._act_spaces.items():
                space.seed(self._space_seed + 2 * self.world.pool.index(agent) + 1)
        self._slot_of.clear()
        self._name_of_slot = [None] * self.world.num_slots
        self._last_actions[:] = 0
        slots = np.flatnonzero(batch.alive[0])
        names = self._register(slots, batch)
        self._set_agents(names, slots)
        self._last = batch
        obs = self._observations(slots, names, batch)
        infos = self._infos(slots, names, batch)
        if self.render_mode == "human":
            self.render()
        return obs, infos

    def step(self, actions: dict[str, Any]):
        if self._last is None:
            raise RuntimeError("call reset() before step()")
        if self._last.done[0]:
            raise RuntimeError(
                "the episode has ended (no agents left): call reset() before step() again"
            )
        arr = np.zeros((1, self.world.num_slots), dtype=np.int64)
        slots, values = self._check_actions(actions)
        arr[0, slots] = values
        before = self.agents
        if before == self._agents_given:
            before_slots = self._agent_slots
        else:  # someone edited ``agents``: look the slots up again
            before_slots = np.array([self._slot_of[a] for a in before], dtype=np.int64)
        batch = self.world.step(arr)
        self._last_actions[:] = arr[0]
        # an entity born in the episode's last step never acts: it never becomes an agent
        new_slots = (batch.spawned[0] & ~batch.done[0]).nonzero()[0]
        new_names = self._register(new_slots, batch)
        slots = np.concatenate([before_slots, new_slots])
        names = before + new_names
        obs = self._observations(slots, names, batch)
        rewards = dict(zip(names, batch.reward[0, slots].tolist()))
        term, trunc = batch.terminated[0, slots], batch.truncated[0, slots]
        terminations = dict(zip(names, term.tolist()))
        truncations = dict(zip(names, trunc.tolist()))
        infos = self._infos(slots, names, batch)
        if batch.done[0]:
            metrics = batch.final.metrics[0]
            owners = self.world.owner[0, slots].tolist()
            for name, owner in zip(names, owners):
                infos[name]["episode"] = {
                    "episode_length": metrics["episode_length"],
                    **metrics["per_player"][owner],
                }
        ended = term | trunc
        if ended.any():
            for i in ended.nonzero()[0].tolist():
                del self._slot_of[names[i]]
            names = [names[i] for i in (~ended).nonzero()[0].tolist()]
            slots = slots[~ended]
        self._set_agents(names, slots)
        self._last = batch
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    def _set_agents(self, names: list[str], slots: np.ndarray) -> None:
        """Make ``names`` (in slots ``[n]``) the live agents; the next step reuses ``slots``."""
        self.agents = names
        self._agents_given = names.copy()
        self._agent_slots = slots

    @property
    def last_batch(self) -> BatchStep:
        """The core's last ``BatchStep`` (``[1, S]`` arrays): what batched policies act on."""
        if self._last is None:
            raise RuntimeError("call reset() first")
        return self._last

    @property
    def last_actions(self) -> np.ndarray:
        """``[S]`` int64: actions submitted per slot in the last step (0 where none was).

        What ran differs where a masked action became the no-op (``last_batch.illegal``).
        """
        return self._last_actions

    @property
    def kind_names(self) -> tuple[str, ...]:
        """Kind names; ``infos[agent]["kind"]`` indexes this (``("factory", "light", ...)``)."""
        return self.world.pool.kinds

    @property
    def owner_names(self) -> tuple[str, ...]:
        """Owner names; ``infos[agent]["owner"]`` indexes this (``("player_0", ...)``)."""
        return self.world.pool.owners

    def kind_of(self, agent: str) -> str:
        """The kind name of any agent of ``possible_agents`` (``"heavy"``), alive or not."""
        return self.world.pool.kinds[self.world.pool.parts(agent)[1]]

    def owner_of(self, agent: str) -> str:
        """The owner name of any agent of ``possible_agents`` (``"player_0"``), alive or not."""
        return self.world.pool.owners[self.world.pool.parts(agent)[0]]

    def slot_of(self, agent: str) -> int:
        """The core slot of a live agent (``ValueError`` if it is not alive)."""
        try:
            return self._slot_of[agent]
        except KeyError:
            raise ValueError(f"agent {agent!r} is not alive in this episode") from None

    def actions_from_slots(self, actions: np.ndarray) -> dict[str, int]:
        """Turn batched actions (``[S]`` or ``[1, S]`` ints) into the dict for ``step``."""
        flat = np.asarray(actions).reshape(-1)
        return {agent: int(flat[self._slot_of[agent]]) for agent in self.agents}

    def _check_actions(self, actions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Validate an action dict; return ``(slots [n], actions [n])`` int64 arrays.

        Vectorised for the common case; any anomaly is re-checked agent by agent so the error
        names the first offending agent and value. Nothing is changed before this returns.
        """
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must be a dict of agent -> action, got {shown(actions)}")
        n, n_act = len(actions), self.world.num_actions
        slot_of = self._slot_of
        try:
            slots = np.fromiter(map(slot_of.__getitem__, actions), np.int64, n)
            values = np.asarray(list(actions.values()))
        except (KeyError, ValueError, TypeError):
            values = np.zeros(0)
        if values.shape == (n,) and values.dtype.kind in "iu":
            ok = ((values >= 0) & (values < n_act)).all()
            if ok and self.strict:
                ok = self._last.action_mask[0, slots, values].all()
            if ok:
                return slots, values.astype(np.int64, copy=False)
        mask = self._last.action_mask[0]
        checked_slots, checked_values = [], []
        for agent, action in actions.items():
            slot = slot_of.get(agent)
            if slot is None:
                if agent in self.world.pool:
                    raise ValueError(
                        f"agent {agent!r} is not alive in this episode (dead or not yet spawned)"
                    )
                raise ValueError(f"unknown agent {agent!r}: not in this env's possible_agents")
            try:
                value = int(action)
                if value != action:
                    raise TypeError
            except (TypeError, ValueError, OverflowError):  # OverflowError: an infinity
                raise ValueError(
                    f"action for {agent!r} must be an integer in [0, {n_act}), got {action!r}"
                ) from None
            if not 0 <= value < n_act:
                raise ValueError(f"action {value} for {agent!r} is out of range [0, {n_act})")
            if self.strict and not mask[slot, value]:
                legal = np.flatnonzero(mask[slot]).tolist()
                raise ValueError(
                    f"action {value} for {agent!r} is masked (illegal) now; legal: {legal}"
                )
            checked_slots.append(slot)
            checked_values.append(value)
        return np.array(checked_slots, np.int64), np.array(checked_values, np.int64)

    def state(self) -> np.ndarray:
        """Global planes ``[C, H, W]`` float32 from player 0's side (the game is fully observed)."""
        return self.world.planes()[0, 0]

    # --------------------------------------------------------------- helpers
    def _register(self, slots: np.ndarray, batch: BatchStep) -> list[str]:
        world = self.world
        names = world.pool.names_of(
            world.owner[0, slots], world.kind[0, slots], world.serial[0, slots]
        )
        for slot, name in zip(slots.tolist(), names):
            self._slot_of[name] = slot
            self._name_of_slot[slot] = name
        return names

    def _observations(self, slots: np.ndarray, names: list[str], batch: BatchStep) -> dict:
        if not names:
            return {}
        world = self.world
        n, k = slots.size, 2 * self.obs_radius + 1
        env0 = np.zeros(n, dtype=np.int64)
        # one [n, D] block: windows cut straight into their rows, own features after them
        obs = np.empty((n, self._obs_dim), np.float32)
        n_win = len(world.window_plane_names) * k * k
        windows = obs[:, :n_win].reshape(n, -1, k, k)
        world.egocentric(env0, slots, self.obs_radius, out=windows)
        obs[:, n_win:] = world.self_features(env0, slots)
        masks = batch.action_mask[0, slots].astype(np.int8)
        return {name: {"observation": o, "action_mask": m} for name, o, m in zip(names, obs, masks)}

    def _infos(self, slots: np.ndarray, names: list[str], batch: BatchStep) -> dict:
        world = self.world
        w = world.map_shape[1]
        y, x = np.divmod(world.cell[0, slots], w)
        kinds = world.kind[0, slots].tolist()
        owners = world.owner[0, slots].tolist()
        illegal = batch.illegal[0, slots].tolist() if batch.illegal.size else [False] * len(names)
        return {
            name: {
                "cell": (xi, yi),
                "kind": k,
                "owner": o,
                "illegal_action": bad,
            }
            for name, xi, yi, k, o, bad in zip(
                names, x.tolist(), y.tolist(), kinds, owners, illegal
            )
        }

    # -------------------------------------------------------------- render
    def _make_renderer(self):  # pragma: no cover - subclasses implement
        raise NotImplementedError

    def make_renderer(self):
        """A new renderer of this env (what ``render()`` uses); callers may set its options
        (``window_size``, ``overlays``, ``selected``, ``fps``) before drawing."""
        return self._make_renderer()

    def render(self):
        if self.render_mode is None:
            import gymnasium

            gymnasium.logger.warn("render() called without a render_mode; nothing to draw")
            return None
        if self._renderer is None:
            self._renderer = self._make_renderer()
        return self._renderer.render(self, self.render_mode)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
