"""``spawnzoo compare`` / ``report`` and ``load_policy``: runs, resumption, report, bad input."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from learner_helpers import QUICK_RUN

from spawnzoo import cli
from spawnzoo.baselines.common import metrics as M
from spawnzoo.baselines.common.evaluation import evaluate
from spawnzoo.baselines.common.locks import read_holder
from spawnzoo.baselines.common.protocol import sustained_milestone
from spawnzoo.baselines.common.runs import atomic_write_json
from spawnzoo.baselines.compare import runner, stats
from spawnzoo.baselines.compare.generalise import evaluate_targets, parse_target, parse_targets
from spawnzoo.baselines.compare.plan import (
    COMPARE_PRESETS,
    Comparison,
    RunSpec,
    parse_count,
    parse_seeds,
)
from spawnzoo.baselines.compare.report import (
    Run,
    best_run,
    build_report,
    fmt,
    fmt_aggregate,
    fmt_interval,
    ranking_keys,
    read_runs,
    table_keys,
)
from spawnzoo.baselines.compare.suite import SUITES
from spawnzoo.baselines.loading import find_run, load_policy, rebuild_config
from spawnzoo.baselines.registry import METHODS, make_algorithm
from spawnzoo.envs import EnvSpec, make_batched

#: the shared settings of QUICK_RUN that a comparison sets for every method
SHARED = {k: v for k, v in QUICK_RUN.items() if k not in ("preset", "seed", "progress")}
SHARED.pop("total_timesteps")


def comparison(out: Path, methods: tuple[str, ...] = (), **changes) -> Comparison:
    """Two cycles of 2 worlds x 16 steps per learner on tiny, one seed."""
    values = dict(
        env_id="harvest-v0",
        preset="tiny",
        env_settings={},
        methods=methods,
        seeds=(1,),
        total_timesteps=64,
        config=SHARED,
        suite=None,
        variants=(),
        out=out,
        command=("spawnzoo", "compare", "--test"),
    )
    return Comparison(**{**values, **changes})


def files(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder``: relative path -> (mtime_ns, contents)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------- runner + report
@pytest.mark.render
def test_compare_runs_two_methods_in_workers_and_resumes_only_what_is_unfinished(tmp_path):
    cmp = comparison(tmp_path / "cmp", ("random", "hybrid"))
    statuses = runner.run_comparison(cmp, jobs=2, display=False, poll_seconds=0.1)
    assert [(s.spec.label, s.state) for s in statuses] == [("random", "done"), ("hybrid", "done")]
    random_dir, hybrid_dir = (cmp.run_dir(s) for s in cmp.runs())
    assert random_dir.name == "harvest-v0__random__1"
    assert sorted(p.name for p in (hybrid_dir / "checkpoints").glob("*.pt")) == [
        "cycle_0001.pt",
        "cycle_0002.pt",
    ]

    report = build_report(cmp.out, window_size=96).read_text()
    assert "spawnzoo compare --test" in report
    # the machine the runs trained on, with torch's version and CPU capability
    import torch

    cap = torch.backends.cpu.get_cpu_capability()
    assert f"torch {torch.__version__} with {cap} kernels" in report
    assert "Learned numbers depend on the machine" in report
    for label in ("random", "hybrid"):
        assert f"\n| {label} | 1 |" in report  # a row of the final-evaluation table
    plots = sorted(p.name for p in (cmp.out / "plots").iterdir())
    assert plots == [
        "harvest-v0__eval_avg_factories_alive.png",
        "harvest-v0__eval_episode_length.png",
        "harvest-v0__eval_episode_return.png",
        "harvest-v0__eval_full_length_fraction.png",
        "harvest-v0__eval_ice_transferred.png",
        "harvest-v0__profile.png",
    ]
    for name in plots:
        assert f"(plots/{name})" in report
    gif = cmp.out / "harvest-v0__best.gif"
    assert "(harvest-v0__best.gif)" in report and gif.stat().st_size > 0

    # a crash of the hybrid during its second cycle: no summary, no second checkpoint
    (hybrid_dir / "summary.json").unlink()
    (hybrid_dir / "checkpoints" / "cycle_0002.pt").unlink()
    before = files(random_dir)
    statuses = runner.run_comparison(cmp, jobs=1, display=False, poll_seconds=0.1)
    assert [s.state for s in statuses] == ["skipped", "done"]
    assert files(random_dir) == before  # the finished run was not touched
    config = json.loads((hybrid_dir / "config.json").read_text())
    assert len(config["resumed"]) == 1  # resumed from cycle 1, not started over
    rows = [json.loads(line) for line in (hybrid_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["env_steps"] for r in rows] == [32, 64]
    summary = json.loads((hybrid_dir / "summary.json").read_text())
    assert summary["env_steps"] == 64
    assert summary["resumed_from"] == [{"cycle": 1, "env_steps": 32}]


def test_ctrl_c_stops_the_workers_and_the_same_command_finishes_the_job(tmp_path, monkeypatch):
    cmp = comparison(tmp_path / "cmp", ("heuristic",))
    real_sleep = runner.time.sleep

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner.time, "sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        runner.run_comparison(cmp, display=False)
    monkeypatch.setattr(runner.time, "sleep", real_sleep)
    assert not (cmp.run_dir(cmp.runs()[0]) / "summary.json").exists()
    [status] = runner.run_comparison(cmp, display=False, poll_seconds=0.1)
    assert status.state == "done"


def test_a_run_of_other_settings_in_the_output_folder_is_refused_before_anything_runs(tmp_path):
    cmp = comparison(tmp_path / "cmp", ("random",))
    spec = cmp.runs()[0]
    cmp.run_dir(spec).mkdir(parents=True)
    old = comparison(tmp_path / "cmp", ("random",), total_timesteps=128).config_for(spec)
    atomic_write_json(cmp.run_dir(spec) / "config.json", {"config": vars(old)})
    with pytest.raises(ValueError, match="total_timesteps"):
        runner.run_comparison(cmp, display=False)
    assert not (cmp.out / "compare.json").exists()


def test_a_folder_in_use_is_refused_and_a_dead_process_lock_is_taken_over(tmp_path):
    lock = tmp_path / runner.LOCK_FILE
    lock.write_text(str(os.getpid()))  # a live holder
    with pytest.raises(ValueError, match="in use by another spawnzoo compare"):
        with runner.exclusive(tmp_path):
            pass
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock.write_text(str(gone.pid))
    with runner.exclusive(tmp_path):
        assert read_holder(lock).pid == os.getpid()  # pid and start time (test_locks.py)
    assert not lock.exists()


# ---------------------------------------------------------------------- report on a fixture
REPS = 200  # bootstrap resamples in the report tests (the report's default is stats.DEFAULT_REPS)


def write_run(
    root: Path,
    label: str,
    method: str,
    seed: int,
    curve,
    final,
    *,
    finished=True,
    protocol=True,
    **config,
):
    """A hand-made run directory: ``curve`` = [(env_steps, full-length fraction, ice)],
    ``final`` = (ice per held-out episode, episode lengths); ``config`` fields over the
    fixture's. Milestones are the protocol's (sustained) on ``curve``."""
    path = root / "runs" / f"harvest-v0__{label}__{seed}"
    path.mkdir(parents=True)
    config = {"preset": "small", "env_settings": {}, "total_timesteps": 8192, "eval_episodes": 2,
              "eval_every": 1, "eval_max_cycles": 512, "seed": seed,
              "num_envs": 16, "num_steps": 256} | config  # fmt: skip
    atomic_write_json(
        path / "config.json",
        {"method": method, "env_id": "harvest-v0", "seed": seed, "config": config},
    )
    rows = [
        {
            "env_steps": s,
            "eval/full_length_fraction": f,
            "eval/ice_transferred": ice,
            "eval/episode_length": 512 * f,
        }
        for s, f, ice in curve
    ]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if finished:
        ice, lengths = final
        steps, fractions = [s for s, _, _ in curve], [f for _, f, _ in curve]
        summary = {
            "env_steps": 8192,
            "agent_steps": 40000,
            "wall_clock_s": 100.0,
            "env_sps": 81.92,
            "agent_sps": 400.0,
            "parameter_count": 1000,
            "final_metrics": {
                "eval/full_length_fraction": float(np.mean([n == 512 for n in lengths])),
                "eval/ice_transferred": float(np.mean(ice)),
                "eval/episode_length": float(np.mean(lengths)),
                "eval/episodes": float(len(lengths)),
            },
            "milestones": {
                "full_length_10pct": sustained_milestone(steps, fractions, 0.1),
                "full_length_95pct": sustained_milestone(steps, fractions, 0.95),
            },
            "final_eval": {
                "max_cycles": 512,
                "num_players": 1,
                "episode_lengths": lengths,
                "full_length": [n == 512 for n in lengths],
                "player_metrics": {"ice_transferred": ice},
                "opponent": None,
            },
            "resumed_from": [],
        }
        if protocol:
            summary["protocol"] = {"final": "held-out", "milestones": "sustained"}
        atomic_write_json(path / "summary.json", summary)
    return path


def cell(values, digits=3):
    """The report's ``IQM [95% CI]; mean`` cell of a ``[seeds, episodes]`` matrix."""
    return fmt_aggregate(stats.aggregate(np.array(values, dtype=float), reps=REPS))


def test_a_rerun_with_other_methods_into_the_same_folder_keeps_the_earlier_runs(tmp_path):
    out = tmp_path / "cmp"
    first = comparison(out, ("random",), command=("spawnzoo", "compare", "--first"))
    runner.run_comparison(first, display=False, poll_seconds=0.1)
    second = comparison(out, ("heuristic",), seeds=(1, 2), command=("spawnzoo", "compare", "--2"))
    runner.run_comparison(second, display=False, poll_seconds=0.1)

    record = json.loads((out / "compare.json").read_text())
    assert [(r["label"], r["seed"]) for r in record["runs"]] == [
        ("random", 1),
        ("heuristic", 1),
        ("heuristic", 2),
    ]
    assert record["methods"] == ["random", "heuristic"] and record["seeds"] == [1, 2]
    assert record["command"] == ["spawnzoo", "compare", "--2"]
    assert record["earlier_commands"] == [["spawnzoo", "compare", "--first"]]
    report = build_report(out, gif=False, reps=REPS).read_text()
    assert "Commands (oldest first, into this folder):" in report
    assert "spawnzoo compare --first\nspawnzoo compare --2" in report
    assert "\n| random | 1 |" in report and "\n| heuristic | 2 |" in report

    # the same command again changes nothing; without the record, labels come from the names
    runner.run_comparison(second, display=False, poll_seconds=0.1)
    assert json.loads((out / "compare.json").read_text()) == record
    (out / "compare.json").unlink()
    assert [r.label for r in read_runs(out)[0]] == ["heuristic", "heuristic", "random"]


def test_a_broken_comparison_record_is_refused_and_left_as_it_is(tmp_path):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "compare.json").write_text('{"runs": [')
    with pytest.raises(ValueError, match=r"compare.json is not valid JSON .*fix or remove it"):
        runner.run_comparison(comparison(out, ("random",)), display=False)
    assert (out / "compare.json").read_text() == '{"runs": ['
    assert not (out / "runs").exists()


def test_a_run_named_by_a_comparison_keeps_its_label_without_the_record(tmp_path):
    write_run(tmp_path, "hybrid-global", "hybrid", 1, [(4096, 0.0, 0)], None, finished=False)
    write_run(tmp_path, "hybrid", "hybrid", 2, [(4096, 0.0, 0)], None, finished=False)
    assert [r.label for r in read_runs(tmp_path)[0]] == ["hybrid-global", "hybrid"]


def test_report_reads_only_run_directories(tmp_path):
    # seed 1 reaches 50% at 4096 and 100% at 8192; seed 2 stays at 0 then 50%
    write_run(tmp_path, "hybrid-separate", "hybrid", 1, [(4096, 0.5, 10), (8192, 1.0, 30)],
              ([20.0, 40.0], [512, 512]))  # fmt: skip
    write_run(tmp_path, "hybrid-separate", "hybrid", 2, [(4096, 0.0, 0), (8192, 0.5, 10)],
              ([0.0, 20.0], [512, 100]), protocol=False)  # fmt: skip
    write_run(tmp_path, "hybrid-global", "hybrid", 1, [(4096, 0.0, 0)], None, finished=False)
    plan = {
        "suite": "paper",
        "command": ["spawnzoo", "compare", "--suite", "paper"],
        "runs": [
            {"label": "hybrid-separate", "run_dir": "harvest-v0__hybrid-separate__1"},
            {"label": "hybrid-separate", "run_dir": "harvest-v0__hybrid-separate__2"},
            {"label": "hybrid-global", "run_dir": "harvest-v0__hybrid-global__1"},
        ],
    }
    atomic_write_json(tmp_path / "compare.json", plan)
    report = build_report(tmp_path, gif=False, reps=REPS).read_text()

    assert "spawnzoo compare --suite paper" in report
    assert "2 episodes of at most 512 steps on maps derived from each run's seed" in report
    assert "checked), every 4,096 env steps and at the end." in report
    assert "1 run(s) predate this protocol" in report and "`harvest-v0__hybrid-separate__2`" in (
        report
    )
    assert "2 seeds per label: the intervals are wide" in report
    assert "1 run(s) not finished" in report and "harvest-v0__hybrid-global__1" in report
    # held-out episodes of both seeds: lengths 512 512 | 512 100 -> IQM 512, mean 409; ice
    # 20 40 | 0 20 -> IQM 20 (the middle two), mean 20; full length 1 1 | 1 0 -> mean 0.75
    assert cell([[512, 512], [512, 100]]).startswith("512 [")
    assert cell([[512, 512], [512, 100]]).endswith("; 409")
    row = (
        f"| hybrid-separate | 2 | 2 each | {cell([[512, 512], [512, 100]])} | "
        f"{cell([[20, 40], [0, 20]])} | {cell([[1, 1], [1, 0]])} |"
    )
    assert row in report
    assert cell([[20, 40], [0, 20]]).startswith("20 [") and "; 20" in row
    # sustained milestones per seed: 10% at 4096 and 8192 -> mean 6144; 95% only seed 1
    # (8192), seed 2 counted at the budget 8192 -> a bound
    ten = fmt_interval(stats.aggregate(np.array([[4096.0], [8192.0]]), reps=REPS).mean)
    assert ten.startswith("6,144 [")
    assert f"| hybrid-separate | {ten} (2/2) | ≥ 8,192 (1/2) | 1,000 | 8,192 | 100 s |" in report
    # the paper's layout: our pooled episodes beside the paper's numbers; pooled curve 25%, 75%
    assert (
        "| separate trajectories for all entities | 20 (14.1) | 409 (178) | 4,096 | – | "
        "44,472 (12,065) | 1,000 (0) | 28,672 | 49,152 |"
    ) in report
    assert "| single global trajectory | not run |" in report
    assert "### Reward assignment (own / global share) (paper §3.6)" in report  # has `separate`
    # the only table without `separate` has no run: it is named, not printed
    assert "Tables without any run left out: Data quality vs quantity" in report
    assert "### Data quality" not in report
    for key in ("episode_length", "ice_transferred", "full_length_fraction"):
        assert (tmp_path / "plots" / f"harvest-v0__eval_{key}.png").stat().st_size > 0
    assert (tmp_path / "plots" / "harvest-v0__profile.png").stat().st_size > 0
    assert "![performance profile](plots/harvest-v0__profile.png)" in report
    runs, _ = read_runs(tmp_path)
    assert [r.label for r in runs] == ["hybrid-separate", "hybrid-separate", "hybrid-global"]
    assert build_report(tmp_path, gif=False, reps=REPS).read_text() == report  # seeded


def test_report_compares_each_method_with_the_reference(tmp_path):
    # mappo: final ice 10-20 per seed, 10% at 8192 on both seeds, never 95%
    # hybrid (the reference: listed last): 30-40, 10% at 4096, 95% at 8192 on seed 1 only
    for seed, ice in ((1, 10.0), (2, 20.0)):
        write_run(tmp_path, "mappo", "mappo", seed, [(4096, 0.0, 0), (8192, 0.5, ice)],
                  ([ice, ice], [512, 512]))  # fmt: skip
    for seed, ice, last in ((1, 30.0, 1.0), (2, 40.0, 0.5)):
        write_run(tmp_path, "hybrid", "hybrid", seed, [(4096, 0.5, 10), (8192, last, ice)],
                  ([ice, ice], [512, 512]))  # fmt: skip
    runs = [(m, s) for m in ("mappo", "hybrid") for s in (1, 2)]
    plan = {"runs": [{"label": m, "run_dir": f"harvest-v0__{m}__{s}"} for m, s in runs]}
    atomic_write_json(tmp_path / "compare.json", plan)
    report = build_report(tmp_path, gif=False, reps=REPS).read_text()
    assert "### Against `hybrid`" in report
    # P(mappo beats hybrid) = 0 on every resample; mappo reaches 10% half as soon (4096 /
    # 8192); 95%: hybrid's seed 2 and both mappo seeds count at the budget, so ~ 1
    assert "| mappo | 0 | 0.5 | ~ 1 |" in report
    against = report.split("### Against `hybrid`")[1].split("###")[0]
    assert "| hybrid |" not in against and "| hybrid | 2 | 2 each |" in report


def test_a_one_seed_report_says_it_shows_the_pipeline_not_a_ranking(tmp_path):
    write_run(tmp_path, "hybrid", "hybrid", 1, [(4096, 0.5, 10)], ([20.0, 40.0], [512, 512]))
    write_run(tmp_path, "random", "random", 1, [(4096, 0.0, 0)], ([1.0, 3.0], [100, 512]))
    report = build_report(tmp_path, gif=False, reps=REPS).read_text()
    assert "One seed shows that the pipeline works, not a ranking" in report
    assert "| hybrid | 1 | 2 each | 512; 512 | 30; 30 |" in report  # no interval over one seed


def test_spawnzoo_report_takes_the_number_of_resamples(tmp_path, capsys):
    write_run(tmp_path, "hybrid", "hybrid", 1, [(4096, 0.5, 10)], ([20.0, 40.0], [512, 512]))
    write_run(tmp_path, "hybrid", "hybrid", 2, [(4096, 0.5, 10)], ([0.0, 40.0], [512, 512]))
    assert cli.main(["report", str(tmp_path), "--no-gif", "--reps", "50"]) == 0
    assert "(50 resamples, seeded)" in (tmp_path / "report.md").read_text()
    with pytest.raises(SystemExit, match="--reps must be >= 1"):
        cli.main(["report", str(tmp_path), "--reps", "0"])


def test_report_names_each_methods_evaluation_interval_when_they_differ(tmp_path):
    write_run(tmp_path, "hybrid", "hybrid", 1, [(4096, 0.5, 10)], ([20.0], [512]))
    write_run(tmp_path, "independent", "independent", 1, [(512, 0.5, 10)], ([20.0], [512]),
              num_envs=8, num_steps=64)  # fmt: skip
    write_run(tmp_path, "mappo", "mappo", 1, [(8192, 0.5, 10)], ([20.0], [512]), eval_every=0)
    report = build_report(tmp_path, gif=False, reps=REPS).read_text()
    assert (
        "checked), hybrid: every 4,096 env steps and at the end; independent: every 512 "
        "env steps and at the end; mappo: only at the end."
    ) in report


def test_report_of_a_folder_without_runs_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run directories"):
        build_report(tmp_path)


# ---------------------------------------------------------------------- loading policies
@pytest.mark.parametrize("method", sorted(METHODS))
def test_load_policy_replays_the_final_evaluation_exactly(tmp_path, method):
    algorithm = make_algorithm(method)
    config = algorithm.config_cls(**QUICK_RUN, run_root=str(tmp_path))
    result = algorithm.train(config)
    source = find_run(result.run_dir)
    assert (source.method, source.env_id) == (method, "harvest-v0")
    # the held-out final evaluation sampled with its map seed (learners) or the run seed
    # (references)
    seed = config.seed if method in ("random", "heuristic") else config.final_map_seed
    target = result.run_dir if source.checkpoint is None else source.checkpoint
    again = evaluate(
        lambda world: load_policy(target, world, seed=seed),
        config.env_id,
        config.env_kwargs,
        num_envs=config.eval_episodes,
        max_cycles=config.eval_horizon,
        seed=config.final_map_seed,
    )
    final = result.summary["final_eval"]
    assert again.episode_lengths == final["episode_lengths"]
    assert again.player_metrics == final["player_metrics"]
    world = make_batched("harvest-v0", num_envs=3, preset="tiny")
    batch = world.reset(seed=5)
    actions = np.asarray(load_policy(result.run_dir, world, seed=0).act(batch))
    assert actions.shape == batch.alive.shape
    e, s = np.nonzero(batch.alive)
    assert batch.action_mask[e, s, actions[e, s]].all()
    assert rebuild_config(source).total_timesteps == config.total_timesteps


def test_load_policy_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_run(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        find_run(tmp_path)
    atomic_write_json(tmp_path / "config.json", {"method": "hybrid", "env_id": "harvest-v0"})
    with pytest.raises(FileNotFoundError, match="no checkpoint yet"):
        find_run(tmp_path)
    atomic_write_json(tmp_path / "config.json", {"method": "alchemy", "env_id": "harvest-v0"})
    with pytest.raises(ValueError, match="alchemy"):
        find_run(tmp_path)


# ---------------------------------------------------------------------- input checks
def test_counts_and_seeds_parse_as_people_write_them():
    assert parse_count("100k") == 100_000
    assert parse_count("1.5M") == 1_500_000
    assert parse_count("102_400") == parse_count("102400") == 102_400
    for bad in ("10x", "k", "-5", "1.5", ""):
        with pytest.raises(ValueError, match="step count"):
            parse_count(bad)
    assert parse_seeds("3") == (1, 2, 3)
    assert parse_seeds("4,7") == (4, 7)
    for bad in ("0", "a", "1,1"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"methods": ("hybrid", "alchemy")}, "unknown method.*alchemy"),
        ({"env_id": "chess-v9"}, "unknown env 'chess-v9'"),
        ({"preset": "huge"}, "unknown preset 'huge'"),
        ({"config": {"num_epochz": 3}}, r"num_epochz.*belong to none"),
        ({"config": {"seed": 3}}, "must not set"),
        ({"suite": "paper", "variants": ("separate", "best")}, "no variant.*best"),
        ({"config": {"num_envs": 0}}, "num_envs must be >= 1"),
    ],
)
def test_bad_requests_fail_before_anything_runs(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        comparison(tmp_path / "cmp", **{"methods": ("random", "hybrid"), **change}).check()
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--methods", "random,alchemy"], "unknown method"),
        (["--total-timesteps", "100q"], "malformed step count '100q'"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--quick", "--preset", "small"], "--quick is --preset quick"),
        (["--variants", "global"], "--variants needs --suite"),
        (["--suite", "paper", "--methods", "hybrid"], "--methods does not go with --suite"),
        (["--suite", "paper", "--variants", "best"], "no variant"),
        (["--eval-interval", "4q"], "--eval-interval: malformed step count '4q'"),
        (["--eval-interval", "0"], "--eval-interval must be >= 1"),
        (["--eval-interval", "4096", "--config", "eval_every=2"], "give one of them"),
    ],
)
def test_compare_command_rejects_bad_input_with_a_clear_message(tmp_path, extra, message):
    out = tmp_path / "cmp"
    with pytest.raises(SystemExit, match=message):
        cli.main(["compare", "--out", str(out), *extra])
    assert not out.exists()


def test_report_command_on_an_empty_folder_fails_clearly(tmp_path):
    with pytest.raises(SystemExit, match="no run directories"):
        cli.main(["report", str(tmp_path)])


# ---------------------------------------------------------------------- presets and the suite
def test_an_evaluation_interval_in_env_steps_evaluates_every_method_equally_often(tmp_path):
    # small: independent's cycle is 8 worlds x 64 steps, the others' 16 x 256
    cmp = comparison(
        tmp_path,
        ("random", "independent", "hybrid"),
        preset="small",
        total_timesteps=102_400,
        config={},
        eval_interval=4096,
    )
    every = {s.method: cmp.config_for(s) for s in cmp.runs()}
    for config in every.values():
        cycle = config.num_envs * config.num_steps
        assert config.eval_every * cycle == 4096
        assert config.checkpoint_every == config.eval_every
    assert every["independent"].eval_every == 8 and every["hybrid"].eval_every == 1
    # the nearest whole number of cycles, at least one; an explicit checkpoint_every stays
    odd = comparison(tmp_path, ("independent", "hybrid"), preset="small", total_timesteps=102_400,
                     config={"checkpoint_every": 3}, eval_interval=1000)  # fmt: skip
    assert [(c.eval_every, c.checkpoint_every) for c in map(odd.config_for, odd.runs())] == [
        (2, 3),
        (1, 3),
    ]
    # without an interval each method keeps its own eval_every
    own = comparison(tmp_path, ("independent",), preset="small", total_timesteps=102_400, config={})
    assert own.config_for(own.runs()[0]).eval_every == 1


def test_the_command_evaluates_every_4096_env_steps_unless_told_otherwise(tmp_path):
    from spawnzoo.cli.compare import add_compare_command, comparison_from_args

    parser = argparse.ArgumentParser()
    add_compare_command(parser.add_subparsers())

    def parse(*words: str) -> Comparison:
        args = parser.parse_args(["compare", "--out", str(tmp_path / "cmp"), *words])
        return comparison_from_args(args)

    assert parse().eval_interval == 4096
    assert parse().seeds == (1, 2, 3, 4, 5) and parse("--quick").seeds == (1,)
    assert parse("--eval-interval", "8k").eval_interval == 8000
    told = parse("--config", "eval_every=2")
    assert told.eval_interval is None
    assert {told.config_for(s).eval_every for s in told.runs()} == {2}
    # the quick preset: 16 worlds x 64 steps per cycle, so every 4 cycles (as its docs say)
    quick = parse("--quick")
    assert {(c.eval_every, c.checkpoint_every) for c in map(quick.config_for, quick.runs())} == {
        (4, 4)
    }


def test_the_quick_preset_and_the_paper_suite_make_valid_configs(tmp_path):
    quick = COMPARE_PRESETS["quick"]
    cmp = comparison(
        tmp_path,
        quick.methods,
        preset=quick.env_preset,
        total_timesteps=quick.total_timesteps,
        config=quick.config,
    )
    cmp.check()
    # every method of the base [train] install; those of an extra (rllib-ppo) only when asked
    assert {s.method for s in cmp.runs()} == {m for m, spec in METHODS.items() if not spec.extra}
    suite = SUITES["paper"]
    paper = comparison(tmp_path, (), suite="paper", seeds=(1, 2, 3))
    paper.check()  # every variant is a valid HybridConfig
    specs = paper.runs()
    assert len(specs) == 3 * len(suite.variants)
    assert specs[0] == RunSpec("hybrid-separate", "hybrid", 1, {"truncation": "terminal"})
    used = {row.variant for table in suite.tables for row in table.rows}
    assert used == set(suite.variants)  # every row has its variant, every variant a row
    assert len(suite.tables) == 13  # 10 of §3.5-3.6, 3 of §3.7


def test_the_spawnzoo_command_table_stays_free_of_torch_until_a_command_runs():
    code = (
        "import argparse, sys\n"
        "from spawnzoo import cli\n"
        "from spawnzoo.envs.core.registry import load\n"
        "sub = argparse.ArgumentParser().add_subparsers()\n"
        "for entry in cli.COMMANDS.values(): load(entry)(sub)\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_env_specs_steer_the_report_and_the_evaluation_opponent(tmp_path):
    """Skirmish is evaluated against its scripted opponent and ranked by wins; forage's food
    and population metrics head its table; harvest keeps self-play evaluation."""
    skirmish = comparison(tmp_path / "s", ("hybrid", "random"), env_id="skirmish-v0")
    assert all(skirmish.config_for(s).eval_opponent == "heuristic" for s in skirmish.runs())
    overridden = comparison(
        tmp_path / "o", ("hybrid",), env_id="skirmish-v0", config={**SHARED, "eval_opponent": None}
    )
    assert overridden.config_for(overridden.runs()[0]).eval_opponent is None
    harvest = comparison(tmp_path / "h", ("hybrid",))
    assert harvest.config_for(harvest.runs()[0]).eval_opponent is None
    assert ranking_keys("skirmish-v0")[0] == "eval/win"
    assert ranking_keys("harvest-v0")[0] == "eval/ice_transferred"

    def run(label: str, env_id: str, final: dict) -> Run:
        return Run(tmp_path, label, label, env_id, 1, {"env_id": env_id}, {"final_metrics": final})

    final = {"eval/episode_length": 9.0, "eval/food_eaten": 3.0, "eval/deaths": 1.0}
    main, other = table_keys([run("random", "forage-v0", final)])
    assert main == ["eval/episode_length", "eval/food_eaten"] and other == ["eval/deaths"]
    runs = {"a": [run("a", "skirmish-v0", {"eval/win": 0.2, M.EVAL_FULL_LENGTH_FRACTION: 1.0})]}
    runs["b"] = [run("b", "skirmish-v0", {"eval/win": 0.8, M.EVAL_FULL_LENGTH_FRACTION: 0.0})]
    assert best_run(runs, ranking_keys("skirmish-v0")).label == "b"
    with pytest.raises(ValueError, match="eval_opponent 'boss'"):
        EnvSpec("x-v0", "m:a", "m:b", "m:c", eval_opponent="boss")


# ---------------------------------------------------------------------- generalisation
def test_eval_on_targets_parse_and_bad_ones_fail_before_anything_runs(tmp_path):
    assert parse_target("harvest-v0", "small+players=2+factories_per_player=1") == (
        "small",
        {"players": 2, "factories_per_player": 1},
    )
    assert parse_targets("harvest-v0", "tiny, paper") == ("tiny", "paper")
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        comparison(tmp_path, ("random",), eval_on=("huge",))
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_target("harvest-v0", "small+players")
    with pytest.raises(ValueError, match="twice"):
        parse_targets("harvest-v0", "tiny,tiny")


def test_eval_on_evaluates_every_run_and_the_report_has_a_row_per_method(tmp_path):
    cmp = comparison(tmp_path / "cmp", ("random", "hybrid"), eval_on=("tiny+players=2",))
    assert cmp.to_dict()["eval_on"] == ["tiny+players=2"]
    runner.run_comparison(cmp, jobs=1, display=False, poll_seconds=0.1)
    atomic_write_json(cmp.out / "compare.json", cmp.to_dict())
    run_dirs = [cmp.run_dir(s) for s in cmp.runs()]
    written = evaluate_targets(cmp.out, run_dirs, "harvest-v0", cmp.eval_on, jobs=2)
    assert [p.name for p in written] == [
        "harvest-v0__random__1__tiny-players=2.json",
        "harvest-v0__hybrid__1__tiny-players=2.json",
    ]
    assert evaluate_targets(cmp.out, run_dirs, "harvest-v0", cmp.eval_on) == []  # kept
    result = json.loads(written[1].read_text())
    assert result["evaluated_on"] == {
        "env_id": "harvest-v0",
        "preset": "tiny",
        "env_settings": {"players": 2},
    }
    ice = result["episodes_detail"]["player_metrics"]["ice_transferred"]
    assert len(ice) == 2 * SHARED["eval_episodes"]  # both players of every episode
    report = build_report(cmp.out, gif=False, reps=REPS).read_text()
    table = report.split("### harvest-v0: ice transferred")[1].split("###")[0]
    assert "| method | tiny (trained) | tiny+players=2 |" in table
    for label in ("random", "hybrid"):
        assert f"\n| {label} | " in table
    mean = float(np.mean(ice))
    assert f"; {fmt(mean)} |" in table  # the hybrid's cell ends with its mean
