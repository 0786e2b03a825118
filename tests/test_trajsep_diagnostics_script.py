"""scripts/trajsep_diagnostics.py summarises PPO's clipping, KL and entropy by training phase.

The runs are hand-written ``metrics.jsonl`` files, so every cell of the table is known.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from script_helpers import load_script


@pytest.fixture(scope="module")
def script():
    yield load_script("scripts/trajsep_diagnostics.py")
    del sys.modules["trajsep_diagnostics"]


def fake_run(root: Path, name: str, clip: list[float], entropy: float, groups: float) -> None:
    run = root / name
    run.mkdir(parents=True)
    rows = [
        {
            "env_steps": 4096 * (i + 1),
            "losses/clip_fraction": c,
            "losses/approx_kl": c / 10,
            "losses/entropy": entropy,
            "agents/groups_active_mean": groups,
            "agents/alive_mean": 12.0,
        }
        for i, c in enumerate(clip)
    ]
    # an evaluation-only record (no losses) is skipped
    rows.append({"env_steps": 4096 * len(clip), "eval/episode_length": 512.0})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_phase_means_over_cycles_then_seeds(script, tmp_path, capsys):
    root = tmp_path / "runs"
    fake_run(root, "trajsep__small__entity__s1", [0.1, 0.3, 0.0], 0.9, 12.0)
    fake_run(root, "trajsep__small__entity__s2", [0.3, 0.1], 0.7, 12.0)
    # one global group holding all 12 entities: its entropy is their sum
    fake_run(root, "trajsep__small__global__s1", [0.4, 0.2, 0.6], 9.6, 1.0)
    (root / "trajsep__small__global__s1.log").write_text("not a run")
    assert script.main([str(root), "--phases", "1-2,3-25"]) == 0
    out = capsys.readouterr().out
    assert "| entity | 1-2 | 2 | 0.200 | 0.020 | 0.800 | 0.80 | 12.0 |" in out
    assert "| entity | 3-3 | 1 | 0.000 | 0.000 | 0.900 | 0.90 | 12.0 |" in out
    assert "| global | 1-2 | 1 | 0.300 | 0.030 | 9.600 | 0.80 | 12.0 |" in out
    assert "| global | 3-3 | 1 | 0.600 | 0.060 | 9.600 | 0.80 | 12.0 |" in out


def test_bad_input_is_named(script, tmp_path):
    with pytest.raises(SystemExit, match="6-x"):
        script.main([str(tmp_path), "--phases", "6-x"])
    with pytest.raises(SystemExit, match="no trajsep__"):
        script.main([str(tmp_path)])
    with pytest.raises(SystemExit, match="not a directory"):
        script.main([str(tmp_path / "missing")])
