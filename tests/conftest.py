"""Session setup and shared helpers of the spawnzoo test suite."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest

from spawnzoo.envs.core.policies import sample_masked


def pytest_configure(config: pytest.Config) -> None:
    """Headless SDL for the whole session (pygame reads these when it initialises).

    Set here, at configure time, rather than as a side effect of importing a test module, so
    every worker of ``pytest -n auto`` has them before any test runs. A caller's own choice of
    drivers wins (``setdefault``).
    """
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    # one torch/BLAS thread per test process: `pytest -n auto` already runs one process per
    # core, and oversubscribed threads made the learner tests ~10x slower on a busy machine
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # ``import pettingzoo.test`` imports PettingZoo's own classic envs through their deprecated
    # module API; the warning is about PettingZoo's code, not ours.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:The old environment creation API has been deprecated:DeprecationWarning",
    )


def pytest_report_header(config: pytest.Config) -> str:
    """The kernels this session's floats come from (a learning or determinism check that
    fails on one machine only is usually about these; see ``docs/testing.md``)."""
    from cpu_profile import describe

    from spawnzoo.baselines.common.machine import cpu_feature_level, cpu_model

    return f"cpu: {cpu_model()} ({cpu_feature_level()}); kernels: {describe()}"


@pytest.fixture(scope="session")
def legal_actions() -> Callable[[np.random.Generator, np.ndarray], np.ndarray]:
    """``sample_masked``: random legal actions from a mask, for tests that drive an env."""
    return sample_masked
