"""``from spawnzoo.envs import harvest_v0`` (PettingZoo-style versioned module)."""

from .harvest import HarvestEnv, env, parallel_env, raw_env

__all__ = ["HarvestEnv", "env", "parallel_env", "raw_env"]
