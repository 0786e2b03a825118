"""SuperSuit with agents that spawn and die: PettingZoo wrappers, no torch.

SuperSuit 3.11's observation wrappers need a ``Box`` (spawnzoo observations are
``Dict(observation, action_mask)``), its ``black_death_v3`` fixes the agent list at reset (the
first spawn is a ``KeyError``) and reports the episode's end a step late, and
``agent_indicator_v0(type_only=True)`` reads ``player`` from ``player_0_heavy_3``. These three
wrappers fill the gaps and compose with SuperSuit's own wrappers, its vectorisers included:

- ``flatten_observations(env, mask="info")``: the ``observation`` ``Box`` as the observation;
  the action mask goes to ``infos[agent]["action_mask"]`` (PettingZoo's other mask convention),
  or is appended to the observation (``mask="append"``), or dropped (``mask="drop"``).
- ``black_death(env)``: every agent of ``possible_agents`` is in ``agents`` and in every dict
  from reset to the episode's end; an agent not alive (not spawned yet, or dead) gets a zero
  observation (whose ``action_mask``, where there is one, allows only action 0), reward 0 and
  ``infos[agent]["active"] = False``, and its actions are dropped. Deaths are not terminations
  (the dead stay as absorbing zeros); the episode ends in the env's own last step, where every
  agent is terminated or truncated: live ones by their own flags, the others truncated when
  any agent was truncated (``max_cycles``), else terminated. ``agents`` is then empty.
- ``kind_indicator(env, owner=False)``: appends a one-hot of the agent's true kind (and of its
  owner) to the observation (the ``observation`` entry of a ``Dict``).

SB3 on a spawnzoo env through SuperSuit (one policy over every pool agent)::

    import supersuit as ss
    from spawnzoo import envs
    from spawnzoo.integrations.supersuit import black_death, flatten_observations

    env = black_death(flatten_observations(envs.make("forage-v0", preset="tiny")))
    vec = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), 2, num_cpus=0,
                                base_class="stable_baselines3")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.wrappers import BaseParallelWrapper

__all__ = ["BlackDeath", "FlattenObservations", "KindIndicator", "black_death"]
__all__ += ["flatten_observations", "kind_indicator"]

MASK_MODES = ("info", "append", "drop")


class _ObservationWrapper(BaseParallelWrapper):
    """Maps each agent's observation (and its space, cached per agent) through ``_observe``."""

    def __init__(self, env):
        super().__init__(env)
        self._spaces: dict[str, spaces.Space] = {}

    def observation_space(self, agent: str) -> spaces.Space:
        space = self._spaces.get(agent)
        if space is None:
            space = self._spaces[agent] = self._space(self.env.observation_space(agent), agent)
        return space

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        return self._all(obs, infos), infos

    def step(self, actions: Mapping[str, Any]):
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        return self._all(obs, infos), rewards, terminations, truncations, infos

    def _all(self, obs: Mapping[str, Any], infos: Mapping[str, dict]) -> dict[str, Any]:
        return {a: self._observe(o, a, infos.get(a)) for a, o in obs.items()}

    def _space(self, space: spaces.Space, agent: str) -> spaces.Space:  # pragma: no cover
        raise NotImplementedError

    def _observe(self, obs: Any, agent: str, info: dict | None) -> Any:  # pragma: no cover
        raise NotImplementedError


def _dict_parts(space: spaces.Space, what: str) -> tuple[spaces.Box, spaces.Box]:
    if not (isinstance(space, spaces.Dict) and {"observation", "action_mask"} <= set(space)):
        raise ValueError(f"{what} needs Dict(observation, action_mask) observations, got {space}")
    return space["observation"], space["action_mask"]


class FlattenObservations(_ObservationWrapper):
    """``Dict(observation, action_mask)`` -> the ``observation`` Box (see the module doc)."""

    def __init__(self, env, mask: str = "info"):
        if mask not in MASK_MODES:
            raise ValueError(f"mask must be one of {MASK_MODES}, got {mask!r}")
        super().__init__(env)
        self.mask = mask

    def _space(self, space: spaces.Space, agent: str) -> spaces.Box:
        box, mask = _dict_parts(space, "flatten_observations")
        if self.mask != "append":
            return spaces.Box(box.low, box.high, box.shape, np.float32)
        low = np.concatenate([box.low.ravel(), np.zeros(mask.shape, np.float32)])
        high = np.concatenate([box.high.ravel(), np.ones(mask.shape, np.float32)])
        return spaces.Box(low, high, low.shape, np.float32)

    def _observe(self, obs: Mapping[str, np.ndarray], agent: str, info: dict | None):
        if self.mask == "info" and info is not None:
            info["action_mask"] = obs["action_mask"]
        if self.mask == "append":
            return np.concatenate([obs["observation"], obs["action_mask"].astype(np.float32)])
        return obs["observation"]


class KindIndicator(_ObservationWrapper):
    """Appends one-hots of the agent's kind (and owner) to its observation."""

    def __init__(self, env, owner: bool = False):
        super().__init__(env)
        base = env.unwrapped
        self.owner = owner
        self._n = len(base.kind_names) + (len(base.owner_names) if owner else 0)

    def _indicator(self, agent: str) -> np.ndarray:
        base = self.env.unwrapped
        out = np.zeros(self._n, np.float32)
        out[base.kind_names.index(base.kind_of(agent))] = 1.0
        if self.owner:
            out[len(base.kind_names) + base.owner_names.index(base.owner_of(agent))] = 1.0
        return out

    def _extend(self, box: spaces.Box) -> spaces.Box:
        if not isinstance(box, spaces.Box) or len(box.shape) != 1:
            raise ValueError(f"kind_indicator needs a 1-d Box observation, got {box}")
        low = np.concatenate([box.low, np.zeros(self._n, box.dtype)])
        high = np.concatenate([box.high, np.ones(self._n, box.dtype)])
        return spaces.Box(low, high, low.shape, box.dtype)

    def _space(self, space: spaces.Space, agent: str) -> spaces.Space:
        if isinstance(space, spaces.Dict):
            return spaces.Dict({**space.spaces, "observation": self._extend(space["observation"])})
        return self._extend(space)

    def _observe(self, obs: Any, agent: str, info: dict | None):
        if isinstance(obs, Mapping):
            tail = self._indicator(agent).astype(obs["observation"].dtype)
            return {**obs, "observation": np.concatenate([obs["observation"], tail])}
        return np.concatenate([obs, self._indicator(agent).astype(obs.dtype)])


class BlackDeath(BaseParallelWrapper):
    """Every pool agent present from reset to the episode's end (see the module doc)."""

    def __init__(self, env):
        super().__init__(env)
        self.possible_agents = list(env.possible_agents)
        self.agents: list[str] = []

    def _zero(self, agent: str) -> Any:
        """A fresh zero observation (callers' wrappers may write into it)."""
        return _zero_observation(self.observation_space(agent))

    def _noop_mask(self, agent: str) -> np.ndarray:
        mask = np.zeros(self.action_space(agent).n, np.int8)
        mask[0] = 1
        return mask

    def _fill(self, obs: dict, infos: dict) -> tuple[dict, dict]:
        full_obs, full_infos = {}, {}
        for agent in self.possible_agents:
            if agent in obs:
                full_obs[agent] = obs[agent]
                full_infos[agent] = {**infos.get(agent, {}), "active": True}
            else:
                full_obs[agent] = self._zero(agent)
                full_infos[agent] = {"active": False, "action_mask": self._noop_mask(agent)}
        return full_obs, full_infos

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return self._fill(obs, infos)

    def step(self, actions: Mapping[str, Any]):
        if not self.agents:
            raise RuntimeError("the episode has ended: call reset() before step() again")
        live = set(self.env.agents)
        obs, rewards, terminations, truncations, infos = self.env.step(
            {a: act for a, act in actions.items() if a in live}
        )
        full_obs, full_infos = self._fill(obs, infos)
        full_rewards = {a: rewards.get(a, 0.0) for a in self.possible_agents}
        if self.env.agents:  # the episode goes on: deaths are absorbing, not terminal
            no = dict.fromkeys(self.possible_agents, False)
            return full_obs, full_rewards, no, dict(no), full_infos
        truncated = any(truncations.values())
        full_terms = {a: terminations.get(a, not truncated) for a in self.possible_agents}
        full_truncs = {a: truncations.get(a, truncated) for a in self.possible_agents}
        self.agents = []
        return full_obs, full_rewards, full_terms, full_truncs, full_infos


def _zero_observation(space: spaces.Space) -> Any:
    """Zeros of ``space``; a ``Dict``'s ``action_mask`` allows action 0 only."""
    if isinstance(space, spaces.Dict):
        out = {key: _zero_observation(sub) for key, sub in space.spaces.items()}
        if "action_mask" in out:
            out["action_mask"][0] = 1
        return out
    return np.zeros(space.shape, space.dtype)


def flatten_observations(env, mask: str = "info") -> FlattenObservations:
    """The ``observation`` Box as the observation; the mask to ``infos`` (or appended/dropped)."""
    return FlattenObservations(env, mask)


def black_death(env) -> BlackDeath:
    """Every pool agent in every step until the episode ends in the env's own last step."""
    return BlackDeath(env)


def kind_indicator(env, owner: bool = False) -> KindIndicator:
    """Appends one-hots of the agent's kind (and, with ``owner=True``, its owner)."""
    return KindIndicator(env, owner)
