"""``independent``: MaskablePPO with parameter sharing through the shared method contract.

Two iterations on the tiny preset write the standard run directory (metric names, summary,
checkpoints that reload with ``weights_only=True`` into identical actions); a resumed run picks
up where it stopped; ``spawnzoo train independent`` runs it from the registry; and (``slow``) a
small budget beats the ``random`` reference on ice transferred.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spawnzoo import cli
from spawnzoo.baselines.common import metrics as M
from spawnzoo.baselines.common.config import config_from_cli, field_docs
from spawnzoo.baselines.common.runs import RunDir, RunFinishedError
from spawnzoo.baselines.independent.config import IndependentConfig
from spawnzoo.baselines.independent.train import (
    IndependentAgent,
    build_model,
    evaluate_model,
    train,
)
from spawnzoo.baselines.registry import make_algorithm
from spawnzoo.baselines.wrappers import SlotVecEnv
from spawnzoo.envs import make_batched

#: two cycles of 2 worlds x 16 steps on the tiny map, evaluated on 2 short episodes
QUICK = dict(
    preset="tiny",
    num_envs=2,
    num_steps=16,
    total_timesteps=64,
    num_minibatches=2,
    update_epochs=1,
    eval_episodes=2,
    eval_max_cycles=16,
    net_arch=(16,),
    progress=False,
)
TIMING = {"time", "wall_clock_s", M.CHARTS_SPS, M.CHARTS_AGENT_SPS}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One two-iteration run, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("runs")
    config = IndependentConfig(**QUICK, run_root=str(root), run_name="quick")
    return config, train(config)


# ---------------------------------------------------------------------- config
def test_config_documents_every_field_and_parses_its_own():
    docs = field_docs(IndependentConfig)
    assert set(docs) == set(IndependentConfig.__dataclass_fields__) and all(docs.values())
    c = config_from_cli(
        IndependentConfig,
        "--preset tiny --net-arch 32 16 --activation relu --obs-radius 3 --clip-vloss".split(),
    )
    assert c.net_arch == (32, 16) and c.activation == "relu" and c.obs_radius == 3
    assert c.clip_vloss is True and c.eval_horizon == 128
    for bad, message in (
        ({"net_arch": ()}, "net_arch"),
        ({"activation": "gelu"}, "activation"),
        ({"obs_radius": 0}, "obs_radius"),
        ({"num_minibatches": 3}, "must divide"),  # the shared PPOConfig checks still apply
    ):
        with pytest.raises(ValueError, match=message):
            IndependentConfig(**{**QUICK, **bad})


def test_model_maps_the_shared_ppo_names():
    config = IndependentConfig(**QUICK, learning_rate=1e-3, clip_vloss=True)
    env = SlotVecEnv(make_batched("harvest-v0", num_envs=2, preset="tiny"))
    model = build_model(config, env)
    assert model.n_steps == 16 and model.n_epochs == 1
    assert model.batch_size == 16 * 2 * 17 // 2  # SB3's minibatch: rows / num_minibatches
    assert model.clip_range(1.0) == 0.2 and model.clip_range_vf(1.0) == 0.2
    # annealed per cycle, as the other methods do: cycle 1 at the full rate, cycle 2 at half
    assert model.lr_schedule(1 - 1 / 2) == pytest.approx(1e-3)
    assert model.lr_schedule(1 - 2 / 2) == pytest.approx(5e-4)
    assert model.policy.optimizer.defaults["eps"] == config.adam_eps


# ---------------------------------------------------------------------- the policy
def test_agent_acts_legally_for_live_slots_only():
    config = IndependentConfig(**QUICK)
    env = SlotVecEnv(make_batched("harvest-v0", num_envs=2, preset="tiny"))
    model = build_model(config, env)
    world = make_batched("harvest-v0", num_envs=3, preset="tiny", players=2, auto_reset=False)
    batch = world.reset(seed=0)
    agent = IndependentAgent(world, model, seed=1)
    rng = np.random.default_rng(0)
    for _ in range(12):
        actions = agent.act(batch)
        assert actions.shape == batch.alive.shape and actions.dtype == np.int64
        assert (actions[~batch.alive] == 0).all()
        e, s = np.nonzero(batch.alive)
        assert batch.action_mask[e, s, actions[e, s]].all()
        batch = world.step(np.where(rng.random(actions.shape) < 0.5, actions, 0))
    greedy = IndependentAgent(world, model, greedy=True)
    np.testing.assert_array_equal(greedy.act(batch), greedy.act(batch))


# ---------------------------------------------------------------------- the method contract
def test_two_iterations_write_the_standard_run_directory(quick_run):
    config, result = quick_run
    run = RunDir.open(result.run_dir)
    assert result.run_dir.name == "quick"
    meta = run.read_config()
    assert meta["method"] == "independent"
    assert meta["config_class"] == "spawnzoo.baselines.independent.config:IndependentConfig"
    rows = run.read_metrics()
    assert [r["env_steps"] for r in rows] == [32, 64]
    expected = {
        *M.EVAL_KEYS,
        M.EVAL_ICE_DUG,
        M.EVAL_EPISODES,
        M.LOSSES_POLICY,
        M.LOSSES_VALUE,
        M.LOSSES_ENTROPY,
        M.LOSSES_APPROX_KL,
        M.LOSSES_CLIP_FRACTION,
        M.LOSSES_EXPLAINED_VARIANCE,
        M.CHARTS_SPS,
        M.CHARTS_AGENT_SPS,
        M.CHARTS_LEARNING_RATE,
        M.CHARTS_ITERATION,
        M.AGENTS_ALIVE_MEAN,
        M.AGENTS_SPAWNED,
    }
    for row in rows:
        assert expected <= set(row), expected - set(row)
        unknown = {k for k in row if k not in M.ALL_KEYS and not k.startswith("eval/")}
        assert unknown <= {"env_steps", "time", "wall_clock_s"}  # only the shared names
        assert row[M.AGENTS_ALIVE_MEAN] >= 1  # at least the factory acts every step
        assert row[M.LOSSES_ENTROPY] >= 0
    lr = config.learning_rate  # annealed per cycle
    assert [r[M.CHARTS_LEARNING_RATE] for r in rows] == pytest.approx([lr, lr / 2])
    summary = run.read_summary()
    assert summary["method"] == "independent" and summary["env_steps"] == 64
    assert summary["agent_steps"] >= 64 and summary["parameter_count"] > 0
    assert summary["final_metrics"][M.EVAL_EPISODES] == 2
    assert summary["final_eval"]["max_cycles"] == 16
    assert set(summary["milestones"]) == {"full_length_10pct", "full_length_95pct"}
    assert [p.name for p in run.checkpoints()] == ["cycle_0001.pt", "cycle_0002.pt"]


@pytest.mark.numerics
def test_checkpoint_reloads_into_identical_actions(quick_run):
    config, result = quick_run
    ckpt = torch.load(RunDir.open(result.run_dir).latest_checkpoint(), weights_only=True)
    assert ckpt["cycle"] == 2 and ckpt["env_steps"] == 64
    fresh = build_model(
        IndependentConfig(**{**QUICK, "seed": 99}),
        SlotVecEnv(make_batched("harvest-v0", num_envs=2, preset="tiny")),
    )
    fresh.policy.load_state_dict(ckpt["model"])
    after = evaluate_model(config, fresh, final=True)  # the held-out one, by the reloaded net
    assert after.to_dict()["player_metrics"] == result.summary["final_eval"]["player_metrics"]
    assert after.episode_lengths == result.summary["final_eval"]["episode_lengths"]
    world = make_batched("harvest-v0", num_envs=2, preset="tiny", auto_reset=False)
    batch = world.reset(seed=5)
    a = IndependentAgent(world, fresh, seed=3).act(batch)
    b = IndependentAgent(world, fresh, seed=3).act(batch)
    np.testing.assert_array_equal(a, b)


@pytest.mark.numerics
def test_same_seed_same_metrics_and_resume_continues(quick_run, tmp_path):
    config, result = quick_run
    again = train(IndependentConfig(**QUICK, run_root=str(tmp_path), run_name="again"))
    rows_a = RunDir.open(result.run_dir).read_metrics()
    rows_b = RunDir.open(again.run_dir).read_metrics()
    for a, b in zip(rows_a, rows_b):
        for key in set(a) - TIMING - {M.CHARTS_ROLLOUT_SECONDS, M.CHARTS_UPDATE_SECONDS}:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), key
    # the same run, asked for one more cycle after losing its summary, continues from its
    # checkpoint of cycle 2 (a finished run is never resumed: test_resume.py)
    (again.run_dir / "summary.json").unlink()
    longer = IndependentConfig(
        **{**QUICK, "total_timesteps": 96},
        run_root=str(tmp_path),
        run_name="again",
        resume=True,
    )
    resumed = train(longer)
    run = RunDir.open(resumed.run_dir)
    assert [r["env_steps"] for r in run.read_metrics()] == [32, 64, 96]
    assert [r[M.CHARTS_ITERATION] for r in run.read_metrics()] == [1, 2, 3]
    assert len(run.read_config()["resumed"]) == 1
    assert resumed.summary["env_steps"] == 96
    # killed after its last checkpoint: resuming trains nothing, evaluates nothing and keeps
    # its final evaluation
    (run.path / "summary.json").unlink()
    done = train(longer)
    assert [r["env_steps"] for r in run.read_metrics()] == [32, 64, 96]
    assert (
        done.summary["final_eval"]["player_metrics"]
        == (resumed.summary["final_eval"]["player_metrics"])
    )
    assert done.summary["final_metrics"] == resumed.summary["final_metrics"]
    with pytest.raises(RunFinishedError):
        train(longer)


def test_zero_timesteps_only_evaluates(tmp_path):
    result = train(IndependentConfig(**{**QUICK, "total_timesteps": 0}, run_root=str(tmp_path)))
    rows = RunDir.open(result.run_dir).read_metrics()
    assert [r["env_steps"] for r in rows] == [0] and M.EVAL_ICE_TRANSFERRED in rows[0]
    assert result.summary["env_steps"] == 0 and result.summary["final_eval"] is not None


def test_spawnzoo_train_independent_from_the_registry(tmp_path, monkeypatch, capsys):
    algo = make_algorithm("independent")
    assert algo.config_cls is IndependentConfig and algo.train is train
    monkeypatch.setitem(cli.COMMANDS, "train", "spawnzoo.cli.train:add_train_command")
    argv = ["train", "independent", "--preset", "tiny", "--total-timesteps", "32"]
    argv += ["--num-envs", "2", "--num-steps", "16", "--num-minibatches", "2"]
    argv += ["--update-epochs", "1", "--eval-episodes", "2", "--eval-max-cycles", "8"]
    argv += ["--net-arch", "8", "--run-root", str(tmp_path), "--no-progress"]
    argv += ["--set", "players=2"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    (run_path,) = tmp_path.iterdir()
    assert run_path.name.startswith("harvest-v0__independent__1__")
    assert f"run directory: {run_path}" in out and "eval/ice_transferred" in out
    summary = RunDir.open(run_path).read_summary()
    # two players: one shared policy plays both sides
    assert len(summary["final_eval"]["player_metrics"]["ice_transferred"]) == 2 * 2
