"""One writer per run directory (issue 27 item 2): lock files naming a live process by pid and
start time, released on any exit, taken over when stale; workers that die with their parent;
two trainers of one run refused. Everything with real processes and real signals."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from spawnzoo.baselines.common import locks
from spawnzoo.baselines.common.locks import DirLock, Holder, LockedError, read_holder
from spawnzoo.baselines.common.runs import LOCK_FILE, RunDir

LINUX = sys.platform.startswith("linux")
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def holder_process(lock: Path) -> subprocess.Popen:
    """A python process that takes ``lock``, prints ``ready`` and sleeps (SIGTERM and SIGHUP
    exit it through ``exit_on_signals``)."""
    code = textwrap.dedent(
        f"""
        import signal, sys, time
        # a parent under nohup passes SIGHUP on ignored, and exit_on_signals leaves an
        # ignored signal alone (as it should): this holder wants the default back
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        from spawnzoo.baselines.common.locks import DirLock, exit_on_signals
        with exit_on_signals():
            with DirLock({str(lock)!r}, what="test holder"):
                print("ready", flush=True)
                time.sleep(120)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def wait_gone(pid: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not locks.process_alive(pid):
            return True
        time.sleep(0.05)
    return False


def dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


# ---------------------------------------------------------------------- the lock file
def test_a_lock_names_this_process_and_refuses_a_second_holder(tmp_path):
    path = tmp_path / ".lock"
    with DirLock(path, what="test") as lock:
        holder = read_holder(path)
        assert holder.pid == os.getpid() and holder.token == lock.holder.token
        assert holder.start == locks.process_start_time(os.getpid())
        with pytest.raises(LockedError, match=rf"in use by another test: process {os.getpid()}"):
            DirLock(path, what="test").acquire()
        assert read_holder(path) == holder  # the refused one changed nothing
    assert not path.exists()
    with DirLock(path, what="test"):  # and it can be taken again
        assert path.exists()


def test_a_lock_of_another_live_process_is_refused_until_it_exits(tmp_path):
    path = tmp_path / ".lock"
    proc = holder_process(path)
    try:
        with pytest.raises(LockedError, match=f"process {proc.pid}") as err:
            DirLock(path, what="test").acquire()
        assert err.value.holder.pid == proc.pid
        assert "wait for it to finish or stop it" in str(err.value)
    finally:
        proc.kill()
        proc.wait()
    # SIGKILL left the file behind: its process is gone, so the lock is stale and taken over
    assert read_holder(path).pid == proc.pid
    with DirLock(path, what="test"):
        assert read_holder(path).pid == os.getpid()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_release_the_lock(tmp_path, sig):
    path = tmp_path / ".lock"
    proc = holder_process(path)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 128 + sig
    assert not path.exists()


@needs_proc
def test_a_reused_pid_does_not_hold_a_lock(tmp_path):
    """Same pid, other start time: the process that took the lock is gone (pid reuse)."""
    path = tmp_path / ".lock"
    me = Holder.me()
    ghost = Holder(**{**vars(me), "start": me.start - 1, "token": "old"})
    path.write_text(json.dumps(vars(ghost)))
    assert not ghost.is_live()
    with DirLock(path, what="test") as lock:
        assert read_holder(path).token == lock.holder.token


def test_a_lock_from_before_a_reboot_is_stale(tmp_path):
    path = tmp_path / ".lock"
    me = Holder.me()
    path.write_text(json.dumps({**vars(me), "boot": "another-boot", "token": "old"}))
    if me.boot is None:
        pytest.skip("no boot id here")
    with DirLock(path, what="test"):
        assert read_holder(path).boot == me.boot


def test_an_empty_lock_is_held_while_fresh_and_stale_when_old(tmp_path):
    """The issue: an empty lock file (between create and write) was taken as stale at once."""
    path = tmp_path / ".lock"
    path.write_text("")
    with pytest.raises(LockedError, match="is empty"):
        DirLock(path, what="test").acquire()
    assert path.read_text() == ""
    old = time.time() - 2 * locks.EMPTY_GRACE_S
    os.utime(path, (old, old))
    with DirLock(path, what="test"):
        assert read_holder(path).pid == os.getpid()


def test_a_bare_pid_lock_of_older_versions_is_read(tmp_path):
    path = tmp_path / ".lock"
    path.write_text(str(os.getpid()))
    with pytest.raises(LockedError, match=f"process {os.getpid()}"):
        DirLock(path, what="test").acquire()
    path.write_text(str(dead_pid()))
    with DirLock(path, what="test"):
        assert read_holder(path).pid == os.getpid()


def test_a_lock_of_another_host_is_never_judged_stale(tmp_path):
    path = tmp_path / ".lock"
    path.write_text(json.dumps({"pid": dead_pid(), "host": "elsewhere.example", "token": "x"}))
    with pytest.raises(LockedError, match="on elsewhere.example"):
        DirLock(path, what="test").acquire()


def test_many_processes_racing_for_a_stale_lock_leave_exactly_one_winner(tmp_path):
    path = tmp_path / ".lock"
    path.write_text(json.dumps({"pid": dead_pid(), "token": "stale"}))
    code = textwrap.dedent(
        f"""
        import sys, time
        from spawnzoo.baselines.common.locks import DirLock, LockedError
        time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
        try:
            with DirLock({str(path)!r}, what="racer"):
                print("won", flush=True)
                time.sleep(3)
        except LockedError:
            print("lost", flush=True)
        """
    )
    start = time.time() + 2.0  # all racers start together, after their imports
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(start)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    results = [r.communicate(timeout=60)[0].strip() for r in racers]
    assert sorted(results) == ["lost"] * 5 + ["won"], results
    assert not path.exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_release_its_parents_lock(tmp_path):
    path = tmp_path / ".lock"
    with DirLock(path, what="test") as lock:
        pid = os.fork()
        if pid == 0:  # the child gives the inherited lock up (its exit would do the same)
            try:
                lock.release()
            finally:
                os._exit(0)  # not sys.exit: the child must not go on running the tests
        os.waitpid(pid, 0)
        assert read_holder(path).pid == os.getpid()
    assert not path.exists()


# ---------------------------------------------------------------------- parent death
@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux only")
def test_a_worker_dies_when_its_parent_is_killed(tmp_path):
    """A parent that starts a child with ``die_with_parent``, then is SIGKILLed."""
    code = textwrap.dedent(
        """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", '''
        import os, sys, time
        from spawnzoo.baselines.common.locks import die_with_parent
        assert die_with_parent(int(sys.argv[1]))
        print(os.getpid(), flush=True)
        time.sleep(120)
        ''', str(os.getpid())], stdout=subprocess.PIPE, text=True)
        print(child.stdout.readline().strip(), flush=True)
        time.sleep(120)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert locks.process_alive(child)
    parent.kill()
    parent.wait()
    assert wait_gone(child), "the child outlived its parent"


# ---------------------------------------------------------------------- run directories
@dataclasses.dataclass
class Config:
    run_root: str
    run_name: str = "r"
    resume: bool = False
    env_id: str = "e"
    seed: int = 1


def test_a_run_directory_has_one_writer(tmp_path):
    config = Config(str(tmp_path))
    first = RunDir.for_config(config, method="m", tensorboard=False)
    assert first.locked and read_holder(first.path / LOCK_FILE).pid == os.getpid()
    config.resume = True
    with pytest.raises(LockedError, match=r"r is in use by another training process"):
        RunDir.for_config(config, method="m", tensorboard=False)
    assert len(first.read_config()["resumed"]) == 0  # the refused one wrote nothing
    first.close()
    assert not (first.path / LOCK_FILE).exists()
    again = RunDir.for_config(config, method="m", tensorboard=False)
    assert again.locked and len(again.read_config()["resumed"]) == 1
    del again  # dropped without close (an exception in train): the finaliser releases
    assert not (first.path / LOCK_FILE).exists()


# ---------------------------------------------------------------------- end to end
QUICK_OPTIONS = [
    *("--num-envs", "2", "--num-steps", "16", "--num-minibatches", "2", "--update-epochs", "1"),
    *("--eval-episodes", "2", "--eval-max-cycles", "16", "--eval-every", "1000"),
]


def spawnzoo(*words: str) -> list[str]:
    return [sys.executable, "-m", "spawnzoo.cli", *words]


def wait_for(check, seconds: float = 180.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def metric_steps(run: Path) -> list[int]:
    return [
        json.loads(line)["env_steps"] for line in (run / "metrics.jsonl").read_text().splitlines()
    ]


def test_two_trainers_of_one_run_the_second_refuses(tmp_path):
    """The issue: two ``spawnzoo train ... --resume`` on one run name both ran, both exit 0."""
    argv = spawnzoo(
        *("train", "hybrid", "--preset", "tiny", "--total-timesteps", "32000", *QUICK_OPTIONS),
        *("--run-root", str(tmp_path), "--run-name", "x", "--resume", "--no-progress"),
    )
    run = tmp_path / "x"
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: read_holder(run / LOCK_FILE) is not None, what="the first run's lock")
        second = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [
            f"spawnzoo train: {run} is in use by another training process: "
            + read_holder(run / LOCK_FILE).describe()
            + "; wait for it to finish or stop it"
        ]
        assert f"process {first.pid} (" in second.stderr
        first.send_signal(signal.SIGTERM)  # as `timeout` or a scheduler would
        assert first.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        first.kill()
        first.wait()
    assert not (run / LOCK_FILE).exists()  # released on the way out
    if (run / "metrics.jsonl").exists():
        steps = metric_steps(run)
        assert steps == list(range(32, 32 * len(steps) + 1, 32))  # one writer: no duplicates


@pytest.mark.skipif(not LINUX, reason="SIGKILL of the parent needs PR_SET_PDEATHSIG (Linux)")
@pytest.mark.parametrize(
    "sig",
    # SIGKILL of a parent is also checked, faster, by test_a_worker_dies_when_its_parent_...
    [signal.SIGTERM, pytest.param(signal.SIGKILL, marks=pytest.mark.slow)],
)
def test_a_stopped_compare_leaves_no_worker_and_the_rerun_finishes_cleanly(tmp_path, sig):
    """The issue: `kill -TERM` of compare left its worker training, and the rerun started a
    second writer (27 metrics rows for 16 cycles). Now its worker stops with it (SIGTERM: the
    parent stops it; SIGKILL: the kernel's parent-death signal), and the rerun resumes."""
    out = tmp_path / "cmp"
    pairs = zip(QUICK_OPTIONS[::2], QUICK_OPTIONS[1::2])
    config = [f"--config={k[2:].replace('-', '_')}={v}" for k, v in pairs]
    argv = spawnzoo(
        *("compare", "--preset", "tiny", "--methods", "hybrid", "--seeds", "1"),
        *("--total-timesteps", "128", *config, "--out", str(out), "--no-report"),
    )
    compare = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: list(out.glob("runs/*/metrics.jsonl")), what="the worker's first cycle")
        (run,) = [p.parent for p in out.glob("runs/*/metrics.jsonl")]
        worker = read_holder(run / LOCK_FILE).pid
        assert worker != compare.pid and locks.process_alive(worker)
        compare.send_signal(sig)
        compare.wait(timeout=120)
        assert wait_gone(worker, 120), "the worker trains on without its compare"
    finally:
        compare.kill()
        compare.wait()
    if sig == signal.SIGTERM:  # a clean exit gives every lock back
        assert not (out / ".compare.lock").exists() and not (run / LOCK_FILE).exists()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert metric_steps(run) == [32, 64, 96, 128]  # 4 cycles, each logged once
    assert not (out / ".compare.lock").exists() and not (run / LOCK_FILE).exists()


def test_a_compare_worker_leaves_a_run_in_use_alone(tmp_path):
    """A rerun compare whose run another process still trains: its worker is refused."""
    import multiprocessing

    from learner_helpers import QUICK_RUN

    from spawnzoo.baselines.compare.runner import train_worker
    from spawnzoo.hybrid.config import HybridConfig

    run = tmp_path / "x"
    run.mkdir()
    holder = holder_process(run / LOCK_FILE)
    try:
        config = HybridConfig(**QUICK_RUN, run_root=str(tmp_path), run_name="x", resume=True)
        log = tmp_path / "worker.log"
        worker = multiprocessing.get_context("spawn").Process(
            target=train_worker, args=("hybrid", config, str(log), 1)
        )
        worker.start()
        worker.join(timeout=300)
        assert worker.exitcode == 1
        text = log.read_text()
        assert f"refused: {run} is in use by another training process: process {holder.pid}" in text
        assert "Traceback" not in text and sorted(p.name for p in run.iterdir()) == [LOCK_FILE]
    finally:
        holder.kill()
        holder.wait()
