"""The paper's evaluation protocol (section 7), shared by every method and reference policy.

After each training cycle a learner plays ``num_envs`` fresh worlds to the end of their episode
(at most ``max_cycles`` steps, the preset's ``eval_max_cycles``; the paper uses 12 worlds and
1000 steps) with its current policy and reports, on any env:

* **episode length** (env-level): steps until a world's episode ended;
* **episode return** (per player, ``episode_return``): the summed rewards of all the player's
  entities over the episode, computed by the evaluation from the per-slot rewards;
* whatever **per-player metrics** the env's ``FinalState.metrics`` report, under their own
  names (harvest: ``ice_transferred``, ``avg_factories_alive``, ...; skirmish: ``win``, ...),
  one value per player and episode, and its other numeric env-level metrics;
* the **full-length fraction**: episodes that ran to ``max_cycles`` and ended by the time limit
  rather than a terminal state. In harvest a terminal state is "no player has a factory left"
  (1 player) or "at most one player has a factory left" (2 players), so a full-length episode is
  one where every player kept a factory to the end, as the paper requires.

**Self-play or a scripted opponent.** By default (``opponent=None``) the evaluated policy plays
every player, as in training. With ``opponent="heuristic"`` (any name of
``make_policy(env_id, name, world)``: ``random``, the env's scripted policies, or
``"module:attr"``) the policy plays player 0 only and the named scripted policy plays every
other player; the per-player means then cover player 0 alone, so on skirmish ``eval/win`` is
the learner's win rate against that opponent. The opponent's own numbers stay in
``EvalResult.player_metrics`` (every player) and in ``to_dict()``.

``MilestoneTracker`` turns the full-length fractions of successive evaluations into the
protocol's milestones: the first evaluated env-step count from which >= 10% (>= 95%) of the
evaluation episodes stay full length (sustained; the first crossing is kept too). Which maps an
evaluation plays (derived from the run's seed, disjoint from training, a held-out final set) is
``protocol.py``'s business; ``PPOConfig.eval_kwargs`` and ``final_eval_kwargs`` put it together.

    result = evaluate(lambda world: make_policy("harvest-v0", "heuristic", world, seed=0),
                      "harvest-v0", {"preset": "tiny"}, max_cycles=128, seed=420)
    result.full_length_fraction, result.ice_transferred, result.to_metrics()

    vs = evaluate(lambda world: make_policy("skirmish-v0", "random", world, seed=0),
                  "skirmish-v0", {"preset": "tiny"}, max_cycles=128, seed=420,
                  opponent="heuristic")
    vs.player_mean("win")   # random's win rate against the heuristic
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from spawnzoo.envs.core.batched import BatchedEnv
from spawnzoo.envs.core.policies import Policy
from spawnzoo.envs.core.registry import make_batched, spec
from spawnzoo.envs.core.registry import make_policy as registry_policy

from .metrics import (
    EPISODE_RETURN,
    EVAL_EPISODE_LENGTH,
    EVAL_EPISODES,
    EVAL_FULL_LENGTH_FRACTION,
    MILESTONE_THRESHOLDS,
    eval_key,
    milestone_key,
    std_key,
)
from .protocol import DEFAULT_EVAL_EPISODES, FRACTION_EPS


@dataclass
class EvalResult:
    """Per-episode results of one evaluation, with their means.

    ``N`` episodes (one per world), ``P`` players.

    Attributes:
        max_cycles: the evaluation's time limit.
        num_players: ``P``.
        episode_lengths: ``[N]`` steps each episode lasted.
        time_limit: ``[N]`` whether the episode ended by the time limit (some entity was
            ``truncated``), not by a terminal state.
        player_metrics: metric name -> ``[N * P]`` values, episode-major (episode 0's players
            first), from the env's ``FinalState.metrics["per_player"]`` plus
            ``episode_return``; every player, the opponent's included.
        env_metrics: other env-level numeric metrics, name -> ``[N]`` values.
        opponent: the scripted policy that played players ``1..P-1`` (``None``: self-play,
            the evaluated policy played every player).
        wall_clock_s: seconds the evaluation took (ignored by ``==``).
    """

    max_cycles: int
    num_players: int
    episode_lengths: list[int]
    time_limit: list[bool]
    player_metrics: dict[str, list[float]] = field(default_factory=dict)
    env_metrics: dict[str, list[float]] = field(default_factory=dict)
    opponent: str | None = None
    wall_clock_s: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        n = len(self.episode_lengths)
        if len(self.time_limit) != n:
            raise ValueError(
                f"time_limit has {len(self.time_limit)} entries for {n} episode lengths"
            )
        for name, values in self.player_metrics.items():
            if len(values) != n * self.num_players:
                raise ValueError(
                    f"player metric {name!r} has {len(values)} values, expected episodes x "
                    f"players = {n} x {self.num_players}"
                )
        if self.opponent is not None and self.num_players < 2:
            raise ValueError(
                f"opponent {self.opponent!r} needs at least 2 players, got {self.num_players}"
            )

    @classmethod
    def from_episodes(
        cls,
        episodes: Sequence[Mapping[str, Any]],
        time_limit: Sequence[bool],
        max_cycles: int,
        wall_clock_s: float = 0.0,
        opponent: str | None = None,
    ) -> EvalResult:
        """Collect the env's episode metric dicts (``FinalState.metrics`` entries).

        Args:
            episodes: ``[N]`` dicts ``{"episode_length": int, "per_player": [{name: value}]}``
                plus any other env-level numbers (values that are not numbers or booleans, e.g.
                text, are left out).
            time_limit: ``[N]`` whether each episode ended by the time limit.
            max_cycles: the evaluation's time limit.
            wall_clock_s: seconds the evaluation took.
            opponent: the scripted policy of players ``1..P-1``, if any.
        """
        if not episodes:
            raise ValueError("an evaluation needs at least one episode")
        num_players = len(episodes[0].get("per_player", ()))
        player: dict[str, list[float]] = {}
        env: dict[str, list[float]] = {}
        for ep in episodes:
            for row in ep.get("per_player", ()):
                for name, value in row.items():
                    if _is_number(value) or isinstance(value, (bool, np.bool_)):
                        player.setdefault(name, []).append(float(value))
            for name, value in ep.items():
                if name not in ("episode_length", "per_player") and _is_number(value):
                    env.setdefault(name, []).append(float(value))
        return cls(
            max_cycles=max_cycles,
            num_players=num_players,
            episode_lengths=[int(ep["episode_length"]) for ep in episodes],
            time_limit=[bool(t) for t in time_limit],
            player_metrics=player,
            env_metrics=env,
            opponent=opponent,
            wall_clock_s=wall_clock_s,
        )

    @property
    def num_episodes(self) -> int:
        """``N``."""
        return len(self.episode_lengths)

    @property
    def full_length(self) -> list[bool]:
        """``[N]``: ran all ``max_cycles`` steps and ended by the time limit."""
        return [
            length >= self.max_cycles and limit
            for length, limit in zip(self.episode_lengths, self.time_limit)
        ]

    @property
    def full_length_fraction(self) -> float:
        """Fraction of episodes that were full length."""
        return float(np.mean(self.full_length))

    @property
    def episode_length(self) -> float:
        """Mean episode length."""
        return float(np.mean(self.episode_lengths))

    @property
    def learner_players(self) -> tuple[int, ...]:
        """Players the evaluated policy played: ``(0,)`` against an opponent, else all."""
        return (0,) if self.opponent is not None else tuple(range(self.num_players))

    @property
    def episode_return(self) -> float:
        """Mean return (summed entity rewards) per learner player-episode."""
        return self.player_mean(EPISODE_RETURN)

    @property
    def ice_transferred(self) -> float:
        """Mean ice transferred per player-episode."""
        return self.player_mean("ice_transferred")

    @property
    def avg_factories_alive(self) -> float:
        """Mean over player-episodes of (sum over steps of live factories) / ``max_cycles``."""
        return self.player_mean("avg_factories_alive")

    def player_mean(self, name: str) -> float:
        """Mean of per-player metric ``name`` over the learner's player-episodes (all ``N * P``
        in self-play, the ``N`` of player 0 against an opponent)."""
        return float(np.mean(self.learner_values(name)))

    def player_std(self, name: str) -> float:
        """Population standard deviation of ``name`` over the learner's player-episodes."""
        return float(np.std(self.learner_values(name)))

    def learner_values(self, name: str) -> list[float]:
        """The values of per-player metric ``name`` of the learner's players, episode-major.

        Raises:
            KeyError: the env reports no such metric (the message lists those it reports).
        """
        try:
            values = self.player_metrics[name]
        except KeyError:
            raise KeyError(
                f"no per-player metric {name!r}; this env reports {sorted(self.player_metrics)}"
            ) from None
        if self.opponent is None:
            return values
        return values[:: self.num_players]

    def to_metrics(self) -> dict[str, float]:
        """Flat ``{key: value}`` for logging: means, ``_std`` companions and counts."""
        out = {
            EVAL_EPISODE_LENGTH: self.episode_length,
            std_key(EVAL_EPISODE_LENGTH): float(np.std(self.episode_lengths)),
            EVAL_FULL_LENGTH_FRACTION: self.full_length_fraction,
            EVAL_EPISODES: float(self.num_episodes),
        }
        for name in self.player_metrics:
            out[eval_key(name)] = self.player_mean(name)
            out[std_key(eval_key(name))] = self.player_std(name)
        for name, values in self.env_metrics.items():
            out[eval_key(name)] = float(np.mean(values))
            out[std_key(eval_key(name))] = float(np.std(values))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The per-episode lists as plain JSON-able data (for ``summary.json``)."""
        return {
            "max_cycles": self.max_cycles,
            "num_players": self.num_players,
            "episode_lengths": list(self.episode_lengths),
            "time_limit": list(self.time_limit),
            "full_length": self.full_length,
            "player_metrics": {k: list(v) for k, v in self.player_metrics.items()},
            "env_metrics": {k: list(v) for k, v in self.env_metrics.items()},
            "opponent": self.opponent,
            "learner_players": list(self.learner_players),
            "wall_clock_s": self.wall_clock_s,
        }


def evaluate(
    make_policy: Callable[[BatchedEnv], Policy],
    env_id: str,
    settings: Mapping[str, Any],
    *,
    num_envs: int = DEFAULT_EVAL_EPISODES,
    max_cycles: int,
    seed: int,
    opponent: str | None = None,
) -> EvalResult:
    """Play ``num_envs`` worlds to the end of one episode each and collect their metrics.

    The worlds are built without automatic reset and reset with ``seed`` (world ``i`` draws
    from stream ``i`` of that seed), so a fixed ``seed`` plays the same maps at every
    evaluation of a run. A world whose episode ended waits, unchanged (``auto_reset=False``),
    until every world has ended. The policy runs under ``torch.no_grad()``; putting a network
    in eval mode (batch norm!) and back is the caller's business, e.g. in ``make_policy``.

    Args:
        make_policy: called once with the evaluation world; returns an object with
            ``act(batch) -> [E, S]`` int actions (a numpy array or a CPU tensor).
        env_id: registered env id, e.g. ``"harvest-v0"``.
        settings: env settings as for ``make_batched`` (``preset=`` and overrides). A
            ``max_cycles`` entry (the training limit) is replaced by ``max_cycles``.
        num_envs: ``E``, worlds (= episodes) to play; the paper uses 12, the protocol 32.
        max_cycles: the evaluation time limit (the preset's ``eval_max_cycles``).
        seed: reset seed of the evaluation worlds (and of the opponent's generator).
        opponent: ``None`` (self-play: the policy plays every player) or a policy name of
            ``make_policy(env_id, name, world)`` that plays every player but player 0.

    Returns:
        The ``EvalResult`` of the ``E`` episodes, in world order.

    Raises:
        ValueError: ``num_envs`` or ``max_cycles`` below 1, ``settings`` naming
            ``num_envs`` / ``auto_reset`` (the evaluation sets those), an unknown
            ``opponent`` (listing the env's policies), or an opponent on a one-player env.
        RuntimeError: some world did not end within ``max_cycles`` steps (a broken env).
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if max_cycles < 1:
        raise ValueError(f"max_cycles must be >= 1, got {max_cycles}")
    reserved = sorted({"num_envs", "auto_reset"} & set(settings))
    if reserved:
        raise ValueError(f"settings must not contain {reserved}: the evaluation sets them")
    start = time.perf_counter()
    world = make_batched(
        env_id, num_envs=num_envs, auto_reset=False, **{**settings, "max_cycles": max_cycles}
    )
    check_opponent(opponent, env_id, world)
    batch = world.reset(seed=seed)
    policy = make_policy(world)
    scripted = None if opponent is None else registry_policy(env_id, opponent, world, seed=seed)
    players = np.arange(world.num_players)
    returns = np.zeros((num_envs, world.num_players))  # [E, P]
    episodes: list[Mapping[str, Any] | None] = [None] * num_envs
    time_limit = [False] * num_envs
    finished = np.zeros(num_envs, dtype=bool)
    with torch.no_grad():
        for _ in range(max_cycles):
            actions = _as_numpy(policy.act(batch))
            if scripted is not None:
                theirs = _as_numpy(scripted.act(batch))
                actions = np.where(batch.owner == 0, actions, theirs)
            acted_owner = batch.owner  # [E, S]: the owner of the entity acting in each slot
            batch = world.step(np.where(finished[:, None], 0, actions))
            mine = acted_owner[:, None, :] == players[None, :, None]  # [E, P, S]
            step_return = (mine * batch.reward[:, None, :]).sum(-1)  # [E, P]
            returns += np.where(finished[:, None], 0.0, step_return)
            if batch.final is not None:
                for i, metrics in zip(batch.final.env_index.tolist(), batch.final.metrics):
                    if not finished[i]:  # (a world reports its end once)
                        finished[i] = True
                        episodes[i] = _with_returns(metrics, returns[i], env_id)
                        time_limit[i] = bool(batch.truncated[i].any())
            if finished.all():
                break
    if not finished.all():
        raise RuntimeError(
            f"{env_id}: worlds {np.flatnonzero(~finished).tolist()} did not end within "
            f"max_cycles={max_cycles} steps"
        )
    return EvalResult.from_episodes(
        episodes,  # type: ignore[arg-type]  # all filled: every world finished
        time_limit,
        max_cycles,
        wall_clock_s=time.perf_counter() - start,
        opponent=opponent,
    )


def protocol_record(config: Any, tracker: MilestoneTracker | None = None) -> dict[str, Any]:
    """What ``summary.json`` records about how a run was evaluated (``"protocol"``): episode
    count and length, the two map seeds, and the milestone definition (with the first
    crossings when ``tracker`` is given).

    Args:
        config: the run's ``PPOConfig``.
        tracker: the run's milestones.
    """
    record: dict[str, Any] = {
        "eval_episodes": config.eval_episodes,
        "eval_max_cycles": config.eval_horizon,
        "eval_map_seed": config.eval_map_seed,
        "final_map_seed": config.final_map_seed,
        "final": "held-out",
        "milestones": "sustained",
    }
    if tracker is not None:
        record["first_crossings"] = tracker.first_crossings()
    return record


def finish_run(
    run: Any,
    config: Any,
    tracker: MilestoneTracker,
    final: EvalResult,
    *,
    env_steps: int,
    agent_steps: int,
    parameter_count: int,
    last_eval_metrics: Mapping[str, float],
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """Close a run the protocol's way (every learner ends here): ``final``, the evaluation on
    the held-out maps, gives the run's final numbers; the milestones, the ``protocol`` record,
    the last in-training evaluation and the opponent go into ``summary.json`` beside the
    learner's own ``extra``.

    Args:
        run: the run's ``RunDir``. config: its ``PPOConfig``. tracker: its milestones.
        final: the held-out evaluation (``config.final_eval_kwargs``, ``final_map_seed``).
        last_eval_metrics: the metrics of the last in-training evaluation.

    Returns:
        ``run.finish(...)``'s ``RunResult``.
    """
    return run.finish(
        env_steps=env_steps,
        agent_steps=agent_steps,
        parameter_count=parameter_count,
        final_metrics=final.to_metrics(),
        milestones=tracker.milestones(),
        final_eval=final.to_dict(),
        extra={
            "protocol": protocol_record(config, tracker),
            "last_eval_metrics": dict(last_eval_metrics),
            "eval_opponent": config.eval_opponent,
            **(extra or {}),
        },
    )


def policy_names(env_id: str) -> list[str]:
    """The policy names ``make_policy`` knows for ``env_id``: ``random`` and the env's own."""
    return sorted({"random", *spec(env_id).policies})


def check_policy_name(env_id: str, name: str) -> None:
    """Raise ``ValueError`` unless ``make_policy(env_id, name, world)`` can build ``name``
    (one of ``policy_names(env_id)``, or any ``"module:attr"``); the message lists the env's
    policies."""
    if ":" not in name and name not in policy_names(env_id):
        raise ValueError(
            f"{env_id} has no policy {name!r}; its policies: {policy_names(env_id)} "
            "(or a 'module:attr' class)"
        )


def check_opponent(opponent: str | None, env_id: str, world: BatchedEnv) -> None:
    """Raise ``ValueError`` unless ``opponent`` can play players ``1..P-1`` of ``world``: a
    policy of ``env_id`` (see ``check_policy_name``) on a world of at least 2 players. ``None``
    (self-play) always can. Learners call it before training, so a bad opponent fails at once.
    """
    if opponent is None:
        return
    check_policy_name(env_id, opponent)
    if world.num_players < 2:
        raise ValueError(
            f"an evaluation opponent ({opponent!r}) needs at least 2 players; this {env_id} "
            f"world has {world.num_players} (set players=2 if the env has that setting)"
        )


def _with_returns(metrics: Mapping[str, Any], returns: np.ndarray, env_id: str) -> dict:
    """The episode's metric dict with ``episode_return`` added to each player's row.

    Args:
        metrics: one ``FinalState.metrics`` entry. returns: ``[P]`` the players' returns.
    """
    rows = metrics.get("per_player") or [{} for _ in returns]
    if len(rows) != len(returns):
        raise ValueError(
            f"{env_id} reported per_player metrics for {len(rows)} players, expected {len(returns)}"
        )
    per_player = [{**row, EPISODE_RETURN: float(r)} for row, r in zip(rows, returns)]
    return {**metrics, "per_player": per_player}


class MilestoneTracker:
    """The protocol's milestones, fed one evaluation at a time (``protocol.py``).

    A threshold's milestone is **sustained**: the first evaluated env-step count from which the
    full-length fraction stayed at or above the threshold in every evaluation since; a dip below
    it clears the milestone until the fraction is back up. The first crossing (the paper's
    definition, later dips ignored) is kept too (``first_crossings``).

    Args:
        thresholds: fractions in ``(0, 1]``; the paper's 10% and 95% by default.

    Example:
        >>> tracker = MilestoneTracker()
        >>> tracker.update(4096, 2 / 12), tracker.update(8192, 0.0), tracker.update(12288, 1.0)
        ([0.1], [], [0.1, 0.95])
        >>> tracker.milestones()
        {'full_length_10pct': 12288, 'full_length_95pct': 12288}
        >>> tracker.first_crossings()
        {'full_length_10pct': 4096, 'full_length_95pct': 12288}
    """

    def __init__(self, thresholds: Sequence[float] = MILESTONE_THRESHOLDS):
        bad = [t for t in thresholds if not 0.0 < t <= 1.0]
        if bad or not thresholds:
            raise ValueError(f"thresholds must be fractions in (0, 1], got {list(thresholds)}")
        self.thresholds = tuple(sorted(thresholds))
        self.reached: dict[float, int | None] = dict.fromkeys(self.thresholds)
        self.crossed: dict[float, int | None] = dict.fromkeys(self.thresholds)
        self.last_env_steps: int | None = None

    def update(self, env_steps: int, full_length_fraction: float) -> list[float]:
        """Record one evaluation.

        Args:
            env_steps: training env steps when the evaluated policy was frozen.
            full_length_fraction: its ``EvalResult.full_length_fraction``.

        Returns:
            The thresholds whose sustained milestone starts at this evaluation (reached now,
            below at the evaluation before).

        Raises:
            ValueError: ``env_steps`` went backwards, or the fraction is not in ``[0, 1]``.
        """
        if self.last_env_steps is not None and env_steps < self.last_env_steps:
            raise ValueError(
                f"evaluations must come in order: env_steps {env_steps} after {self.last_env_steps}"
            )
        if not 0.0 <= full_length_fraction <= 1.0:
            raise ValueError(f"full_length_fraction must be in [0, 1], got {full_length_fraction}")
        self.last_env_steps = int(env_steps)
        new = []
        for t in self.thresholds:
            if full_length_fraction >= t - FRACTION_EPS:
                if self.reached[t] is None:
                    self.reached[t] = int(env_steps)
                    new.append(t)
                if self.crossed[t] is None:
                    self.crossed[t] = int(env_steps)
            else:
                self.reached[t] = None
        return new

    def milestone(self, threshold: float) -> int | None:
        """The sustained milestone of ``threshold`` so far; ``None`` if not reached."""
        return self.reached[threshold]

    def milestones(self) -> dict[str, int | None]:
        """``{"full_length_10pct": steps or None, ...}`` (sustained) for ``summary.json``."""
        return {milestone_key(t): v for t, v in self.reached.items()}

    def first_crossings(self) -> dict[str, int | None]:
        """Like ``milestones`` with the first crossing of each threshold (dips ignored)."""
        return {milestone_key(t): v for t, v in self.crossed.items()}

    def state_dict(self) -> dict[str, Any]:
        """Plain data to store in a checkpoint."""
        return {
            "thresholds": list(self.thresholds),
            "reached": [self.reached[t] for t in self.thresholds],
            "crossed": [self.crossed[t] for t in self.thresholds],
            "last_env_steps": self.last_env_steps,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned (the thresholds must match)."""
        if list(state["thresholds"]) != list(self.thresholds):
            raise ValueError(
                f"checkpoint tracks thresholds {state['thresholds']}, this tracker "
                f"{list(self.thresholds)}"
            )
        self.reached = dict(zip(self.thresholds, state["reached"]))
        # checkpoints from before the sustained definition kept first crossings only
        self.crossed = dict(zip(self.thresholds, state.get("crossed", state["reached"])))
        self.last_env_steps = state["last_env_steps"]


def _as_numpy(actions: Any) -> np.ndarray:
    """``[E, S]`` actions from a numpy array or a (possibly GPU) tensor."""
    if isinstance(actions, torch.Tensor):
        return actions.detach().cpu().numpy()
    return np.asarray(actions)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
