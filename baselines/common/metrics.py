"""The names of everything a learner logs, defined once and shared by every method.

Keys are ``"<section>/<name>"`` (TensorBoard groups charts by the part before the slash):

* ``eval/``: evaluation episodes (see ``evaluation.py``). Means over episodes for env-level
  metrics, over player-episodes for per-player ones; ``<key>_std`` is the population standard
  deviation (``ddof=0``) of the same values, so runs can be pooled exactly from mean, std and
  ``eval/episodes``.
* ``charts/``: progress of training (throughput, schedule).
* ``losses/``: PPO's optimisation statistics, averaged over the minibatches of one iteration.
* ``agents/``: how many entities and groups were alive / active in the rollout.

An env's per-player episode metric ``name`` (e.g. harvest's ``ice_dug``, skirmish's ``win``)
is logged as ``eval_key(name)``, whatever the env; the constants below name the generic ones
(``GENERIC_EVAL_KEYS``, written on every env) and the harvest ones the paper reports.
"""

from __future__ import annotations

# --- evaluation (paper section 7) ---
EPISODE_RETURN = "episode_return"
"""The per-player metric the evaluation adds on every env (``eval_key`` gives its key)."""
EVAL_EPISODE_LENGTH = "eval/episode_length"
"""Env-level: steps until the episode ended (a terminal state, e.g. harvest's "a player lost
its last factory", or the limit)."""
EVAL_EPISODE_RETURN = "eval/episode_return"
"""Per player-episode: the summed rewards of all the player's entities (every env)."""
EVAL_WIN = "eval/win"
"""Per player-episode on competitive envs that report ``win`` (skirmish): 1 win, 0.5 draw, 0
loss; evaluated against a scripted opponent (``eval_opponent``), the learner's win rate."""
EVAL_ICE_TRANSFERRED = "eval/ice_transferred"
"""Per player-episode: ice delivered into the player's factories."""
EVAL_ICE_DUG = "eval/ice_dug"
"""Per player-episode: ice dug by the player's robots."""
EVAL_AVG_FACTORIES_ALIVE = "eval/avg_factories_alive"
"""Per player-episode: sum over steps of the player's live factories / ``max_cycles``."""
EVAL_FULL_LENGTH_FRACTION = "eval/full_length_fraction"
"""Fraction of episodes that ran to ``max_cycles`` and ended by the time limit (all players
still in the game)."""
EVAL_EPISODES = "eval/episodes"
"""Number of evaluation episodes behind the means."""

# --- training progress ---
CHARTS_SPS = "charts/sps"
"""Env steps per second of wall-clock time since the run (or its resumption) started."""
CHARTS_AGENT_SPS = "charts/agent_sps"
"""Entity steps (live slots acting) per second."""
CHARTS_ENV_STEPS = "charts/env_steps"
"""Env steps taken so far, summed over the training worlds."""
CHARTS_ITERATION = "charts/iteration"
"""Rollout-and-update iterations ("cycles") completed."""
CHARTS_LEARNING_RATE = "charts/learning_rate"
"""The optimiser's learning rate in the last update."""
CHARTS_EPISODE_LENGTH = "charts/episode_length"
"""Mean length of the training episodes that ended in the last rollout."""
CHARTS_ROLLOUT_SECONDS = "charts/rollout_seconds"
"""Wall-clock seconds of the last rollout (acting and env steps)."""
CHARTS_UPDATE_SECONDS = "charts/update_seconds"
"""Wall-clock seconds of the last update (advantages and gradient steps)."""
CHARTS_UPDATE_EPOCHS = "charts/update_epochs"
"""Epochs the last update ran: ``update_epochs``, fewer when ``target_kl`` stopped it early."""

# --- PPO losses and statistics ---
LOSSES_POLICY = "losses/policy_loss"
LOSSES_VALUE = "losses/value_loss"
LOSSES_ENTROPY = "losses/entropy"
LOSSES_APPROX_KL = "losses/approx_kl"
"""``((ratio - 1) - log ratio).mean()``, the low-variance KL estimator."""
LOSSES_OLD_APPROX_KL = "losses/old_approx_kl"
"""``(-log ratio).mean()``."""
LOSSES_CLIP_FRACTION = "losses/clip_fraction"
"""Fraction of active examples whose ratio left ``[1 - clip, 1 + clip]``."""
LOSSES_EXPLAINED_VARIANCE = "losses/explained_variance"
"""``1 - Var(returns - values) / Var(returns)`` over the active examples of the rollout."""

# --- agents ---
AGENTS_ALIVE_MEAN = "agents/alive_mean"
"""Mean number of live entities per world and step in the rollout."""
AGENTS_GROUPS_ACTIVE_MEAN = "agents/groups_active_mean"
"""Mean number of active trajectory groups per world and step in the rollout."""
AGENTS_SPAWNED = "agents/spawned"
"""Entities that appeared during the rollout (all worlds)."""
AGENTS_ILLEGAL_FRACTION = "agents/illegal_fraction"
"""Fraction of live entity-steps whose submitted action was masked (ran as the no-op)."""

#: the keys ``EvalResult.to_metrics`` writes on every env, in report order
GENERIC_EVAL_KEYS: tuple[str, ...] = (
    EVAL_EPISODE_LENGTH,
    EVAL_EPISODE_RETURN,
    EVAL_FULL_LENGTH_FRACTION,
)
#: the keys ``EvalResult.to_metrics`` always writes for harvest, in report order (the generic
#: ones plus the paper's harvest metrics); other envs add their own per-player names
EVAL_KEYS: tuple[str, ...] = (
    EVAL_EPISODE_LENGTH,
    EVAL_EPISODE_RETURN,
    EVAL_ICE_TRANSFERRED,
    EVAL_AVG_FACTORIES_ALIVE,
    EVAL_FULL_LENGTH_FRACTION,
)
#: the keys a run's printed summary shows when present (``spawnzoo train``), in order
REPORT_KEYS: tuple[str, ...] = (
    EVAL_EPISODE_LENGTH,
    EVAL_EPISODE_RETURN,
    EVAL_WIN,
    EVAL_ICE_TRANSFERRED,
    EVAL_AVG_FACTORIES_ALIVE,
    EVAL_FULL_LENGTH_FRACTION,
)
#: every key of this module
ALL_KEYS: tuple[str, ...] = tuple(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and "/" in value
)

#: the paper's milestones: first evaluated env-step count with >= 10% / >= 95% full-length
#: episodes
MILESTONE_THRESHOLDS: tuple[float, ...] = (0.10, 0.95)


def eval_key(name: str) -> str:
    """The logged key of an env's episode metric ``name``: ``"ice_dug"`` -> ``"eval/ice_dug"``."""
    return f"eval/{name}"


def std_key(key: str) -> str:
    """The key of the standard deviation of ``key``: ``"eval/x"`` -> ``"eval/x_std"``."""
    return f"{key}_std"


def milestone_key(threshold: float) -> str:
    """The summary key of a milestone: ``0.95`` -> ``"full_length_95pct"``."""
    return f"full_length_{round(threshold * 100):d}pct"
