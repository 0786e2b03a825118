"""``from spawnzoo.envs import skirmish_v0`` (PettingZoo-style versioned module)."""

from .skirmish import SkirmishEnv, env, parallel_env, raw_env

__all__ = ["SkirmishEnv", "env", "parallel_env", "raw_env"]
