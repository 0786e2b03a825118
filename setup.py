"""The one thing ``pyproject.toml`` can't say: where spawnzoo's packages live.

The repository's top-level folders are the layers of the ``spawnzoo`` namespace package,
read ``spawnzoo.<folder>.<module>`` as ``<folder>/<module>.py``:

    spawnzoo.envs.core.batched          ->  envs/core/batched.py
    spawnzoo.integrations.rllib         ->  integrations/rllib.py
    spawnzoo.baselines.grouped.ppo      ->  baselines/grouped/ppo.py
    spawnzoo.hybrid.train               ->  hybrid/train.py

Every folder below a layer that has an ``__init__.py`` is found and installed; nothing is
listed by hand. Everything else (metadata, dependencies, extras, tools) is in pyproject.toml.
"""

from setuptools import find_packages, setup

#: the top-level folders installed as ``spawnzoo.<name>``, lowest layer first
LAYERS = ("envs", "integrations", "baselines", "hybrid", "cli")

setup(
    package_dir={f"spawnzoo.{layer}": layer for layer in LAYERS},
    packages=[
        f"spawnzoo.{name}"
        for name in find_packages(include=[f"{layer}*" for layer in LAYERS])
        if name.split(".")[0] in LAYERS
    ],
)
