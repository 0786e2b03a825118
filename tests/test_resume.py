"""Resuming runs loses nothing (issue 27): ``--resume`` of a finished run never rewrites its
results, and a run killed after its last checkpoint finishes with the results it had."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from types import SimpleNamespace

import pytest
from learner_helpers import QUICK_RUN, metric_rows

from spawnzoo import cli
from spawnzoo.baselines.common.runs import RunDir, RunFinishedError
from spawnzoo.baselines.compare.runner import train_worker
from spawnzoo.hybrid.config import HybridConfig


def train_argv(root: Path, *extra: str) -> list[str]:
    """The issue's command at a size the suite can afford: 2 cycles of 2 worlds x 16 steps."""
    return [
        *("train", "hybrid", "--preset", "tiny", "--total-timesteps", "64", "--num-envs", "2"),
        *("--num-steps", "16", "--num-minibatches", "2", "--update-epochs", "1"),
        *("--eval-episodes", "2", "--eval-max-cycles", "16", "--seed", "3"),
        *("--run-root", str(root), "--run-name", "x", "--no-progress", *extra),
    ]


def files(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder``: relative path -> (mtime_ns, contents)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished hybrid run made by ``spawnzoo train`` (the issue's command, made small)."""
    root = tmp_path_factory.mktemp("runs")
    assert cli.main(train_argv(root)) == 0
    return root / "x"


def copy_run(run: Path, to: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run, to / run.name))


def test_resume_of_a_finished_run_changes_nothing_and_says_so(finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_metrics"] and summary["final_eval"] is not None
    before = files(run)
    capsys.readouterr()
    assert cli.main(train_argv(tmp_path, "--resume")) == 0
    out = capsys.readouterr()
    assert f"{run} is finished" in out.err and "nothing to resume" in out.err
    assert f"run directory: {run}" in out.out
    assert "eval/episode_length" in out.out  # the stored summary is shown
    assert files(run) == before  # not a byte, not a timestamp: config.json gets no 'resumed'


def test_resume_after_a_kill_past_the_last_checkpoint_keeps_the_final_results(finished, tmp_path):
    """The issue's case: SIGKILL after the last checkpoint, before ``summary.json``."""
    run = copy_run(finished, tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    rows = metric_rows(run)
    (run / "summary.json").unlink()
    assert cli.main(train_argv(tmp_path, "--resume")) == 0
    again = json.loads((run / "summary.json").read_text())
    for key in ("env_steps", "agent_steps", "final_metrics", "last_eval_metrics", "milestones"):
        assert again[key] == summary[key], key
    timing = {"wall_clock_s"}
    assert {k: v for k, v in again["final_eval"].items() if k not in timing} == {
        k: v for k, v in summary["final_eval"].items() if k not in timing
    }
    assert again["last_eval_metrics"]  # the in-training evaluation was kept, not wiped
    assert metric_rows(run) == rows  # nothing retrained, nothing logged twice
    assert len(json.loads((run / "config.json").read_text())["resumed"]) == 1


NAME = "forage-v0__mappo__2__20260101-000000"


def test_run_dir_refuses_to_resume_a_finished_run_of_any_method(tmp_path):
    run = RunDir.create(
        tmp_path, env_id="forage-v0", method="mappo", seed=2, config={"seed": 2}, name=NAME
    )
    run.write_summary(
        env_steps=1, agent_steps=1, parameter_count=0, final_metrics={}, milestones={}
    )
    config = SimpleNamespace(
        run_root=str(tmp_path), run_name=None, resume=True, env_id="forage-v0", seed=2
    )
    before = files(run.path)
    for name in (NAME, None):  # by name, and as the newest run of (env, method, seed)
        config.run_name = name
        with pytest.raises(RunFinishedError, match="is finished") as err:
            RunDir.for_config(config, method="mappo")
        assert err.value.run_dir == run.path
    assert files(run.path) == before


def test_a_compare_worker_counts_a_run_finished_meanwhile_as_done(finished, tmp_path):
    """A worker started for a run that finished since the parent looked exits 0, untouched."""
    run = copy_run(finished, tmp_path)
    config = HybridConfig(**QUICK_RUN, run_root=str(tmp_path), run_name="x", resume=True)
    before = files(run)
    log = tmp_path / "worker.log"
    context = multiprocessing.get_context("spawn")
    worker = context.Process(target=train_worker, args=("hybrid", config, str(log), 1))
    worker.start()
    worker.join(timeout=300)
    assert worker.exitcode == 0, log.read_text()
    assert "is finished" in log.read_text()
    assert files(run) == before


def test_a_run_killed_before_its_first_checkpoint_starts_over_without_its_rows(tmp_path):
    config = HybridConfig(**QUICK_RUN, run_root=str(tmp_path), run_name="early")
    run = RunDir.for_config(config, method="hybrid", tensorboard=False)
    run.log(32, {"losses/value_loss": 1.0})  # then killed before the checkpoint
    run.close()
    again = RunDir.for_config(
        HybridConfig(**{**vars(config), "resume": True}), method="hybrid", tensorboard=False
    )
    assert again.resume() is None
    assert again.read_metrics() == []  # the fresh start logs 32 again, once


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("config.json", "config.json is damaged: not readable JSON"),
        ("metrics.jsonl", "metrics.jsonl:1 is not a JSON row with its env_steps"),
        ("another method", "is a run of (method, env, seed) = ('mappo', 'harvest-v0', 3)"),
    ],
)
def test_resume_of_a_damaged_run_is_one_line(finished, tmp_path, capsys, damage, words):
    run = copy_run(finished, tmp_path)
    (run / "summary.json").unlink()
    if damage == "another method":
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, "method": "mappo"}))
    else:
        text = (run / damage).read_text()
        (run / damage).write_text(text[: len(text) // 3] + "\x00garbage\n" + text[-20:])
    with pytest.raises(SystemExit) as stop:
        cli.main(train_argv(tmp_path, "--resume"))
    message = str(stop.value.code)
    assert message.startswith("spawnzoo train: ") and words in message and "\n" not in message
    assert not (run / "summary.json").exists() and not (run / ".lock").exists()
