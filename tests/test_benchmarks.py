"""The throughput script runs on every env and writes its blocks into the benchmarks page; the
learner-update script times and profiles an update.

Only that they work is tested here (a fraction of a second per row); the figures themselves come
from running them on an idle machine (docs/benchmarks.md and docs/methods/hybrid.md carry the
commands).
"""

from __future__ import annotations

import json
import shutil
import sys
import time

import pytest
from script_helpers import ROOT, load_script


@pytest.fixture(scope="module")
def bench():
    yield load_script("benchmarks/env_throughput.py")
    del sys.modules["env_throughput"]


QUICK = ["--seconds", "0.02", "--warmup", "2", "--no-pin"]


@pytest.mark.parametrize(
    ("env_id", "extra", "cases"),
    [
        ("harvest-v0", ["--maps", "24", "--num-envs", "4"], {"24x24"}),
        ("forage-v0", ["--presets", "tiny", "small"], {"tiny 16x16", "small 32x32"}),
        ("skirmish-v0", ["--presets", "tiny"], {"tiny 12x12"}),
    ],
)
def test_every_env_is_measured_into_its_own_block(bench, env_id, extra, cases, tmp_path):
    page = tmp_path / "benchmarks.md"
    shutil.copy(ROOT / "docs/benchmarks.md", page)
    out = tmp_path / "out.json"
    bench.main(["--env", env_id, *extra, *QUICK, "--json", str(out), "--doc", str(page)])
    rows = json.loads(out.read_text())["rows"]
    assert {r["case"] for r in rows} == cases
    assert {r["api"] for r in rows} == {"pettingzoo", "batched step", "batched step+planes"}
    assert all(r["agent_steps_per_s"] > 0 and r["live_agents"] > 0 for r in rows)
    begin, end = bench.doc_markers(env_id)
    block = page.read_text().split(begin, 1)[1].split(end, 1)[0]
    assert f"env: {env_id}" in block and all(f"| {c} |" in block for c in cases)
    assert "cpu features: " in block and "kernels: " in block
    # the other envs' blocks are untouched
    original = (ROOT / "docs/benchmarks.md").read_text()
    for other in ("harvest-v0", "forage-v0", "skirmish-v0"):
        if other != env_id:
            b, e = bench.doc_markers(other)
            assert (
                page.read_text().split(b, 1)[1].split(e, 1)[0]
                == (original.split(b, 1)[1].split(e, 1)[0])
            )


def test_forage_scaling_curve_counts_live_agents(bench, monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "SCALING_AGENTS", (16, 256))
    monkeypatch.setattr(bench, "SCALING_STEPS", 3)
    page = tmp_path / "benchmarks.md"
    shutil.copy(ROOT / "docs/benchmarks.md", page)
    bench.main(["--env", "forage-v0", "--scaling", "--no-pin", "--doc", str(page)])
    begin, end = bench.doc_markers("forage-v0", scaling=True)
    block = page.read_text().split(begin, 1)[1].split(end, 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("| 16 |")]
    rows += [line for line in block.splitlines() if line.startswith("| 256 |")]
    assert len(rows) == 2
    live = [float(r.split("|")[2].replace(",", "")) for r in rows]
    assert 10 <= live[0] <= 16 and 200 <= live[1] <= 256  # a few die in 3 random steps


def test_scaling_is_refused_on_other_envs_and_unknown_presets_are_named(bench):
    with pytest.raises(SystemExit, match="--scaling measures forage-v0"):
        bench.main(["--env", "skirmish-v0", "--scaling", "--no-pin"])
    with pytest.raises(SystemExit, match=r"forage-v0 has no preset\(s\) \['huge'\]"):
        bench.main(["--env", "forage-v0", "--presets", "huge", *QUICK])


def test_harvest_scenarios_place_every_factory_on_every_benchmark_map(bench):
    from spawnzoo import envs

    for name, settings in bench.SCENARIOS.items():
        for map_size in (24, 48, 64):
            env = envs.make("harvest-v0", players=2, map_size=map_size, **settings)
            env.reset(seed=0)
            factories = sum(a.split("_")[2] == "factory" for a in env.agents)
            low, high = env.unwrapped.world.cfg.factory_range
            assert low * 2 <= factories <= high * 2, (name, map_size, factories)


@pytest.fixture(scope="module")
def learner_bench():
    yield load_script("benchmarks/learner_update.py")
    del sys.modules["learner_update"]


def test_learner_update_benchmark_times_and_profiles_an_update(learner_bench, capsys):
    train = ["--preset", "tiny", "--num-envs", "2", "--num-steps", "16", "--num-minibatches", "2"]
    argv = ["--repeats", "1", "--profile", "--fast-kernels", "--conv", "--clock", "cpu"]
    assert learner_bench.main([*argv, "--", *train]) == 0
    out = capsys.readouterr().out
    # --conv: the update's convolutions, timed alone in both memory formats
    assert "| the same convolutions alone, contiguous (NCHW) (the policy's format) |" in out
    assert "| the same convolutions alone, channels-last |" in out
    assert "clock: CPU time of the process" in out
    calls = int(out.split("convolutions of one minibatch step: ")[1].split(" calls")[0])
    assert calls >= 2
    assert "| default (deterministic kernels) |" in out
    assert "| cuDNN benchmark, non-deterministic |" in out
    assert "profile of one epoch, by host time" in out and "aten::" in out
    assert "1 player(s) x 2 minibatches of 16 env steps" in out


def test_learner_update_benchmark_rejects_bad_input(learner_bench, capsys):
    with pytest.raises(SystemExit):
        learner_bench.main(["--repeats", "0"])
    assert "--repeats must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        learner_bench.main(["--", "--no-such-option", "1"])
    assert "--no-such-option" in capsys.readouterr().err


STUB_WORKER = """
import json, sys
print(json.dumps({"ready": True, "magent2": "stub", "live_agents": 160}), flush=True)
for line in sys.stdin:
    if line.startswith("quit"):
        break
    print(json.dumps({"env_steps": 10, "agent_steps": 1600, "seconds": 0.004, "resets": 0}),
          flush=True)
"""


def test_vs_magent2_alternates_rounds_with_the_worker(bench, monkeypatch, tmp_path, capsys):
    """The harvest side runs here, MAgent2's in a worker process (a stub speaking the same
    protocol: 1,600 agent-steps in 4 ms per round, 400,000 agent-steps/s)."""
    stub = tmp_path / "worker.py"
    stub.write_text(STUB_WORKER)
    monkeypatch.setattr(bench, "MAGENT2_WORKER", stub)
    monkeypatch.setattr(bench, "VS_SETTINGS", {**bench.VS_SETTINGS, "map_size": 24})
    page = tmp_path / "benchmarks.md"
    shutil.copy(ROOT / "docs/benchmarks.md", page)
    out = tmp_path / "vs.json"
    argv = ["--vs", "magent2", "--rounds", "3", "--magent2-python", sys.executable, "--profile"]
    bench.main([*argv, "--clock", "cpu", *QUICK, "--json", str(out), "--doc", str(page)])
    result = json.loads(out.read_text())
    assert len(result["rounds"]) == 3
    assert result["magent2"]["agent_steps_per_s"] == pytest.approx(400_000)
    assert result["magent2"]["live_agents"] == 160
    ours = result["spawnzoo"]
    assert ours["live_agents"] > 5 and ours["agent_steps"] > 0
    assert result["ratio"] == pytest.approx(ours["agent_steps_per_s"] / 400_000)
    assert "clock: CPU time of the process" in capsys.readouterr().out
    begin, end = bench.doc_markers("harvest-v0", vs="magent2")
    block = page.read_text().split(begin, 1)[1].split(end, 1)[0]
    assert "| all |" in block and "| 400,000 | 160.0 |" in block and "cpu features:" in block
    # --profile: where the harvest side's step time goes, the adapter's step among it
    assert "harvest PettingZoo steps" in block and "envs/core/parallel.py" in block


def test_vs_magent2_without_magent2_says_how_to_install_it(bench, monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "MAGENT2_VENV_PYTHON", tmp_path / "nowhere" / "python")
    import importlib.util

    if importlib.util.find_spec("magent2") is not None:
        pytest.skip("magent2 is installed in this Python")
    with pytest.raises(SystemExit, match="pip install magent2"):
        bench.main(["--vs", "magent2", *QUICK])
    with pytest.raises(SystemExit, match="--rounds must be >= 1"):
        bench.main(["--vs", "magent2", "--rounds", "0", *QUICK])


@pytest.fixture(scope="module")
def scaling_bench():
    yield load_script("benchmarks/learner_scaling.py")
    del sys.modules["learner_scaling"]


def test_learner_scaling_quick_measures_every_method_at_every_size(scaling_bench, tmp_path):
    page = tmp_path / "benchmarks.md"
    shutil.copy(ROOT / "docs/benchmarks.md", page)
    out, png = tmp_path / "points.json", tmp_path / "scaling.png"
    argv = ["--quick", "--in-process", "--methods", "hybrid", "independent", "--clock", "cpu"]
    assert (
        scaling_bench.main([*argv, "--json", str(out), "--doc", str(page), "--plot", str(png)]) == 0
    )
    points = json.loads(out.read_text())["points"]
    assert [(p["robot_slots"], p["method"]) for p in points] == [
        (2, "hybrid"),
        (2, "independent"),
        (6, "hybrid"),
        (6, "independent"),
    ]
    for p in points:
        # the live entities: one factory plus the robots built into the row's slots
        assert 1 < p["live_entities"] <= 1 + p["robot_slots"]
        assert p["agent_sps"] == pytest.approx(p["env_sps"] * p["live_entities"], rel=0.35)
        assert p["peak_mb"] > 50 and p["rollout_s"] > 0 and p["update_s"] > 0
    block = page.read_text().split(scaling_bench.DOC_BEGIN, 1)[1].split(scaling_bench.DOC_END)[0]
    assert "torch threads: 1" in block and "cpu features" in block.lower()
    assert "clock: each run's CPU time" in block and time.perf_counter is not time.process_time
    assert "| 6 | hybrid |" in block and "scaling.png" in block
    assert png.stat().st_size > 1000


def test_learner_scaling_rejects_bad_budgets(scaling_bench, capsys):
    for argv, message in (
        (["--cycles", "1"], "--cycles must be >= 2"),
        (["--num-envs", "0"], "--num-envs must be >= 1"),
        (["--threads", "0"], "--threads must be >= 1"),
    ):
        with pytest.raises(SystemExit):
            scaling_bench.main(argv)
        assert message in capsys.readouterr().err
