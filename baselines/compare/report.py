"""The comparison report, built from the run directories alone: ``OUT/report.md`` + plots + GIF.

``build_report(out)`` reads ``OUT/runs/*/{config,summary}.json`` and ``metrics.jsonl`` (and
``OUT/compare.json`` for the labels, their order and the command, when it is there) and writes

* ``report.md``: per env, a table of the final evaluation metrics (mean +- std over seeds of
  each seed's evaluation mean), then the env steps to the 10% / 95% full-length milestones,
  parameter count, wall-clock and training speed; the paper suite's tables in the paper's
  layout with its numbers beside ours; the exact command;
* ``plots/{env}__{metric}.png``: learning curves, mean over seeds with a +-1 std band, x = env
  steps, one line per method;
* ``{env}__best.gif``: one evaluation episode (evaluation seed, world 0, evaluation length) of
  the best method's best seed, rendered with its reloaded policy.

Nothing is recomputed from training: rerunning it (``spawnzoo report OUT``) on the same runs
gives the same report.
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
from ..common.runs import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, atomic_write_text
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
    listed there is labelled by its method).

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
    ``label`` defaults to its method."""
    path = Path(path)
    meta = json.loads((path / CONFIG_FILE).read_text())
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
    stats = [mean_std(by_step[s]) for s in steps]
    mean = np.array([m for m, _ in stats], dtype=float)
    std = np.array([s for _, s in stats], dtype=float)
    return steps, mean, std


def pooled_milestone(runs: Sequence[Run], threshold: float) -> int | None:
    """First evaluated env-step count at which ``threshold`` of all seeds' evaluation episodes
    together were full length (the paper's milestone over its 3 x 12 episodes)."""
    steps, mean, _ = curve(runs, M.EVAL_FULL_LENGTH_FRACTION)
    reached = np.flatnonzero(mean >= threshold - 1e-9)
    return int(steps[reached[0]]) if reached.size else None


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


# ---------------------------------------------------------------------- formatting
def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table: thousands separators for big ones, ``–`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def fmt_mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` (``±`` left out for a single value)."""
    mean, std = mean_std(values)
    if len(values) < 2:
        return fmt(mean)
    return f"{fmt(mean)} ± {fmt(std)}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> str:
    """A GitHub table; ``align`` has one ``l`` or ``r`` per column."""
    marks = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _label(key: str) -> str:
    return key.split("/", 1)[-1].replace("_", " ")


# ---------------------------------------------------------------------- the report
def build_report(out: str | os.PathLike, *, gif: bool = True, window_size: int = 360) -> Path:
    """Write ``OUT/report.md``, its plots and (with ``gif``) the best run's GIF.

    Args:
        out: the comparison's output folder.
        gif: render the best method's evaluation episode (needs pygame and imageio).
        window_size: pixels of the GIF's map area.

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
    if command:
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
    for env_id in dict.fromkeys(r.env_id for r in finished):
        env_runs = [r for r in finished if r.env_id == env_id]
        parts += env_section(out, env_id, env_runs, gif=gif, window_size=window_size)
    suite = plan.get("suite")
    if suite in SUITES and finished:
        parts += suite_section(finished, SUITES[suite].tables, SUITES[suite].method)
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
    out: Path, env_id: str, runs: Sequence[Run], *, gif: bool, window_size: int
) -> list[str]:
    """The report's part about one env: settings, tables, plots, GIF."""
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
        f"per learning run; seeds {', '.join(map(str, seeds))}. Evaluation: "
        f"{first.get('eval_episodes', first.get('eval_envs'))} episodes of at most "
        f"{_eval_length(runs[0])} steps on maps of each run's own seed, "
        f"{_eval_cadence(groups)}"
        + (
            f"; the method plays player 0 against the scripted `{first['eval_opponent']}` "
            "(evaluation metrics are player 0's)."
            if first.get("eval_opponent")
            else "."
        ),
        "",
    ]
    main, other = table_keys(runs)
    lines += [
        "### Final evaluation",
        "",
        "Mean ± std over seeds of each seed's final evaluation mean.",
        "",
    ]
    header = ["method", "seeds", *(_label(k) for k in main)]
    rows = [
        [label, str(len(rs)), *(fmt_mean_std(_finals(rs, k)) for k in main)]
        for label, rs in groups.items()
    ]
    lines += [markdown_table(header, rows, "lr" + "r" * len(main)), ""]
    lines += ["### Learning, size and speed", ""]
    lines += [
        "Milestones: env steps until 10% / 95% of the evaluation episodes of all seeds together "
        "ran the full length (first evaluation at or above), with the seeds that reached it on "
        "their own. Wall-clock and speeds: mean over seeds; agent-steps/s counts live entities "
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
        for threshold, key in zip(M.MILESTONE_THRESHOLDS, _MILESTONES):
            reached = sum(r.summary["milestones"].get(key) is not None for r in rs)
            cells.append(f"{fmt(pooled_milestone(rs, threshold))} ({reached}/{len(rs)})")
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
        lines += ["### Other evaluation metrics", ""]
        header = ["method", *(_label(k) for k in other)]
        rows = [
            [label, *(fmt_mean_std(_finals(rs, k)) for k in other)] for label, rs in groups.items()
        ]
        lines += [markdown_table(header, rows, "l" + "r" * len(other)), ""]
    plots = plot_curves(out / PLOTS_DIR, env_id, groups, main)
    if plots:
        lines += ["### Learning curves", ""]
        lines += [f"![{_label(k)}]({p.relative_to(out).as_posix()})" for k, p in plots.items()]
        lines.append("")
    ranking = ranking_keys(env_id)
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


def plot_curves(
    folder: Path, env_id: str, groups: dict[str, list[Run]], keys: Sequence[str]
) -> dict[str, Path]:
    """One PNG per metric: mean over seeds with a +-1 std band per label, x = env steps.

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
            steps, mean, std = curve(runs, key)
            if steps.size == 0:
                continue
            drawn = True
            style = {"marker": "o", "markersize": 3} if steps.size < 3 else {}
            seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
            (line,) = ax.plot(steps, mean, label=f"{label} ({seeds})", **style)
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
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
