"""The episode-flag rules every world's step shares (``envs.core.batched.step_flags``)."""

from __future__ import annotations

import numpy as np

from spawnzoo.envs.core.batched import spawned_flags, step_flags


def test_flags_on_a_hand_made_step():
    # world 0 runs on, world 1 terminates, world 2 hits the time limit, world 3 both
    acted = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 0, 0]], bool)
    alive = np.array([[1, 0, 1], [1, 0, 0], [1, 0, 1], [0, 0, 0]], bool)
    env_term = np.array([False, True, False, True])
    t = np.array([5, 5, 10, 10])
    f = step_flags(acted, alive, env_term, t, max_cycles=10)
    np.testing.assert_array_equal(f.env_truncated, [False, False, True, False])
    np.testing.assert_array_equal(f.done, [False, True, True, True])
    np.testing.assert_array_equal(f.died, acted & ~alive)
    # died -> terminated; alive in a terminated world -> terminated; spawned (did not act): none
    np.testing.assert_array_equal(f.terminated, [[0, 1, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0]])
    # alive in a truncated world, and it acted -> truncated; never both flags
    np.testing.assert_array_equal(f.truncated, [[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0]])
    assert not (f.terminated & f.truncated).any()


def test_spawned_are_the_built_that_live():
    alive = np.array([[1, 1, 0], [0, 1, 1]], bool)
    spawned = spawned_flags(np.array([1, 2, 5]), alive)  # slot 2 of world 0 died at once
    np.testing.assert_array_equal(spawned, [[0, 1, 0], [0, 0, 1]])
