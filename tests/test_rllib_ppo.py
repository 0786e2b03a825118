"""``rllib-ppo``: RLlib's PPO as a member of the zoo: same run directory, same evaluation, same
report table, resumable; its batched policy sees what the PettingZoo adapter shows."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from learner_helpers import QUICK_RUN, metric_rows
from script_helpers import ROOT, load_script
from test_compare import comparison

from spawnzoo.baselines.common import metrics as M
from spawnzoo.baselines.compare import runner
from spawnzoo.baselines.compare.ray_backend import RayLauncher
from spawnzoo.baselines.compare.report import build_report
from spawnzoo.baselines.registry import make_algorithm
from spawnzoo.envs import make


@pytest.fixture(scope="module")
def rllib_ppo():
    """``spawnzoo.baselines.rllib_ppo.train`` (skips without the [rllib] extra)."""
    pytest.importorskip("ray.rllib")
    from spawnzoo.baselines.rllib_ppo import train

    return train


@pytest.fixture(scope="module")
def local_ray(rllib_ppo):
    """One local Ray with 2 CPUs for the module (each run would otherwise start its own)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def config(tmp_path, **changes):
    cls = make_algorithm("rllib-ppo").config_cls
    return cls(**{**QUICK_RUN, "run_root": str(tmp_path), "run_name": "run", **changes})


def test_one_iteration_writes_the_run_directory_of_every_method_and_resumes(tmp_path, local_ray):
    algorithm = make_algorithm("rllib-ppo")
    batch = QUICK_RUN["num_envs"] * QUICK_RUN["num_steps"]  # 32 env steps an iteration
    result = algorithm.train(config(tmp_path, total_timesteps=batch))
    run = result.run_dir
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "rllib-ppo" and summary["env_steps"] == batch
    assert summary["agent_steps"] >= batch  # at least the one factory acts every step
    assert summary["parameter_count"] > 1000
    # evaluated by the shared protocol: the eval keys of every method, per-episode lists of
    # the held-out final evaluation, the protocol's record
    assert set(M.EVAL_KEYS) <= set(summary["final_metrics"])
    assert len(summary["final_eval"]["episode_lengths"]) == QUICK_RUN["eval_episodes"]
    assert summary["protocol"]["final"] == "held-out" and "last_eval_metrics" in summary
    [row] = metric_rows(run)
    assert row["env_steps"] == batch
    for key in (M.LOSSES_POLICY, M.LOSSES_VALUE, M.LOSSES_ENTROPY, M.EVAL_FULL_LENGTH_FRACTION):
        assert np.isfinite(row[key]), key
    assert (run / "checkpoints" / "cycle_0001.pt").is_file()
    assert (run / "checkpoints" / "rllib_0001").is_dir()  # RLlib's whole algorithm state

    # a longer budget on the same run: resumed from RLlib's state, not started over
    (run / "summary.json").unlink()
    again = algorithm.train(config(tmp_path, total_timesteps=2 * batch, resume=True))
    assert again.run_dir == run
    assert len(json.loads((run / "config.json").read_text())["resumed"]) == 1
    assert [r["env_steps"] for r in metric_rows(run)] == [batch, 2 * batch]
    assert json.loads((run / "summary.json").read_text())["env_steps"] == 2 * batch
    assert [p.name for p in sorted((run / "checkpoints").glob("rllib_*"))] == ["rllib_0002"]


def test_the_batched_policy_sees_the_observations_of_the_pettingzoo_adapter(tmp_path, rllib_ppo):
    cfg = config(tmp_path)
    module, radius = rllib_ppo.build_module(cfg)
    env = make("harvest-v0", preset="tiny")
    obs, _ = env.reset(seed=7)
    agent = rllib_ppo.ModuleAgent(env.world, module, radius, seed=0)
    for _ in range(12):  # a few steps in, so robots have spawned
        actions = agent.act(env.last_batch)
        obs, *_ = env.step(env.actions_from_slots(actions[0]))
    envs, slots, rows = agent.observations(env.last_batch)
    assert len(slots) == len(env.agents) > 1
    assert (envs == 0).all()
    for slot, row in zip(slots, rows):
        [name] = [a for a in env.agents if env.slot_of(a) == slot]
        np.testing.assert_array_equal(row, obs[name]["observation"])
    actions = agent.act(env.last_batch)[0]
    batch = env.last_batch
    assert batch.action_mask[0, slots, actions[slots]].all()  # only legal actions
    assert (actions[~batch.alive[0]] == 0).all()


def test_rllib_ppo_is_a_row_of_the_comparison_report_on_ray(tmp_path, local_ray):
    cmp = comparison(tmp_path / "cmp", ("random", "rllib-ppo"))
    statuses = runner.run_comparison(
        cmp, display=False, poll_seconds=0.1, launcher=RayLauncher(cpus_per_run=1)
    )
    assert [s.state for s in statuses] == ["done", "done"], [s.error for s in statuses]
    report = build_report(cmp.out, gif=False).read_text()
    assert "\n| rllib-ppo | 1 |" in report and "\n| random | 1 |" in report


def test_the_sampling_benchmark_counts_steps_per_env_runner_count(tmp_path, local_ray):
    bench = load_script("benchmarks/ray_scaling.py")
    page = tmp_path / "benchmarks.md"
    page.write_text((ROOT / "docs/benchmarks.md").read_text())
    out = tmp_path / "rows.json"
    argv = ["--part", "rllib", "--env-runners", "0", "1", "--rllib-batch", "40", "--repeats", "1"]
    assert bench.main([*argv, "--json", str(out), "--doc", str(page)]) == 0
    rows = json.loads(out.read_text())["rllib"]
    assert [r["env_runners"] for r in rows] == [0, 1]
    for r in rows:  # a batch stops at the first episode chunk past 40 env steps
        assert r["env_steps"] >= 40 and r["agent_steps"] >= r["env_steps"] and r["seconds"] > 0
    begin, end = bench.RLLIB_MARKERS
    block = page.read_text().split(begin, 1)[1].split(end, 1)[0]
    assert "command: " in block and "machine: " in block
    number = r"[\d,.]+"
    row = r"\n\| 1 \| " + r" \| ".join([number] * 5) + r" \| [\d.]+x \|"
    assert re.search(row, block)
    del sys.modules["ray_scaling"]


def test_without_the_extra_the_method_says_how_to_install_it(monkeypatch):
    from spawnzoo import cli

    for name in ("spawnzoo.baselines.rllib_ppo.train", "spawnzoo.integrations.rllib"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "ray.rllib", None)  # import ray.rllib raises ImportError
    with pytest.raises(SystemExit, match=re.escape("pip install 'spawnzoo[rllib]'")):
        cli.main(["train", "rllib-ppo", "--preset", "tiny"])
