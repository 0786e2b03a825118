"""Damaged checkpoints (issue 27 item 6): every checkpoint has a SHA-256 beside it;
``read_checkpoint`` refuses a damaged or crafted one with one ``CheckpointError`` naming the
file; ``resume`` falls back to the newest intact checkpoint and says so; ``spawnzoo render
--policy`` prints one line and exits non-zero (the traceback only with ``spawnzoo --debug``).

Before: truncated files gave ``EOFError`` / ``RuntimeError: PytorchStreamReader ...`` /
``UnpicklingError`` / ``KeyError`` tracebacks, ``train --resume`` crashed on a truncated latest
checkpoint, and 13 of 40 single-bit flips in tensor data loaded silently with other weights.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from learner_helpers import QUICK_RUN, metric_rows

from spawnzoo import cli
from spawnzoo.baselines.common.runs import (
    CheckpointError,
    RunDir,
    checksum_path,
    read_checkpoint,
)
from spawnzoo.hybrid.config import HybridConfig
from spawnzoo.hybrid.train import train


def small_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4))


@pytest.fixture
def run(tmp_path) -> RunDir:
    """A run directory with checkpoints of cycles 1-3 (logged rows at 100, 200, 300)."""
    run = RunDir.create(tmp_path, env_id="harvest-v0", method="hybrid", seed=1, tensorboard=False)
    run.write_config({"seed": 1}, method="hybrid", env_id="harvest-v0", seed=1)
    for cycle in (1, 2, 3):
        net = small_net(cycle)
        run.log(cycle * 100, {"losses/value_loss": float(cycle)})
        run.save_checkpoint(cycle, env_steps=cycle * 100, model=net)
    return run


def refused(path: Path, *words: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    for word in words:
        assert word in message, message
    return err.value


# ---------------------------------------------------------------------- the checksum
def test_a_checkpoint_has_its_sha256_beside_it(run):
    path = run.checkpoint_path(3)
    line = checksum_path(path).read_text()
    assert line == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
    ckpt = read_checkpoint(path)
    torch.testing.assert_close(ckpt["model"]["0.weight"], small_net(3)[0].weight)
    if shutil.which("sha256sum"):  # the format of sha256sum -c
        check = subprocess.run(
            ["sha256sum", "-c", checksum_path(path).name], cwd=path.parent, capture_output=True
        )
        assert check.returncode == 0


def test_every_single_bit_flip_and_truncation_is_refused(run):
    path = run.checkpoint_path(2)
    good = path.read_bytes()
    rng = np.random.default_rng(0)
    # 40 flips in the last quarter (the tensor data, where 13 of 40 loaded silently) and 40
    # anywhere
    tail = rng.integers(3 * len(good) // 4, len(good), 40)
    positions = np.concatenate([tail, rng.integers(0, len(good), 40)])
    for pos in positions.tolist():
        flipped = bytearray(good)
        flipped[pos] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(flipped))
        refused(path, "damaged", "SHA-256 does not match cycle_0002.pt.sha256")
    for cut in (0, 1, 100, len(good) // 2, len(good) - 1):
        path.write_bytes(good[:cut])
        refused(path, "damaged")
    path.write_bytes(good)
    assert read_checkpoint(path)["cycle"] == 2


def test_without_its_checksum_a_damaged_checkpoint_is_still_one_clear_error(run):
    """A checkpoint copied alone (or from before checksums): read unchecked, refused cleanly."""
    path = run.checkpoint_path(1)
    good = path.read_bytes()
    checksum_path(path).unlink()
    assert read_checkpoint(path)["cycle"] == 1
    for cut in (0, 10, len(good) // 3, len(good) - 30):
        path.write_bytes(good[:cut])
        refused(path, "not a readable checkpoint")


def crafted(path: Path, kind: str) -> None:
    """Write a crafted file of ``kind`` to ``path`` (no checksum)."""
    checksum_path(path).unlink(missing_ok=True)
    base = {
        "format": 1,
        "cycle": 1,
        "env_steps": 10,
        "agent_steps": 0,
        "wall_clock_s": 1.0,
        "model": {"w": torch.zeros(2)},
        "optimizer": None,
        "state": {},
        "rng": {},
    }

    def save(obj) -> None:
        torch.save(obj, path)

    if kind == "text":
        path.write_text("not a checkpoint")
    elif kind == "foreign zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "hi")
    elif kind == "pickle payload":  # a global weights_only refuses to import (nothing runs)
        save({"x": Path("/etc/passwd")})
    elif kind == "a list":
        save([1, 2])
    elif kind == "old format":
        save({**base, "format": 99})
    elif kind == "no cycle":
        save({k: v for k, v in base.items() if k != "cycle"})
    elif kind == "negative steps":
        save({**base, "env_steps": -5})
    elif kind == "model of numbers":
        save({**base, "model": {"w": 3}})
    elif kind == "no rng":
        save({k: v for k, v in base.items() if k != "rng"})
    elif kind == "bad checksum file":
        save(base)
        checksum_path(path).write_text("zz not a digest\n")
    elif kind == "empty checksum file":
        save(base)
        checksum_path(path).write_text("")
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("text", "not a readable checkpoint"),
        ("foreign zip", "not a readable checkpoint"),
        ("pickle payload", "not a readable checkpoint"),
        ("a list", "not a spawnzoo checkpoint (holds a list)"),
        ("old format", "checkpoint format 99; this spawnzoo reads 1"),
        ("no cycle", "cycle must be an integer >= 0, got None"),
        ("negative steps", "env_steps must be an integer >= 0, got -5"),
        ("model of numbers", "'model' is not a state dict of named tensors"),
        ("no rng", "'rng' is missing or not a dict"),
        ("bad checksum file", "holds no SHA-256"),
        ("empty checksum file", "is unreadable"),
    ],
)
def test_crafted_files_are_refused_naming_what_is_wrong(tmp_path, kind, words):
    path = tmp_path / "checkpoints" / "cycle_0001.pt"
    path.parent.mkdir()
    crafted(path, kind)
    refused(path, words)


# ---------------------------------------------------------------------- resume falls back
def test_resume_falls_back_to_the_newest_intact_checkpoint_and_says_so(run, capsys):
    path3 = run.checkpoint_path(3)
    path3.write_bytes(path3.read_bytes()[:-100])  # cut short (ENOSPC, a crash mid-copy)
    p2 = run.checkpoint_path(2)
    flipped = bytearray(p2.read_bytes())
    flipped[-50] ^= 4
    p2.write_bytes(bytes(flipped))
    run.write_config({"seed": 1}, method="hybrid", env_id="harvest-v0", seed=1)  # a resumption
    net = small_net(9)
    ckpt = run.resume(model=net)
    assert ckpt["cycle"] == 1
    torch.testing.assert_close(net[0].weight, small_net(1)[0].weight)
    err = capsys.readouterr().err
    assert "2 damaged checkpoint(s) set aside as *.damaged, resuming from cycle_0001.pt" in err
    assert f"{path3}: damaged" in err and f"{p2}: damaged" in err
    assert [p.name for p in run.checkpoints()] == ["cycle_0001.pt"]
    assert sorted(p.name for p in run.checkpoint_dir.glob("*.damaged")) == [
        "cycle_0002.pt.damaged",
        "cycle_0002.pt.sha256.damaged",
        "cycle_0003.pt.damaged",
        "cycle_0003.pt.sha256.damaged",
    ]
    assert [r["env_steps"] for r in run.read_metrics()] == [100]
    assert len(run.read_config()["resumed"][-1]["damaged"]) == 2


def test_with_no_intact_checkpoint_resume_starts_over(run, capsys):
    for path in run.checkpoints():
        path.write_bytes(b"")
    assert run.resume(model=small_net()) is None
    assert (
        "3 damaged checkpoint(s) set aside as *.damaged, starting over" in capsys.readouterr().err
    )
    assert run.checkpoints() == [] and run.read_metrics() == []


# ---------------------------------------------------------------------- the commands
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    return train(HybridConfig(**QUICK_RUN, run_root=str(root), run_name="t")).run_dir


def test_train_resume_with_a_truncated_latest_checkpoint_falls_back(trained, tmp_path, capsys):
    """The issue: ``train --resume`` crashed on a truncated latest checkpoint."""
    run = Path(shutil.copytree(trained, tmp_path / "t"))
    rows = metric_rows(run)
    (run / "summary.json").unlink()  # killed while writing the last checkpoint
    last = run / "checkpoints" / "cycle_0002.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    argv = [
        *("train", "hybrid", "--preset", "tiny", "--total-timesteps", "64", "--num-envs", "2"),
        *("--num-steps", "16", "--num-minibatches", "2", "--update-epochs", "1"),
        *("--eval-episodes", "2", "--eval-max-cycles", "16", "--seed", "3"),
        *("--run-root", str(tmp_path), "--run-name", "t", "--no-progress", "--resume"),
    ]
    capsys.readouterr()
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "1 damaged checkpoint(s) set aside as *.damaged, resuming from cycle_0001.pt" in err
    assert f"{last}: damaged" in err
    assert json.loads((run / "summary.json").read_text())["env_steps"] == 64
    again = metric_rows(run)  # cycle 2 trained again from cycle 1 (on freshly reset envs)
    assert again[0] == rows[0] and [r["env_steps"] for r in again] == [32, 64]
    assert read_checkpoint(last)["cycle"] == 2  # and checkpointed again, intact


def render_argv(policy: Path, out: Path) -> list[str]:
    return ["render", "--policy", str(policy), "--out", str(out), "--max-steps", "2"]


def test_render_of_a_damaged_checkpoint_is_one_line(trained, tmp_path, capsys):
    run = Path(shutil.copytree(trained, tmp_path / "t"))
    last = run / "checkpoints" / "cycle_0002.pt"
    last.write_bytes(last.read_bytes()[:-10])
    out = tmp_path / "x.gif"
    with pytest.raises(SystemExit) as stop:
        cli.main([*render_argv(run, out), "--no-progress"])
    assert str(stop.value.code).startswith(f"{last}: damaged")
    assert "Traceback" not in capsys.readouterr().err
    # --debug adds the traceback of the error behind the line
    with pytest.raises(SystemExit):
        cli.main(["--debug", *render_argv(last, out), "--no-progress"])
    err = capsys.readouterr().err
    assert "Traceback" in err and "CheckpointError" in err
    assert not out.exists()


def test_the_command_exits_non_zero_with_one_line_and_no_traceback(trained, tmp_path):
    run = Path(shutil.copytree(trained, tmp_path / "t"))
    last = run / "checkpoints" / "cycle_0002.pt"
    flipped = bytearray(last.read_bytes())
    flipped[len(flipped) // 2] ^= 16
    last.write_bytes(bytes(flipped))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "spawnzoo.cli",
            *render_argv(run, tmp_path / "x.gif"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{last}: damaged"), done.stderr
