"""One writer per directory: lock files that name a live process, and process lifetimes.

    with DirLock(run_dir / ".lock", what="training run"):     # LockedError if held
        ...                                                   # released on any exit

A lock file holds one JSON line naming its holder: process id, the process's start time (clock
ticks since boot, from ``/proc/PID/stat``), the boot id, the host, a random token, the command
and when it was taken. A lock is **held** while that process runs: same pid *and* same start
time, so a pid reused by another process after a crash does not count. A lock whose process is
gone (killed with SIGKILL, a power cut) is **stale** and the next ``acquire`` takes it over. A
lock of another host is never judged stale (its processes can't be seen from here).

The file is written completely before it appears (a temporary file hard-linked into place), so
a reader never sees a lock without its holder. An empty or unreadable lock file (written by
hand, or by a filesystem without hard links, which falls back to create-then-write) counts as
held while it is younger than ``EMPTY_GRACE_S`` and as stale after. Taking over a stale lock is
serialised with ``flock`` on the directory, so two processes that both find the same stale lock
can't both win.

Release on any exit: ``release()`` (the ``with`` block), a finaliser when the lock object is
garbage collected or the interpreter exits, and ``exit_on_signals`` turning SIGTERM and SIGHUP
into ``SystemExit`` so those run. A process killed with SIGKILL leaves a stale lock, which is
taken over. A forked child never releases its parent's lock.

``die_with_parent`` makes a worker process get SIGTERM when its parent dies (Linux
``PR_SET_PDEATHSIG``), so no worker trains on without the process that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: seconds an empty or unreadable lock file counts as being written by its holder
EMPTY_GRACE_S = 30.0


class LockedError(RuntimeError):
    """The directory is in use: its lock is held by a live process (or can't be judged).

    Attributes:
        path: the lock file. holder: who holds it (``None``: the file says nothing).
    """

    def __init__(self, path: Path, holder: Holder | None, message: str):
        self.path, self.holder = path, holder
        super().__init__(message)


@dataclass(frozen=True)
class Holder:
    """Who holds a lock (one JSON line in the lock file).

    Attributes:
        pid: process id. start: the process's start time in clock ticks since boot (``None``
            where ``/proc`` is missing). boot: the boot id (``None`` likewise). host: host name.
        token: random, unique per acquisition. command: the command line. since: ISO time.
    """

    pid: int
    start: int | None = None
    boot: str | None = None
    host: str = ""
    token: str = ""
    command: str = ""
    since: str = ""

    @classmethod
    def me(cls) -> Holder:
        """This process, with a fresh token."""
        pid = os.getpid()
        return cls(
            pid=pid,
            start=process_start_time(pid),
            boot=boot_id(),
            host=socket.gethostname(),
            token=secrets.token_hex(8),
            command=" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
            since=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder a lock file names; ``None`` if it names none (empty, damaged). A bare
        process id (locks of spawnzoo before this format) is read as that process."""
        text = text.strip()
        if text.isdigit():
            return cls(pid=int(text), host=socket.gethostname())
        try:
            data = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                start=None if data.get("start") is None else int(data["start"]),
                boot=data.get("boot"),
                host=str(data.get("host", "")),
                token=str(data.get("token", "")),
                command=str(data.get("command", "")),
                since=str(data.get("since", "")),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def is_live(self) -> bool:
        """Whether the holding process still runs (``True`` when it can't be told: another
        host)."""
        if self.host and self.host != socket.gethostname():
            return True
        if self.boot is not None and boot_id() not in (None, self.boot):
            return False  # the machine was restarted since
        return process_alive(self.pid, self.start)

    def describe(self) -> str:
        """``process 123 on host (spawnzoo train ..., since ...)``."""
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        since = f"since {self.since}" if self.since else ""
        details = ", ".join(x for x in (self.command, since) if x)
        return f"process {self.pid}{where}" + (f" ({details})" if details else "")


class DirLock:
    """A lock file held by this process (see the module docstring).

    Args:
        path: the lock file (e.g. ``RUN/.lock``); its folder must exist.
        what: what holds such locks, for messages (``"training run"``, ``"spawnzoo compare"``).
    """

    def __init__(self, path: str | os.PathLike, *, what: str):
        self.path, self.what = Path(path), what
        self.holder: Holder | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self.holder is not None

    def acquire(self) -> DirLock:
        """Take the lock, taking over a stale one.

        Raises:
            LockedError: a live process holds it (the message names it, and says what to do),
                or an empty lock file is younger than ``EMPTY_GRACE_S``.
        """
        if self.held:
            raise RuntimeError(f"{self.path} is already held by this object")
        me = Holder.me()
        for _ in range(5):
            if _create(self.path, json.dumps(asdict(me)) + "\n"):
                self.holder = me
                self._finalizer = weakref.finalize(self, _release, self.path, me.token, me.pid)
                return self
            found, text = _read(self.path)
            if found is None and text is None:
                continue  # released meanwhile: try again
            if found is not None and found.is_live():
                raise LockedError(
                    self.path,
                    found,
                    f"{self.path.parent} is in use by another {self.what}: {found.describe()}; "
                    "wait for it to finish or stop it",
                )
            if found is None and _age(self.path) < EMPTY_GRACE_S:
                raise LockedError(
                    self.path,
                    None,
                    f"{self.path.parent} is being taken by another {self.what} ({self.path} is "
                    f"empty); try again in a minute, or delete {self.path} if nothing runs",
                )
            _take_over(self.path, text)
        raise LockedError(
            self.path, None, f"cannot take {self.path}: other processes keep taking it"
        )

    def release(self) -> None:
        """Give the lock up (idempotent; a lock taken over by another process is left alone)."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self.holder = None

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"DirLock({str(self.path)!r}, held={self.held})"


def read_holder(path: str | os.PathLike) -> Holder | None:
    """The holder a lock file names, or ``None`` (no file, empty, damaged)."""
    return _read(Path(path))[0]


# ---------------------------------------------------------------------- processes
def process_start_time(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot; ``None`` without ``/proc`` or
    when the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; field 22 is starttime
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def boot_id() -> str | None:
    """This boot's id (Linux), ``None`` elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_alive(pid: int, start: int | None = None) -> bool:
    """Whether process ``pid`` runs, and (given ``start`` and ``/proc``) is the one that
    started then rather than a later process that got the same pid."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    if start is None:
        return True
    now = process_start_time(pid)
    if now is None:
        return Path("/proc").is_dir() is False  # no /proc: can't tell, trust the pid
    if now != start:
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")


@contextlib.contextmanager
def exit_on_signals(signals: tuple[int, ...] | None = None) -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``SystemExit(128 + signal)`` in the main
    thread, so ``finally`` blocks, ``with`` exits and finalisers run (locks are released,
    workers stopped) as they do on Ctrl-C. Signals whose handler is not the default are left
    alone; outside the main thread this does nothing."""
    if signals is None:
        signals = tuple(s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s)
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    old = {}
    for sig in signals:
        if signal.getsignal(sig) is signal.SIG_DFL:
            old[sig] = signal.signal(sig, leave)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux
    ``prctl(PR_SET_PDEATHSIG)``); exit at once if the parent ``parent_pid`` is already gone.

    Returns:
        Whether the request was made (``False`` on other systems: there, a worker's parent
        stops it on SIGTERM, SIGHUP and Ctrl-C, but not on SIGKILL).
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, int(sig), 0, 0, 0) != 0:  # 1 = PR_SET_PDEATHSIG
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent_pid:  # the parent died before the request: nobody would tell us
        raise SystemExit(128 + int(sig))
    return True


# ---------------------------------------------------------------------- lock files
def _create(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` if it does not exist; ``False`` if it does."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # appears complete, or not at all
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links here: create, then write (a short empty window)
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return True
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path) -> tuple[Holder | None, str | None]:
    """``(holder, text)`` of a lock file; ``(None, None)`` when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None, None
    except OSError:
        return None, ""
    return Holder.parse(text), text


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _take_over(path: Path, judged: str | None) -> None:
    """Delete the stale lock ``path`` if it still holds ``judged`` (the text found stale),
    under ``flock`` on its folder, so that of two processes that judged the same lock stale
    only one deletes it (the other then finds the winner's live lock)."""
    with _folder_guard(path.parent):
        _, text = _read(path)
        if text is not None and text == judged:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _folder_guard(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` for the block (nothing where flock is missing)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # closing drops the flock


def _release(path: Path, token: str, owner_pid: int) -> None:
    """Delete ``path`` if it is still the lock with ``token`` (and we are not a fork of the
    process that took it)."""
    if os.getpid() != owner_pid:
        return
    with _folder_guard(path.parent):
        holder, _ = _read(path)
        if holder is not None and holder.token == token:
            path.unlink(missing_ok=True)
