"""Run a command under one of the CPU numerics profiles this machine can emulate.

Floating-point results of a learner depend on which kernels run, and three libraries pick
their kernels by what the CPU offers, each on its own: ATen (torch's own ops,
``ATEN_CPU_CAPABILITY``), oneDNN (torch's convolutions and matmuls, ``ONEDNN_MAX_CPU_ISA``) and
MKL (``MKL_ENABLE_INSTRUCTIONS``); numpy dispatches its loops too
(``NPY_DISABLE_CPU_FEATURES``). Setting ``ATEN_CPU_CAPABILITY`` alone leaves the convolutions
on the machine's best kernels, which is why two machines with the same ATen capability can
still disagree in the last bits. A profile caps all of them at one level, so an AVX-512 machine
can run what an AVX2 machine (or an old SSE4 one) would compute:

    python tests/cpu_profile.py default -- python -m pytest -m numerics
    python tests/cpu_profile.py --list

A profile can only lower the level: on a machine without AVX-512, ``avx512`` is ``native``.
``aten-default`` is the cheap one ``make test`` reruns the numerics checks under: torch's
portable ATen kernels (``ATEN_CPU_CAPABILITY=default``) with the machine's own convolutions,
other last bits on every machine at little extra cost (``default`` caps oneDNN at SSE4.1 too,
which makes the conv-heavy learners 2-3x slower).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

#: profile -> environment variables (``native``: whatever the machine picks)
PROFILES: dict[str, dict[str, str]] = {
    "native": {},
    "avx512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
    },
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
    "default": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    },
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
}

#: numpy dispatch targets each profile switches off (matched as substrings of their names)
NUMPY_ABOVE = {
    "native": (),
    "avx512": (),
    "avx2": ("AVX512", "X86_V4"),
    "default": ("",),
    "aten-default": (),
}


def numpy_disabled(profile: str) -> str:
    """The ``NPY_DISABLE_CPU_FEATURES`` value of ``profile`` on this numpy (its names differ
    between versions, so they are read from numpy's own dispatch list)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__ as dispatch
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__ as dispatch
    return " ".join(n for n in dispatch if any(part in n for part in NUMPY_ABOVE[profile]))


def profile_env(profile: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) with ``profile``'s variables set.

    Raises:
        ValueError: an unknown profile (listing the known ones).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown CPU profile {profile!r}; choose one of {sorted(PROFILES)}")
    env = dict(os.environ if base is None else base)
    env.update(PROFILES[profile])
    disabled = numpy_disabled(profile)
    if disabled:
        env["NPY_DISABLE_CPU_FEATURES"] = disabled
    return env


def describe() -> str:
    """This process's kernels in one line: torch's ATen capability and the oneDNN/numpy caps."""
    parts = []
    try:
        import torch

        parts.append(f"torch {torch.__version__} ATen {torch.backends.cpu.get_cpu_capability()}")
    except ImportError:
        parts.append("no torch")
    for name in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "NPY_DISABLE_CPU_FEATURES"):
        if os.environ.get(name):
            parts.append(f"{name}={os.environ[name]}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", nargs="?", choices=sorted(PROFILES))
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    parser.add_argument("--list", action="store_true", help="print the profiles and exit")
    args = parser.parse_args(argv)
    if args.list or args.profile is None:
        for name in PROFILES:
            env = profile_env(name, base={})
            print(f"{name}: " + (" ".join(f"{k}={v!r}" for k, v in env.items()) or "(unset)"))
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    sys.stdout.flush()
    os.execvpe(command[0], command, profile_env(args.profile))
    return 1  # unreachable


if __name__ == "__main__":
    sys.exit(main())
