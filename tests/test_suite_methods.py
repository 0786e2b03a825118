"""Every method runs on every env of the suite through the one algorithm table (issue #8's
smoke grid): two short iterations on the tiny preset, a run directory with the env's own metrics.

Harvest's runs are covered in depth by the learner tests; here the other envs go through the
same ``make_algorithm(name).train(config)`` call with nothing env-specific on the learner side.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from learner_helpers import QUICK_RUN, metric_rows

from spawnzoo.baselines.common import metrics as M
from spawnzoo.baselines.registry import make_algorithm

#: env id -> per-player metrics its evaluation must report (besides the generic ones)
ENV_METRICS = {
    "forage-v0": {"eval/food_eaten", "eval/births", "eval/deaths", "eval/population_mean"},
    "skirmish-v0": {"eval/win", "eval/points", "eval/units_built", "eval/units_lost"},
}
METHODS = ["hybrid", "mappo", "monolithic", "independent", "random", "heuristic"]


def config(method: str, env_id: str, tmp_path, **overrides):
    cls = make_algorithm(method).config_cls
    return cls(**{**QUICK_RUN, "env_id": env_id, "run_root": str(tmp_path), **overrides})


@pytest.mark.parametrize("env_id", sorted(ENV_METRICS))
@pytest.mark.parametrize("method", METHODS)
def test_method_trains_and_evaluates_on_env(method, env_id, tmp_path):
    result = make_algorithm(method).train(config(method, env_id, tmp_path))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["env_id"] == env_id and summary["method"] == method
    final = summary["final_metrics"]
    assert set(M.GENERIC_EVAL_KEYS) | ENV_METRICS[env_id] <= set(final)
    assert all(np.isfinite(final[key]) for key in ENV_METRICS[env_id])
    assert not any("ice" in key or "factor" in key for key in final)
    rows = metric_rows(result.run_dir)
    if method in ("random", "heuristic"):
        return
    assert summary["env_steps"] == QUICK_RUN["total_timesteps"]
    assert summary["parameter_count"] > 0
    assert all(np.isfinite(r[M.LOSSES_VALUE]) for r in rows if M.LOSSES_VALUE in r)


def test_skirmish_heuristic_beats_random_as_the_evaluation_opponent(tmp_path):
    """The win rate vs the scripted opponent is player 0's: random loses, heuristic mirrors."""
    common = dict(eval_opponent="heuristic", eval_episodes=4, eval_max_cycles=200)
    loser = make_algorithm("random").train(config("random", "skirmish-v0", tmp_path, **common))
    assert loser.summary["final_metrics"][M.EVAL_WIN] == 0.0
    hybrid = make_algorithm("hybrid").train(config("hybrid", "skirmish-v0", tmp_path, **common))
    assert 0.0 <= hybrid.summary["final_metrics"][M.EVAL_WIN] <= 1.0
