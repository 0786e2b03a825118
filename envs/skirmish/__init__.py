"""skirmish-v0: two teams build units at their bases, fight over capture points and bases."""

from .config import PRESETS, SkirmishConfig, make_config
from .skirmish import SkirmishEnv, env, parallel_env, raw_env
from .world import SkirmishWorld


def batched_env(
    *, num_envs: int = 1, preset: str | None = None, auto_reset: bool = True, **settings
) -> SkirmishWorld:
    """The learners' batched core: ``num_envs`` worlds with the given preset/settings."""
    return SkirmishWorld(make_config(None, preset, **settings), num_envs, auto_reset=auto_reset)


__all__ = [
    "PRESETS",
    "SkirmishConfig",
    "SkirmishEnv",
    "SkirmishWorld",
    "batched_env",
    "env",
    "make_config",
    "parallel_env",
    "raw_env",
]
