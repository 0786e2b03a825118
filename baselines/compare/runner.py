"""Run a comparison: every (label, seed) in its own worker, up to a launcher's capacity at a time.

Nothing is kept in memory that is not also on disk: a worker trains into its run directory
(``RunDir``: atomic config/summary, append-only metrics, checkpoints after each cycle) and exits;
the parent only starts workers and reads the run directories to show progress. So

* a finished run (``summary.json`` present) is skipped when the command is run again;
* a run that was interrupted (Ctrl-C, a crash, a killed worker) resumes from its latest
  checkpoint, because each run's config asks for ``resume`` of its stable directory;
* Ctrl-C, SIGTERM and SIGHUP stop the workers and return; what finished stays finished;
* workers die with the comparison: a worker gets SIGTERM when its parent dies, even by SIGKILL
  (Linux ``PR_SET_PDEATHSIG``, ``common.locks.die_with_parent``), so none trains on orphaned;
* one comparison at a time per output folder (``OUT/.compare.lock``), and one writer per run
  (each run's ``.lock``, taken by its worker): a lock names its process by pid and start time
  and one left by a dead process is taken over (``common.locks``).

Where a worker runs is a ``Launcher``'s business: ``ProcessLauncher`` (the default) starts
local processes with the ``spawn`` method (no forked torch state); ``ray_backend.RayLauncher``
makes each run a Ray task with declared resources, on a local Ray or a cluster, retried from its
last checkpoint when its worker dies. Either way a worker writes its output to
``OUT/logs/{run}.log``; a run that fails leaves its traceback there and the others go on.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..common.locks import DirLock, LockedError, die_with_parent, exit_on_signals
from ..common.runs import (
    CONFIG_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    RunFinishedError,
    atomic_write_json,
)
from .plan import PLAN_FILE, Comparison, RunSpec, comparable, merge_records

LOGS_DIR = "logs"
#: held by the running ``spawnzoo compare`` of an output folder
LOCK_FILE = ".compare.lock"
#: run states shown in the progress display
STATES = ("queued", "running", "done", "skipped", "failed", "stopped")


@dataclass
class RunStatus:
    """Where one run stands.

    Attributes:
        spec: the run. run_dir: its directory. state: one of ``STATES``.
        total_steps: its budget in env steps. env_steps: last logged env steps.
        started: ``time.monotonic()`` at start. seconds: how long it ran in this session.
        error: last line of the failure, for the display.
    """

    spec: RunSpec
    run_dir: Path
    state: str = "queued"
    total_steps: int = 0
    env_steps: int = 0
    started: float = 0.0
    seconds: float = 0.0
    error: str = ""
    handle: RunHandle | None = field(default=None, repr=False)


class RunHandle(Protocol):
    """A run a launcher started."""

    def done(self) -> bool:
        """Whether its worker has ended (without waiting)."""
        ...

    def error(self) -> str | None:
        """After ``done()``: ``None`` when the worker ended well, else what went wrong."""
        ...

    def stop(self) -> None:
        """Stop the worker and wait until it is gone."""
        ...


class Launcher(Protocol):
    """Where a comparison's runs train: a context manager (entered once, around every run)
    that starts one worker per run."""

    def __enter__(self) -> Launcher: ...

    def __exit__(self, *exc: object) -> None: ...

    def capacity(self) -> int:
        """Runs at a time (asked after ``__enter__``)."""
        ...

    def start(self, method: str, config: Any, log_path: Path) -> RunHandle:
        """Start training ``config`` with ``method``; the worker's output goes to
        ``log_path``."""
        ...


class ProcessLauncher:
    """Each run in a local worker process (``spawn``), up to ``jobs`` at a time.

    Args:
        jobs: runs at a time. threads: torch threads per worker.

    Raises:
        ValueError: ``jobs`` or ``threads`` below 1.
    """

    def __init__(self, jobs: int = 1, threads: int = 1):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.jobs, self.threads = jobs, threads
        self._context = multiprocessing.get_context("spawn")

    def __enter__(self) -> ProcessLauncher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def capacity(self) -> int:
        return self.jobs

    def start(self, method: str, config: Any, log_path: Path) -> _ProcessRun:
        process = self._context.Process(
            target=train_worker,
            args=(method, config, str(log_path), self.threads, os.getpid()),
            name=f"spawnzoo-compare-{log_path.stem}",
            daemon=False,
        )
        process.start()
        return _ProcessRun(process)


class _ProcessRun:
    """A ``RunHandle`` over a ``multiprocessing.Process``."""

    def __init__(self, process: Any):
        self.process = process

    def done(self) -> bool:
        return not self.process.is_alive()

    def error(self) -> str | None:
        self.process.join()
        code = self.process.exitcode
        return None if code == 0 else f"exit code {code}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=60)
        if self.process.is_alive():  # ignores SIGTERM: stuck in native code
            self.process.kill()
            self.process.join()


def check_out_folder(comparison: Comparison) -> None:
    """Refuse to mix runs of different settings in one output folder.

    Raises:
        ValueError: a run directory of this comparison holds a run whose config differs from
            the one this command would use (change ``--out`` or delete the run).
    """
    for spec in comparison.runs():
        path = comparison.run_dir(spec) / CONFIG_FILE
        if not path.exists():
            continue
        stored = comparable(json.loads(path.read_text())["config"])
        wanted = comparable(comparison.config_for(spec))
        if stored != wanted:
            diff = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise ValueError(
                f"{path.parent} holds a run with other settings ({', '.join(diff)} differ); "
                "use another --out, or delete that run directory to redo it"
            )


def write_record(comparison: Comparison) -> None:
    """Write ``OUT/compare.json``, keeping the runs an earlier comparison there listed
    (``plan.merge_records``).

    Raises:
        ValueError: the existing ``compare.json`` is not a JSON object (it is left as it is).
    """
    path = comparison.out / PLAN_FILE
    record = comparison.to_dict()
    if path.exists():
        try:
            earlier = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}): fix or remove it") from err
        if not isinstance(earlier, dict):
            raise ValueError(f"{path} holds no comparison record: fix or remove it")
        record = merge_records(earlier, record)
    atomic_write_json(path, record)


def run_comparison(
    comparison: Comparison,
    *,
    jobs: int = 1,
    threads: int = 1,
    display: bool | None = None,
    poll_seconds: float = 0.5,
    launcher: Launcher | None = None,
) -> list[RunStatus]:
    """Run every run of ``comparison`` that has no summary yet; return their final states.

    Args:
        comparison: what to run (``comparison.check()`` is called first).
        jobs: runs at a time (worker processes).
        threads: torch threads per worker (default 1: the networks are small, and more
            threads than free cores slow every run down badly on a shared machine).
        launcher: where the runs train; default ``ProcessLauncher(jobs, threads)`` (a given
            launcher has its own capacity and threads, and ``jobs``, ``threads`` are unused).
            It is entered after the checks, so nothing starts for a refused comparison.
        display: a live table (rich) when ``True``; one line per state change when ``False``;
            default: the table on a terminal.
        poll_seconds: how often the parent looks at the workers and run directories.

    Returns:
        One ``RunStatus`` per run, in ``comparison.runs()`` order. Runs still in progress at a
        Ctrl-C are ``stopped``; the ``KeyboardInterrupt`` is re-raised after the workers exit
        (likewise the ``SystemExit`` of a SIGTERM or SIGHUP).

    Raises:
        ValueError: ``jobs`` or ``threads`` below 1, bad settings, an output folder holding
            runs of other settings, or one in use by another comparison (before anything runs).
    """
    if launcher is None:
        launcher = ProcessLauncher(jobs, threads)
    comparison.check()
    check_out_folder(comparison)
    comparison.out.mkdir(parents=True, exist_ok=True)
    with exit_on_signals(), exclusive(comparison.out):
        write_record(comparison)  # first: a refused record leaves the folder as it was
        (comparison.out / LOGS_DIR).mkdir(exist_ok=True)
        with launcher:
            return _run_all(comparison, launcher, display, poll_seconds)


def _run_all(
    comparison: Comparison, launcher: Launcher, display: bool | None, poll_seconds: float
) -> list[RunStatus]:
    """The loop of ``run_comparison``: start workers as slots free up, poll, show."""
    statuses = []
    for spec in comparison.runs():
        status = RunStatus(spec, comparison.run_dir(spec))
        status.total_steps = comparison.config_for(spec).total_timesteps
        if (status.run_dir / SUMMARY_FILE).exists():
            status.state, status.env_steps = "skipped", status.total_steps
        statuses.append(status)
    show = _Display(statuses, live=sys.stderr.isatty() if display is None else display)
    jobs = launcher.capacity()
    try:
        with show:
            while any(s.state in ("queued", "running") for s in statuses):
                running = [s for s in statuses if s.state == "running"]
                for status in running:
                    _poll(status, show)
                for status in [s for s in statuses if s.state == "queued"]:
                    if sum(s.state == "running" for s in statuses) >= jobs:
                        break
                    _start(status, comparison, launcher)
                    show.changed(status)
                show.refresh()
                time.sleep(poll_seconds)
    except BaseException:  # Ctrl-C, SIGTERM/SIGHUP (exit_on_signals), or a bug: stop workers
        for status in statuses:
            if status.state == "running" and status.handle is not None:
                status.handle.stop()
                status.state = "stopped"
        raise
    return statuses


@contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold ``folder/.compare.lock`` for the block (``common.locks.DirLock``).

    Raises:
        ValueError: a live process holds it (another ``spawnzoo compare`` on the same folder
            would train the same runs twice), or an empty lock file is being written. A lock
            left by a dead process is taken over.
    """
    lock = DirLock(folder / LOCK_FILE, what="spawnzoo compare")
    try:
        lock.acquire()
    except LockedError as err:
        raise ValueError(str(err)) from None
    try:
        yield
    finally:
        lock.release()


def _start(status: RunStatus, comparison: Comparison, launcher: Launcher) -> None:
    """Start ``status``'s worker."""
    config = comparison.config_for(status.spec)
    log = comparison.out / LOGS_DIR / f"{status.run_dir.name}.log"
    status.handle = launcher.start(status.spec.method, config, log)
    status.state, status.started = "running", time.monotonic()


def _poll(status: RunStatus, show: _Display) -> None:
    """Read a running run's progress from its directory; note when its worker ended."""
    status.env_steps = _last_env_steps(status.run_dir) or status.env_steps
    status.seconds = time.monotonic() - status.started
    assert status.handle is not None
    if not status.handle.done():
        return
    error = status.handle.error()
    if error is None and (status.run_dir / SUMMARY_FILE).exists():
        status.state, status.env_steps = "done", status.total_steps
    else:
        status.state = "failed"
        status.error = f"{error or 'no summary written'}; see {_log_name(status)}"
    show.changed(status)


def _log_name(status: RunStatus) -> str:
    return f"{LOGS_DIR}/{status.run_dir.name}.log"


def _last_env_steps(run_dir: Path) -> int | None:
    """``env_steps`` of the last complete row of ``metrics.jsonl``, if any."""
    path = run_dir / METRICS_FILE
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return int(json.loads(line)["env_steps"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def train_worker(
    method: str, config: Any, log_path: str, threads: int, parent: int | None = None
) -> None:
    """Body of a worker process: train ``config`` with ``method``, output to ``log_path``.

    Exits with status 1 (traceback in the log) when training raises; a run that turns out to
    be finished already (``RunFinishedError``) is left as it is and counts as done (status 0).
    Dies with its parent (process id ``parent``, default the current parent): the kernel sends
    it SIGTERM when the parent dies. SIGTERM and SIGHUP end it as ``SystemExit`` (its run's
    lock is given back; the run resumes from its last checkpoint next time).
    """
    die_with_parent(os.getppid() if parent is None else parent)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    log = redirect_output(log_path)
    try:
        train_run(method, config, threads)
    except LockedError as err:  # another process trains this run: leave it alone
        print(f"refused: {err}", flush=True)
        sys.exit(1)
    except SystemExit as stop:  # SIGTERM / SIGHUP
        print(f"stopped (exit status {stop.code})", flush=True)
        raise
    except BaseException:
        traceback.print_exc()
        log.flush()
        sys.exit(1)


def redirect_output(log_path: str) -> Any:
    """Send this process's stdout and stderr (Python's and the file descriptors') to the end
    of ``log_path``; returns the open log, which must stay open while the process runs."""
    log = open(log_path, "a", buffering=1, encoding="utf-8")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    return log


def train_run(method: str, config: Any, threads: int) -> None:
    """Train ``config`` with ``method`` in this process on ``threads`` torch threads, printing
    where it goes and, at the end, the CPU time it took. A run that turns out to be finished
    already (``RunFinishedError``) is left as it is and returns normally (it counts as done).
    Raises what training raises otherwise."""
    import torch

    from ..registry import make_algorithm

    torch.set_num_threads(threads)
    print(f"{method} seed {config.seed} -> {config.run_root}/{config.run_name}", flush=True)
    try:
        with exit_on_signals():  # SIGTERM / SIGHUP: SystemExit, so the run's lock is given back
            result = make_algorithm(method).train(config)
    except RunFinishedError as done:  # finished since the parent looked: it is done
        print(done, flush=True)
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"finished: {result.run_dir}; {usage.ru_utime + usage.ru_stime:.1f} CPU seconds",
        flush=True,
    )


class _Display:
    """The progress display: a rich live table of every run, or plain lines on a pipe.

    Args:
        statuses: the runs (updated in place by the runner).
        live: the rich table; ``False`` prints one line per state change to stderr.
    """

    def __init__(self, statuses: list[RunStatus], *, live: bool):
        self.statuses, self.live = statuses, live
        self._live: Any = None

    def __enter__(self) -> _Display:
        if self.live:
            from rich.live import Live

            self._live = Live(self._table(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        else:
            done = sum(s.state == "skipped" for s in self.statuses)
            print(f"compare: {len(self.statuses)} runs, {done} already finished", file=sys.stderr)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*exc)

    def refresh(self) -> None:
        """Redraw the table with the current states."""
        if self._live is not None:
            self._live.update(self._table())

    def changed(self, status: RunStatus) -> None:
        """A run changed state: print a line in plain mode."""
        if self._live is None:
            finished = sum(s.state in ("done", "skipped") for s in self.statuses)
            count = f"[{finished}/{len(self.statuses)}]"
            detail = f" in {status.seconds:.0f}s" if status.state == "done" else ""
            detail = f": {status.error}" if status.error else detail
            print(
                f"{count} {status.state:<8} {status.spec.label} seed {status.spec.seed}{detail}",
                file=sys.stderr,
                flush=True,
            )

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title="spawnzoo compare", expand=False)
        for name, justify in (
            ("run", "left"),
            ("seed", "right"),
            ("state", "left"),
            ("env steps", "right"),
            ("progress", "right"),
            ("time", "right"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        colours = {"done": "green", "skipped": "green", "failed": "red", "running": "yellow"}
        for s in self.statuses:
            share = s.env_steps / s.total_steps if s.total_steps else 1.0
            table.add_row(
                s.spec.label,
                str(s.spec.seed),
                f"[{colours.get(s.state, 'dim')}]{s.state}[/]",
                f"{s.env_steps:,}",
                f"{share:.0%}",
                f"{s.seconds:.0f}s" if s.seconds else "",
            )
        return table
