"""The report's aggregates with their 95% intervals, computed by ``rliable`` (never by hand).

Every function takes plain arrays and returns plain numbers, so the report and the tests use
the same definitions:

* ``aggregate(scores)``: the interquartile mean (IQM: the mean of the middle 50% of all
  values) and the mean of a ``[seeds, episodes]`` matrix, each with a stratified bootstrap 95%
  confidence interval (``rliable.library.get_interval_estimates``: seeds resampled with
  replacement, separately for each episode column, as rliable does for runs x tasks);
* ``performance_profile(scores, taus)``: the fraction of all episodes scoring above each
  ``tau`` (rliable's score distribution), with its band;
* ``probability_of_improvement(x, y)``: P(a random seed of X has a higher final score than a
  random seed of Y) (rliable's Mann-Whitney statistic on ``[seeds, 1]``), with its interval;
* ``milestone_ratio(reference, variant, budget)``: how many times fewer env steps the variant
  needed to reach a milestone, mean over the reference's seeds over mean over the variant's,
  with an independent stratified bootstrap interval; a seed that never reached it counts at
  the budget (a lower bound on its true milestone), and the result says which side is
  censored, so which way the true ratio can only lie.

With one seed every interval collapses to the point: there is nothing to resample. That is the
honest answer, and the report says so.

The bootstrap is seeded (``STATS_SEED``), so rebuilding a report gives the same intervals (on
the same numpy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: bootstrap replications of every interval (rliable's examples use 2,000 to 50,000)
DEFAULT_REPS = 2000
#: seed of every bootstrap, so a report is reproducible
STATS_SEED = 0
#: coverage of every interval
CONFIDENCE = 0.95


def _library() -> tuple[Any, Any]:
    """rliable's ``library`` and ``metrics``, imported on first use (they load pandas, scipy)."""
    try:
        from rliable import library, metrics
    except ImportError as err:  # pragma: no cover - the train extra installs it
        raise ImportError(
            f"the report's intervals need rliable ('pip install .[train]'): {err}"
        ) from None
    return library, metrics


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% confidence interval."""

    value: float
    low: float
    high: float

    def __iter__(self) -> Iterator[float]:
        """``value, low, high = interval``."""
        return iter((self.value, self.low, self.high))


@dataclass(frozen=True)
class Aggregate:
    """IQM and mean of one label's ``[seeds, episodes]`` scores, with their intervals."""

    iqm: Interval
    mean: Interval
    seeds: int
    episodes: int


def _estimate(
    scores: np.ndarray | tuple[np.ndarray, ...],
    func: Callable[..., np.ndarray],
    reps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """rliable's point estimate and ``[2, K]`` interval of ``func`` on ``scores``."""
    library, _ = _library()
    # rliable draws its stratified resamples from numpy's global generator (its random_state
    # argument only reaches arch): seed that one, and give the caller back its state
    saved = np.random.get_state()  # noqa: NPY002
    np.random.seed(STATS_SEED)  # noqa: NPY002
    try:
        points, intervals = library.get_interval_estimates(
            {"x": scores}, func, reps=reps, confidence_interval_size=CONFIDENCE
        )
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    return np.atleast_1d(points["x"]), np.atleast_2d(intervals["x"].T).T


def score_matrix(per_seed: Sequence[Sequence[float]]) -> np.ndarray:
    """``[seeds, episodes]`` from each seed's episode values (cut to the shortest seed, so
    every seed weighs the same).

    Raises:
        ValueError: no seed, or a seed without values.
    """
    if not per_seed or min(len(v) for v in per_seed) == 0:
        raise ValueError("need at least one seed with at least one episode")
    n = min(len(v) for v in per_seed)
    return np.asarray([list(v)[:n] for v in per_seed], dtype=float)


def aggregate(scores: np.ndarray, reps: int = DEFAULT_REPS) -> Aggregate:
    """IQM and mean of ``scores`` ``[seeds, episodes]`` with stratified bootstrap 95% CIs."""
    _, metrics = _library()
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty [seeds, episodes] matrix, got {scores.shape}")

    def both(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

    point, ci = _estimate(scores, both, reps)
    return Aggregate(
        iqm=Interval(float(point[0]), float(ci[0, 0]), float(ci[1, 0])),
        mean=Interval(float(point[1]), float(ci[0, 1]), float(ci[1, 1])),
        seeds=scores.shape[0],
        episodes=scores.shape[1],
    )


def performance_profile(
    scores: np.ndarray, taus: Sequence[float], reps: int = DEFAULT_REPS
) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of all values of ``scores`` ``[seeds, episodes]`` above each of ``taus``
    ``[K]``: ``(profile [K], band [2, K])`` (rliable's score distribution and its CI)."""
    library, _ = _library()
    taus = np.asarray(taus, dtype=float)

    def profile(x: np.ndarray) -> np.ndarray:
        return library.score_distributions(x, taus)

    point, ci = _estimate(np.asarray(scores, dtype=float), profile, reps)
    return point, ci


def curve_band(curves: np.ndarray, reps: int = DEFAULT_REPS) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds of ``curves`` ``[seeds, K]`` (one value per seed and evaluation) and its
    95% band ``[2, K]`` (rliable's bootstrap over seeds, all ``K`` points in one resampling)."""
    matrix = np.asarray(curves, dtype=float)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError(f"curves must be a non-empty [seeds, K] matrix, got {matrix.shape}")

    def mean(x: np.ndarray) -> np.ndarray:
        return x.mean(axis=(0, 1))

    return _estimate(matrix[:, None, :], mean, reps)


def probability_of_improvement(
    x: Sequence[float], y: Sequence[float], reps: int = DEFAULT_REPS
) -> Interval:
    """P(X > Y) over seeds (ties count half): ``x`` and ``y`` are each seed's final score."""
    _, metrics = _library()
    a = np.asarray(x, dtype=float).reshape(-1, 1)
    b = np.asarray(y, dtype=float).reshape(-1, 1)
    point, ci = _estimate((a, b), metrics.probability_of_improvement, reps)
    return Interval(float(point[0]), float(ci[0, 0]), float(ci[1, 0]))


@dataclass(frozen=True)
class Ratio:
    """``reference / variant`` env steps to a milestone, with its interval.

    Attributes:
        interval: the ratio (> 1: the variant got there sooner) and its 95% CI.
        reference_censored: some reference seed never reached the milestone and counts at
            the budget, below its true value: the true ratio is at least this.
        variant_censored: likewise for the variant: the true ratio is at most this.
    """

    interval: Interval
    reference_censored: bool
    variant_censored: bool

    @property
    def bound(self) -> str:
        """``">="``, ``"<="``, ``"~"`` (censored on both sides: no direction) or ``""``."""
        return {(True, False): ">=", (False, True): "<=", (True, True): "~"}.get(
            (self.reference_censored, self.variant_censored), ""
        )


def milestone_ratio(
    reference: Sequence[int | None],
    variant: Sequence[int | None],
    budget: int,
    reps: int = DEFAULT_REPS,
) -> Ratio | None:
    """Mean env steps to a milestone of the reference's seeds over the variant's.

    Args:
        reference, variant: each seed's milestone (``None``: never reached).
        budget: the runs' env steps; an unreached milestone counts as this.

    Returns:
        The ratio, or ``None`` when neither reached it on any seed (nothing to compare) or a
        milestone is 0 (a policy that needs no training).
    """
    if not reference or not variant:
        return None
    if all(v is None for v in reference) and all(v is None for v in variant):
        return None
    a = np.array([budget if v is None else v for v in reference], dtype=float).reshape(-1, 1)
    b = np.array([budget if v is None else v for v in variant], dtype=float).reshape(-1, 1)
    if a.min() <= 0 or b.min() <= 0:
        return None

    def ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.array([x.mean() / y.mean()])

    point, ci = _estimate((a, b), ratio, reps)
    return Ratio(
        Interval(float(point[0]), float(ci[0, 0]), float(ci[1, 0])),
        reference_censored=any(v is None for v in reference),
        variant_censored=any(v is None for v in variant),
    )


def is_number(value: float | None) -> bool:
    """Not ``None`` and not ``nan``."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))
