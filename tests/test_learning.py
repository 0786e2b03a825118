"""Every learned method of the zoo beats random legal actions on ice transferred.

One protocol for all of them, defined in ``learning_checks.py``: the ``tiny`` preset with
rubble-free ice, 16 worlds x 64 steps per cycle, the run's final evaluation (32 episodes of 128
steps on the held-out maps of its seed) against random legal actions on the same maps (about 15
ice per episode). A check trains
the seeds ``SEEDS`` and passes when their **median** beats its threshold, which lies below the
worst of 8 seeds on every CPU profile this machine could emulate (``docs/testing.md``): one
seed's luck, or another CPU's rounding, can't carry or sink it.

Each seed runs with one torch thread; the checks over a minute and a half of one core per seed
are ``slow`` (``pytest -m slow``).
"""

from __future__ import annotations

import json
import statistics

import pytest
from learner_helpers import QUICK_RUN
from learning_checks import CHECKS, SEEDS, random_ice

from spawnzoo.baselines.registry import METHODS, make_algorithm

#: the methods that learn (the others are the reference policies)
LEARNED = sorted(name for name, spec in METHODS.items() if spec.learns)


@pytest.mark.parametrize("method", LEARNED)
def test_every_learned_method_reports_its_parameter_count(tmp_path, method):
    algorithm = make_algorithm(method)
    config = algorithm.config_cls(**{**QUICK_RUN, "total_timesteps": 32}, run_root=str(tmp_path))
    result = algorithm.train(config)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["parameter_count"] == result.summary["parameter_count"] > 1000
    if "network" in summary:  # the parts add up to it
        parts = summary["network"]
        assert parts["total"] == summary["parameter_count"]
        assert sum(v for k, v in parts.items() if k != "total") == parts["total"]
    if method == "independent":  # SB3: the MaskablePPO policy's trainable weights
        from spawnzoo.baselines.independent.train import build_model
        from spawnzoo.baselines.nets.layers import count_parameters
        from spawnzoo.baselines.wrappers import SlotVecEnv
        from spawnzoo.envs import make_batched

        world = make_batched(config.env_id, num_envs=1, **config.env_kwargs)
        model = build_model(config, SlotVecEnv(world))
        assert summary["parameter_count"] == count_parameters(model.policy)


def test_every_learned_method_has_a_learning_check():
    assert sorted({check.method for check in CHECKS.values()}) == LEARNED


@pytest.mark.numerics
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.slow] if c.slow else []) for n, c in CHECKS.items()],
)
def test_learned_policy_beats_random_legal_actions(tmp_path, name):
    check = CHECKS[name]
    baseline = random_ice()
    assert baseline < 40  # the protocol itself: random play delivers little
    ice = {seed: check.run(seed, tmp_path / str(seed)) for seed in SEEDS}
    assert statistics.median(ice.values()) > max(check.threshold, baseline), (
        f"{name}: median final ice {statistics.median(ice.values()):.1f} of seeds {ice} is not "
        f"above {check.threshold:g} (random legal actions: {baseline:.1f}); the calibrated runs "
        "are in docs/testing.md"
    )


def test_calibration_table_and_doc_block(tmp_path):
    """The calibration summary on hand-made rows: worst run, medians of SEEDS, and the worst
    median any 3 calibrated seeds could give (the second lowest of each profile)."""
    from learning_checks import DOC_BEGIN, DOC_END, table, write_doc

    ice = {"native": [120, 80, 200, 150], "avx2": [50, 90, 300, 110]}
    rows = [
        {"check": "hybrid", "seed": s, "profile": p, "ice": v, "seconds": 60, "capability": "X"}
        for p, values in ice.items()
        for s, v in enumerate(values, 1)
    ]
    text = table(rows)
    assert "| 1 | 120.0 | 50.0 |" in text and "| 4 | 150.0 | 110.0 |" in text
    assert "8 runs: worst 50.0" in text
    assert "Median of seeds 1, 2, 3: 120.0 (native), 90.0 (avx2)" in text
    assert "worst median of any 3 seeds: 120.0 (native), 90.0 (avx2)" in text
    page = tmp_path / "testing.md"
    page.write_text(f"intro\n{DOC_BEGIN}\nold\n{DOC_END}\noutro\n")
    write_doc(page, text)
    assert page.read_text().startswith(f"intro\n{DOC_BEGIN}\n**hybrid**")
    assert page.read_text().endswith(f"{DOC_END}\noutro\n")
    other = tmp_path / "other.md"
    other.write_text("no block here")
    with pytest.raises(ValueError, match="no calibration block"):
        write_doc(other, "")


def test_cpu_profiles_cap_every_kernel_library():
    from cpu_profile import PROFILES, numpy_disabled, profile_env

    env = profile_env("avx2", base={"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert (env["ATEN_CPU_CAPABILITY"], env["ONEDNN_MAX_CPU_ISA"]) == ("avx2", "AVX2")
    assert env["MKL_ENABLE_INSTRUCTIONS"] == "AVX2"
    assert profile_env("native", base={}) == {}
    assert profile_env("aten-default", base={}) == {"ATEN_CPU_CAPABILITY": "default"}
    # numpy's own dispatch names: the default profile leaves none of them on
    from numpy._core._multiarray_umath import __cpu_dispatch__

    assert set(numpy_disabled("default").split()) == set(__cpu_dispatch__)
    assert not any("AVX512" not in n and "X86_V4" not in n for n in numpy_disabled("avx2").split())
    assert set(PROFILES) >= {"native", "avx2", "default", "aten-default"}
    with pytest.raises(ValueError, match="unknown CPU profile 'sse9'"):
        profile_env("sse9")
