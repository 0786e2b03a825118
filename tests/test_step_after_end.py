"""``step()`` after the episode ended changes nothing (issue 27 item 4).

With ``auto_reset=False`` a world whose episode ended stays as it ended until ``reset``: its
arrays, episode metrics, time and random stream do not move, its rows of the ``BatchStep`` show
its end state with no rewards or flags, and it reports its end (``final``) once. The other
worlds of the batch step on exactly as they would have without it. Before the fix all three
envs kept simulating (harvest ``episode_length`` 64 -> 128, forage ``food_eaten`` 5 -> 10, a
skirmish ``win`` 1.0 -> 0.0).
"""

from __future__ import annotations

import numpy as np
import pytest
from bad_input import assert_same, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spawnzoo.envs import make, make_batched
from spawnzoo.envs.core.policies import sample_masked

ENV_IDS = ["forage-v0", "harvest-v0", "skirmish-v0"]
#: rows of a ``BatchStep`` that describe the world after the step
STATE_FIELDS = ("alive", "kind", "owner", "cell", "serial", "action_mask")


def play_to_end(core, rng: np.random.Generator, limit: int = 10_000):
    """Step ``core`` (one world, no auto-reset) with random legal actions until it ends;
    returns the last ``BatchStep``."""
    batch = core.reset(seed=int(rng.integers(2**16)))
    for _ in range(limit):
        batch = core.step(sample_masked(rng, batch.action_mask))
        if batch.done[0]:
            return batch
    raise AssertionError("the episode did not end")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_an_ended_world_stays_as_it_ended(env_id):
    rng = np.random.default_rng(0)
    core = make_batched(env_id, num_envs=1, preset="tiny", auto_reset=False, max_cycles=24)
    end = play_to_end(core, rng)
    assert end.final is not None and core.ended.tolist() == [True]
    metrics = core.episode_metrics(0)
    before = snapshot(core)
    for _ in range(5):
        junk = rng.integers(0, core.num_actions, (1, core.num_slots))  # masked ones too
        batch = core.step(junk)
        assert_same(snapshot(core), before)
        assert core.episode_metrics(0) == metrics
        assert batch.final is None and not batch.done.any()
        assert not (batch.terminated.any() or batch.truncated.any() or batch.spawned.any())
        assert not batch.reward.any() and not batch.illegal.any()
        for name in STATE_FIELDS:
            np.testing.assert_array_equal(getattr(batch, name), getattr(end, name), name)
    # bad actions are still refused, and reset starts the next episode
    with pytest.raises(ValueError, match="out of range"):
        core.step(np.full((1, core.num_slots), core.num_actions))
    core.reset(seed=1)
    assert core.ended.tolist() == [False]
    assert core.episode_metrics(0)["episode_length"] == 0


def test_the_other_worlds_step_on_as_if_nothing_had_ended():
    """Forage worlds die out at different times (seed 1: steps 90, 95, 111 and 128). The ones
    still playing match a twin that auto-resets (so never has an ended world) step for step,
    and each world reports its end once."""
    kwargs = dict(num_envs=4, preset="tiny")
    frozen = make_batched("forage-v0", auto_reset=False, **kwargs)
    twin = make_batched("forage-v0", auto_reset=True, **kwargs)
    rng = np.random.default_rng(1)
    batch = frozen.reset(seed=1)
    twin.reset(seed=1)
    ends = {}
    for step in range(1, 200):
        actions = sample_masked(rng, batch.action_mask)
        batch = frozen.step(actions)
        other = twin.step(actions)
        if batch.final is not None:
            for i in batch.final.env_index.tolist():
                assert i not in ends, f"world {i} reported its end twice"
                ends[i] = step
        playing = ~frozen.ended  # after the step: the twin shows a new episode in done worlds
        acted = playing | batch.done
        for name, rows in [(n, playing) for n in STATE_FIELDS] + [
            (n, acted) for n in ("reward", "terminated", "truncated")
        ]:
            np.testing.assert_array_equal(getattr(batch, name)[rows], getattr(other, name)[rows])
        if frozen.ended.all():
            break
    assert len(set(ends.values())) > 2, ends  # the worlds did end at different times
    assert sorted(ends) == [0, 1, 2, 3]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_pettingzoo_env_after_its_end_does_not_move_its_world(env_id):
    """The issue's symptom: episode metrics moved on when stepping after the end. The adapter
    now raises ``RuntimeError``; its core would not move either (the tests above)."""
    env = make(env_id, preset="tiny", max_cycles=20)
    obs, _ = env.reset(seed=2)
    rng = np.random.default_rng(2)
    while env.agents:
        actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
        obs, *_ = env.step(actions)
    metrics = env.world.episode_metrics(0)
    world = snapshot(env.world)
    for _ in range(3):  # the adapter refuses (issue 23); either way its world does not move
        with pytest.raises(RuntimeError, match="episode has ended"):
            env.step({})
    assert env.world.episode_metrics(0) == metrics
    assert_same(snapshot(env.world), world)


def any_actions_change_nothing(env_id: str, examples: int) -> None:
    """Hypothesis: play 2 worlds to their ends, then step them with drawn (legal-range)
    actions: the whole state stays as it ended."""
    core = make_batched(env_id, num_envs=2, preset="tiny", auto_reset=False, max_cycles=12)

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.integers(0, 2**16), steps=st.integers(1, 4), data=st.data())
    def run(seed, steps, data):
        rng = np.random.default_rng(seed)
        batch = core.reset(seed=seed)
        while not core.ended.all():
            batch = core.step(sample_masked(rng, batch.action_mask))
        before = snapshot(core)
        for _ in range(steps):
            actions = data.draw(
                st.lists(
                    st.integers(0, core.num_actions - 1),
                    min_size=core.num_envs * core.num_slots,
                    max_size=core.num_envs * core.num_slots,
                )
            )
            core.step(np.array(actions, dtype=np.int64).reshape(core.num_envs, core.num_slots))
        assert_same(snapshot(core), before)

    run()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_any_actions_after_the_end_change_nothing(env_id):
    any_actions_change_nothing(env_id, 25)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_deep_any_actions_after_the_end_change_nothing(env_id):
    any_actions_change_nothing(env_id, 1500)
