"""Every learned method of the zoo beats random legal actions on ice transferred (issue #6).

One protocol for all of them (the hybrid's own check, ``test_hybrid_train.py``, is the same):
the ``tiny`` preset (12x12, one factory, one player) with rubble-free ice
(``resource_rubble_divisor=1000``, so a robot on ice digs it at once), a fixed seed, and the
run's final evaluation (12 worlds x 128 steps on the evaluation maps, actions sampled from the
policy) against the ``random`` reference policy on the same maps, which delivers about 17 ice
per episode there. A learned policy must deliver more than ``RATIO`` times that, and more than
``FLOOR`` (BottleNet, which learns slower, twice random's).

Budgets and the scores they reached when these were tuned are in each method's doc page
(``docs/methods/*.md``, "Learning check"). They are run with one torch thread per process;
the ones over a minute and a half of one core are ``slow`` (``pytest -m slow``).
"""

from __future__ import annotations

import functools
import json

import pytest
from learner_helpers import QUICK_RUN
from spawnzoo.baselines.common.evaluation import evaluate
from spawnzoo.baselines.registry import ALGORITHMS, make_algorithm
from spawnzoo.envs.core.policies import RandomPolicy

#: rubble-free ice on the tiny map: learnable within a CPU minute
EASY = {"resource_rubble_divisor": 1000}
#: a learned policy delivers more than RATIO x random's ice, and more than FLOOR
RATIO, FLOOR = 3.0, 50.0

#: the settings shared by every check: 16 worlds x 64 steps (one tiny episode) per cycle
COMMON = dict(
    preset="tiny",
    env_settings=EASY,
    num_envs=16,
    num_steps=64,
    eval_every=0,  # evaluate once, after the last cycle
    progress=False,
)


#: the methods that learn (the others are the reference policies)
LEARNED = sorted(set(ALGORITHMS) - {"random", "heuristic"})


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
        from spawnzoo.baselines.common.runs import count_parameters
        from spawnzoo.baselines.independent.train import build_model
        from spawnzoo.baselines.wrappers import SlotVecEnv
        from spawnzoo.envs import make_batched

        world = make_batched(config.env_id, num_envs=1, **config.env_kwargs)
        model = build_model(config, SlotVecEnv(world))
        assert summary["parameter_count"] == count_parameters(model.policy)


@functools.cache
def random_ice(eval_envs: int, horizon: int, eval_seed: int) -> float:
    """Ice transferred per episode by random legal actions on the evaluation maps."""
    return evaluate(
        lambda world: RandomPolicy(world, seed=0),
        "harvest-v0",
        {"preset": "tiny", **EASY},
        num_envs=eval_envs,
        max_cycles=horizon,
        seed=eval_seed,
    ).ice_transferred


def check_beats_random(train, config, ratio: float = RATIO, floor: float = FLOOR) -> None:
    """Train ``config``; its final evaluation must exceed ``ratio`` x random's on the same maps
    and ``floor``."""
    learned = train(config).summary["final_metrics"]["eval/ice_transferred"]
    baseline = random_ice(config.eval_envs, config.eval_horizon, config.eval_seed)
    assert baseline < 40  # the protocol itself: random play delivers little
    assert learned > max(ratio * baseline, floor), (learned, baseline)


def test_monolithic_dashnet_beats_random(tmp_path):
    from spawnzoo.baselines.centralized.config import MonolithicConfig
    from spawnzoo.baselines.centralized.monolithic import train

    config = MonolithicConfig(
        **COMMON,
        total_timesteps=16_384,
        learning_rate=1e-3,
        update_epochs=4,
        num_minibatches=16,
        run_root=str(tmp_path),
        seed=1,
    )
    check_beats_random(train, config)


@pytest.mark.slow
def test_monolithic_bottlenet_beats_random(tmp_path):
    from spawnzoo.baselines.centralized.config import MonolithicConfig
    from spawnzoo.baselines.centralized.monolithic import train

    config = MonolithicConfig(
        **COMMON,
        network="bottlenet",
        total_timesteps=32_768,
        learning_rate=1e-3,
        update_epochs=8,
        num_minibatches=16,
        run_root=str(tmp_path),
        seed=1,
    )
    # the U-Net learns slower than DashNet here (as in the paper, §7.1): twice its budget, and
    # a lower bar (seeds 1 and 2 reached 3.5x and 9x random; see monolithic.md)
    check_beats_random(train, config, ratio=2.0, floor=33.0)


@pytest.mark.slow
def test_mappo_beats_random(tmp_path):
    from spawnzoo.baselines.centralized.config import MappoConfig
    from spawnzoo.baselines.centralized.mappo import train

    config = MappoConfig(
        **COMMON,
        reward="own",  # the team reward does not learn within this budget (see mappo.md)
        total_timesteps=16_384,
        learning_rate=1e-3,
        update_epochs=8,
        num_minibatches=16,
        run_root=str(tmp_path),
        seed=1,
    )
    check_beats_random(train, config)


@pytest.mark.slow
def test_independent_beats_random(tmp_path):
    from spawnzoo.baselines.independent.config import IndependentConfig
    from spawnzoo.baselines.independent.train import train

    config = IndependentConfig(
        **{**COMMON, "num_envs": 8},  # its defaults: 8 worlds x 64 steps, 8 epochs x 8 batches
        total_timesteps=20_480,
        run_root=str(tmp_path),
        seed=1,
    )
    check_beats_random(train, config)
