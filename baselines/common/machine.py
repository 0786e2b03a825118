"""What a number was computed on: the CPU, its feature level and the kernels torch picked.

Learned results (and speed) depend on the machine: torch, oneDNN and MKL choose their
floating-point kernels by the CPU's instruction set (AVX2 or AVX-512 on machines of this
project's kind), so the same seed rounds differently on another CPU and a learning curve can
drift far apart after a few updates. Every run records ``describe()`` in its ``config.json``,
the comparison report prints it in its header, and every benchmark prints it beside its figures.

Torch-free: ``describe()`` reports torch only when torch is already imported (or when asked
to import it), so ``spawnzoo report`` and the env benchmarks stay on the base install.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

#: environment variables that change which kernels run (see ``tests/cpu_profile.py``)
KERNEL_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "MKL_ENABLE_INSTRUCTIONS",
    "NPY_DISABLE_CPU_FEATURES",
)


def cpu_model() -> str:
    """The ``model name`` of /proc/cpuinfo, else ``platform.processor()``, else ``unknown``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_feature_level() -> str:
    """The CPU's SIMD level as the kernels see it: ``AVX-512``, ``AVX2``, ``AVX``, ``SSE4.2``
    on x86; ``SVE`` or ``NEON`` on ARM; else the machine name. Read from numpy's own CPU
    detection (what the CPU has, not what ``NPY_DISABLE_CPU_FEATURES`` leaves enabled)."""
    try:
        from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_baseline__, __cpu_features__
    disabled = set(os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split())
    has = {name for name, on in __cpu_features__.items() if on} | disabled | set(__cpu_baseline__)
    for level, needs in (
        ("AVX-512", ("AVX512F", "AVX512BW", "AVX512VL")),
        ("AVX2", ("AVX2", "FMA3")),
        ("AVX", ("AVX",)),
        ("SSE4.2", ("SSE42",)),
        ("SVE", ("SVE",)),
        ("NEON", ("ASIMD",)),
    ):
        if all(name in has for name in needs):
            return level
    return platform.machine() or "unknown"


def torch_kernels(torch_module: Any) -> dict[str, str]:
    """Torch's version, its ATen CPU capability and its thread count."""
    return {
        "torch": torch_module.__version__,
        "torch_cpu_capability": str(torch_module.backends.cpu.get_cpu_capability()),
        "torch_threads": str(torch_module.get_num_threads()),
    }


def describe(*, import_torch: bool = False) -> dict[str, str]:
    """This machine and process, as strings: CPU model and feature level, Python and numpy
    versions, torch's kernels (when torch is imported, or ``import_torch``), and every kernel
    environment variable that is set."""
    import numpy as np

    info = {
        "cpu": cpu_model(),
        "cpu_features": cpu_feature_level(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    torch_module = sys.modules.get("torch")
    if torch_module is None and import_torch:
        try:
            import torch as torch_module
        except ImportError:
            torch_module = None
    if torch_module is not None:
        info.update(torch_kernels(torch_module))
    for name in KERNEL_VARIABLES:
        if os.environ.get(name):
            info[name] = os.environ[name]
    return info


def one_line(info: dict[str, str]) -> str:
    """``describe()``'s dict as one line: ``AMD EPYC (AVX-512, 2 cores), torch 2.13.0+cpu with
    AVX512 kernels, ...``."""
    text = (
        f"{info.get('cpu', '?')} ({info.get('cpu_features', '?')}, {info.get('cores', '?')} cores)"
    )
    if "torch" in info:
        text += f", torch {info['torch']} with {info.get('torch_cpu_capability', '?')} kernels"
    extra = [f"{k}={info[k]}" for k in KERNEL_VARIABLES if k in info]
    return text + (f" ({', '.join(extra)})" if extra else "")
