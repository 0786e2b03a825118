"""Shared pieces of the learner tests: a run that takes seconds, and its comparable metrics."""

from __future__ import annotations

import json
from pathlib import Path

from spawnzoo.baselines.common import metrics as M

#: two cycles of 2 worlds x 16 steps on the tiny map, evaluated on 2 short episodes
QUICK_RUN = dict(
    preset="tiny",
    num_envs=2,
    num_steps=16,
    total_timesteps=64,
    num_minibatches=2,
    update_epochs=1,
    eval_episodes=2,
    eval_max_cycles=16,
    progress=False,
    seed=3,
)

#: metric columns that measure time, not learning (they differ between identical runs)
TIMING = {"time", "wall_clock_s", M.CHARTS_SPS, M.CHARTS_AGENT_SPS}


def metric_rows(run_dir: Path) -> list[dict]:
    """The rows of ``metrics.jsonl`` without their timing columns."""
    rows = []
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        row = row.get("metrics", row)
        rows.append({k: v for k, v in row.items() if k not in TIMING and "seconds" not in k})
    return rows
