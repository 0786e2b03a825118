"""Env settings with declared ranges: every config field says which values it takes, and one
check enforces them all.

Each field of an env's frozen config dataclass is declared with ``setting(default, rule)``
(and, as every config field, followed by its docstring)::

    map_size: int = setting(48, Int(8, MAX_MAP_SIZE))

and the dataclass's ``__post_init__`` calls ``check_fields(self)`` before its checks that
involve several fields. ``check_fields`` checks every field against its rule and normalises the
value (numpy scalars become Python numbers, integers given for a real-valued field become
floats, a list given for a pair becomes a tuple), so a config read back from JSON equals the one
that was written. A value of the wrong type, NaN, infinite or out of range raises ``ValueError``
naming the config, the setting, what it accepts and what it got::

    HarvestConfig: ice_density must be a real number in [0, 0.2], got 2.0 (float)

The rules are data: tests draw bad values from them (``tests/test_settings_properties.py``), and
a field declared without a rule is a programming error (``TypeError`` at the first check).

The upper bounds keep every amount far from int64 overflow over ``MAX_CYCLES`` steps and every
allocation bounded (``MAX_MAP_SIZE``, ``MAX_SLOTS``, ``MAX_IDS``): a setting can make an env
slow, never hang it or make it wrap around.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

#: the largest map side of any env (a 1024 x 1024 world builds in about a second)
MAX_MAP_SIZE = 1024
#: the longest episode, in steps
MAX_CYCLES = 1_000_000
#: the most entity slots of one player (forage's default at the largest map)
MAX_SLOTS = 2**18
#: the most agent names of one (player, kind) pool
MAX_IDS = 2**20
#: the largest amount of anything (power, resources, hit points, costs, rates, scales)
MAX_AMOUNT = 1_000_000
#: the smallest positive amount of a quantity kept in float32 (forage's food and energy):
#: smaller ones round to 0 next to the others, and dividing by them gives NaN
MIN_AMOUNT = 0.001
#: the largest magnitude of a reward coefficient
MAX_REWARD = 1_000_000.0


class NoRoomError(RuntimeError):
    """``reset`` could not draw a map for these settings (the map is too crowded); the message
    names the settings to change. Config checks rule out what they can predict; this is what is
    left (skirmish bases and capture points that fit by area but not by the placement rules)."""


class Rejected(Exception):
    """Raised by ``Rule.normalise`` for a value the rule does not accept (never escapes
    ``check_fields``, which turns it into a ``ValueError`` naming the setting)."""


class Rule(ABC):
    """What values one setting accepts."""

    @abstractmethod
    def describe(self) -> str:
        """The accepted values in words, e.g. ``"an integer in [1, 1000000]"``."""

    @abstractmethod
    def normalise(self, value: Any) -> Any:
        """The value in its canonical type; ``Rejected`` if it is not accepted."""


def _is_int(value: Any) -> bool:
    """An integer that is not a bool (``True`` is an int to Python, never a count to us)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(x: float) -> str:
    """``0.2`` or ``1000000`` (no ``.0`` on whole numbers) for messages."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass(frozen=True)
class Int(Rule):
    """An integer (not a bool) in ``[lo, hi]``."""

    lo: int
    hi: int

    def describe(self) -> str:
        return f"an integer in [{self.lo}, {self.hi}]"

    def normalise(self, value: Any) -> int:
        if not _is_int(value) or not self.lo <= int(value) <= self.hi:
            raise Rejected
        return int(value)


@dataclass(frozen=True)
class Real(Rule):
    """A finite real number (ints accepted, bools not) in ``[lo, hi]``; an open end excludes
    its bound."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def describe(self) -> str:
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"a real number in {left}{_number(self.lo)}, {_number(self.hi)}{right}"

    def normalise(self, value: Any) -> float:
        if not _is_real(value):
            raise Rejected
        x = float(value)
        if math.isnan(x):
            raise Rejected
        if x < self.lo or (self.lo_open and x == self.lo):
            raise Rejected
        if x > self.hi or (self.hi_open and x == self.hi):
            raise Rejected
        return x


@dataclass(frozen=True)
class IntPair(Rule):
    """An inclusive range ``(low, high)`` of integers with ``lo <= low <= high <= hi`` (a tuple,
    or a list of two: JSON has no tuples)."""

    lo: int
    hi: int

    def describe(self) -> str:
        return f"a pair (low, high) of integers with {self.lo} <= low <= high <= {self.hi}"

    def normalise(self, value: Any) -> tuple[int, int]:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise Rejected
        low, high = value
        if not (_is_int(low) and _is_int(high) and self.lo <= low <= high <= self.hi):
            raise Rejected
        return int(low), int(high)


@dataclass(frozen=True)
class OneOf(Rule):
    """One of a few values, of the same type (``True`` is not ``1``)."""

    choices: tuple[Any, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def normalise(self, value: Any) -> Any:
        for choice in self.choices:
            same_kind = type(value) is type(choice) or (_is_int(value) and _is_int(choice))
            if same_kind and value == choice:
                return choice
        raise Rejected


@dataclass(frozen=True)
class Instance(Rule):
    """An instance of ``cls`` (a nested config, which checks its own fields)."""

    cls: type

    def describe(self) -> str:
        return f"a {self.cls.__name__}"

    def normalise(self, value: Any) -> Any:
        if not isinstance(value, self.cls):
            raise Rejected
        return value


@dataclass(frozen=True)
class OrNone(Rule):
    """``None`` (the setting is derived from others) or what ``rule`` accepts."""

    rule: Rule

    def describe(self) -> str:
        return f"None or {self.rule.describe()}"

    def normalise(self, value: Any) -> Any:
        return None if value is None else self.rule.normalise(value)


def setting(default: Any, rule: Rule) -> Any:
    """A dataclass field with a default and the rule its values must follow."""
    return dataclasses.field(default=default, metadata={"rule": rule})


def rule_of(cls: type, name: str) -> Rule:
    """The rule of field ``name`` of config class ``cls``.

    Raises:
        TypeError: the field was declared without ``setting(...)``.
    """
    for f in dataclasses.fields(cls):
        if f.name == name:
            rule = f.metadata.get("rule")
            if rule is None:
                raise TypeError(f"{cls.__name__}.{name} is declared without a rule (setting())")
            return rule
    raise KeyError(name)


def shown(value: Any) -> str:
    """``value`` for an error message: its repr (cut at 60 characters) and its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_fields(config: Any) -> None:
    """Check and normalise every field of a frozen config dataclass against its rule.

    Raises:
        ValueError: ``"<Config>: <setting> must be <accepted values>, got <value> (<type>)"``
            for the first field whose value the rule rejects.
        TypeError: a field was declared without a rule.
    """
    cls = type(config)
    for f in dataclasses.fields(cls):
        rule = rule_of(cls, f.name)
        value = getattr(config, f.name)
        try:
            normal = rule.normalise(value)
        except Rejected:
            raise ValueError(
                f"{cls.__name__}: {f.name} must be {rule.describe()}, got {shown(value)}"
            ) from None
        object.__setattr__(config, f.name, normal)


def require(config: Any, ok: bool, message: str) -> None:
    """Raise ``ValueError("<Config>: <message>")`` unless ``ok`` (checks over several fields;
    the message names every setting involved and their values)."""
    if not ok:
        raise ValueError(f"{type(config).__name__}: {message}")


#: the most worlds one batched core steps
MAX_ENVS = 2**16


def check_world_args(
    world: str, config: Any, config_cls: type, num_envs: Any, auto_reset: Any
) -> int:
    """Check the arguments every batched world takes; returns ``num_envs`` as an int.

    Raises:
        ValueError: ``config`` is not a ``config_cls``, ``num_envs`` is not an integer in
            ``[1, MAX_ENVS]`` or ``auto_reset`` is not a bool (naming the argument).
    """
    if not isinstance(config, config_cls):
        raise ValueError(f"{world}: config must be a {config_cls.__name__}, got {shown(config)}")
    rule = Int(1, MAX_ENVS)
    try:
        n = rule.normalise(num_envs)
    except Rejected:
        raise ValueError(
            f"{world}: num_envs must be {rule.describe()}, got {shown(num_envs)}"
        ) from None
    if not isinstance(auto_reset, bool):
        raise ValueError(f"{world}: auto_reset must be True or False, got {shown(auto_reset)}")
    return n
