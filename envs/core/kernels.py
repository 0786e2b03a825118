"""Compiled loops (numba) for the core's hot paths, each next to its plain-numpy reference.

A kernel here is a loop over entities that numpy would spread over many small array
operations (each a few microseconds of call overhead, and a temporary per operation). numba
compiles the loop once (``cache=True``: the machine code is kept in ``__pycache__`` and reused by
later processes) and the loop then runs at memory speed.

Every kernel has a reference: the numpy code it replaces, kept as the definition of what the
kernel must return. ``tests/test_kernels.py`` holds the two equal, element for element, on
random states of every env. The reference runs instead of the kernel when numba is not
installed or when the environment variable ``SPAWNZOO_NO_NUMBA=1`` is set (read once, at the
first kernel call): the results are the same, only slower.

numba is imported only when a kernel is first called, so ``import spawnzoo.envs`` stays quick.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

#: the environment variable that turns the compiled kernels off (``1``: use the references)
NO_NUMBA_VARIABLE = "SPAWNZOO_NO_NUMBA"

_state: dict[str, Any] = {}


def numba_enabled() -> bool:
    """Whether kernels run compiled: numba imports and ``SPAWNZOO_NO_NUMBA`` is not ``1``.

    Decided once per process, at the first call.
    """
    enabled = _state.get("enabled")
    if enabled is None:
        enabled = os.environ.get(NO_NUMBA_VARIABLE, "").strip() not in ("1", "true", "yes")
        if enabled:
            try:
                import numba  # noqa: F401
            except ImportError:
                enabled = False
        _state["enabled"] = enabled
    return enabled


def compiled(loop: Callable[..., Any]) -> Callable[..., Any] | None:
    """``loop`` compiled by numba (``njit``, cached on disk), or ``None`` when kernels are off.

    Compiled at the first call of the returned function for each set of argument types.
    """
    if not numba_enabled():
        return None
    cache = _state.setdefault("compiled", {})
    fn = cache.get(loop)
    if fn is None:
        import numba

        try:
            fn = numba.njit(cache=True, nogil=True)(loop)
        except RuntimeError:  # no writable cache folder (read-only install, no home folder)
            fn = numba.njit(cache=False, nogil=True)(loop)
        cache[loop] = fn
    return fn


# ------------------------------------------------------------- egocentric windows
def _gather_windows_loop(padded, env, owner, y, x, first, out):  # pragma: no cover - compiled
    n, c, k = out.shape[0], out.shape[1], out.shape[2]
    for i in range(n):
        e, p, y0, x0 = env[i], owner[i], y[i], x[i]
        for ch in range(c):
            for dy in range(k):
                for dx in range(k):
                    out[i, ch, dy, dx] = padded[e, p, first + ch, y0 + dy, x0 + dx]


def gather_windows_reference(
    padded: np.ndarray,
    env: np.ndarray,
    owner: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    first: int,
    out: np.ndarray,
    chunk_bytes: int = 1 << 17,
) -> np.ndarray:
    """Copy ``K x K`` windows of a padded plane buffer into ``out`` (numpy: a strided view).

    Args:
        padded: ``[E, P, C, H + 2r, W + 2r]`` float32, the planes with a border of ``r`` cells.
        env, owner, y, x: ``[n]`` int64, each window's world, player (whose planes) and
            top-left corner in ``padded`` (the entity's map cell: the border shifts it by ``r``).
        first: the first plane to copy (planes ``[first, C)``).
        out: ``[n, C - first, K, K]`` float32, possibly a strided view.
        chunk_bytes: size of the temporaries the copy goes through (fancy indexing makes one).

    Returns:
        ``out``.
    """
    e_n, p_n, c, hp, wp = padded.shape
    k = out.shape[2]
    h, w = hp - k + 1, wp - k + 1
    st = padded.strides
    # [E, P, C, H, W, K, K]: (y, x) of the padded map is the window's top-left corner
    view = np.lib.stride_tricks.as_strided(
        padded, (e_n, p_n, c, h, w, k, k), (*st[:3], st[3], st[4], st[3], st[4]), writeable=False
    )
    # in chunks of windows: a temporary the size of all windows would come from fresh pages on
    # every call (large blocks go back to the OS), page faults costing more than the copy
    step = max(1, chunk_bytes // (4 * (c - first) * k * k))
    for i in range(0, env.size, step):
        j = slice(i, i + step)
        out[j] = view[env[j], owner[j], first:, y[j], x[j]]
    return out


def gather_windows(
    padded: np.ndarray,
    env: np.ndarray,
    owner: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    first: int,
    out: np.ndarray,
) -> np.ndarray:
    """``gather_windows_reference`` compiled (same arguments, same result), or the reference."""
    fn = compiled(_gather_windows_loop)
    if fn is None:
        return gather_windows_reference(padded, env, owner, y, x, first, out)
    fn(
        padded,
        env.astype(np.int64, copy=False),
        owner.astype(np.int64, copy=False),
        y.astype(np.int64, copy=False),
        x.astype(np.int64, copy=False),
        first,
        out,
    )
    return out
