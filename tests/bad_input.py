"""Helpers of the bad-input tests: a deadline, whole-state snapshots of an env, and the values a
settings rule rejects (as hypothesis strategies).

``snapshot(env)`` copies everything a step could change: every array, dict of arrays, number and
random generator state of the batched world, and the PettingZoo adapter's bookkeeping (live
agents, slot maps, last batch and actions). Two envs with equal snapshots behave identically from
then on, which is how the tests check that rejected input changed nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from hypothesis import strategies as st

from spawnzoo.envs.core.settings import Instance, Int, IntPair, OneOf, OrNone, Real, Rule

#: world attributes that are scratch space or derived caches, not state
SCRATCH = {"_padded_cache", "_tile_mark"}


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail with ``TimeoutError`` if the block runs longer than ``seconds`` (a hang would
    otherwise stall the suite). POSIX only; tests run in the main thread."""

    def expire(*_: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _freeze(value: Any) -> Any:
    """A comparable copy: arrays copied, generators as their bit-generator state."""
    if isinstance(value, np.random.Generator):
        return ("rng", copy.deepcopy(value.bit_generator.state))
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_freeze(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _freeze(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return copy.deepcopy(value)


def snapshot(env: Any) -> dict[str, Any]:
    """Everything a step could change in a batched world or a PettingZoo adapter over one."""
    world = getattr(env, "world", env)
    state = {name: _freeze(value) for name, value in vars(world).items() if name not in SCRATCH}
    if world is not env:
        for name in ("agents", "_slot_of", "_name_of_slot", "_last_actions", "_last"):
            state[f"adapter.{name}"] = _freeze(getattr(env, name))
    return state


def assert_same(a: Any, b: Any, path: str = "state") -> None:
    """Recursive equality of two snapshots (arrays exactly, NaN equal to NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


# ------------------------------------------------------------------ values a rule rejects
#: values of the wrong type for any numeric rule
WRONG_TYPES = st.sampled_from([None, "3", "0.5", b"1", [1], {"a": 1}, object(), True, False])


def bad_values(rule: Rule) -> st.SearchStrategy[Any]:
    """Values ``rule`` must reject: wrong types, NaN and infinities, just out of range."""
    if isinstance(rule, OrNone):
        return bad_values(rule.rule).filter(lambda v: v is not None)
    if isinstance(rule, Int):
        return st.one_of(
            WRONG_TYPES,
            st.sampled_from([math.nan, math.inf, -math.inf, 1.5, float(rule.lo)]),
            st.integers(max_value=rule.lo - 1),
            st.integers(min_value=rule.hi + 1),
            st.integers(rule.lo, rule.hi).map(np.float64),
        )
    if isinstance(rule, Real):
        below = st.floats(max_value=rule.lo, exclude_max=not rule.lo_open, allow_nan=False)
        above = st.floats(min_value=rule.hi, exclude_min=not rule.hi_open, allow_nan=False)
        return st.one_of(
            WRONG_TYPES,
            st.sampled_from([math.nan, math.inf, -math.inf, np.float64(math.nan)]),
            below,
            above,
        )
    if isinstance(rule, IntPair):
        ints = st.integers(rule.lo, rule.hi)
        return st.one_of(
            WRONG_TYPES,
            st.tuples(ints, ints).filter(lambda p: p[0] > p[1]),  # reversed
            st.tuples(st.integers(max_value=rule.lo - 1), ints),
            st.tuples(ints, st.integers(min_value=rule.hi + 1)),
            st.lists(ints, min_size=0, max_size=4).filter(lambda v: len(v) != 2),
            st.tuples(st.floats(allow_nan=True), ints),
            st.tuples(st.booleans(), st.booleans()),
        )
    if isinstance(rule, OneOf):
        return st.one_of(
            WRONG_TYPES.filter(lambda v: v not in rule.choices or isinstance(v, bool)),
            st.text(max_size=8).filter(lambda v: v not in rule.choices),
            st.integers().filter(lambda v: v not in rule.choices),
            st.sampled_from([1.0, 2.0, math.nan]),
        )
    if isinstance(rule, Instance):
        return st.one_of(WRONG_TYPES, st.dictionaries(st.text(max_size=4), st.integers()))
    raise TypeError(f"no bad values known for {rule!r}")


def legal_values(rule: Rule, cap: int | None = None) -> st.SearchStrategy[Any]:
    """Values ``rule`` accepts; integers and pairs drawn no higher than ``cap`` (keeps the envs
    built from them small)."""
    if isinstance(rule, OrNone):
        return st.one_of(st.none(), legal_values(rule.rule, cap))
    if isinstance(rule, Int):
        return st.integers(rule.lo, rule.hi if cap is None else max(rule.lo, min(rule.hi, cap)))
    if isinstance(rule, Real):
        return st.floats(
            rule.lo, rule.hi, exclude_min=rule.lo_open, exclude_max=rule.hi_open, allow_nan=False
        )
    if isinstance(rule, IntPair):
        hi = rule.hi if cap is None else max(rule.lo, min(rule.hi, cap))
        return st.tuples(st.integers(rule.lo, hi), st.integers(rule.lo, hi)).map(
            lambda p: (min(p), max(p))
        )
    if isinstance(rule, OneOf):
        return st.sampled_from(rule.choices)
    if isinstance(rule, Instance):
        return st.nothing()  # nested configs are built by the caller, not drawn
    raise TypeError(f"no legal values known for {rule!r}")
