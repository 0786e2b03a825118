"""The hybrid learner end to end: runs, determinism, checkpoints, resume, every grouping."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from learner_helpers import QUICK_RUN, metric_rows

from spawnzoo.baselines.common.runs import RunDir
from spawnzoo.cli import main as cli_main
from spawnzoo.envs import make_batched
from spawnzoo.hybrid.config import HybridConfig
from spawnzoo.hybrid.train import HybridAgent, build_policy, train


def tiny_config(tmp_path, **overrides) -> HybridConfig:
    """Two cycles of 2 worlds x 16 steps on the tiny map: seconds, not minutes."""
    return HybridConfig(**{**QUICK_RUN, "run_root": str(tmp_path), **overrides})


def test_a_run_writes_its_directory_and_summary(tmp_path):
    result = train(tiny_config(tmp_path, run_name="a"))
    run = result.run_dir
    assert (run / "config.json").exists() and (run / "summary.json").exists()
    assert sorted(p.name for p in (run / "checkpoints").glob("*.pt")) == [
        "cycle_0001.pt",
        "cycle_0002.pt",
    ]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env_steps"] == 64
    assert summary["parameter_count"] > 10_000
    assert "eval/ice_transferred" in summary["final_metrics"]
    rows = metric_rows(run)
    assert len(rows) == 2 and rows[-1]["charts/iteration"] == 2
    assert all(np.isfinite(r["losses/policy_loss"]) for r in rows)


@pytest.mark.numerics
def test_same_seed_same_metrics_and_another_seed_differs(tmp_path):
    a = metric_rows(train(tiny_config(tmp_path, run_name="a")).run_dir)
    b = metric_rows(train(tiny_config(tmp_path, run_name="b")).run_dir)
    c = metric_rows(train(tiny_config(tmp_path, run_name="c", seed=4)).run_dir)
    assert a == b
    assert a != c


@pytest.mark.numerics
def test_checkpoint_reloads_to_identical_actions(tmp_path):
    cfg = tiny_config(tmp_path, run_name="ckpt")
    result = train(cfg)
    ckpt = torch.load(
        result.run_dir / "checkpoints" / "cycle_0002.pt", weights_only=True, map_location="cpu"
    )
    world = make_batched("harvest-v0", num_envs=3, preset="tiny")
    batch = world.reset(seed=11)
    for _ in range(5):  # let robots appear
        batch = world.step(np.where(batch.action_mask[..., 13], 13, 0))
    original = build_policy(cfg, world)
    original.load_state_dict(ckpt["model"])
    reloaded = build_policy(cfg, world)
    reloaded.load_state_dict(
        torch.load(
            result.run_dir / "checkpoints" / "cycle_0002.pt",
            weights_only=True,
            map_location="cpu",
        )["model"]
    )
    for greedy in (True, False):
        a = HybridAgent(world, original, seed=5, greedy=greedy).act(batch)
        b = HybridAgent(world, reloaded, seed=5, greedy=greedy).act(batch)
        np.testing.assert_array_equal(a, b)
        assert batch.action_mask[np.arange(3)[:, None], np.arange(a.shape[1]), a].all()


@pytest.mark.numerics
def test_resume_continues_from_the_last_checkpoint(tmp_path):
    first = train(tiny_config(tmp_path, run_name="r"))
    rows_before = metric_rows(first.run_dir)
    # a finished run is never resumed (test_resume.py); without its summary it continues
    (first.run_dir / "summary.json").unlink()
    again = train(tiny_config(tmp_path, run_name="r", total_timesteps=96, resume=True))
    rows = metric_rows(again.run_dir)
    assert [r["charts/iteration"] for r in rows] == [1, 2, 3]
    assert rows[:2] == rows_before  # nothing finished was redone
    summary = json.loads((again.run_dir / "summary.json").read_text())
    assert summary["env_steps"] == 96
    # the training worlds were reset anew at the resumption: the summary says where
    assert first.summary["resumed_from"] == []
    assert summary["resumed_from"] == [{"cycle": 2, "env_steps": 64}]
    assert RunDir.open(again.run_dir).latest_checkpoint().name == "cycle_0003.pt"


@pytest.mark.parametrize(
    "options",
    [
        {"grouping": "entity"},
        {"grouping": "global"},
        {"grouping": "factories=entity,robots=global"},
        {"grouping": "random:2"},
        {"grouping": "quadrant"},
        {"grouping": "nearest_factory"},
        {"grouping": "nearest_heavy"},
        {"own_reward_weight": 0.5},
        {"top_n": 1, "top_n_by": "abs_advantage"},
        {"globalise": ("reward", "critic", "advantage", "logprob", "entropy", "dones")},
        {"critic": "global", "init": "default"},
    ],
)
def test_every_trajectory_separation_option_trains(tmp_path, options):
    cfg = tiny_config(tmp_path, total_timesteps=32, **options)
    result = train(cfg)
    rows = metric_rows(result.run_dir)
    groups, alive = rows[-1]["agents/groups_active_mean"], rows[-1]["agents/alive_mean"]
    assert np.isfinite(rows[-1]["losses/policy_loss"])
    if options.get("grouping") == "global":
        assert groups <= 1.0 + 1e-9  # one trajectory per world
    if options.get("grouping", "entity") == "entity" and "top_n" not in options:
        assert groups == pytest.approx(alive)  # one trajectory per entity


def test_two_player_self_play_trains_one_model_for_both(tmp_path):
    cfg = tiny_config(tmp_path, total_timesteps=32, env_settings={"players": 2})
    rows = metric_rows(train(cfg).run_dir)
    assert rows[-1]["agents/alive_mean"] >= 2  # both players' factories act


def test_spawnzoo_train_hybrid_cli(tmp_path, capsys):
    argv = ["train", "hybrid", "--preset", "tiny", "--total-timesteps", "32", "--num-envs", "2"]
    argv += ["--num-steps", "16", "--eval-episodes", "2", "--eval-max-cycles", "8", "--no-progress"]
    argv += ["--run-root", str(tmp_path), "--run-name", "cli", "--update-epochs", "1"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "hybrid on harvest-v0" in out
    assert (tmp_path / "cli" / "summary.json").exists()
