"""harvest-v0: Lux AI Season 2 rules (ice -> water survival), factories and robots as agents."""

from .config import PRESETS, HarvestConfig, make_config
from .harvest import HarvestEnv, env, parallel_env, raw_env
from .world import HarvestWorld


def batched_env(
    *, num_envs: int = 1, preset: str | None = None, auto_reset: bool = True, **settings
) -> HarvestWorld:
    """The learners' batched core: ``num_envs`` worlds with the given preset/settings."""
    return HarvestWorld(make_config(None, preset, **settings), num_envs, auto_reset=auto_reset)


__all__ = [
    "PRESETS",
    "HarvestConfig",
    "HarvestEnv",
    "HarvestWorld",
    "batched_env",
    "env",
    "make_config",
    "parallel_env",
    "raw_env",
]
