"""The comparison report, built from the run directories alone: ``OUT/report.md`` + plots + GIF.

``build_report(out)`` reads ``OUT/runs/*/{config,summary}.json`` and ``metrics.jsonl`` (and
``OUT/compare.json`` for the labels, their order and the command, when it is there) and writes

* ``report.md``: per env, the evaluation protocol; every final metric of the held-out
  evaluation as IQM [95% CI] and mean over all seeds x episodes (``stats.aggregate``: rliable's
  stratified bootstrap over seeds); the probability that each label beats the reference label
  and how many times sooner it reaches the 10% / 95% milestones, with intervals; milestones,
  parameter count, wall-clock and training speed; the paper suite's tables in the paper's
  layout with its numbers beside ours; the generalisation table of ``--eval-on``; the command;
* ``plots/{env}__{metric}.png``: learning curves, mean over seeds with a 95% bootstrap band,
  x = env steps, one line per label; ``plots/{env}__profile.png``: the performance profile of
  the headline metric;
* ``{env}__best.gif``: one held-out evaluation episode (world 0) of the best label's best seed,
  rendered with its reloaded policy.

Nothing is recomputed from training: rerunning it (``spawnzoo report OUT``) on the same runs
gives the same report (the bootstrap is seeded).
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spawnzoo.envs import REGISTRY

from ..common import metrics as M
from ..common.machine import one_line
from ..common.protocol import sustained_milestone
from ..common.runs import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, atomic_write_text
from . import stats
from .generalise import read_results
from .plan import PLAN_FILE, RUNS_DIR
from .suite import SUITES, PaperTable

REPORT_FILE = "report.md"
PLOTS_DIR = "plots"
#: how methods are ranked for the GIF: these final means, compared in this order
#: how the best run is chosen on an env without headline metrics
RANKING = (M.EVAL_FULL_LENGTH_FRACTION, M.EVAL_EPISODE_RETURN, M.EVAL_EPISODE_LENGTH)
_MILESTONES = ("full_length_10pct", "full_length_95pct")


@dataclass
class Run:
    """One run directory as the report sees it.

    Attributes:
        path: the directory. label: its row. method, env_id, seed: from ``config.json``.
        config: its config fields. summary: ``summary.json`` (``None``: unfinished).
        rows: ``metrics.jsonl`` rows. machine: where it trained (``machine.describe()``, as
        recorded in ``config.json``; empty for runs older than that record).
    """

    path: Path
    label: str
    method: str
    env_id: str
    seed: int
    config: dict[str, Any]
    summary: dict[str, Any] | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.summary is not None

    def final(self, key: str) -> float | None:
        """The final evaluation's mean of ``key`` (``None`` if not reported)."""
        value = (self.summary or {}).get("final_metrics", {}).get(key)
        return None if value is None else float(value)


def read_runs(out: str | os.PathLike) -> tuple[list[Run], dict[str, Any]]:
    """Every run directory under ``OUT/runs`` (and ``compare.json``, or ``{}``).

    Runs are ordered as in ``compare.json``, then by name; labels come from it too (a run not
    listed there is labelled by its directory name, ``{env}__{label}__{seed}``, or else by its
    method).

    Raises:
        FileNotFoundError: ``OUT/runs`` does not exist or holds no run directory.
    """
    out = Path(out)
    root = out / RUNS_DIR
    plan = json.loads((out / PLAN_FILE).read_text()) if (out / PLAN_FILE).exists() else {}
    listed = {r["run_dir"]: (i, r["label"]) for i, r in enumerate(plan.get("runs", []))}
    dirs = sorted(p for p in root.glob("*") if (p / CONFIG_FILE).is_file()) if root.is_dir() else []
    if not dirs:
        raise FileNotFoundError(f"no run directories in {root}: run 'spawnzoo compare' first")
    runs = [read_run(path, listed.get(path.name, (0, None))[1]) for path in dirs]
    runs.sort(key=lambda r: (listed.get(r.path.name, (len(listed), ""))[0], r.path.name))
    return runs, plan


def read_run(path: str | os.PathLike, label: str | None = None) -> Run:
    """One run directory (``config.json``, ``summary.json`` if finished, ``metrics.jsonl``);
    ``label`` defaults to the one in a comparison's directory name ``{env}__{label}__{seed}``,
    else to the run's method."""
    path = Path(path)
    meta = json.loads((path / CONFIG_FILE).read_text())
    if label is None:
        parts = path.name.split("__")
        if len(parts) >= 3 and parts[0] == meta["env_id"] and parts[-1] == str(meta["seed"]):
            label = "__".join(parts[1:-1])
    summary = None
    if (path / SUMMARY_FILE).exists():
        summary = json.loads((path / SUMMARY_FILE).read_text())
    return Run(
        path=path,
        label=label or meta["method"],
        method=meta["method"],
        env_id=meta["env_id"],
        seed=int(meta["seed"]),
        config=meta.get("config", {}),
        summary=summary,
        rows=_read_rows(path / METRICS_FILE),
        machine=meta.get("machine", {}),
    )


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last row of a killed run
            break
    return rows


# ---------------------------------------------------------------------- numbers
def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population std (``ddof=0``) of ``values``; ``nan`` for none."""
    if not values:
        return math.nan, math.nan
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std())


def curve(runs: Sequence[Run], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Learning curve of ``key`` over seeds: ``(env_steps [K], mean [K], std [K])``.

    At each evaluated env-step count, the mean and std over the runs that logged ``key``
    there (the seeds share the evaluation schedule).
    """
    by_step: dict[int, list[float]] = defaultdict(list)
    for run in runs:
        for row in run.rows:
            if row.get(key) is not None:
                by_step[int(row["env_steps"])].append(float(row[key]))
    steps = np.array(sorted(by_step), dtype=np.int64)
    pairs = [mean_std(by_step[s]) for s in steps]
    mean = np.array([m for m, _ in pairs], dtype=float)
    std = np.array([s for _, s in pairs], dtype=float)
    return steps, mean, std


def pooled_milestone(runs: Sequence[Run], threshold: float) -> int | None:
    """The sustained milestone (``protocol.sustained_milestone``) of all seeds' evaluation
    episodes together: the first evaluated env-step count from which the full-length fraction of
    the pooled episodes stays at or above ``threshold`` (the paper pooled its 3 x 12 episodes)."""
    steps, mean, _ = curve(runs, M.EVAL_FULL_LENGTH_FRACTION)
    return sustained_milestone(steps.tolist(), mean.tolist(), threshold)


def pooled_episodes(runs: Sequence[Run], name: str) -> list[float]:
    """Every final evaluation episode's value of per-player metric ``name`` (or
    ``episode_length``), pooled over the seeds."""
    values: list[float] = []
    for run in runs:
        final = (run.summary or {}).get("final_eval") or {}
        if name == "episode_length":
            values += [float(v) for v in final.get("episode_lengths", [])]
        else:
            values += [float(v) for v in final.get("player_metrics", {}).get(name, [])]
    return values


def episode_values(run: Run, key: str) -> list[float]:
    """The final (held-out) evaluation's per-episode values of ``key`` for ``run``
    (``evaluation_values`` of its ``final_eval``); the seed's final mean alone when the summary
    has no episodes of it."""
    values = evaluation_values((run.summary or {}).get("final_eval") or {}, key)
    if values:
        return values
    value = run.final(key)
    return [] if value is None else [value]


def evaluation_values(final: dict[str, Any], key: str) -> list[float]:
    """Per-episode values of ``key`` in an ``EvalResult.to_dict()``: episode lengths, full
    length as 0/1, the learner's players' values of a per-player metric, or an env-level
    metric's; ``[]`` when it has none."""
    name = key.split("/", 1)[-1]
    if key == M.EVAL_EPISODE_LENGTH and final.get("episode_lengths"):
        return [float(v) for v in final["episode_lengths"]]
    if key == M.EVAL_FULL_LENGTH_FRACTION and final.get("full_length"):
        return [float(v) for v in final["full_length"]]
    values = (final.get("player_metrics") or {}).get(name)
    if values:
        players = int(final.get("num_players") or 1)
        if final.get("opponent") is not None and players > 1:
            values = values[::players]  # the learner played player 0 only
        return [float(v) for v in values]
    values = (final.get("env_metrics") or {}).get(name)
    return [float(v) for v in values] if values else []


def scores(runs: Sequence[Run], key: str) -> np.ndarray | None:
    """``[seeds, episodes]`` final scores of ``key`` (``None`` when no run has any)."""
    per_seed = [v for r in runs if (v := episode_values(r, key))]
    return stats.score_matrix(per_seed) if per_seed else None


def seed_means(runs: Sequence[Run], key: str) -> list[float]:
    """Each seed's final mean of ``key`` over its held-out episodes."""
    return [float(np.mean(v)) for r in runs if (v := episode_values(r, key))]


def aggregate(runs: Sequence[Run], key: str, reps: int) -> stats.Aggregate | None:
    """``stats.aggregate`` of ``key`` over the runs' seeds x episodes (``None``: no values)."""
    matrix = scores(runs, key)
    return None if matrix is None else stats.aggregate(matrix, reps=reps)


# ---------------------------------------------------------------------- formatting
def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table: thousands separators for big ones, ``–`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def fmt_interval(interval: stats.Interval | None, digits: int = 3) -> str:
    """``value [low, high]``; the value alone when the interval is a point (one seed)."""
    if interval is None or not stats.is_number(interval.value):
        return "–"
    if interval.low == interval.high == interval.value:
        return fmt(interval.value, digits)
    value, low, high = (fmt(v, digits) for v in interval)
    return f"{value} [{low}, {high}]"


def fmt_aggregate(agg: stats.Aggregate | None) -> str:
    """A table cell: ``IQM [95% CI]; mean``."""
    if agg is None:
        return "–"
    return f"{fmt_interval(agg.iqm)}; {fmt(agg.mean.value)}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> str:
    """A GitHub table; ``align`` has one ``l`` or ``r`` per column."""
    marks = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _label(key: str) -> str:
    return key.split("/", 1)[-1].replace("_", " ")


# ---------------------------------------------------------------------- the report
def build_report(
    out: str | os.PathLike,
    *,
    gif: bool = True,
    window_size: int = 360,
    reps: int = stats.DEFAULT_REPS,
) -> Path:
    """Write ``OUT/report.md``, its plots and (with ``gif``) the best run's GIF.

    Args:
        out: the comparison's output folder.
        gif: render the best method's evaluation episode (needs pygame and imageio).
        window_size: pixels of the GIF's map area.
        reps: bootstrap replications of every interval.

    Returns:
        The path of ``report.md``.

    Raises:
        FileNotFoundError: no run directories under ``OUT/runs``.
    """
    out = Path(out)
    runs, plan = read_runs(out)
    finished = [r for r in runs if r.finished]
    parts = ["# Comparison report", ""]
    command = plan.get("command")
    earlier = [c for c in plan.get("earlier_commands", []) if c]
    if earlier and command:  # reruns into this folder with other methods, variants or seeds
        lines = [shlex.join(c) for c in [*earlier, command]]
        parts += ["Commands (oldest first, into this folder):", "", "```bash", *lines, "```", ""]
    elif command:
        parts += ["Command:", "", "```bash", shlex.join(command), "```", ""]
    parts += machine_section(runs)
    unfinished = [r for r in runs if not r.finished]
    if unfinished:
        names = ", ".join(f"`{r.path.name}`" for r in unfinished)
        parts += [
            f"**{len(unfinished)} run(s) not finished** (left out below; rerun the command to "
            f"resume them): {names}",
            "",
        ]
    suite = plan.get("suite")
    # the reference of P(improvement) and milestone ratios: a suite's first variant (the
    # paper's separate trajectories), else the last method listed (hybrid by default)
    reference = None
    if suite in SUITES and finished:
        reference = finished[0].label
    for env_id in dict.fromkeys(r.env_id for r in finished):
        env_runs = [r for r in finished if r.env_id == env_id]
        parts += env_section(
            out,
            env_id,
            env_runs,
            gif=gif,
            window_size=window_size,
            reference=reference,
            reps=reps,
        )
    if suite in SUITES and finished:
        parts += suite_section(finished, SUITES[suite].tables, SUITES[suite].method)
    if finished:
        parts += generalisation_section(out, finished, plan.get("eval_on") or [], reps)
    path = out / REPORT_FILE
    atomic_write_text(path, "\n".join(parts).rstrip() + "\n")
    return path


def machine_section(runs: Sequence[Run]) -> list[str]:
    """Where the runs trained (CPU, its feature level, torch and its kernels), and what that
    means for the numbers."""
    machines = dict.fromkeys(one_line(r.machine) for r in runs if r.machine)
    if len(runs) > sum(1 for r in runs if r.machine):
        machines["not recorded (runs older than the machine record)"] = None
    lines = [f"Machine: {m}" if len(machines) == 1 else f"- {m}" for m in machines]
    if len(machines) > 1:
        lines.insert(0, "Machines:\n")
    return [
        *lines,
        "",
        "Learned numbers depend on the machine: torch picks its floating-point kernels by the "
        "CPU's instruction set (AVX2, AVX-512), so the same seeds train to other results on "
        "another CPU. Compare methods within one report; spawnzoo's docs/testing.md says how "
        "far results moved between machines.",
        "",
    ]


def _by_label(runs: Sequence[Run]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.label, []).append(run)
    return groups


def table_keys(runs: Sequence[Run]) -> tuple[list[str], list[str]]:
    """``(main, other)`` evaluation keys present in the runs' final metrics: the shared
    ``metrics.EVAL_KEYS`` and the env's ``headline_metrics`` first, then its other
    per-episode metrics."""
    present: dict[str, None] = {}
    headline: tuple[str, ...] = ()
    for run in runs:
        for key in (run.summary or {}).get("final_metrics", {}):
            if key.startswith("eval/") and not key.endswith("_std") and key != M.EVAL_EPISODES:
                present[key] = None
        env_id = run.config.get("env_id")
        if env_id in REGISTRY:
            headline = REGISTRY[env_id].headline_metrics
    main = [k for k in M.EVAL_KEYS if k in present]
    main += [f"eval/{h}" for h in headline if f"eval/{h}" in present and f"eval/{h}" not in main]
    other = [k for k in present if k not in main]
    return main, other


def env_section(
    out: Path,
    env_id: str,
    runs: Sequence[Run],
    *,
    gif: bool,
    window_size: int,
    reference: str | None = None,
    reps: int = stats.DEFAULT_REPS,
) -> list[str]:
    """The report's part about one env: protocol, tables, plots, GIF.

    Args:
        reference: the label the others are compared with (probability of improvement,
            milestone ratios); default the last label.
        reps: bootstrap replications of every interval.
    """
    groups = _by_label(runs)
    first = runs[0].config
    seeds = sorted({r.seed for r in runs})
    budget = max(r.config.get("total_timesteps", 0) for r in runs)
    preset = first.get("preset")
    settings = first.get("env_settings") or {}
    lines = [
        f"## {env_id}" + (f", preset `{preset}`" if preset else ""),
        "",
        f"Env settings over the preset: `{json.dumps(settings)}`. Budget: {budget:,} env steps "
        f"per learning run; seeds {', '.join(map(str, seeds))}.",
        "",
    ]
    lines += protocol_section(runs, groups, reps)
    main, other = table_keys(runs)
    ranking = ranking_keys(env_id)
    lines += [
        "### Final evaluation (held-out maps)",
        "",
        "Each cell: IQM [95% CI]; mean, over all seeds x held-out episodes of the label (the "
        "IQM is the mean of the middle 50% of those values; the interval is rliable's "
        "stratified bootstrap over seeds).",
        "",
    ]
    header = ["method", "seeds", "episodes", *(_label(k) for k in main)]
    rows = []
    for label, rs in groups.items():
        aggs = [aggregate(rs, k, reps) for k in main]
        episodes = max((a.episodes for a in aggs if a is not None), default=0)
        rows.append([label, str(len(rs)), f"{episodes} each", *(fmt_aggregate(a) for a in aggs)])
    lines += [markdown_table(header, rows, "lrr" + "r" * len(main)), ""]
    if len(groups) > 1:
        lines += comparison_section(groups, ranking, reference, reps)
    lines += ["### Learning, size and speed", ""]
    lines += [
        "Milestones: env steps until 10% / 95% of a run's in-training evaluation episodes ran "
        "the full length and stayed there (sustained); mean over seeds [95% CI], a seed that "
        "never reached it counted at the budget (then marked ≥), with the seeds that reached "
        "it. Wall-clock and speeds: mean over seeds; agent-steps/s counts live entities "
        "acting per second of training.",
        "",
    ]
    header = [
        "method",
        "10% full length",
        "95% full length",
        "parameters",
        "env steps",
        "wall-clock",
        "env steps/s",
        "agent-steps/s",
    ]
    rows = []
    for label, rs in groups.items():
        cells = [label]
        for key in _MILESTONES:
            cells.append(_milestone_cell(rs, key, budget, reps))
        cells += [
            fmt(mean_std([r.summary["parameter_count"] for r in rs])[0]),
            fmt(mean_std([r.summary["env_steps"] for r in rs])[0]),
            _duration(mean_std([r.summary["wall_clock_s"] for r in rs])[0]),
            fmt(mean_std([r.summary["env_sps"] for r in rs])[0]),
            fmt(mean_std([r.summary["agent_sps"] for r in rs])[0]),
        ]
        rows.append(cells)
    lines += [markdown_table(header, rows, "lrrrrrrr"), ""]
    if other:
        lines += [
            "### Other evaluation metrics",
            "",
            "IQM [95% CI]; mean over seeds x held-out episodes, as above.",
            "",
        ]
        header = ["method", *(_label(k) for k in other)]
        rows = [
            [label, *(fmt_aggregate(aggregate(rs, k, reps)) for k in other)]
            for label, rs in groups.items()
        ]
        lines += [markdown_table(header, rows, "l" + "r" * len(other)), ""]
    plots = plot_curves(out / PLOTS_DIR, env_id, groups, main, reps=reps)
    profile = plot_profile(out / PLOTS_DIR, env_id, groups, ranking[0], reps=reps)
    if plots or profile:
        lines += [
            "### Learning curves and performance profile",
            "",
            "Curves: the in-training evaluations, mean over seeds with a 95% bootstrap band "
            "over seeds (none with one seed). Profile: the fraction of held-out episodes of "
            f"each label whose {_label(ranking[0])} is above each value, with its 95% band.",
            "",
        ]
        lines += [f"![{_label(k)}]({p.relative_to(out).as_posix()})" for k, p in plots.items()]
        if profile is not None:
            lines.append(f"![performance profile]({profile.relative_to(out).as_posix()})")
        lines.append("")
    best = best_run(groups, ranking)
    if best is not None:
        lines += ["### Best method", ""]
        lines.append(
            f"**{best.label}** ranks first by final {', then '.join(_label(k) for k in ranking)}"
            f" (its best seed: {best.seed}, `{best.path.name}`)."
        )
        if gif:
            path = out / f"{env_id}__best.gif"
            try:
                steps = render_episode(best, path, window_size=window_size)
            except (ImportError, ValueError, FileNotFoundError, RuntimeError) as err:
                lines.append(f"(No GIF: {err})")
            else:
                lines += [
                    f"Its episode on world 0 of its held-out final maps ({steps} steps):",
                    "",
                    f"![{best.label} evaluation episode]({path.name})",
                ]
        lines.append("")
    return lines


def protocol_section(runs: Sequence[Run], groups: dict[str, list[Run]], reps: int) -> list[str]:
    """The evaluation protocol the runs followed, and what the seed count allows."""
    first = runs[0].config
    episodes = first.get("eval_episodes", first.get("eval_envs"))
    per_label = min(len(rs) for rs in groups.values())
    lines = [
        "### Evaluation protocol",
        "",
        f"- In training: {episodes} episodes of at most {_eval_length(runs[0])} steps on maps "
        f"derived from each run's seed (different per seed, never a training map: checked), "
        f"{_eval_cadence(groups)}. They give the learning curves and the milestones, which are "
        "sustained: the first evaluation from which the fraction stays at or above the "
        "threshold.",
        f"- Final numbers: {episodes} episodes on held-out maps of each run's seed that no "
        "in-training evaluation played.",
        f"- Intervals: 95%, rliable's stratified bootstrap over seeds ({reps:,} resamples, "
        "seeded); see spawnzoo's docs/evaluation.md.",
    ]
    if first.get("eval_opponent"):
        lines.append(
            f"- The method plays player 0 against the scripted `{first['eval_opponent']}`; "
            "evaluation metrics are player 0's."
        )
    old = [r.path.name for r in runs if "protocol" not in (r.summary or {})]
    if old:
        lines.append(
            f"- **{len(old)} run(s) predate this protocol** (final numbers from the last "
            "in-training evaluation on shared maps, first-crossing milestones): "
            + ", ".join(f"`{n}`" for n in old)
        )
    resumed = [r.path.name for r in runs if (r.summary or {}).get("resumed_from")]
    if resumed:
        lines.append(
            f"- {len(resumed)} run(s) were resumed from a checkpoint (their training worlds "
            "were reset anew there; `summary.json` says where): "
            + ", ".join(f"`{n}`" for n in resumed)
        )
    if per_label < 2:
        lines.append(
            "- **One seed shows that the pipeline works, not a ranking**: with one seed per "
            "method there is no interval over seeds and the order can change with the seed. "
            "Run `--seeds 5` (or more) for a comparison to cite."
        )
    elif per_label < 5:
        lines.append(
            f"- {per_label} seeds per label: the intervals are wide; 5 or more seeds make a "
            "comparison to cite."
        )
    return [*lines, ""]


def comparison_section(
    groups: dict[str, list[Run]], ranking: Sequence[str], reference: str | None, reps: int
) -> list[str]:
    """Each label against the reference: P(improvement) and milestone ratios."""
    ref = reference if reference in groups else list(groups)[-1]
    key = ranking[0]
    budget = max(r.summary["env_steps"] for rs in groups.values() for r in rs)
    lines = [
        f"### Against `{ref}`",
        "",
        f"P(improvement): the probability that a random seed of the label ends with a higher "
        f"final mean {_label(key)} than a random seed of `{ref}` (0.5: no difference), "
        "[95% CI]. Sooner: the mean env steps of "
        f"`{ref}`'s seeds to the sustained milestone over the label's (2.0: twice as fast), "
        "[95% CI]. A seed that never got there counts at the budget "
        f"({budget:,} env steps), so the true ratio is larger (≥: a `{ref}` seed did not get "
        "there), smaller (≤: a seed of the label did not) or either (~: both).",
        "",
    ]
    ref_means = seed_means(groups[ref], key)
    rows = []
    for label, rs in groups.items():
        if label == ref:
            continue
        mine = seed_means(rs, key)
        poi = None
        if mine and ref_means:
            poi = stats.probability_of_improvement(mine, ref_means, reps)
        cells = [label, fmt_interval(poi, 2)]
        for mkey in _MILESTONES:
            ratio = stats.milestone_ratio(
                [r.summary["milestones"].get(mkey) for r in groups[ref]],
                [r.summary["milestones"].get(mkey) for r in rs],
                budget,
                reps,
            )
            if ratio is None:
                cells.append("–")
            else:
                mark = {">=": "≥ ", "<=": "≤ ", "~": "~ "}.get(ratio.bound, "")
                cells.append(mark + fmt_interval(ratio.interval, 2))
        rows.append(cells)
    header = ["method", f"P({_label(key)} better)", "10% sooner by", "95% sooner by"]
    return [*lines, markdown_table(header, rows, "lrrr"), ""]


def _milestone_cell(runs: Sequence[Run], key: str, budget: int, reps: int) -> str:
    """Mean [95% CI] over seeds of a sustained milestone, unreached seeds at the budget."""
    values = [r.summary["milestones"].get(key) for r in runs]
    reached = sum(v is not None for v in values)
    if not reached:
        return f"– (0/{len(runs)})"
    matrix = np.array([[budget if v is None else v] for v in values], dtype=float)
    mean = stats.aggregate(matrix, reps=reps).mean
    mark = "≥ " if reached < len(runs) else ""
    return f"{mark}{fmt_interval(mean)} ({reached}/{len(runs)})"


def _finals(runs: Sequence[Run], key: str) -> list[float]:
    return [v for r in runs if (v := r.final(key)) is not None]


def _duration(seconds: float) -> str:
    if math.isnan(seconds):
        return "–"
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _eval_cadence(groups: dict[str, list[Run]]) -> str:
    """When the runs evaluated: ``every 4,096 env steps and at the end`` if every run did so
    alike, else per label (each run's ``eval_every`` cycles of ``num_envs * num_steps``)."""

    def cadence(run: Run) -> str:
        c = run.config
        every = c.get("eval_every")
        if not every:
            return "only at the end"
        if c.get("num_envs") and c.get("num_steps"):
            return f"every {every * c['num_envs'] * c['num_steps']:,} env steps and at the end"
        return f"every {every} cycle(s) and at the end"

    per_label = {
        label: ", ".join(dict.fromkeys(cadence(r) for r in runs)) for label, runs in groups.items()
    }
    if len(set(per_label.values())) == 1:
        return next(iter(per_label.values()))
    return "; ".join(f"{label}: {text}" for label, text in per_label.items())


def _eval_length(run: Run) -> Any:
    final = (run.summary or {}).get("final_eval") or {}
    return final.get("max_cycles", run.config.get("eval_max_cycles"))


def ranking_keys(env_id: str) -> tuple[str, ...]:
    """Final metrics that rank the runs of ``env_id``, most important first: the env's first
    headline metric (harvest: ice transferred; skirmish: win), then ``RANKING``."""
    spec = REGISTRY.get(env_id)
    first = (f"eval/{spec.headline_metrics[0]}",) if spec and spec.headline_metrics else ()
    return first + tuple(k for k in RANKING if k not in first)


def best_run(groups: dict[str, list[Run]], ranking: Sequence[str] = RANKING) -> Run | None:
    """The best seed's run of the best label, ranked by the final means of ``ranking``."""

    def score(values: Iterable[float | None]) -> tuple[float, ...]:
        return tuple(-math.inf if v is None or math.isnan(v) else v for v in values)

    if not groups:
        return None
    label = max(groups, key=lambda g: score(mean_std(_finals(groups[g], k))[0] for k in ranking))
    return max(groups[label], key=lambda r: score(r.final(k) for k in ranking))


def seed_curves(runs: Sequence[Run], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(env_steps [K], values [seeds, K])`` of ``key`` at the evaluations every run logged."""
    per_run = [
        {int(row["env_steps"]): float(row[key]) for row in r.rows if row.get(key) is not None}
        for r in runs
    ]
    common = sorted(set.intersection(*(set(c) for c in per_run))) if per_run else []
    values = np.array([[c[s] for s in common] for c in per_run], dtype=float)
    return np.array(common, dtype=np.int64), values.reshape(len(per_run), len(common))


def plot_curves(
    folder: Path,
    env_id: str,
    groups: dict[str, list[Run]],
    keys: Sequence[str],
    *,
    reps: int = stats.DEFAULT_REPS,
) -> dict[str, Path]:
    """One PNG per metric: mean over seeds with a 95% bootstrap band over seeds
    (``stats.curve_band``) per label, x = env steps.

    Returns:
        metric key -> PNG path, for the metrics some run logged.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for key in keys:
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        drawn = False
        for label, runs in groups.items():
            steps, values = seed_curves(runs, key)
            if steps.size == 0:
                continue
            drawn = True
            style = {"marker": "o", "markersize": 3} if steps.size < 3 else {}
            seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
            if len(runs) > 1:
                mean, band = stats.curve_band(values, reps)
            else:
                mean, band = values[0], None
            (line,) = ax.plot(steps, mean, label=f"{label} ({seeds})", **style)
            if band is not None:
                ax.fill_between(steps, band[0], band[1], color=line.get_color(), alpha=0.2)
        if drawn:
            ax.set_xlabel("env steps")
            ax.set_ylabel(_label(key))
            ax.set_title(f"{env_id}: {_label(key)}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
            fig.tight_layout()
            path = folder / f"{env_id}__{key.replace('/', '_')}.png"
            fig.savefig(path)
            written[key] = path
        plt.close(fig)
    return written


def plot_profile(
    folder: Path,
    env_id: str,
    groups: dict[str, list[Run]],
    key: str,
    *,
    reps: int = stats.DEFAULT_REPS,
) -> Path | None:
    """The performance profile of ``key`` (``stats.performance_profile``): per label, the
    fraction of held-out episodes above each value, with its 95% band; ``None`` without
    values."""
    matrices = {label: m for label, rs in groups.items() if (m := scores(rs, key)) is not None}
    if not matrices:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    low = min(float(m.min()) for m in matrices.values())
    high = max(float(m.max()) for m in matrices.values())
    taus = np.linspace(low, high if high > low else low + 1.0, 60)
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for label, matrix in matrices.items():
        profile, band = stats.performance_profile(matrix, taus, reps)
        (line,) = ax.plot(taus, profile, label=f"{label} ({matrix.shape[0]} seeds)")
        if matrix.shape[0] > 1:
            ax.fill_between(taus, band[0], band[1], color=line.get_color(), alpha=0.2)
    ax.set_xlabel(_label(key) + " (held-out episode)")
    ax.set_ylabel("fraction of episodes above")
    ax.set_title(f"{env_id}: performance profile of {_label(key)}")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    path = folder / f"{env_id}__profile.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def render_episode(run: Run, path: Path, *, window_size: int = 360) -> int:
    """Render world 0 of ``run``'s held-out final evaluation (its final map seed and eval length)
    with its reloaded policy to ``path``; returns the number of steps played."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # draw off-screen on a headless machine
    from spawnzoo.envs.core.recording import record_video

    from ..loading import find_run, load_policy, rebuild_config

    config = rebuild_config(find_run(run.path), device="cpu")
    settings = {**config.env_settings, "max_cycles": config.eval_horizon}
    seed = config.final_map_seed
    episode = record_video(
        config.env_id,
        path,
        lambda world, seed: load_policy(run.path, world, seed=seed),
        seed=seed,
        preset=config.preset,
        window_size=window_size,
        **settings,
    )
    return episode.steps


# ---------------------------------------------------------------------- generalisation
def generalisation_section(
    out: Path, runs: Sequence[Run], targets: Sequence[str], reps: int
) -> list[str]:
    """The ``--eval-on`` table: per method, its headline metric and full-length fraction on
    its own held-out maps and on each target, as IQM [95% CI]; mean over seeds x episodes."""
    results = read_results(out)
    targets = list(dict.fromkeys([*targets, *(t for _, t in results)]))
    if not targets:
        return []
    lines = [
        "## Generalisation",
        "",
        "Each method trained on one configuration and evaluated, on the held-out maps of each "
        "run's seed, on others (`--eval-on`). Each cell: IQM [95% CI]; mean over seeds x "
        "episodes; “trained” is the configuration it learned on.",
        "",
    ]
    errors = []
    for env_id in dict.fromkeys(r.env_id for r in runs):
        groups = _by_label([r for r in runs if r.env_id == env_id])
        trained = runs[0].config.get("preset")
        for key in dict.fromkeys((ranking_keys(env_id)[0], M.EVAL_FULL_LENGTH_FRACTION)):
            header = ["method", f"{trained} (trained)", *targets]
            rows = []
            for label, rs in groups.items():
                cells = [label, fmt_aggregate(aggregate(rs, key, reps))]
                for target in targets:
                    per_seed = []
                    for r in rs:
                        found = results.get((r.path.name, target))
                        if found is None:
                            continue
                        if "error" in found:
                            errors.append(f"{label} on {target}: {found['error']}")
                            continue
                        values = evaluation_values(found["episodes_detail"], key)
                        if values:
                            per_seed.append(values)
                    cells.append(
                        fmt_aggregate(stats.aggregate(stats.score_matrix(per_seed), reps=reps))
                        if per_seed
                        else "–"
                    )
                rows.append(cells)
            lines += [f"### {env_id}: {_label(key)}", ""]
            lines += [markdown_table(header, rows, "l" + "r" * (len(header) - 1)), ""]
    if errors:
        lines += ["Not evaluated:", ""]
        lines += [f"- {e}" for e in dict.fromkeys(errors)]
        lines.append("")
    return lines


# ---------------------------------------------------------------------- suites
def suite_section(runs: Sequence[Run], tables: Sequence[PaperTable], method: str) -> list[str]:
    """The suite's tables in the paper's layout, ours beside the paper's numbers."""
    groups = _by_label(runs)
    lines = [
        "## The paper's tables",
        "",
        "Ours: ice transferred and episode length as mean (std) over all final evaluation "
        "episodes of all seeds; milestones on those episodes pooled over seeds, as in the "
        "paper. Paper: its 48x48 map, 1000-step evaluation, 102,400 env steps "
        "(the paper, §3.5-3.6). Missing runs show as “not run”.",
        "",
    ]
    header = [
        "Variant",
        "Ice (ours)",
        "Ep. length (ours)",
        "10% by (ours)",
        "95% by (ours)",
        "Ice (paper)",
        "Ep. length (paper)",
        "10% by (paper)",
        "95% by (paper)",
    ]
    skipped = [
        t.title for t in tables if not any(f"{method}-{r.variant}" in groups for r in t.rows)
    ]
    if skipped:
        lines += [f"Tables without any run left out: {'; '.join(skipped)}.", ""]
    for table in tables:
        if table.title in skipped:
            continue
        rows = []
        for row in table.rows:
            rs = groups.get(f"{method}-{row.variant}", [])
            if rs:
                ours = [
                    _paper_style(pooled_episodes(rs, "ice_transferred")),
                    _paper_style(pooled_episodes(rs, "episode_length")),
                    fmt(pooled_milestone(rs, 0.10)),
                    fmt(pooled_milestone(rs, 0.95)),
                ]
            else:
                ours = ["not run"] + [""] * 3
            rows.append([row.name, *ours, row.ice, row.length, row.full_10, row.full_95])
        lines += [f"### {table.title} (paper §{table.section})", ""]
        lines += [markdown_table(header, rows, "l" + "r" * 8), ""]
    return lines


def _paper_style(values: Sequence[float]) -> str:
    """``mean (std)`` as the paper writes it; ``–`` for no values."""
    if not values:
        return "–"
    mean, std = mean_std(values)
    return f"{fmt(mean)} ({fmt(std)})"
