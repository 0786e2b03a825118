"""``from spawnzoo.envs import forage_v0`` (PettingZoo-style versioned module)."""

from .forage.forage import ForageEnv, env, parallel_env, raw_env

__all__ = ["ForageEnv", "env", "parallel_env", "raw_env"]
