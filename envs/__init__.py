"""spawnzoo.envs: PettingZoo environments whose agents spawn and die mid-episode.

    from spawnzoo import envs
    env = envs.make("harvest-v0", preset="small")          # PettingZoo ParallelEnv
    core = envs.make_batched("harvest-v0", num_envs=64)    # batched arrays for learners

numpy, gymnasium, pettingzoo and pygame only: importing this never imports torch.
"""

from .core.registry import (
    REGISTRY,
    EnvSpec,
    env_config,
    make,
    make_batched,
    make_policy,
    presets,
    register,
    spec,
)

register(
    EnvSpec(
        id="harvest-v0",
        parallel_entry_point="spawnzoo.envs.harvest.harvest:parallel_env",
        batched_entry_point="spawnzoo.envs.harvest:batched_env",
        presets="spawnzoo.envs.harvest.config:PRESETS",
        config_entry_point="spawnzoo.envs.harvest.config:make_config",
        policies={"heuristic": "spawnzoo.envs.harvest.policies:HeuristicPolicy"},
        conformance=(
            {"preset": "tiny"},
            {"preset": "tiny", "players": 2},
            {"preset": "small"},
            {"preset": "small", "players": 2, "placement": "random"},
        ),
        headline_metrics=("ice_transferred", "avg_factories_alive"),
    )
)

register(
    EnvSpec(
        id="forage-v0",
        parallel_entry_point="spawnzoo.envs.forage.forage:parallel_env",
        batched_entry_point="spawnzoo.envs.forage:batched_env",
        presets="spawnzoo.envs.forage.config:PRESETS",
        config_entry_point="spawnzoo.envs.forage.config:make_config",
        policies={"heuristic": "spawnzoo.envs.forage.policies:HeuristicPolicy"},
        conformance=(
            {"preset": "tiny"},
            {"preset": "tiny", "players": 2},
            {"preset": "small"},
        ),
        headline_metrics=("food_eaten", "population_mean", "births"),
    )
)

register(
    EnvSpec(
        id="skirmish-v0",
        parallel_entry_point="spawnzoo.envs.skirmish.skirmish:parallel_env",
        batched_entry_point="spawnzoo.envs.skirmish:batched_env",
        presets="spawnzoo.envs.skirmish.config:PRESETS",
        config_entry_point="spawnzoo.envs.skirmish.config:make_config",
        policies={"heuristic": "spawnzoo.envs.skirmish.policies:HeuristicPolicy"},
        conformance=({"preset": "tiny"}, {"preset": "small"}),
        headline_metrics=("win", "points", "units_lost"),
        eval_opponent="heuristic",
    )
)

__all__ = [
    "REGISTRY",
    "EnvSpec",
    "env_config",
    "make",
    "make_batched",
    "make_policy",
    "presets",
    "register",
    "spec",
]
