"""scripts/trajectory_separation.py builds its table and pooled milestones from finished runs.

The runs here are hand-written run directories (config, metrics, summary), so the table's
numbers are known; the script reuses finished runs and trains nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from script_helpers import load_script


@pytest.fixture(scope="module")
def script():
    yield load_script("scripts/trajectory_separation.py")
    del sys.modules["trajectory_separation"]


def fake_run(root: Path, name: str, seed: int, fractions: list[float], ice: float) -> None:
    """A finished run evaluated every 4,096 env steps with these full-length fractions."""
    run = root / name
    run.mkdir(parents=True)
    config = {"method": "hybrid", "env_id": "harvest-v0", "seed": seed, "config": {}}
    (run / "config.json").write_text(json.dumps(config))
    steps = [4096 * (i + 1) for i in range(len(fractions))]
    rows = [{"env_steps": s, "eval/full_length_fraction": f} for s, f in zip(steps, fractions)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    first = {t: next((s for s, f in zip(steps, fractions) if f >= t), None) for t in (0.1, 0.95)}
    summary = {
        "final_eval": {
            "player_metrics": {"ice_transferred": [ice] * 2},
            "episode_lengths": [512] * 2,
        },
        "milestones": {"full_length_10pct": first[0.1], "full_length_95pct": first[0.95]},
        "wall_clock_s": 600.0,
    }
    (run / "summary.json").write_text(json.dumps(summary))


def test_table_and_pooled_milestones_from_finished_runs(script, tmp_path, capsys):
    root = tmp_path / "runs"
    # seed 1 reaches 10% at the 2nd evaluation, seed 2 at the 3rd; pooled (the mean share of
    # the two seeds' episodes) reaches 10% at the 2nd (0.2 / 2 = 0.1) and 95% at the 4th
    fake_run(root, "trajsep__small__entity__s1", 1, [0.0, 0.2, 1.0, 1.0], 100.0)
    fake_run(root, "trajsep__small__entity__s2", 2, [0.0, 0.0, 0.5, 0.9], 300.0)
    # global: pooled 10% at the 4th evaluation (0.25 / 2), 95% never
    fake_run(root, "trajsep__small__global__s1", 1, [0.0, 0.0, 0.0, 0.25], 50.0)
    fake_run(root, "trajsep__small__global__s2", 2, [0.0, 0.0, 0.0, 0.0], 10.0)
    out = tmp_path / "table.md"
    argv = ["--groupings", "entity", "global", "--seeds", "1", "2", "--run-root", str(root)]
    argv += ["--reps", "200"]
    assert script.main([*argv, "--out", str(out)]) == 0
    text = out.read_text()
    assert text == capsys.readouterr().out
    assert "| separated per entity | 200 (100) | 512 (0) | 8,192, 12,288 | 12,288, – |" in text
    assert "| global trajectory | 30 (20) | 512 (0) | 16,384, – | –, – |" in text
    assert (
        "separated per entity 10% at 8,192, 95% at 16,384; "
        "global trajectory 10% at 16,384, 95% never within the budget." in text
    )
    assert "The global trajectory reaches 10% 2.0x later." in text
    # per seed: entity 10% at 8,192 and 12,288; global at 16,384 and never (the budget,
    # 102,400): (16,384 + 102,400) / (8,192 + 12,288) = 5.8, a lower bound
    factors = "by (mean env steps of the global seeds over the separated ones, 95% CI): "
    assert factors + "10%: ≥ 5.8 [" in text
    # 95%: global never (2 x the budget) over entity's 12,288 and never: 1.8, both censored
    assert "95%: ~ 1.8 [" in text
    assert "| 12,288, – | 200 [" in text  # the ice IQM [95% CI] of the separated runs
