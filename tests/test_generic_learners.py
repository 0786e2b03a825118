"""Every learner on envs that are not harvest (``toy_envs.py``): no structures and one player,
structures and two players; generic evaluation metrics; evaluation against a scripted opponent.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from learner_helpers import metric_rows
from toy_envs import register_toys

from spawnzoo.baselines.common import metrics as M
from spawnzoo.baselines.common.config import PPOConfig
from spawnzoo.baselines.common.evaluation import EvalResult, evaluate
from spawnzoo.baselines.registry import make_algorithm
from spawnzoo.cli.train import format_summary
from spawnzoo.envs import make_batched
from spawnzoo.envs.core.registry import make_policy

MITES, NESTS = "toy-mites-v0", "toy-nests-v0"
#: two iterations of 2 worlds x 8 steps, evaluated on 2 episodes of at most 10 steps
QUICK = dict(
    preset="tiny",
    num_envs=2,
    num_steps=8,
    total_timesteps=32,
    num_minibatches=2,
    update_epochs=1,
    eval_episodes=2,
    eval_max_cycles=10,
    progress=False,
    seed=5,
)


@pytest.fixture(autouse=True)
def toys(monkeypatch):
    register_toys(monkeypatch)


def config(method: str, env_id: str, tmp_path, **overrides):
    cls = make_algorithm(method).config_cls
    return cls(**{**QUICK, "env_id": env_id, "run_root": str(tmp_path), **overrides})


@pytest.mark.parametrize("env_id", [MITES, NESTS])
def test_toy_envs_keep_the_slot_contract(env_id):
    world = make_batched(env_id, num_envs=3, preset="tiny")
    batch = world.reset(seed=0)
    policy = make_policy(env_id, "random", world, seed=0)
    structure = np.isin(batch.kind, world.structure_kinds) & batch.alive
    assert not structure[:, world.structure_slots :].any()
    spawns = deaths = 0
    for _ in range(60):
        before = batch
        batch = world.step(policy.act(before))
        assert not (batch.spawned & ~batch.alive).any()
        ended = batch.terminated | batch.truncated
        assert not (ended & ~before.alive).any()  # only entities that acted end
        assert (batch.reward[~before.alive] == 0).all()
        assert (batch.action_mask[~batch.alive][:, 1:] == 0).all()
        spawns += int((batch.spawned & ~batch.done[:, None]).sum())
        deaths += int(batch.terminated.sum())
    assert spawns > 0 and deaths > 0  # entities come and go mid-episode


@pytest.mark.parametrize("env_id", [MITES, NESTS])
@pytest.mark.parametrize("method", ["hybrid", "mappo", "monolithic", "independent", "random"])
def test_every_method_trains_and_writes_a_run_on_a_non_harvest_env(method, env_id, tmp_path):
    result = make_algorithm(method).train(config(method, env_id, tmp_path))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["env_id"] == env_id and summary["method"] == method
    final = summary["final_metrics"]
    players = 2 if env_id == NESTS else 1
    assert set(M.GENERIC_EVAL_KEYS) | {"eval/food_eaten", "eval/avg_population"} <= set(final)
    assert not any("ice" in key or "factor" in key for key in final)
    returns = summary["final_eval"]["player_metrics"]["episode_return"]
    assert len(returns) == QUICK["eval_episodes"] * players
    assert (M.EVAL_WIN in final) == (env_id == NESTS)
    rows = metric_rows(result.run_dir)
    if method == "random":
        assert [r["env_steps"] for r in rows] == [0, 16, 32]  # the flat reference curve
    else:
        assert [r["env_steps"] for r in rows] == [16, 32]
        assert summary["env_steps"] == 32 and summary["parameter_count"] > 0
        assert all(np.isfinite(r[M.LOSSES_VALUE]) for r in rows)


def test_heuristic_on_an_env_without_one_names_the_env_policies(tmp_path):
    with pytest.raises(ValueError, match=r"toy-mites-v0 has no policy 'heuristic'.*\['random'\]"):
        make_algorithm("heuristic").train(config("heuristic", MITES, tmp_path))
    assert not any(tmp_path.iterdir())  # no run directory left behind
    result = make_algorithm("heuristic").train(config("heuristic", NESTS, tmp_path))
    assert result.summary["policy"] == "heuristic"


def test_grouping_rules_on_an_env_without_structures(tmp_path):
    for text in ("nearest_factory", "nearest_heavy"):
        with pytest.raises(ValueError, match=r"kinds \['mite'\]"):
            make_algorithm("hybrid").train(config("hybrid", MITES, tmp_path, grouping=text))
    assert not any(tmp_path.iterdir())
    cfg = config("hybrid", MITES, tmp_path, grouping="random:2", top_n=1, run_name="r")
    summary = make_algorithm("hybrid").train(cfg).summary
    assert summary["grouping"] == "random:2"
    rows = metric_rows(tmp_path / "r")
    # two buckets at most per world and step: fewer active groups than live mites
    assert all(r[M.AGENTS_GROUPS_ACTIVE_MEAN] <= 2 for r in rows)
    assert any(r[M.AGENTS_GROUPS_ACTIVE_MEAN] < r[M.AGENTS_ALIVE_MEAN] for r in rows)


def test_nearest_heavy_runs_where_kinds_are_named_light_and_heavy(tmp_path):
    cfg = config("hybrid", NESTS, tmp_path, grouping="nearest_heavy", run_name="h")
    assert make_algorithm("hybrid").train(cfg).summary["grouping"] == "nearest_heavy"


def test_episode_return_is_the_sum_of_the_players_rewards():
    # toy rewards: +1 per food eaten, -0.5 per unit lost: the env's own counters say the same
    result = evaluate(
        lambda world: make_policy(NESTS, "heuristic", world),
        NESTS,
        {"preset": "tiny"},
        num_envs=4,
        max_cycles=20,
        seed=3,
    )
    expected = np.array(result.player_metrics["food_eaten"]) - 0.5 * np.array(
        result.player_metrics["units_lost"]
    )
    assert np.allclose(result.player_metrics["episode_return"], expected)
    assert result.to_metrics()[M.EVAL_EPISODE_RETURN] == pytest.approx(expected.mean())


def vs(policy: str, opponent: str | None, seed: int = 11) -> EvalResult:
    return evaluate(
        lambda world: make_policy(NESTS, policy, world, seed=0),
        NESTS,
        {"preset": "tiny"},
        num_envs=16,
        max_cycles=20,
        seed=seed,
        opponent=opponent,
    )


def test_an_opponent_plays_every_player_but_the_first():
    heuristic_vs_random = vs("heuristic", "random")
    random_vs_heuristic = vs("random", "heuristic")
    self_play = vs("random", None)
    assert heuristic_vs_random.learner_players == (0,)
    assert self_play.learner_players == (0, 1)
    # the scripted side eats more food, whichever player it is: the opponent really plays
    win_first = heuristic_vs_random.player_mean("win")
    assert win_first > 0.7, win_first
    assert random_vs_heuristic.player_mean("win") < 0.3
    # against an opponent the means are player 0's; self-play averages both (wins: 0.5)
    m = heuristic_vs_random.to_metrics()
    assert m[M.EVAL_WIN] == pytest.approx(np.mean(heuristic_vs_random.player_metrics["win"][::2]))
    assert self_play.to_metrics()[M.EVAL_WIN] == pytest.approx(0.5)
    assert heuristic_vs_random.to_dict()["opponent"] == "random"


@pytest.mark.parametrize("method", ["hybrid", "independent", "random"])
def test_an_opponent_on_a_one_player_env_fails_before_training(method, tmp_path):
    cfg = config(method, MITES, tmp_path, eval_opponent="random")
    with pytest.raises(
        ValueError, match=r"needs at least 2 players; this toy-mites-v0 world has 1"
    ):
        make_algorithm(method).train(cfg)
    assert not any(tmp_path.iterdir())


def test_opponent_errors():
    with pytest.raises(ValueError, match=r"needs at least 2 players; this toy-mites-v0"):
        evaluate(
            lambda world: make_policy(MITES, "random", world),
            MITES,
            {"preset": "tiny"},
            max_cycles=5,
            seed=0,
            opponent="random",
        )
    with pytest.raises(ValueError, match=r"eval_opponent: toy-nests-v0 has no policy 'scripted'"):
        PPOConfig(env_id=NESTS, preset="tiny", eval_opponent="scripted")
    with pytest.raises(ValueError, match="opponent 'x' needs at least 2 players"):
        EvalResult(8, 1, [8], [True], {"win": [1.0]}, opponent="x")


@pytest.mark.parametrize("method", ["hybrid", "independent"])
def test_training_is_self_play_and_evaluation_is_against_the_opponent(method, tmp_path):
    cfg = config(method, NESTS, tmp_path, eval_opponent="heuristic", run_name="o")
    summary = make_algorithm(method).train(cfg).summary
    assert summary["eval_opponent"] == "heuristic"
    final_eval = summary["final_eval"]
    assert final_eval["opponent"] == "heuristic" and final_eval["learner_players"] == [0]
    wins = final_eval["player_metrics"]["win"]
    assert len(wins) == 2 * QUICK["eval_episodes"]  # both players are recorded
    assert summary["final_metrics"][M.EVAL_WIN] == pytest.approx(np.mean(wins[::2]))
    assert "eval/win" in format_summary(summary)  # what `spawnzoo train` prints


def test_eval_result_keeps_numbers_and_reports_player_0_against_an_opponent():
    episodes = [
        {
            "episode_length": 8,
            "per_player": [
                {"win": 1.0, "alive": True, "team": "red"},
                {"win": 0.0, "alive": False, "team": "blue"},
            ],
        },
        {
            "episode_length": 5,
            "per_player": [
                {"win": 0.5, "alive": True, "team": "red"},
                {"win": 0.5, "alive": True, "team": "blue"},
            ],
        },
    ]
    result = EvalResult.from_episodes(episodes, [True, False], 8, opponent="heuristic")
    assert sorted(result.player_metrics) == ["alive", "win"]  # text is left out
    assert result.learner_values("win") == [1.0, 0.5]
    metrics = result.to_metrics()
    assert metrics["eval/win"] == 0.75 and metrics["eval/win_std"] == 0.25
    assert metrics["eval/alive"] == 1.0
    assert metrics[M.EVAL_FULL_LENGTH_FRACTION] == 0.5
    self_play = EvalResult.from_episodes(episodes, [True, False], 8)
    assert self_play.to_metrics()["eval/win"] == 0.5 and self_play.learner_players == (0, 1)
    with pytest.raises(KeyError, match=r"no per-player metric 'ice'.*\['alive', 'win'\]"):
        result.player_mean("ice")
