"""``spawnzoo compare --backend ray``: the same runs, report and resumption as the process pool."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from learner_helpers import TIMING, metric_rows
from script_helpers import ROOT, load_script
from test_compare import comparison

from spawnzoo import cli
from spawnzoo.baselines.compare import runner
from spawnzoo.baselines.compare.ray_backend import RayLauncher
from spawnzoo.baselines.compare.report import build_report


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray with 2 CPUs (2 workers of 1 CPU) for the module: starting one takes ~10 s.
    A ``RayLauncher`` without an address uses it as it is and leaves it running."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def final_rows(report: str) -> list[str]:
    """The rows of the report's final-evaluation table (machine-independent within a machine)."""
    section = report.split("### Final evaluation", 1)[1].split("\n### ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")]


def untimed(values: dict) -> dict:
    """``values`` without the entries that measure time."""
    return {k: v for k, v in values.items() if k not in TIMING and "wall_clock" not in k}


def test_ray_with_two_workers_gives_the_runs_and_report_rows_of_the_process_pool(
    tmp_path, local_ray
):
    plan = dict(methods=("random", "hybrid"), seeds=(1,))
    pool = comparison(tmp_path / "pool", **plan)
    on_ray = comparison(tmp_path / "ray", **plan)
    statuses = runner.run_comparison(pool, jobs=2, display=False, poll_seconds=0.1)
    assert [s.state for s in statuses] == ["done"] * 2
    launcher = RayLauncher(cpus_per_run=1)
    statuses = runner.run_comparison(on_ray, display=False, poll_seconds=0.1, launcher=launcher)
    assert [s.state for s in statuses] == ["done"] * 2
    assert launcher.capacity() == 2  # the 2 CPUs of the local Ray, one per run

    for spec in pool.runs():
        a, b = pool.run_dir(spec), on_ray.run_dir(spec)
        assert b.name == a.name
        assert metric_rows(b) == metric_rows(a)  # same seeds, same numbers, cycle by cycle
        sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
        for key in ("final_eval", "final_metrics", "milestones"):
            assert untimed(sb[key]) == untimed(sa[key])
        log = (on_ray.out / "logs" / f"{b.name}.log").read_text()
        assert re.search(r"ray task on node \S+, process \d+", log)
        assert "finished:" in log
    rows = [final_rows(build_report(c.out, gif=False).read_text()) for c in (pool, on_ray)]
    assert [row.split("|")[1].strip() for row in rows[0]] == ["method", "random", "hybrid"]
    assert rows[1] == rows[0]

    # a rerun on Ray skips the finished runs, like the pool
    statuses = runner.run_comparison(on_ray, display=False, poll_seconds=0.1, launcher=launcher)
    assert [s.state for s in statuses] == ["skipped"] * 2


def test_a_ray_task_whose_worker_is_killed_is_retried_and_resumes_from_its_checkpoint(
    tmp_path, local_ray
):
    cycles = 12
    cmp = comparison(tmp_path / "cmp", ("hybrid",), total_timesteps=32 * cycles)
    run_dir = cmp.run_dir(cmp.runs()[0])
    log = cmp.out / "logs" / f"{run_dir.name}.log"
    killed: list[int] = []
    finished = threading.Event()

    # no deadline of its own (on a loaded machine Ray and torch can take minutes to start): it
    # watches until the comparison returns; the window it needs is 10 cycles and the final
    # evaluation long
    def kill_after_second_checkpoint():
        while not finished.is_set():
            pids = re.findall(r"process (\d+)", log.read_text()) if log.exists() else []
            if pids and (run_dir / "checkpoints" / "cycle_0002.pt").exists():
                if not (run_dir / "summary.json").exists():
                    os.kill(int(pids[0]), signal.SIGKILL)
                    killed.append(int(pids[0]))
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_after_second_checkpoint, daemon=True)
    killer.start()
    launcher = RayLauncher(cpus_per_run=1, max_retries=2)
    try:
        [status] = runner.run_comparison(cmp, display=False, poll_seconds=0.1, launcher=launcher)
    finally:
        finished.set()
        killer.join()
    assert killed, "the run finished before its worker could be killed"
    assert status.state == "done", status.error
    attempts = re.findall(r"process (\d+)", log.read_text())
    assert len(attempts) == 2 and int(attempts[1]) != killed[0]  # a second worker took over
    config = json.loads((run_dir / "config.json").read_text())
    assert len(config["resumed"]) == 1  # from a checkpoint, not from scratch
    steps = [row["env_steps"] for row in metric_rows(run_dir)]
    assert steps == [32 * (i + 1) for i in range(cycles)]  # no cycle twice, none missing
    assert json.loads((run_dir / "summary.json").read_text())["env_steps"] == 32 * cycles


def test_a_run_lock_left_on_a_node_the_cluster_lost_is_taken_over(tmp_path, local_ray):
    from spawnzoo.baselines.common.locks import Holder, read_holder

    cmp = comparison(tmp_path / "cmp", ("random",))
    run_dir = cmp.run_dir(cmp.runs()[0])
    run_dir.mkdir(parents=True)
    lost = Holder(pid=4242, host="node-that-died", command="spawnzoo compare", since="earlier")
    (run_dir / ".lock").write_text(json.dumps(vars(lost)) + "\n")
    assert read_holder(run_dir / ".lock").host == "node-that-died"
    launcher = RayLauncher(cpus_per_run=1)
    [status] = runner.run_comparison(cmp, display=False, poll_seconds=0.1, launcher=launcher)
    assert status.state == "done", status.error
    log = (cmp.out / "logs" / f"{run_dir.name}.log").read_text()
    assert "process 4242 on node-that-died" in log and "taken over" in log


def test_a_task_that_raises_fails_its_run_once_with_the_reason_and_the_others_go_on(
    tmp_path, local_ray
):
    cmp = comparison(tmp_path / "cmp", ("random", "heuristic"))
    # the heuristic's run directory is a file: training it raises, and is not retried
    cmp.runs_root.mkdir(parents=True)
    cmp.run_dir(cmp.runs()[1]).write_text("in the way")
    launcher = RayLauncher(cpus_per_run=1)
    statuses = runner.run_comparison(cmp, display=False, poll_seconds=0.1, launcher=launcher)
    assert [s.state for s in statuses] == ["done", "failed"]
    assert "Error" in statuses[1].error and "logs/" in statuses[1].error
    log = (cmp.out / "logs" / f"{cmp.run_dir(cmp.runs()[1]).name}.log").read_text()
    assert log.count("ray task on node") == 1  # an exception of training is not retried
    assert "Traceback" in log


def test_the_scaling_benchmark_times_the_plan_per_worker_count_into_its_block(tmp_path, local_ray):
    bench = load_script("benchmarks/ray_scaling.py")
    page = tmp_path / "benchmarks.md"
    page.write_text((ROOT / "docs/benchmarks.md").read_text())
    out = tmp_path / "rows.json"
    argv = ["--part", "compare", "--workers", "1", "2", "--methods", "random", "--seeds", "2"]
    argv += ["--cycles", "1", "--eval-episodes", "2"]
    assert bench.main([*argv, "--json", str(out), "--doc", str(page)]) == 0
    rows = json.loads(out.read_text())["compare"]
    assert [r["workers"] for r in rows] == [1, 2] and not any(r["failed"] for r in rows)
    assert all(0 < r["runs_s"] <= r["total_s"] for r in rows)
    begin, end = bench.COMPARE_MARKERS
    block = page.read_text().split(begin, 1)[1].split(end, 1)[0]
    assert "command: " in block and "machine: " in block and "load average" in block
    assert re.search(r"\n\| 2 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+x \| 0 \|", block)
    del sys.modules["ray_scaling"]


def test_ctrl_c_cancels_the_ray_tasks_and_the_same_command_finishes_the_job(
    tmp_path, local_ray, monkeypatch
):
    cmp = comparison(tmp_path / "cmp", ("hybrid",), total_timesteps=32 * 6)
    run_dir = cmp.run_dir(cmp.runs()[0])
    real_sleep = runner.time.sleep

    def interrupt_after_first_checkpoint(seconds):
        real_sleep(seconds)
        if (run_dir / "checkpoints" / "cycle_0001.pt").exists():
            raise KeyboardInterrupt

    monkeypatch.setattr(runner.time, "sleep", interrupt_after_first_checkpoint)
    launcher = RayLauncher(cpus_per_run=1)
    with pytest.raises(KeyboardInterrupt):
        runner.run_comparison(cmp, display=False, poll_seconds=0.05, launcher=launcher)
    monkeypatch.setattr(runner.time, "sleep", real_sleep)
    assert not (run_dir / "summary.json").exists()  # the task was cancelled mid-run
    [status] = runner.run_comparison(cmp, display=False, poll_seconds=0.1, launcher=launcher)
    assert status.state == "done", status.error
    assert len(json.loads((run_dir / "config.json").read_text())["resumed"]) == 1
    assert [r["env_steps"] for r in metric_rows(run_dir)] == [32 * (i + 1) for i in range(6)]


# ---------------------------------------------------------------------- options, no Ray needed
def test_backend_ray_without_ray_installed_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    argv = ["compare", "--methods", "random", "--preset", "tiny", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match=re.escape("pip install 'spawnzoo[ray]'")):
        cli.main([*argv, "--backend", "ray"])
    assert not (tmp_path / "o").exists()  # refused before anything ran


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--address", "auto"], "--address only go with --backend ray"),
        (["--gpus-per-run", "1"], "--gpus-per-run only go with --backend ray"),
        (["--backend", "ray", "--threads", "2"], "drop --threads"),
        (["--backend", "ray", "--cpus-per-run", "0"], "--cpus-per-run must be >= 1"),
        (["--backend", "ray", "--gpus-per-run", "1.5"], "a whole number when above 1"),
        (["--jobs", "0"], "--jobs must be >= 1"),
    ],
)
def test_bad_backend_options_are_refused_naming_the_option(tmp_path, extra, message):
    if "--backend" in extra:
        pytest.importorskip("ray")
    argv = ["compare", "--methods", "random", "--preset", "tiny", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match=re.escape(message)):
        cli.main([*argv, *extra])
    assert not (tmp_path / "o").exists()


class _FakeRay:
    """Records ``init`` / ``shutdown``: what a ``RayLauncher`` asks of Ray, without one."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.initialized = False

    def is_initialized(self):
        return self.initialized

    def init(self, **options):
        self.calls.append(("init", options))
        self.initialized = True

    def shutdown(self):
        self.calls.append(("shutdown", {}))
        self.initialized = False

    def remote(self, **options):
        fake = self

        class Task:
            def options(self, **declared):
                fake.calls.append(("options", declared))
                return self

            def remote(self, *args):
                fake.calls.append(("remote", {"args": args}))
                return "ref"

        return lambda function: Task()

    def cluster_resources(self):
        return {"CPU": 16.0, "GPU": 2.0}


def test_a_local_ray_is_sized_by_jobs_and_a_cluster_is_joined_and_left_running(monkeypatch):
    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    with RayLauncher(cpus_per_run=2, jobs=3) as launcher:
        assert launcher.capacity() == 3
    with RayLauncher(address="ray://head:10001", cpus_per_run=4, gpus_per_run=0.5) as launcher:
        assert launcher.capacity() == 4  # 16 CPUs / 4 per run; 2 GPUs / 0.5 would fit 4 too
    with RayLauncher(address="auto", cpus_per_run=1, gpus_per_run=1) as launcher:
        assert launcher.capacity() == 2  # the GPUs are the limit
    inits = [options for name, options in fake.calls if name == "init"]
    assert inits[0]["num_cpus"] == 6 and inits[0]["address"] == "local"  # a Ray of its own
    assert inits[1]["address"] == "ray://head:10001" and "num_cpus" not in inits[1]
    assert [name for name, _ in fake.calls].count("shutdown") == 3  # each one it started
    fake.initialized = True  # a Ray this process started already: used, not shut down
    with RayLauncher() as launcher:
        assert launcher.capacity() == 16
    assert len(fake.calls) == 6


def test_a_task_declares_its_resources_gets_absolute_paths_and_cuda_with_gpus(
    tmp_path, monkeypatch
):
    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.chdir(tmp_path)
    cmp = comparison(Path("cmp"), ("hybrid", "random"))  # a relative --out
    with RayLauncher(cpus_per_run=2, gpus_per_run=0.5, max_retries=5) as launcher:
        for spec in cmp.runs():
            log = cmp.out / "logs" / f"{cmp.run_dir(spec).name}.log"
            launcher.start(spec.method, cmp.config_for(spec), log)
    declared = [options for name, options in fake.calls if name == "options"]
    assert declared[0]["num_cpus"] == 2 and declared[0]["num_gpus"] == 0.5
    assert declared[0]["max_retries"] == 5 and declared[0]["retry_exceptions"] is False
    (method, config, log, threads, out), _ = [
        options["args"] for name, options in fake.calls if name == "remote"
    ]
    assert (method, threads) == ("hybrid", 2)
    assert config.device == "cuda"  # the GPU Ray gives the task
    assert config.run_root == str(tmp_path / "cmp" / "runs")  # the same folder on every node
    assert log == str(tmp_path / "cmp" / "logs" / "harvest-v0__hybrid__1.log")
    assert out == str(tmp_path / "cmp")
