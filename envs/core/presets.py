"""Named presets of an env's frozen config, and building a config from preset + overrides.

Every env keeps one frozen config dataclass (all its numbers) and a ``PRESETS`` table of
``Preset`` entries; ``build_config`` is what each env's ``make_config`` calls.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from .settings import shown

C = TypeVar("C")


@dataclass(frozen=True)
class Preset:
    """A named configuration: env settings plus the evaluation length learners should use."""

    config: dict[str, Any]
    eval_max_cycles: int
    description: str


def build_config(
    cls: type[C],
    presets: dict[str, Preset],
    env_name: str,
    base: C | None = None,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> C:
    """A ``cls`` config from an optional ``base``, a preset name and field ``overrides``
    (later ones win); the dataclass validates the values.

    Raises:
        ValueError: unknown preset or field name (listing the valid ones), a ``base`` that is
            not a ``cls``, or invalid values (naming the setting and its range).
    """
    overrides = overrides or {}
    if base is not None and not isinstance(base, cls):
        raise ValueError(f"config must be a {cls.__name__} or None, got {shown(base)}")
    if preset is not None and not isinstance(preset, str):
        raise ValueError(f"preset must be a preset name (str) or None, got {shown(preset)}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"unknown {env_name} setting(s) {unknown}; valid settings: {sorted(fields)}"
        )
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in presets:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(presets)}")
        values.update(presets[preset].config)
    values.update(overrides)
    if base is None:
        return cls(**values)
    return dataclasses.replace(base, **values)
