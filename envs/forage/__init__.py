"""forage-v0: a cooperative colony that eats regrowing food, splits when well fed, and dies of
hunger or old age."""

from .config import PRESETS, ForageConfig, make_config
from .forage import ForageEnv, env, parallel_env, raw_env
from .world import ForageWorld


def batched_env(
    *, num_envs: int = 1, preset: str | None = None, auto_reset: bool = True, **settings
) -> ForageWorld:
    """The learners' batched core: ``num_envs`` worlds with the given preset/settings."""
    return ForageWorld(make_config(None, preset, **settings), num_envs, auto_reset=auto_reset)


__all__ = [
    "PRESETS",
    "ForageConfig",
    "ForageEnv",
    "ForageWorld",
    "batched_env",
    "env",
    "make_config",
    "parallel_env",
    "raw_env",
]
