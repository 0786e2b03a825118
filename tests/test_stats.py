"""The report's aggregates (rliable) on hand-made scores with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from spawnzoo.baselines.compare import stats

REPS = 200  # enough for the invariants below; the report uses stats.DEFAULT_REPS


def test_iqm_and_mean_of_a_skewed_matrix():
    scores = np.array([[0.0, 1, 2, 100], [3, 4, 5, 6]])  # sorted: 0 1 2 3 4 5 6 100
    agg = stats.aggregate(scores, reps=REPS)
    assert agg.iqm.value == pytest.approx(3.5)  # mean of the middle half: 2 3 4 5
    assert agg.mean.value == pytest.approx(121 / 8)
    assert (agg.seeds, agg.episodes) == (2, 4)
    for interval in (agg.iqm, agg.mean):
        assert interval.low <= interval.value <= interval.high
    assert agg.mean.high - agg.mean.low > 1  # resampling the seeds moves the mean a lot
    assert stats.aggregate(scores, reps=REPS) == agg  # seeded: a rebuilt report is the same


def test_one_seed_has_no_interval_over_seeds():
    agg = stats.aggregate(np.array([[1.0, 2, 3, 4]]), reps=REPS)
    assert tuple(agg.iqm) == (2.5, 2.5, 2.5) and tuple(agg.mean) == (2.5, 2.5, 2.5)


def test_score_matrix_cuts_to_the_shortest_seed_and_refuses_none():
    assert stats.score_matrix([[1, 2, 3], [4, 5]]).tolist() == [[1, 2], [4, 5]]
    with pytest.raises(ValueError, match="at least one"):
        stats.score_matrix([])
    with pytest.raises(ValueError, match="matrix"):
        stats.aggregate(np.zeros(3))


def test_performance_profile_counts_values_above_each_tau():
    profile, band = stats.performance_profile(np.array([[0.0, 1], [2, 3]]), [0.5, 2.5, 9], REPS)
    assert profile.tolist() == [0.75, 0.25, 0.0]
    assert band.shape == (2, 3) and (band[0] <= profile + 1e-12).all()
    assert (profile <= band[1] + 1e-12).all()


def test_probability_of_improvement():
    assert stats.probability_of_improvement([3, 4, 5], [0, 1, 2], REPS).value == 1.0
    assert stats.probability_of_improvement([0, 1, 2], [3, 4, 5], REPS).value == 0.0
    assert stats.probability_of_improvement([1, 1], [1, 1], REPS).value == 0.5  # ties: half
    half = stats.probability_of_improvement([1, 4], [2, 3], REPS)
    assert half.value == 0.5 and half.low < 0.5 < half.high


def test_milestone_ratio_and_censoring():
    twice = stats.milestone_ratio([8192, 8192], [4096, 4096], budget=16384, reps=REPS)
    assert tuple(twice.interval) == (2.0, 2.0, 2.0) and twice.bound == ""
    # a reference seed that never got there counts at the budget: the true ratio is larger
    bound = stats.milestone_ratio([None, 8192], [4096, 4096], budget=16384, reps=REPS)
    assert bound.interval.value == pytest.approx(3.0) and bound.bound == ">="
    assert bound.interval.low <= 3.0 <= bound.interval.high
    assert stats.milestone_ratio([8192], [None], budget=16384, reps=REPS).bound == "<="
    assert stats.milestone_ratio([None], [None, 4096], budget=8192, reps=REPS).bound == "~"
    assert stats.milestone_ratio([None], [None], budget=100, reps=REPS) is None
    assert stats.milestone_ratio([0], [4096], budget=8192, reps=REPS) is None  # untrained
