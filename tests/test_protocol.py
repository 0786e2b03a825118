"""The evaluation protocol: per-seed evaluation maps, disjoint from training, a held-out set."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spawnzoo.baselines.common.config import PPOConfig
from spawnzoo.baselines.common.protocol import (
    DEFAULT_EVAL_EPISODES,
    TRAIN_SEED_STRIDE,
    check_disjoint_seeds,
    eval_map_seed,
    final_map_seed,
    train_reset_seed,
    training_seeds,
)
from spawnzoo.envs import make_batched

WORLDS = 3


def maps(reset_seed: int) -> set[str]:
    """A fingerprint of each world's initial map (its global planes) after ``reset``."""
    core = make_batched("harvest-v0", num_envs=WORLDS, preset="tiny")
    core.reset(seed=reset_seed)
    planes = core.planes()
    return {hashlib.sha1(planes[i].tobytes()).hexdigest() for i in range(WORLDS)}


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_eval_maps_differ_per_seed_and_never_meet_training_maps(a, b):
    train = set().union(*(maps(train_reset_seed(a, c)) for c in range(3)))
    evaluation, final = maps(eval_map_seed(a)), maps(final_map_seed(a))
    assert len(evaluation) == len(final) == WORLDS  # the worlds of one set differ too
    assert not evaluation & train and not final & train and not evaluation & final
    if a != b:
        assert not evaluation & maps(eval_map_seed(b))
        assert not final & maps(final_map_seed(b))


def test_derived_seeds_are_stable_and_checked_for_every_training_seed():
    assert eval_map_seed(1) == eval_map_seed(1) != eval_map_seed(2)
    assert 0 <= final_map_seed(1) < 2**63 and final_map_seed(1) != eval_map_seed(1)
    assert training_seeds(5, 2) == {5, 5 + TRAIN_SEED_STRIDE, 5 + 2 * TRAIN_SEED_STRIDE}
    check_disjoint_seeds({1, 2}, {"in-training evaluation": 3, "final evaluation": 4})
    with pytest.raises(ValueError, match="in-training evaluation reset seed 2 is also a training"):
        check_disjoint_seeds({1, 2}, {"in-training evaluation": 2, "final evaluation": 4})
    with pytest.raises(ValueError, match="share the reset seed 3"):
        check_disjoint_seeds({1}, {"in-training evaluation": 3, "final evaluation": 3})


def test_a_config_whose_eval_seed_meets_a_training_seed_fails_at_once():
    assert PPOConfig().eval_episodes == DEFAULT_EVAL_EPISODES == 32
    with pytest.raises(ValueError, match="training reset seed"):
        PPOConfig(seed=7, eval_seed=7)
    # a resumption after 3 cycles resets the training worlds with 7 + 3 x stride
    with pytest.raises(ValueError, match="training reset seed"):
        PPOConfig(seed=7, eval_seed=7 + 3 * TRAIN_SEED_STRIDE, total_timesteps=5 * 4096)
    short = PPOConfig(seed=7, eval_seed=7 + 3 * TRAIN_SEED_STRIDE, total_timesteps=2 * 4096)
    assert short.eval_map_seed == 7 + 3 * TRAIN_SEED_STRIDE  # 2 cycles never reset with it
    with pytest.raises(ValueError, match="eval_seed must be >= 0"):
        PPOConfig(eval_seed=-1)
