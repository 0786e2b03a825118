"""``spawnzoo evaluate``: a trained run on other env configurations, and its clear refusals."""

from __future__ import annotations

import json

import pytest
from learner_helpers import QUICK_RUN

from spawnzoo import cli
from spawnzoo.baselines.common.protocol import final_map_seed
from spawnzoo.baselines.run_evaluation import IncompatibleEnvError, evaluate_run, shapes
from spawnzoo.envs import make_batched
from spawnzoo.hybrid.config import HybridConfig
from spawnzoo.hybrid.train import train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return train(HybridConfig(**QUICK_RUN, run_root=str(root), run_name="tiny"))


def test_its_own_config_replays_the_held_out_final_evaluation(tiny_run):
    result = evaluate_run(tiny_run.run_dir)
    final = tiny_run.summary["final_eval"]
    assert result["seed"] == final_map_seed(QUICK_RUN["seed"])
    assert result["episodes_detail"]["player_metrics"] == final["player_metrics"]
    assert result["episodes_detail"]["episode_lengths"] == final["episode_lengths"]


def test_evaluate_on_another_preset_and_another_player_count(tiny_run, tmp_path):
    out = tmp_path / "small.json"
    argv = ["evaluate", str(tiny_run.run_dir), "--preset", "small", "--episodes", "2"]
    assert cli.main([*argv, "--max-cycles", "12", "--out", str(out)]) == 0
    small = json.loads(out.read_text())
    assert small["trained_on"]["preset"] == "tiny" and small["evaluated_on"]["preset"] == "small"
    assert small["episodes"] == 2 and small["max_cycles"] == 12
    assert small["episodes_detail"]["episode_lengths"] == [12, 12]  # small factories outlive 12
    duel = evaluate_run(tiny_run.run_dir, settings={"players": 2}, episodes=3, seed=5)
    assert duel["evaluated_on"]["env_settings"] == {"players": 2}
    assert duel["max_cycles"] == QUICK_RUN["eval_max_cycles"]  # its own preset: its own length
    again = evaluate_run(tiny_run.run_dir, preset="tiny", episodes=1)
    assert again["max_cycles"] == QUICK_RUN["eval_max_cycles"]
    assert len(duel["episodes_detail"]["player_metrics"]["ice_transferred"]) == 3 * 2
    versus = evaluate_run(tiny_run.run_dir, settings={"players": 2}, episodes=2, opponent="random")
    assert versus["opponent"] == "random"  # the policy played player 0 against random
    with pytest.raises(ValueError, match="needs at least 2 players"):
        evaluate_run(tiny_run.run_dir, episodes=1, opponent="random")


def test_an_env_the_policy_cannot_act_in_names_both_shapes(tiny_run, capsys):
    with pytest.raises(IncompatibleEnvError) as err:
        evaluate_run(tiny_run.run_dir, env_id="forage-v0", episodes=1)
    message = str(err.value)
    harvest = shapes(make_batched("harvest-v0", num_envs=1, preset="tiny"))["planes"]
    forage = shapes(make_batched("forage-v0", num_envs=1, preset="small"))["planes"]
    assert harvest[1:] == (12, 12) and forage[1:] == (32, 32) and harvest[0] != forage[0]
    c, h, w = harvest
    assert f"trained on harvest-v0 preset tiny (planes {c} x {h} x {w} per player" in message
    c, h, w = forage
    assert f"the target has planes {c} x {h} x {w} per player" in message
    with pytest.raises(SystemExit, match="cannot act in skirmish-v0"):
        cli.main(["evaluate", str(tiny_run.run_dir), "--env", "skirmish-v0"])


def test_bad_targets_fail_with_one_message(tiny_run, tmp_path):
    with pytest.raises(SystemExit, match="unknown preset 'huge'"):
        cli.main(["evaluate", str(tiny_run.run_dir), "--preset", "huge"])
    with pytest.raises(SystemExit, match="is also a training reset seed"):
        cli.main(["evaluate", str(tiny_run.run_dir), "--seed", str(QUICK_RUN["seed"])])
    with pytest.raises(SystemExit, match="does not exist"):
        cli.main(["evaluate", str(tmp_path / "nothing")])
