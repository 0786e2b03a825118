"""The envs from the stacks researchers already use: TorchRL, RLlib, SuperSuit.

One call each hands the client library an env that is correct for agents that spawn and die:

    spawnzoo.integrations.torchrl.make_torchrl_env("forage-v0", preset="tiny")   # [torchrl]
    spawnzoo.integrations.rllib.register_rllib_env("forage-v0", preset="tiny")   # [rllib]
    spawnzoo.integrations.supersuit.black_death(env)  (and flatten_observations, kind_indicator)

The layer sits on ``spawnzoo.envs`` only (``envs <- integrations <- baselines``). Importing this
package loads nothing; each module imports its client library, and a missing one is an
``ImportError`` naming the extra to install. ``spawnzoo.integrations.supersuit`` needs no torch.
Recipes and measured numbers: ``docs/integrations.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an ``ImportError`` that names the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module} is not installed: pip install 'spawnzoo[{extra}]' "
            f"(torch first and pinned: pip install torch==2.13.0); {err}"
        ) from err
