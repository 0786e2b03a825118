"""RLlib (``ray[rllib]`` 2.60, new API stack) on spawnzoo envs: ``pip install 'spawnzoo[rllib]'``.

RLlib's own ``ParallelPettingZooEnv`` takes ``possible_agents`` and the spaces from the agents
present at reset (the first agent that spawns is a ``KeyError``), ends an episode only when all
agents are terminated or all truncated (a final step that mixes both makes the driver step an
empty episode once more), and PPO's default module cannot read a ``Dict`` observation. Here:

- ``RLlibEnv``: a ``MultiAgentEnv`` that declares the whole agent pool as ``possible_agents``
  with one observation and action space per agent (shared objects), the live agents as
  ``agents``, and on the episode's last step ``__all__`` True in ``terminateds`` (no agent
  truncated: the game ended) or in ``truncateds`` (``max_cycles`` reached), never in neither.
  At ``max_cycles`` the truncation is ``truncateds["__all__"]`` alone, the per-agent entries
  False (agents dying in that step stay terminated): RLlib 2.60's ``MultiAgentEpisode`` marks
  every agent terminated once all are flagged done, which would stop the value bootstrap.
  Observations are ``Dict(observation=Box(-1, 1, (D,), float32), action_mask=Box(0, 1, (A,),
  float32))``; infos are the env's (numbers only).
- ``MaskedMLPModule`` / ``masking_module_spec``: a PPO ``RLModule`` (MLP policy and value
  over ``observation``) whose logits of masked actions are the float minimum, so PPO never
  samples an illegal action.
- ``register_rllib_env`` registers an env under a name for ``config.environment(name)``;
  ``ppo_config`` builds a ready ``PPOConfig`` (one shared policy, or one per kind or owner).

Example (``scripts/examples/rllib_ppo.py`` trains forage ``tiny`` for a few minutes)::

    from spawnzoo.integrations.rllib import ppo_config

    algo = ppo_config("forage-v0", preset="tiny", train_batch_size_per_learner=1000).build_algo()
    result = algo.train()  # result["env_runners"]["episode_return_mean"], ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
from gymnasium import spaces

from spawnzoo.envs import make

from . import require

require("ray.rllib", "rllib")
torch = require("torch", "rllib")

from ray.rllib.algorithms.ppo import PPOConfig  # noqa: E402
from ray.rllib.core.columns import Columns  # noqa: E402
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI  # noqa: E402
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec  # noqa: E402
from ray.rllib.core.rl_module.rl_module import RLModuleSpec  # noqa: E402
from ray.rllib.core.rl_module.torch import TorchRLModule  # noqa: E402
from ray.rllib.env.multi_agent_env import MultiAgentEnv  # noqa: E402
from ray.tune.registry import register_env  # noqa: E402

__all__ = [
    "POLICIES",
    "MaskedMLPModule",
    "RLlibEnv",
    "make_rllib_env",
    "masking_module_spec",
    "ppo_config",
    "register_rllib_env",
]

#: how agents map to RLlib modules in ``ppo_config``: one for all, one per kind, one per owner
POLICIES = ("shared", "kind", "owner")


class RLlibEnv(MultiAgentEnv):
    """A spawnzoo env as an RLlib ``MultiAgentEnv`` that knows every agent that can appear.

    Args:
        config: RLlib's ``env_config``: ``env_id`` (required, e.g. ``"forage-v0"``), then
            ``make``'s keywords (``preset``, settings such as ``players``, ``max_cycles``).

    Raises:
        ValueError: ``env_id`` is missing (or the env rejects the settings).
    """

    def __init__(self, config: Mapping[str, Any] | None = None):
        super().__init__()
        kwargs = dict(config or {})
        env_id = kwargs.pop("env_id", None)
        if env_id is None:
            raise ValueError(
                "RLlibEnv needs 'env_id' in its env_config, e.g. {'env_id': 'forage-v0', "
                f"'preset': 'tiny'}}; got keys {sorted(kwargs)}"
            )
        if kwargs.get("preset", 0) is None:
            del kwargs["preset"]
        self.env_id = env_id
        self.env = make(env_id, **kwargs)
        first = self.env.possible_agents[0]
        dim = self.env.observation_space(first)["observation"].shape[0]
        n_actions = int(self.env.action_space(first).n)
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(-1.0, 1.0, (dim,), np.float32),
                "action_mask": spaces.Box(0.0, 1.0, (n_actions,), np.float32),
            }
        )
        act_space = spaces.Discrete(n_actions)
        self.possible_agents = list(self.env.possible_agents)
        self.agents = []
        self.observation_spaces = dict.fromkeys(self.possible_agents, obs_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, act_space)

    @property
    def unwrapped_env(self):
        """The spawnzoo PettingZoo env underneath (``kind_of``, ``slot_of``, ``last_batch``)."""
        return self.env

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents)
        return self._observations(obs), infos

    def step(self, action_dict: Mapping[str, Any]):
        obs, rewards, terminateds, truncateds, infos = self.env.step(action_dict)
        self.agents = list(self.env.agents)
        ended = bool(self.env.last_batch.done[0])
        any_truncated = any(truncateds.values())
        # exactly one __all__ is True on the last step, also when it mixes deaths and truncation
        terminateds["__all__"] = ended and not any_truncated
        truncateds["__all__"] = ended and any_truncated
        if ended and any_truncated:
            # RLlib 2.60's MultiAgentEpisode marks every agent *terminated* once all are flagged
            # done, which would stop the value bootstrap of the truncated ones; __all__ alone
            # truncates them (and the ones that died now stay terminated)
            truncateds = {agent: False for agent in truncateds}
            truncateds["__all__"] = True
        return self._observations(obs), rewards, terminateds, truncateds, infos

    @staticmethod
    def _observations(obs: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
        return {
            agent: {
                "observation": o["observation"],
                "action_mask": o["action_mask"].astype(np.float32),
            }
            for agent, o in obs.items()
        }

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def make_rllib_env(env_id: str, *, preset: str | None = None, **settings: Any) -> RLlibEnv:
    """``RLlibEnv`` of ``env_id`` with ``preset`` and settings (``make``'s keywords)."""
    return RLlibEnv({"env_id": env_id, "preset": preset, **settings})


def _create(defaults: dict[str, Any], env_config: Mapping[str, Any]) -> RLlibEnv:
    return RLlibEnv({**defaults, **dict(env_config)})


def register_rllib_env(
    env_id: str, *, name: str | None = None, preset: str | None = None, **settings: Any
) -> str:
    """Register ``env_id`` (with ``preset`` and settings) with RLlib; returns the name.

    ``config.environment(name)`` then builds it in every env runner; keys of the config's
    ``env_config`` override the settings given here. The default name is ``"spawnzoo/<env_id>"``
    (``"spawnzoo/forage-v0"``).
    """
    make_rllib_env(env_id, preset=preset, **settings).close()  # bad settings fail here, once
    name = name or f"spawnzoo/{env_id}"
    register_env(name, partial(_create, {"env_id": env_id, "preset": preset, **settings}))
    return name


# ------------------------------------------------------------------------- the masking module
def _mlp(sizes: Sequence[int], out_gain: float) -> torch.nn.Sequential:
    """Tanh MLP ``sizes[0] -> ... -> sizes[-1]``, orthogonal init, last layer scaled by
    ``out_gain``."""
    layers: list[torch.nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layer = torch.nn.Linear(n_in, n_out)
        torch.nn.init.orthogonal_(layer.weight, out_gain if last else np.sqrt(2))
        torch.nn.init.zeros_(layer.bias)
        layers += [layer] if last else [layer, torch.nn.Tanh()]
    return torch.nn.Sequential(*layers)


class MaskedMLPModule(TorchRLModule, ValueFunctionAPI):
    """A PPO module for ``Dict(observation [B, D], action_mask [B, A])`` observations.

    Policy: MLP ``observation -> logits [B, A]``, logits of masked actions (``action_mask <
    0.5``) set to the float minimum, so their probability is exactly 0. Value: a separate MLP
    ``observation -> [B]``. ``model_config``: ``{"hidden": [64, 64]}``.
    """

    def setup(self) -> None:
        space = self.observation_space
        if not (isinstance(space, spaces.Dict) and {"observation", "action_mask"} <= set(space)):
            raise ValueError(
                "MaskedMLPModule needs a Dict observation space with 'observation' and "
                f"'action_mask' (RLlibEnv's), got {space}"
            )
        hidden = list((self.model_config or {}).get("hidden", (64, 64)))
        dim = int(np.prod(space["observation"].shape))
        n_actions = int(self.action_space.n)
        self.pi = _mlp([dim, *hidden, n_actions], out_gain=0.01)
        self.vf = _mlp([dim, *hidden, 1], out_gain=1.0)

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        obs = batch[Columns.OBS]
        logits = self.pi(obs["observation"])
        masked = obs["action_mask"] < 0.5
        floor = torch.finfo(logits.dtype).min
        return {Columns.ACTION_DIST_INPUTS: logits.masked_fill(masked, floor)}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None):
        return self.vf(batch[Columns.OBS]["observation"]).squeeze(-1)


def masking_module_spec(hidden: Sequence[int] = (64, 64)) -> RLModuleSpec:
    """An ``RLModuleSpec`` of ``MaskedMLPModule`` with ``hidden`` layer sizes."""
    return RLModuleSpec(module_class=MaskedMLPModule, model_config={"hidden": list(hidden)})


def _module_of(modules: Mapping[str, str], agent_id: str, *args: Any, **kwargs: Any) -> str:
    return modules[agent_id]


def ppo_config(
    env_id: str,
    *,
    preset: str | None = None,
    settings: Mapping[str, Any] | None = None,
    policies: str = "shared",
    hidden: Sequence[int] = (64, 64),
    seed: int | None = None,
    num_env_runners: int = 0,
    **training: Any,
) -> PPOConfig:
    """A ``PPOConfig`` that trains on ``env_id`` with action masking.

    Args:
        env_id: a registered spawnzoo env (``"forage-v0"``).
        preset: its preset (``"tiny"``); ``settings``: further env settings.
        policies: ``"shared"`` (one module for every agent), ``"kind"`` (one per agent kind,
            e.g. factories and robots) or ``"owner"`` (one per player).
        hidden: the MLP layer sizes of ``MaskedMLPModule``.
        seed: RLlib's ``debugging(seed=...)`` (env resets and module init).
        num_env_runners: RLlib's remote env runners (0: sample in the driver process).
        **training: passed to ``PPOConfig.training`` (``lr``, ``train_batch_size_per_learner``,
            ``minibatch_size``, ``num_epochs``, ``entropy_coeff``, ...).

    Returns:
        the config; ``.build_algo()`` makes the algorithm, further calls adjust it.
    """
    if policies not in POLICIES:
        raise ValueError(f"policies must be one of {POLICIES}, got {policies!r}")
    settings = dict(settings or {})
    name = register_rllib_env(env_id, preset=preset, **settings)
    env = make_rllib_env(env_id, preset=preset, **settings).unwrapped_env
    if policies == "shared":
        modules = dict.fromkeys(env.possible_agents, "shared")
    elif policies == "kind":
        modules = {a: env.kind_of(a) for a in env.possible_agents}
    else:
        modules = {a: env.owner_of(a) for a in env.possible_agents}
    env.close()
    module_ids = sorted(set(modules.values()))
    config = (
        PPOConfig()
        .environment(name)
        .framework("torch")
        .env_runners(num_env_runners=num_env_runners)
        .multi_agent(policies=set(module_ids), policy_mapping_fn=partial(_module_of, modules))
        .rl_module(
            rl_module_spec=MultiRLModuleSpec(
                rl_module_specs={m: masking_module_spec(hidden) for m in module_ids}
            )
        )
    )
    if training:
        config = config.training(**training)
    if seed is not None:
        config = config.debugging(seed=seed)
    return config
