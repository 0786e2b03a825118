"""The evaluation protocol's seeds and milestones: one definition for every method and report.

Every run of every method is evaluated on maps that only its own seed decides, and never on a
map it trained on:

* **training maps**: the training worlds are reset with ``train_reset_seed(seed, cycles)``
  (``seed`` at the start; a run resumed after ``cycles`` cycles is reset with a new seed of the
  same family) and then continue their own random streams episode after episode;
* **in-training evaluation maps**: ``eval_map_seed(seed)``, a 63-bit seed derived from the run's
  seed, so the seeds of a comparison are evaluated on different maps (as in the paper, which
  reseeded its 12 evaluation envs for each run) and every evaluation of one run plays the same
  maps (its learning curve compares like with like);
* **held-out final maps**: ``final_map_seed(seed)``, derived the same way under another tag. No
  in-training evaluation looked at them, so the final numbers of a report were not used to pick
  anything (a milestone, a best checkpoint) during training.

World ``i`` of a reset with seed ``s`` draws from stream ``i`` of ``np.random.SeedSequence(s)``,
so maps from different reset seeds come from independent streams. ``check_disjoint_seeds``
makes "different seeds" a checked fact rather than a convention: configs call it, and it fails
loudly when an explicit ``eval_seed`` meets a training reset seed.

**Milestones are sustained**: the milestone of threshold ``t`` is the first evaluated env-step
count from which the full-length fraction stays at or above ``t`` in every later evaluation of
the run (``sustained_milestone``). A run that reaches ``t`` once and dips below it later has not
reached it yet; so a milestone is neither decided by one lucky evaluation among ~25 (the first
crossing is biased early) nor undone silently. The first crossing is kept beside it
(``first_crossing``) for the paper's definition.

This module is numpy only: the report (which never imports torch) uses the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

#: evaluation episodes (worlds) per evaluation unless a config says otherwise: with 32, a 95%
#: milestone tolerates one episode that ended early, and no single episode decides it
DEFAULT_EVAL_EPISODES = 32
#: the training reset seed of a run resumed after ``c`` cycles is ``seed + TRAIN_SEED_STRIDE * c``
TRAIN_SEED_STRIDE = 7919
#: slack for comparing a fraction of episodes with a threshold (``19 / 20 >= 0.95``)
FRACTION_EPS = 1e-9

_EVAL_TAG = 0x45564131  # "EVA1"
_FINAL_TAG = 0x46494E31  # "FIN1"


def train_reset_seed(seed: int, done_cycles: int = 0) -> int:
    """The reset seed of the training worlds of run ``seed`` (re)started after ``done_cycles``."""
    return int(seed) + TRAIN_SEED_STRIDE * int(done_cycles)


def training_seeds(seed: int, num_iterations: int) -> set[int]:
    """Every reset seed the training worlds of run ``seed`` can get in ``num_iterations``
    cycles, whatever cycle it is resumed at."""
    return {train_reset_seed(seed, c) for c in range(int(num_iterations) + 1)}


def _derived(seed: int, tag: int) -> int:
    words = np.random.SeedSequence((int(seed), tag)).generate_state(2, np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1])) & ((1 << 63) - 1)


def eval_map_seed(seed: int) -> int:
    """The reset seed of run ``seed``'s in-training evaluation worlds (a 63-bit integer)."""
    return _derived(seed, _EVAL_TAG)


def final_map_seed(seed: int) -> int:
    """The reset seed of run ``seed``'s held-out final evaluation worlds (a 63-bit integer)."""
    return _derived(seed, _FINAL_TAG)


def check_disjoint_seeds(train: Iterable[int], evaluation: Mapping[str, int]) -> None:
    """Fail unless no evaluation reset seed is a training reset seed or another evaluation's.

    Args:
        train: the training worlds' reset seeds (``training_seeds``).
        evaluation: name -> reset seed of each evaluation set (``"in-training evaluation"``,
            ``"final evaluation"``).

    Raises:
        ValueError: names the set and the seed that meet.
    """
    train = set(train)
    seen: dict[int, str] = {}
    for name, seed in evaluation.items():
        if seed in train:
            raise ValueError(
                f"the {name} reset seed {seed} is also a training reset seed (training resets "
                f"with seed + {TRAIN_SEED_STRIDE} x cycles): it would evaluate on training maps; "
                "leave eval_seed unset (derived from the run's seed) or choose another"
            )
        if seed in seen:
            raise ValueError(
                f"the {name} and the {seen[seed]} share the reset seed {seed}: the held-out set "
                "must be maps no other evaluation looked at"
            )
        seen[seed] = name


def sustained_milestone(
    steps: Sequence[int], fractions: Sequence[float], threshold: float
) -> int | None:
    """The first of ``steps`` from which ``fractions`` stay at or above ``threshold``.

    Args:
        steps: ``[K]`` evaluated env-step counts, ascending.
        fractions: ``[K]`` the full-length fraction of each evaluation.
        threshold: in ``(0, 1]``.

    Returns:
        The env-step count, or ``None`` when the last evaluation is below the threshold.

    Example:
        >>> sustained_milestone([1, 2, 3, 4], [0.2, 0.0, 0.3, 0.5], 0.1)
        3
    """
    if len(steps) != len(fractions):
        raise ValueError(f"{len(steps)} steps for {len(fractions)} fractions")
    found = None
    for step, fraction in zip(steps, fractions):
        if fraction >= threshold - FRACTION_EPS:
            found = int(step) if found is None else found
        else:
            found = None
    return found


def first_crossing(
    steps: Sequence[int], fractions: Sequence[float], threshold: float
) -> int | None:
    """The first of ``steps`` whose fraction is at or above ``threshold`` (the paper's
    milestone: later dips ignored); ``None`` if none is."""
    for step, fraction in zip(steps, fractions):
        if fraction >= threshold - FRACTION_EPS:
            return int(step)
    return None
