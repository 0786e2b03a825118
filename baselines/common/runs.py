"""Run directories: everything one training run leaves behind, written so a crash loses nothing.

``runs/{env}__{method}__{seed}__{time}/`` holds

=====================  ======================================================================
``config.json``        ``{"method", "env_id", "seed", "config": {...dataclass fields...},
                       "command", "version", "created", "resumed": [...]}``
``metrics.jsonl``      one JSON object per ``log`` call: ``{"env_steps", "time",
                       "wall_clock_s", "<key>": value, ...}`` with the keys of ``metrics.py``
``summary.json``       final metrics, milestones, parameter count, wall clock, env/agent steps
                       per second, the final evaluation's per-episode lists
``checkpoints/``       ``cycle_0007.pt``: model/optimizer state dicts, cycle, env steps, RNG
                       states; loadable with ``torch.load(path, weights_only=True)``;
                       ``cycle_0007.pt.sha256`` beside it (``sha256sum -c`` format), which
                       ``read_checkpoint`` checks
``tb/``                TensorBoard scalars (skipped when tensorboard is not installed)
``.lock``              while a process trains the run: who (``common.locks``; one writer)
=====================  ======================================================================

A run has one writer at a time: ``for_config`` (what every ``train`` calls) takes ``.lock``
before it writes anything and ``close``/``finish`` give it back (so does the process's exit,
also on SIGTERM and SIGHUP under ``locks.exit_on_signals``); a second trainer of the same run,
e.g. two ``spawnzoo train --resume`` of one run name, gets ``LockedError`` naming the first. A
lock left by a killed process is taken over.

JSON files and checkpoints are written to a temporary file in the same folder and moved into
place with ``os.replace``, so a reader sees the old or the new file, never half of one. A
checkpoint's checksum file is moved into place just before it, so every checkpoint written by
this version has one; a damaged checkpoint (cut short, a flipped bit, not a checkpoint at all)
is refused by ``read_checkpoint`` with a ``CheckpointError`` naming it, and ``resume`` falls back
to the newest intact checkpoint, saying so (the damaged ones are renamed ``*.damaged``).
``metrics.jsonl`` is append-only: each row is one ``write`` followed by ``fsync``; a row torn
by a crash can only be the last one, and ``read_metrics`` drops it.

Every method's ``train(config) -> RunResult`` follows the same outline::

    run = RunDir.for_config(config, method="hybrid")       # new run, or the one to resume
    ckpt = run.resume(model=model, optimizer=optimizer)    # None for a fresh run
    ...                                                    # (continue after ckpt["cycle"])
    run.log(env_steps, {LOSSES_POLICY: ..., CHARTS_SPS: ...})
    run.save_checkpoint(cycle, env_steps=env_steps, model=model, optimizer=optimizer)
    return run.finish(env_steps=..., agent_steps=..., parameter_count=..., ...)
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import platform
import random
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .locks import DirLock
from .machine import describe

if TYPE_CHECKING:  # reading a run directory needs no torch: it is imported where tensors are
    import torch

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
CHECKPOINT_DIR = "checkpoints"
TB_DIR = "tb"
#: held by the process that trains the run
LOCK_FILE = ".lock"
#: version of the checkpoint layout, stored in every checkpoint
CHECKPOINT_FORMAT = 1
_CHECKPOINT_RE = re.compile(r"^cycle_(\d+)\.pt$")
#: suffix of a checkpoint's checksum file (``cycle_0007.pt.sha256``)
CHECKSUM_SUFFIX = ".sha256"
#: suffix a damaged checkpoint is renamed to by ``resume``
DAMAGED_SUFFIX = ".damaged"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, cut short, its checksum does not match,
    or not a spawnzoo checkpoint. The message starts with the file's path.

    Attributes:
        path: the checkpoint file.
    """

    def __init__(self, path: str | os.PathLike, what: str):
        self.path = Path(path)
        super().__init__(f"{self.path}: {what}")


class RunFinishedError(RuntimeError):
    """``resume`` of a run that already has its ``summary.json``: its results are final and are
    never rewritten (``spawnzoo train --resume`` says so and exits 0; ``compare`` counts the run
    as done).

    Attributes:
        run_dir: the finished run's directory.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        super().__init__(
            f"{self.run_dir} is finished (it has its {SUMMARY_FILE}): nothing to resume, its "
            f"results are kept as they are (to train it longer, delete its {SUMMARY_FILE} and "
            "resume with a larger --total-timesteps)"
        )


class RunDirError(ValueError):
    """A run directory that cannot be continued as asked: its ``config.json`` is damaged or of
    another (method, env, seed), or its ``metrics.jsonl`` is damaged before its last row. The
    message names the file."""


@dataclass(frozen=True)
class RunResult:
    """What every method's ``train(config)`` returns.

    Attributes:
        run_dir: the run directory.
        summary: the contents of its ``summary.json``.
    """

    run_dir: Path
    summary: dict[str, Any]


def run_name(env_id: str, method: str, seed: int, when: float | None = None) -> str:
    """``{env}__{method}__{seed}__{time}``, the time as local ``YYYYmmdd-HHMMSS``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    return f"{env_id}__{method}__{seed}__{stamp}"


class RunDir:
    """One run's directory. Build it with ``create``, ``open`` or ``for_config``.

    Args:
        path: the directory (must exist).
        tensorboard: also write TensorBoard scalars under ``tb/`` (lazily: the writer is made
            at the first ``log``; without tensorboard installed it warns once and skips).
    """

    def __init__(self, path: str | os.PathLike, *, tensorboard: bool = True):
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"run directory {self.path} does not exist")
        self._tb_enabled = tensorboard
        self._tb: Any = None
        self._purge_step: int | None = None
        self._start = time.perf_counter()
        self._elapsed_before = 0.0
        self._lock: DirLock | None = None
        #: where this run was resumed, oldest first: ``{"cycle", "env_steps"}`` of the
        #: checkpoint each resumption continued from (saved in checkpoints, written to the
        #: summary: a resumed run's training worlds were reset anew, so it is not the same run
        #: as an uninterrupted one)
        self.resumed_from: list[dict[str, int]] = []

    # ------------------------------------------------------------------ finding runs
    @classmethod
    def create(
        cls,
        root: str | os.PathLike,
        *,
        env_id: str,
        method: str,
        seed: int,
        config: Any = None,
        name: str | None = None,
        tensorboard: bool = True,
        lock: bool = False,
    ) -> RunDir:
        """Make a new run directory ``root/name`` and write its ``config.json``.

        Args:
            root: folder of all runs (``runs``).
            env_id: e.g. ``harvest-v0``. method: e.g. ``hybrid``. seed: the run's seed.
            config: the run's config dataclass (or a dict); ``None`` writes no config.
            name: directory name; default ``run_name(env_id, method, seed)``, with ``-2``,
                ``-3``, ... appended if a run of the same second exists.
            tensorboard: see the class.
            lock: take the run's lock (``.lock``) before writing (``lock()``).

        Raises:
            FileExistsError: ``name`` was given and that directory already holds a run.
            LockedError: with ``lock``, another live process holds that directory's lock.
        """
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)

        def refuse(path: Path) -> FileExistsError:
            return FileExistsError(
                f"run directory {path} already exists; resume it (--resume) or choose "
                "another --run-name"
            )

        if name is not None:
            path = root / name
            if path.exists() and any(p.name != LOCK_FILE for p in path.iterdir()):
                raise refuse(path)
            path.mkdir(exist_ok=True)
        else:
            base = run_name(env_id, method, seed)
            path, n = root / base, 1
            while True:
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    n += 1
                    path = root / f"{base}-{n}"
        run = cls(path, tensorboard=tensorboard)
        if lock:
            run.lock()
        try:
            if lock and run.config_path.exists():  # another process made it since we looked
                raise refuse(path)
            if config is not None:
                run.write_config(config, method=method, env_id=env_id, seed=seed)
        except BaseException:
            run.close()  # give the lock back at once
            raise
        return run

    @classmethod
    def open(cls, path: str | os.PathLike, *, tensorboard: bool = True) -> RunDir:
        """An existing run directory (to resume it, or to read it)."""
        return cls(path, tensorboard=tensorboard)

    @classmethod
    def find_latest(
        cls, root: str | os.PathLike, *, env_id: str, method: str, seed: int
    ) -> Path | None:
        """The newest ``root/{env}__{method}__{seed}__*`` directory, or ``None``."""
        root = Path(root)
        if not root.is_dir():
            return None
        found = [p for p in root.glob(f"{env_id}__{method}__{seed}__*") if p.is_dir()]
        return max(found, key=lambda p: (p.stat().st_mtime, p.name), default=None)

    @classmethod
    def for_config(cls, config: Any, method: str, *, tensorboard: bool = True) -> RunDir:
        """The run directory a training config asks for.

        Reads ``config.run_root``, ``run_name``, ``resume``, ``env_id`` and ``seed``. With
        ``resume`` it opens ``run_root/run_name`` (or, without a name, the newest run of the
        same env, method and seed) and records the resumption in ``config.json``; when there is
        nothing to resume it starts a new run, so ``--resume`` is safe in a restart loop.

        The run's lock is taken before anything is written and held until ``close``.

        Raises:
            RunFinishedError: ``resume`` of a run that has its ``summary.json`` (nothing in the
                directory is touched).
            LockedError: another live process trains that run (nothing is touched).
            FileExistsError: a new run named like an existing one.
        """
        root = Path(config.run_root)
        if config.resume:
            if config.run_name is not None:
                existing = root / config.run_name
                existing = existing if (existing / CONFIG_FILE).exists() else None
            else:
                existing = cls.find_latest(
                    root, env_id=config.env_id, method=method, seed=config.seed
                )
            if existing is not None:
                if (existing / SUMMARY_FILE).exists():
                    raise RunFinishedError(existing)
                run = cls.open(existing, tensorboard=tensorboard)
                run.lock()
                try:
                    if (existing / SUMMARY_FILE).exists():  # finished while we took the lock
                        raise RunFinishedError(existing)
                    run.write_config(config, method=method, env_id=config.env_id, seed=config.seed)
                except BaseException:
                    run.close()  # give the lock back at once
                    raise
                return run
        return cls.create(
            root,
            env_id=config.env_id,
            method=method,
            seed=config.seed,
            config=config,
            name=config.run_name,
            tensorboard=tensorboard,
            lock=True,
        )

    # ------------------------------------------------------------------ the writer's lock
    def lock(self) -> None:
        """Take the run's ``.lock`` for this process (held until ``close``).

        Raises:
            LockedError: another live process holds it (the message names the process).
        """
        if self._lock is None:
            self._lock = DirLock(self.path / LOCK_FILE, what="training process")
            try:
                self._lock.acquire()
            except BaseException:
                self._lock = None
                raise

    @property
    def locked(self) -> bool:
        """Whether this object holds the run's lock."""
        return self._lock is not None and self._lock.held

    # ------------------------------------------------------------------ paths
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def tb_dir(self) -> Path:
        return self.path / TB_DIR

    # ------------------------------------------------------------------ config
    def write_config(self, config: Any, *, method: str, env_id: str, seed: int) -> None:
        """Write ``config.json``; on an existing one, replace the config and note a resumption.

        Raises:
            RunDirError: the existing run is of another env, method or seed, or its
                ``config.json`` is damaged.
        """
        values = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
        command = [Path(sys.argv[0]).name, *sys.argv[1:]]
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if self.config_path.exists():
            data = self.read_config()
            old = (data.get("method"), data.get("env_id"), data.get("seed"))
            if old != (method, env_id, seed):
                raise RunDirError(
                    f"{self.path} is a run of (method, env, seed) = {old}, not "
                    f"{(method, env_id, seed)}"
                )
            data["config"] = values
            data.setdefault("resumed", []).append(
                {"time": now, "command": command, "machine": describe()}
            )
        else:
            data = {
                "method": method,
                "env_id": env_id,
                "seed": seed,
                "config": values,
                "config_class": f"{type(config).__module__}:{type(config).__qualname__}",
                "command": command,
                "version": _package_version(),
                "torch": sys.modules["torch"].__version__ if "torch" in sys.modules else None,
                "python": platform.python_version(),
                "machine": describe(),
                "created": now,
                "resumed": [],
            }
        atomic_write_json(self.config_path, data)

    def read_config(self) -> dict[str, Any]:
        """The parsed ``config.json``.

        Raises:
            FileNotFoundError: there is none. RunDirError: it is not a JSON object.
        """
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
            raise RunDirError(f"{self.config_path} is damaged: not readable JSON ({err})") from None
        if not isinstance(data, dict):
            raise RunDirError(f"{self.config_path} is damaged: not a JSON object")
        return data

    # ------------------------------------------------------------------ metrics
    def elapsed(self) -> float:
        """Wall-clock seconds of this run, including sessions before a resumption."""
        return self._elapsed_before + time.perf_counter() - self._start

    def log(self, env_steps: int, metrics: Mapping[str, Any]) -> None:
        """Append one row to ``metrics.jsonl`` and the scalars to TensorBoard.

        Args:
            env_steps: training env steps so far (the x axis of every curve).
            metrics: ``{key: number}`` with the keys of ``metrics.py``; numpy and tensor
                scalars are converted; NaN and infinities are written as ``null``.
        """
        values = {k: _to_float(v) for k, v in metrics.items()}
        row = {
            "env_steps": int(env_steps),
            "time": round(time.time(), 3),
            "wall_clock_s": round(self.elapsed(), 3),
            **{k: (v if math.isfinite(v) else None) for k, v in values.items()},
        }
        line = json.dumps(row) + "\n"
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        writer = self._writer()
        if writer is not None:
            for key, value in values.items():
                writer.add_scalar(key, value, int(env_steps))
            writer.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of ``metrics.jsonl`` (a torn last row from a crash is dropped)."""
        if not self.metrics_path.exists():
            return []
        lines = self.metrics_path.read_text(encoding="utf-8", errors="replace").splitlines()
        rows = []
        for i, line in enumerate(lines):
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("env_steps"), int):
                    raise ValueError
                rows.append(row)
            except (ValueError, RecursionError):
                if i == len(lines) - 1:
                    break
                raise RunDirError(
                    f"{self.metrics_path}:{i + 1} is not a JSON row with its env_steps"
                ) from None
        return rows

    def truncate_metrics(self, env_steps: int) -> None:
        """Drop rows logged after ``env_steps`` (work lost since the checkpoint being resumed)."""
        if not self.metrics_path.exists():
            return
        kept = [r for r in self.read_metrics() if r["env_steps"] <= env_steps]
        # rewritten even when nothing is dropped: it also removes a torn last row, which the
        # next append would otherwise glue onto
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    def _writer(self) -> Any:
        """The TensorBoard writer, made on first use; ``None`` when disabled or unavailable."""
        if self._tb is None and self._tb_enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                warnings.warn(f"TensorBoard logging skipped: {err}", stacklevel=3)
                self._tb_enabled = False
                return None
            self._tb = SummaryWriter(str(self.tb_dir), purge_step=self._purge_step)
        return self._tb

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, cycle: int) -> Path:
        """``checkpoints/cycle_0007.pt``."""
        return self.checkpoint_dir / f"cycle_{cycle:04d}.pt"

    def save_checkpoint(
        self,
        cycle: int,
        *,
        env_steps: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        agent_steps: int = 0,
        state: Mapping[str, Any] | None = None,
        rngs: Mapping[str, np.random.Generator] | None = None,
        keep_last: int | None = None,
    ) -> Path:
        """Save the learner after ``cycle`` (atomically).

        Args:
            cycle: iterations completed (1-based), the file's number.
            env_steps: training env steps so far. agent_steps: entity steps so far.
            model: its ``state_dict`` is saved. optimizer: likewise, if given.
            state: more plain data to restore (a ``MilestoneTracker.state_dict()``, ...):
                tensors, numbers, strings, ``None`` and lists/tuples/dicts of them only.
            rngs: named generators of the learner whose states to save, besides the global
                torch / numpy / Python RNGs which are always saved.
            keep_last: delete all but the newest ``keep_last`` checkpoints (default: keep all).

        Returns:
            The checkpoint's path.
        """
        if keep_last is not None and keep_last < 1:
            raise ValueError(f"keep_last must be >= 1 or None, got {keep_last}")
        self.checkpoint_dir.mkdir(exist_ok=True)
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "cycle": int(cycle),
            "env_steps": int(env_steps),
            "agent_steps": int(agent_steps),
            "wall_clock_s": self.elapsed(),
            "model": model.state_dict(),
            "optimizer": None if optimizer is None else optimizer.state_dict(),
            "state": dict(state or {}),
            "rng": capture_rng_state(rngs),
            "resumed_from": [dict(r) for r in self.resumed_from],
        }
        path = self.checkpoint_path(cycle)
        import torch

        buffer = io.BytesIO()
        torch.save(ckpt, buffer)
        data = buffer.getvalue()
        # the checksum first: a checkpoint never appears without its checksum (a crash between
        # the two leaves a checksum of the new file beside the old one: refused, then skipped)
        line = f"{hashlib.sha256(data).hexdigest()}  {path.name}\n"
        atomic_write_text(checksum_path(path), line)
        _atomic_write(path, lambda f: f.write(data))
        if keep_last is not None:
            for old in self.checkpoints()[:-keep_last]:
                old.unlink()
                checksum_path(old).unlink(missing_ok=True)
        return path

    def checkpoints(self) -> list[Path]:
        """All checkpoints, oldest cycle first."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = [
            (int(m.group(1)), p)
            for p in self.checkpoint_dir.iterdir()
            if (m := _CHECKPOINT_RE.match(p.name))
        ]
        return [p for _, p in sorted(found)]

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint of the highest cycle, or ``None``."""
        found = self.checkpoints()
        return found[-1] if found else None

    def load_checkpoint(
        self,
        *,
        path: str | os.PathLike | None = None,
        model: torch.nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        rngs: Mapping[str, np.random.Generator] | None = None,
        restore_rng: bool = True,
        map_location: str | torch.device = "cpu",
    ) -> dict[str, Any]:
        """Load a checkpoint (``weights_only=True``) and restore what is passed in.

        Args:
            path: default the latest checkpoint.
            model, optimizer: load their state dicts in place if given.
            rngs: named generators to restore (the names used when saving).
            restore_rng: also restore the global torch / numpy / Python RNGs.
            map_location: where tensors go (``"cpu"``, ``"cuda"``).

        Returns:
            The checkpoint dict (``cycle``, ``env_steps``, ``agent_steps``, ``state``, ...).

        Raises:
            FileNotFoundError: no checkpoint exists.
            CheckpointError: the checkpoint is damaged (``read_checkpoint``); nothing was
                restored.
        """
        path = self.latest_checkpoint() if path is None else Path(path)
        if path is None:
            raise FileNotFoundError(f"no checkpoint in {self.checkpoint_dir}")
        ckpt = read_checkpoint(path, map_location=map_location)
        if model is not None:
            model.load_state_dict(ckpt["model"])
        if optimizer is not None and ckpt["optimizer"] is not None:
            optimizer.load_state_dict(ckpt["optimizer"])
        if restore_rng or rngs:
            restore_rng_state(ckpt["rng"], rngs, globals_too=restore_rng)
        self._elapsed_before = float(ckpt["wall_clock_s"])
        self._start = time.perf_counter()
        return ckpt

    def resume(
        self,
        *,
        model: torch.nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        rngs: Mapping[str, np.random.Generator] | None = None,
        map_location: str | torch.device = "cpu",
    ) -> dict[str, Any] | None:
        """Continue from the latest checkpoint, if there is one.

        Loads it as ``load_checkpoint`` does, drops ``metrics.jsonl`` rows logged after it, and
        makes TensorBoard purge its events after it. Training envs are not part of a
        checkpoint: the caller resets them. A damaged checkpoint (``CheckpointError``) is
        renamed ``*.damaged`` and the next older one is tried; what was skipped is printed to
        stderr and noted in ``config.json``'s last ``resumed`` entry. With no intact
        checkpoint left the run starts over.

        Returns:
            The checkpoint dict, or ``None`` when the run has no checkpoint (start fresh: the
            rows of ``metrics.jsonl`` are dropped too).

        Raises:
            RunDirError: ``metrics.jsonl`` is damaged before its last row. On any error the
                run is closed (its lock given back).
        """
        try:
            return self._resume(model, optimizer, rngs, map_location)
        except BaseException:
            self.close()
            raise

    def _resume(self, model: Any, optimizer: Any, rngs: Any, map_location: Any) -> Any:
        """The body of ``resume``."""
        ckpt, damaged = None, []
        for path in reversed(self.checkpoints()):
            try:
                ckpt = self.load_checkpoint(
                    path=path,
                    model=model,
                    optimizer=optimizer,
                    rngs=rngs,
                    map_location=map_location,
                )
                break
            except CheckpointError as err:
                damaged.append(str(err))
                for bad in (path, checksum_path(path)):
                    if bad.exists():
                        os.replace(bad, bad.with_name(bad.name + DAMAGED_SUFFIX))
        if damaged:
            found = f"resuming from {path.name}" if ckpt is not None else "starting over"
            print(
                f"{self.path}: {len(damaged)} damaged checkpoint(s) set aside as "
                f"*{DAMAGED_SUFFIX}, {found}:\n  " + "\n  ".join(damaged),
                file=sys.stderr,
                flush=True,
            )
            self._note_resumption(damaged=damaged)
        if ckpt is None:  # killed before its first checkpoint: rows logged so far are lost work
            self.truncate_metrics(-1)
            self._purge_step = 0
            return None
        self.truncate_metrics(ckpt["env_steps"])
        self.resumed_from = [dict(r) for r in ckpt.get("resumed_from", [])] + [
            {"cycle": int(ckpt["cycle"]), "env_steps": int(ckpt["env_steps"])}
        ]
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        self._purge_step = ckpt["env_steps"] + 1
        return ckpt

    def _note_resumption(self, **facts: Any) -> None:
        """Add ``facts`` to the last ``resumed`` entry of ``config.json`` (if any)."""
        if not self.config_path.exists():
            return
        data = self.read_config()
        if data.get("resumed"):
            data["resumed"][-1].update(facts)
            atomic_write_json(self.config_path, data)

    # ------------------------------------------------------------------ summary
    def write_summary(
        self,
        *,
        env_steps: int,
        agent_steps: int,
        parameter_count: int,
        final_metrics: Mapping[str, Any],
        milestones: Mapping[str, int | None],
        final_eval: Mapping[str, Any] | None = None,
        wall_clock_s: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write ``summary.json`` (atomically) and return it.

        Args:
            env_steps: training env steps in total. agent_steps: entity steps in total.
            parameter_count: trainable parameters (``count_parameters(model)``; 0 for none).
            final_metrics: the last evaluation's ``to_metrics()`` (plus anything else final).
            milestones: ``MilestoneTracker.milestones()``.
            final_eval: the last evaluation's ``to_dict()`` (per-episode lists).
            wall_clock_s: default ``elapsed()``.
            extra: more top-level entries.

        Returns:
            The summary: ``run``, ``method``, ``env_id``, ``seed``, ``env_steps``,
            ``agent_steps``, ``wall_clock_s``, ``env_sps``, ``agent_sps``,
            ``parameter_count``, ``final_metrics``, ``milestones``, ``final_eval``,
            ``resumed_from`` (``[]`` for a run never interrupted), ...
        """
        wall = self.elapsed() if wall_clock_s is None else float(wall_clock_s)
        meta = self.read_config() if self.config_path.exists() else {}
        summary = {
            "run": self.path.name,
            "method": meta.get("method"),
            "env_id": meta.get("env_id"),
            "seed": meta.get("seed"),
            "env_steps": int(env_steps),
            "agent_steps": int(agent_steps),
            "wall_clock_s": wall,
            "env_sps": env_steps / wall if wall > 0 else 0.0,
            "agent_sps": agent_steps / wall if wall > 0 else 0.0,
            "parameter_count": int(parameter_count),
            "final_metrics": {k: _json_number(_to_float(v)) for k, v in final_metrics.items()},
            "milestones": dict(milestones),
            "final_eval": dict(final_eval) if final_eval is not None else None,
            "resumed_from": [dict(r) for r in self.resumed_from],
            **(extra or {}),
        }
        atomic_write_json(self.summary_path, summary)
        return summary

    def finish(self, **summary: Any) -> RunResult:
        """``write_summary(**summary)``, ``close()``, and the ``RunResult`` to return."""
        written = self.write_summary(**summary)
        self.close()
        return RunResult(self.path, written)

    def read_summary(self) -> dict[str, Any]:
        """The parsed ``summary.json``."""
        return json.loads(self.summary_path.read_text())

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Flush and close the TensorBoard writer, give the lock back (idempotent)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"


# ---------------------------------------------------------------------- checkpoints
def checksum_path(checkpoint: str | os.PathLike) -> Path:
    """``cycle_0007.pt.sha256`` beside ``cycle_0007.pt``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + CHECKSUM_SUFFIX)


def read_checkpoint(
    path: str | os.PathLike, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint, checked: its SHA-256 against its ``.sha256`` file, then loaded with
    ``torch.load(weights_only=True)`` and its layout checked.

    A checkpoint without a checksum file (written before checksums, or copied alone) is read
    unchecked but still refused if it does not load or lacks the layout.

    Args:
        path: a ``cycle_NNNN.pt`` file.
        map_location: where tensors go.

    Returns:
        The checkpoint dict (``format``, ``cycle``, ``env_steps``, ``model``, ...).

    Raises:
        CheckpointError: it cannot be read, its checksum does not match, it does not load, or
            it is not a spawnzoo checkpoint (the message names the file and what is wrong).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(path, f"cannot be read ({err.strerror or err})") from err
    digest = checksum_path(path)
    if digest.exists():
        try:
            expected = digest.read_text(encoding="ascii").split()[0].lower()
        except (OSError, UnicodeDecodeError, IndexError) as err:
            raise CheckpointError(path, f"its checksum file {digest.name} is unreadable") from err
        if not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise CheckpointError(path, f"its checksum file {digest.name} holds no SHA-256")
        if hashlib.sha256(data).hexdigest() != expected:
            raise CheckpointError(
                path,
                f"damaged: its SHA-256 does not match {digest.name} ({len(data):,} bytes; cut "
                "short, changed or overwritten)",
            )
    import torch

    try:
        ckpt = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:  # zip, pickle, storage, EOF errors of torch.load, all of them
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise CheckpointError(
            path, f"not a readable checkpoint ({type(err).__name__}: {first[:200]})"
        ) from err
    _check_layout(path, ckpt, torch)
    return ckpt


def _check_layout(path: Path, ckpt: Any, torch: Any) -> None:
    """Refuse a loaded object that is not a checkpoint of ``save_checkpoint``'s layout."""
    if not isinstance(ckpt, dict):
        raise CheckpointError(path, f"not a spawnzoo checkpoint (holds a {type(ckpt).__name__})")
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            path,
            f"checkpoint format {ckpt.get('format')!r}; this spawnzoo reads {CHECKPOINT_FORMAT}",
        )
    for key in ("cycle", "env_steps"):
        value = ckpt.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(path, f"{key} must be an integer >= 0, got {value!r}")
    model = ckpt.get("model")
    if not isinstance(model, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()
    ):
        raise CheckpointError(path, "its 'model' is not a state dict of named tensors")
    if ckpt.get("optimizer") is not None and not isinstance(ckpt["optimizer"], dict):
        raise CheckpointError(path, "its 'optimizer' is not a state dict")
    for key in ("state", "rng"):
        if not isinstance(ckpt.get(key), dict):
            raise CheckpointError(path, f"its {key!r} is missing or not a dict")
    if not isinstance(ckpt.get("wall_clock_s"), (int, float)):
        raise CheckpointError(path, "its 'wall_clock_s' is not a number")


# ---------------------------------------------------------------------- helpers
def capture_rng_state(
    generators: Mapping[str, np.random.Generator] | None = None,
) -> dict[str, Any]:
    """The global torch (CPU and CUDA), numpy and Python RNG states, plus named generators.

    Everything is a tensor or plain Python data, so ``torch.load(weights_only=True)`` reads it.
    """
    import torch

    legacy = np.random.get_state()  # noqa: NPY002  # the global state third-party code draws from
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [legacy[0], legacy[1].tolist(), int(legacy[2]), int(legacy[3]), float(legacy[4])],
        "generators": {name: g.bit_generator.state for name, g in (generators or {}).items()},
    }
    return state


def restore_rng_state(
    state: Mapping[str, Any],
    generators: Mapping[str, np.random.Generator] | None = None,
    *,
    globals_too: bool = True,
) -> None:
    """Undo ``capture_rng_state``: set the global RNGs (if ``globals_too``) and ``generators``.

    Raises:
        KeyError: a generator name that the saved state does not have.
    """
    if globals_too:
        import torch

        torch.set_rng_state(state["torch"].cpu())
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state(  # noqa: NPY002  # see capture_rng_state
            (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached)
        )
    for name, g in (generators or {}).items():
        try:
            g.bit_generator.state = state["generators"][name]
        except KeyError:
            raise KeyError(
                f"the checkpoint has no generator {name!r}; it has {sorted(state['generators'])}"
            ) from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a part."""
    data = text.encode("utf-8")
    _atomic_write(Path(path), lambda f: f.write(data))


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    """``atomic_write_text`` of ``data`` as indented JSON (paths, numpy scalars converted)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(file)`` on a temp file beside ``path``, fsync it, then ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _to_float(value: Any) -> float:
    if hasattr(value, "detach"):  # a torch tensor
        return float(value.detach().cpu().item())
    return float(value)


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spawnzoo")
    except PackageNotFoundError:
        return "unknown"
