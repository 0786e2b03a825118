"""What a comparison runs: methods (or suite variants) x seeds, each as one config, one run dir.

A ``Comparison`` is the whole request (env, methods, seeds, budget, shared settings); its
``runs()`` are the ``RunSpec``s, one per (label, seed), and ``config(spec)`` builds each run's
config dataclass. Every run of a comparison shares the env settings, the budget
(``total_timesteps``), the evaluation protocol (``eval_episodes``, ``eval_max_cycles``; maps
derived from each run's seed, ``common/protocol.py``) and the seeds; methods keep their own
learning defaults unless ``--config`` sets a field for all of them.

Each (label, seed) has a stable run directory ``OUT/runs/{env}__{label}__{seed}``: rerunning
the same command finds it again, skips it when it has a ``summary.json`` and resumes it from
its latest checkpoint otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spawnzoo.envs.core.registry import REGISTRY, load, presets

from ..registry import METHODS
from .generalise import parse_targets
from .suite import SUITES

#: run directories of a comparison live in ``OUT/RUNS_DIR``
RUNS_DIR = "runs"
#: the comparison's own record (command, env, runs and their labels) in ``OUT``
PLAN_FILE = "compare.json"
#: config fields a comparison owns: set from its options, never from ``--config``
OWNED_FIELDS = ("env_id", "preset", "env_settings", "seed", "run_root", "run_name", "resume")
#: config fields that may differ between the run on disk and the rerun of the same command
VOLATILE_FIELDS = ("progress", "resume", "run_root", "device")
#: seeds of a comparison unless the command says otherwise: five, so the report's intervals over
#: seeds mean something (the quick preset runs one, and its report says it shows the pipeline)
DEFAULT_SEEDS = (1, 2, 3, 4, 5)
#: env steps between evaluations (and checkpoints) of every learning run, unless the command
#: says otherwise: the paper's cycle of 16 worlds x 256 steps
DEFAULT_EVAL_INTERVAL = 4096

_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")


def parse_count(text: str | int) -> int:
    """A step count as people write it: ``"100k"`` -> 100000, ``"1.5M"``, ``"102_400"``.

    Raises:
        ValueError: not a non-negative whole number with an optional ``k`` / ``M`` suffix.
    """
    if isinstance(text, int):
        value = text
    else:
        match = _COUNT.match(str(text).replace("_", "").replace(",", ""))
        if match is None:
            raise ValueError(
                f"malformed step count {text!r}: write a whole number, optionally with k or M "
                "(100000, 100k, 1.5M)"
            )
        number = float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()]
        if number != int(number):
            raise ValueError(f"step count {text!r} is not a whole number of steps")
        value = int(number)
    if value < 0:
        raise ValueError(f"step count must be >= 0, got {value}")
    return value


def parse_seeds(text: str | int | Sequence[int]) -> tuple[int, ...]:
    """``"3"`` -> seeds 1, 2, 3 (the learners' default seed is 1); ``"1,4,7"`` -> those seeds.

    Raises:
        ValueError: not a positive count or a comma-separated list of distinct seeds >= 0.
    """
    if isinstance(text, int):
        text = str(text)
    if not isinstance(text, str):
        seeds = tuple(int(s) for s in text)
    elif "," in text:
        try:
            seeds = tuple(int(s) for s in text.split(",") if s.strip())
        except ValueError:
            raise ValueError(
                f"--seeds: expected a count or seeds like 1,2,3, got {text!r}"
            ) from None
    else:
        try:
            count = int(text)
        except ValueError:
            raise ValueError(
                f"--seeds: expected a count or seeds like 1,2,3, got {text!r}"
            ) from None
        if count < 1:
            raise ValueError(f"--seeds: the number of seeds must be >= 1, got {count}")
        seeds = tuple(range(1, count + 1))
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: need distinct seeds >= 0, got {list(seeds)}")
    return seeds


@dataclass(frozen=True)
class ComparePreset:
    """A named comparison setting (``--preset NAME``); options given explicitly override it.

    Attributes:
        env_preset: the env's own preset the runs use.
        methods: methods compared.
        total_timesteps: the budget of every learning run.
        seeds: the seeds.
        config: config fields set for every method.
        description: one line for ``--help`` and the docs.
    """

    env_preset: str
    methods: tuple[str, ...]
    total_timesteps: int
    seeds: tuple[int, ...]
    config: dict[str, Any]
    description: str


#: every method, in the report's order: references first, then the learners
DEFAULT_METHODS = ("random", "heuristic", "independent", "mappo", "monolithic", "hybrid")

#: comparison presets (``--preset quick``); any other ``--preset`` is the env's own preset
COMPARE_PRESETS: dict[str, ComparePreset] = {
    "quick": ComparePreset(
        env_preset="tiny",
        methods=DEFAULT_METHODS,
        total_timesteps=49_152,
        seeds=(1,),
        config={
            # 48 cycles of 16 worlds x 64 steps (one training episode per world and cycle)
            "num_envs": 16,
            "num_steps": 64,
            "num_minibatches": 4,
            "update_epochs": 4,
            # evaluation to 256 steps: a factory that gets no ice dies of thirst at step ~150,
            # so the episode length separates surviving policies from the rest
            "eval_max_cycles": 256,
        },
        description="all six methods on harvest tiny, 49,152 env steps, one seed, evaluation "
        "to 256 steps: under 10 minutes with --jobs 2 on two idle cores",
    ),
}


@dataclass(frozen=True)
class RunSpec:
    """One run of a comparison.

    Attributes:
        label: its row in the tables: the method, or the suite variant (``hybrid-top4-adv``).
        method: a key of ``registry.METHODS``.
        seed: the run's seed.
        overrides: config fields of this label only (a suite variant's switches).
    """

    label: str
    method: str
    seed: int
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def run_name(self, env_id: str) -> str:
        """The stable run directory name ``{env}__{label}__{seed}``."""
        return f"{env_id}__{self.label}__{self.seed}"


@dataclass(frozen=True)
class Comparison:
    """Everything one ``spawnzoo compare`` command asks for.

    Attributes:
        env_id: registered env id. preset: the env's preset (``None``: its defaults).
        env_settings: env settings over the preset's (``--set``).
        methods: methods compared (ignored by a suite, which runs its own variants).
        seeds: seeds of every label.
        total_timesteps: the budget of every learning run (``None``: the methods' default).
        config: config fields set for every method (``--config`` and the compare preset).
        suite: a key of ``suite.SUITES`` or ``None``. variants: the suite's variants to run
            (empty: all).
        out: the output folder. command: the command line, for the report.
        eval_interval: env steps between evaluations of every learning run. Each method's
            ``eval_every`` (and ``checkpoint_every``, unless ``config`` or a suite variant sets
            it) becomes the whole number of its own cycles (``num_envs * num_steps``) nearest
            to it, at least one, so methods with different cycle lengths are evaluated equally
            often and their milestones have the same resolution. ``None``: each method's own
            ``eval_every`` (or ``config``'s, which cannot go with an interval).
        eval_on: generalisation targets (``generalise.parse_target``: ``paper``,
            ``small+players=2``) every finished run is evaluated on after training.
    """

    env_id: str
    preset: str | None
    env_settings: Mapping[str, Any]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    total_timesteps: int | None
    config: Mapping[str, Any]
    suite: str | None
    variants: tuple[str, ...]
    out: Path
    command: tuple[str, ...] = ()
    eval_interval: int | None = None
    eval_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.env_id not in REGISTRY:
            raise ValueError(f"unknown env {self.env_id!r}; registered: {sorted(REGISTRY)}")
        if self.preset is not None and self.preset not in presets(self.env_id):
            raise ValueError(
                f"unknown preset {self.preset!r} for {self.env_id}; env presets: "
                f"{sorted(presets(self.env_id))}, comparison presets: {sorted(COMPARE_PRESETS)}"
            )
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; available: {sorted(METHODS)}")
        if not self.methods and self.suite is None:
            raise ValueError("no methods to compare: pass --methods a,b,...")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"--methods names a method twice: {list(self.methods)}")
        if self.suite is not None:
            if self.suite not in SUITES:
                raise ValueError(f"unknown suite {self.suite!r}; available: {sorted(SUITES)}")
            missing = sorted(set(self.variants) - set(SUITES[self.suite].variants))
            if missing:
                raise ValueError(
                    f"suite {self.suite!r} has no variant(s) {missing}; it has "
                    f"{sorted(SUITES[self.suite].variants)}"
                )
        if self.eval_interval is not None:
            if self.eval_interval < 1:
                raise ValueError(f"--eval-interval must be >= 1 env step, got {self.eval_interval}")
            if "eval_every" in self.config:
                raise ValueError(
                    "--config eval_every (cycles of each method) and --eval-interval (env "
                    "steps) set the same thing: give one of them"
                )
        object.__setattr__(self, "eval_on", parse_targets(self.env_id, self.eval_on))
        owned = sorted(set(self.config) & set(OWNED_FIELDS))
        if owned:
            raise ValueError(
                f"--config must not set {owned}: use --env, --preset, --set, --seeds, --out"
            )
        fields = set().union(*(self._fields(m) for m in self._methods()))
        foreign = sorted(set(self.config) - fields)
        if foreign:
            raise ValueError(
                f"--config field(s) {foreign} belong to none of the methods "
                f"{list(self._methods())}; see 'spawnzoo train METHOD --help'"
            )

    # ------------------------------------------------------------------ runs
    def runs(self) -> list[RunSpec]:
        """Every (label, seed), label-major, in the order given."""
        if self.suite is not None:
            suite = SUITES[self.suite]
            keys = self.variants or tuple(suite.variants)
            return [
                RunSpec(f"{suite.method}-{key}", suite.method, seed, suite.variants[key])
                for key in keys
                for seed in self.seeds
            ]
        return [RunSpec(m, m, seed) for m in self.methods for seed in self.seeds]

    @property
    def runs_root(self) -> Path:
        """``OUT/runs``."""
        return self.out / RUNS_DIR

    def run_dir(self, spec: RunSpec) -> Path:
        """The stable directory of ``spec``."""
        return self.runs_root / spec.run_name(self.env_id)

    def config_for(self, spec: RunSpec) -> Any:
        """The config dataclass of ``spec``'s run (validated by the method's config class).

        Raises:
            ValueError: the method's config rejects the settings (its own message).
        """
        cls = _config_class(spec.method)
        names = self._fields(spec.method)
        values: dict[str, Any] = {
            "env_id": self.env_id,
            "preset": self.preset,
            "env_settings": dict(self.env_settings),
            "seed": spec.seed,
            "run_root": str(self.runs_root),
            "run_name": spec.run_name(self.env_id),
            "resume": True,
            "progress": False,
        }
        if self.total_timesteps is not None:
            values["total_timesteps"] = self.total_timesteps
        opponent = REGISTRY[self.env_id].eval_opponent
        if opponent is not None and "eval_opponent" in names:
            values["eval_opponent"] = opponent  # win rates against the env's scripted opponent
        values.update({k: v for k, v in self.config.items() if k in names})
        overrides = dict(spec.overrides)
        if "env_settings" in overrides:  # a variant's env settings go over the command's
            overrides["env_settings"] = {**values["env_settings"], **overrides["env_settings"]}
        values.update(overrides)
        try:
            config = cls(**values)
            every = self.eval_every(config)
            if every is not None and "eval_every" not in spec.overrides:
                values["eval_every"] = every
                if "checkpoint_every" not in {**self.config, **spec.overrides}:
                    values["checkpoint_every"] = every
                config = cls(**values)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{spec.label} (seed {spec.seed}): {err}") from None
        return config

    def eval_every(self, config: Any) -> int | None:
        """The ``eval_every`` (in cycles of ``config``) nearest to ``eval_interval`` env steps,
        at least 1; ``None`` when there is no interval or ``config`` has no cycles."""
        if self.eval_interval is None or not hasattr(config, "batch_size"):
            return None
        return max(1, round(self.eval_interval / config.batch_size))

    def check(self) -> None:
        """Build every run's config now, so bad settings fail before anything runs."""
        for spec in self.runs():
            self.config_for(spec)

    # ------------------------------------------------------------------ record
    def to_dict(self) -> dict[str, Any]:
        """``compare.json``: the request and its runs (label, method, seed, directory)."""
        return {
            "env_id": self.env_id,
            "preset": self.preset,
            "env_settings": dict(self.env_settings),
            "methods": list(self.methods),
            "seeds": list(self.seeds),
            "total_timesteps": self.total_timesteps,
            "config": dict(self.config),
            "suite": self.suite,
            "variants": list(self.variants),
            "eval_interval": self.eval_interval,
            "eval_on": list(self.eval_on),
            "command": list(self.command),
            "runs": [
                {
                    "label": s.label,
                    "method": s.method,
                    "seed": s.seed,
                    "run_dir": s.run_name(self.env_id),
                }
                for s in self.runs()
            ],
        }

    def _methods(self) -> tuple[str, ...]:
        return (SUITES[self.suite].method,) if self.suite is not None else self.methods

    @staticmethod
    def _fields(method: str) -> set[str]:
        return {f.name for f in dataclasses.fields(_config_class(method)) if f.init}


def _config_class(method: str) -> type:
    return load(METHODS[method].config)


def comparable(config: Any) -> dict[str, Any]:
    """``config``'s fields as JSON would store them, without ``VOLATILE_FIELDS``: equal for
    the same run settings whether the config is a dataclass or read back from ``config.json``."""
    values = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    values = {k: v for k, v in values.items() if k not in VOLATILE_FIELDS}
    return json.loads(json.dumps(values, sort_keys=True))


def merge_records(earlier: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` (this command's ``to_dict()``) with what an earlier ``compare.json`` in the
    same folder listed and this command does not.

    A rerun into the same ``--out`` with other methods, variants or seeds must not drop the
    earlier runs from the report (they would lose their labels): their entries stay in
    ``runs``, first and in their order; ``methods``, ``variants``, ``seeds`` and ``eval_on``
    are the unions; ``suite`` falls back to the earlier one; the earlier commands are kept, oldest
    first, in ``earlier_commands``. The other fields (env, budget, settings) are this command's:
    each run directory holds its own config.
    """

    def union(key: str) -> list[Any]:
        return list(dict.fromkeys([*earlier.get(key, []), *record.get(key, [])]))

    merged = dict(record)
    mine = {r["run_dir"] for r in record.get("runs", [])}
    kept = [r for r in earlier.get("runs", []) if r.get("run_dir") not in mine]
    merged["runs"] = [*kept, *record.get("runs", [])]
    for key in ("methods", "variants", "seeds", "eval_on"):
        merged[key] = union(key)
    merged["suite"] = record.get("suite") or earlier.get("suite")
    commands = [*earlier.get("earlier_commands", []), earlier.get("command")]
    commands = [c for c in commands if c and c != list(record.get("command", []))]
    merged["earlier_commands"] = list({json.dumps(c): c for c in commands}.values())
    return merged
