"""Seeding every random generator a learner touches, and torch's determinism switch."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; with ``deterministic``, ask torch for deterministic kernels.

    Also sets ``PYTHONHASHSEED`` (for subprocesses; the running interpreter's hash seed is fixed
    at start-up) and ``CUBLAS_WORKSPACE_CONFIG`` (needed by deterministic cuBLAS, harmless on
    CPU) unless the caller set them. Nothing here requires CUDA.

    Args:
        seed: non-negative integer seed.
        deterministic: ``True`` (the configs' ``torch_deterministic`` default): deterministic
            algorithms where torch has them (a warning where it has none), cuDNN deterministic
            and not benchmarking, so a run repeats bit for bit on the same machine. ``False``:
            torch's fastest kernels, cuDNN benchmarking on; runs on a GPU may then differ
            between repeats (on the CPU they usually do not).
    """
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- legacy global state, seeded for third-party code
    torch.manual_seed(seed)  # also seeds every CUDA device, if any
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
