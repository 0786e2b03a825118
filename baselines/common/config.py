"""The typed PPO config every method's config extends, and its command line.

Field names follow CleanRL's ``ppo.py``; each field's docstring (the string right below it) is
its documentation and its ``--help`` text. Method configs subclass ``PPOConfig`` and add their
own fields the same way::

    @dataclass
    class HybridConfig(PPOConfig):
        grouping: Literal["unit", "global"] = "unit"
        \"\"\"How entities are split into trajectory groups.\"\"\"

``config_from_cli(HybridConfig, ["--total-timesteps", "8192", "--set", "players=2"])`` builds
one from command-line words: every field is an option ``--field-name`` typed from its
annotation (``--anneal-lr`` / ``--no-anneal-lr`` for booleans, ``none`` for optional values),
``--env`` is short for ``--env-id``, and ``--set KEY=VALUE`` adds an env setting.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, TypeVar, Union

import torch

from spawnzoo.envs.core.registry import REGISTRY, env_config, make_batched, presets

from . import protocol
from .evaluation import check_policy_name
from .protocol import DEFAULT_EVAL_EPISODES

C = TypeVar("C")

#: maps at least this wide (the paper's 48 x 48) get the methods' full-size networks (the
#: paper's where it gives one); smaller maps a CPU-sized network. Every method sizes its network
#: from the map (``PPOConfig.map_side``), never from a preset's name, so every env's presets
#: follow one rule; explicit ``width``/``depth``/... settings win.
LARGE_MAP_SIDE = 48


@dataclass
class PPOConfig:
    """Settings of a PPO run on a spawnzoo env (paper section 6.2 defaults where it has them)."""

    # --- experiment ---
    env_id: str = "harvest-v0"
    """Registered env id."""
    preset: str | None = "small"
    """Named preset of the env (``tiny``, ``small``, ``paper``); ``none`` for the env defaults."""
    env_settings: dict[str, Any] = field(default_factory=dict)
    """Env settings over the preset's, e.g. ``{"players": 2}`` (``--set players=2``)."""
    seed: int = 1
    """Seed of the run: torch, numpy and the training worlds (world ``i`` uses stream ``i``)."""
    torch_deterministic: bool = True
    """Deterministic torch kernels (``seeding.seed_everything``): a run repeats bit for bit on
    the same machine. ``false`` lets torch pick its fastest kernels (cuDNN benchmarking on)."""
    device: str = "cpu"
    """Torch device of the learner (``cpu``, ``cuda``, ``cuda:1``)."""

    # --- rollouts ---
    total_timesteps: int = 102_400
    """Training env steps summed over worlds (the paper: 25 cycles of 4096). 0 only evaluates."""
    num_envs: int = 16
    """Training worlds stepped together."""
    num_steps: int = 256
    """Steps per world in one rollout; a rollout ("cycle") is ``num_envs * num_steps`` steps."""

    # --- optimisation ---
    learning_rate: float = 2e-4
    """Adam's learning rate (the start value when annealed)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over the iterations."""
    adam_eps: float = 1e-5
    """Adam's epsilon."""
    num_minibatches: int = 8
    """Minibatches per epoch; they split the rollout's env steps (4096 / 8 = 512 rows)."""
    update_epochs: int = 10
    """Passes over the rollout per iteration."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """Lambda of generalised advantage estimation."""
    norm_adv: bool = True
    """Normalise advantages per minibatch (over active entries only)."""
    clip_coef: float = 0.2
    """PPO's surrogate clipping range."""
    clip_vloss: bool = True
    """Clip the value loss with the same range."""
    ent_coef: float = 1e-3
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Global gradient norm clip."""
    target_kl: float | None = None
    """Stop an iteration's epochs early once the approximate KL exceeds this; ``none``: never."""

    # --- evaluation (protocol.py) ---
    eval_episodes: int = DEFAULT_EVAL_EPISODES
    """Episodes (worlds) per evaluation, in training and in the held-out final evaluation (the
    paper used 12; 32 keeps a 95% milestone from hinging on one episode)."""
    eval_every: int = 1
    """Evaluate after every this many iterations; 0 only after the last one (always done)."""
    eval_max_cycles: int | None = None
    """Evaluation episode limit; ``none`` takes the preset's ``eval_max_cycles``."""
    eval_seed: int | None = None
    """Reset seed of the in-training evaluation worlds (world ``i`` uses stream ``i``; the same
    maps at every evaluation of a run). ``none`` (the protocol): derived from ``seed``, so each
    seed is evaluated on its own maps. Either way it must differ from every training reset
    seed (checked) and the held-out final maps are always derived from ``seed``."""
    eval_opponent: str | None = None
    """``none``: self-play evaluation (the model plays every player, as in training). A policy
    name of the env (``heuristic``, ``random``, ``module:attr``): the model plays player 0 and
    that scripted policy every other player; ``eval/`` per-player means are then player 0's
    (e.g. ``eval/win``, the win rate against it). Needs >= 2 players."""

    # --- run directory ---
    run_root: str = "runs"
    """Folder that holds the run directories."""
    run_name: str | None = None
    """Run directory name; ``none`` makes ``{env}__{method}__{seed}__{time}``."""
    resume: bool = False
    """Continue the run named ``run_name`` (or the newest of this env, method and seed) from its
    latest intact checkpoint; starts a new run when there is none. A finished run (one with its
    ``summary.json``) is left as it is."""
    checkpoint_every: int = 1
    """Save a checkpoint after every this many iterations; 0 only after the last one."""
    progress: bool = True
    """Show a progress bar (only on a terminal)."""

    def __post_init__(self) -> None:
        def bad(message: str) -> NoReturn:
            raise ValueError(f"{type(self).__name__}: {message}")

        if self.env_id not in REGISTRY:
            bad(f"unknown env_id {self.env_id!r}; registered: {sorted(REGISTRY)}")
        if self.preset is not None and self.preset not in presets(self.env_id):
            bad(
                f"unknown preset {self.preset!r} for {self.env_id}; choose one of "
                f"{sorted(presets(self.env_id))} or none"
            )
        if not isinstance(self.env_settings, dict):
            bad(f"env_settings must be a dict, got {type(self.env_settings).__name__}")
        reserved = sorted({"num_envs", "auto_reset", "preset"} & set(self.env_settings))
        if reserved:
            bad(f"env_settings must not set {reserved}: use the config fields instead")
        for name in ("num_envs", "num_steps", "num_minibatches", "update_epochs", "eval_episodes"):
            if getattr(self, name) < 1:
                bad(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("seed", "total_timesteps", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                bad(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.batch_size % self.num_minibatches:
            bad(
                f"num_minibatches={self.num_minibatches} must divide the rollout of num_envs x "
                f"num_steps = {self.batch_size} env steps; try one of "
                f"{[d for d in (1, 2, 4, 8, 16, 32) if self.batch_size % d == 0]}"
            )
        if 0 < self.total_timesteps < self.batch_size:
            bad(
                f"total_timesteps={self.total_timesteps} is less than one rollout "
                f"(num_envs x num_steps = {self.batch_size}); raise it, lower num_envs or "
                "num_steps, or use 0 to only evaluate"
            )
        for name in ("learning_rate", "adam_eps", "clip_coef", "max_grad_norm"):
            if not getattr(self, name) > 0:
                bad(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("ent_coef", "vf_coef"):
            if getattr(self, name) < 0:
                bad(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                bad(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.target_kl is not None and not self.target_kl > 0:
            bad(f"target_kl must be > 0 or None, got {self.target_kl}")
        if self.eval_opponent is not None:
            try:
                check_policy_name(self.env_id, self.eval_opponent)
            except ValueError as err:
                bad(f"eval_opponent: {err}")
        if self.eval_seed is not None and self.eval_seed < 0:
            bad(f"eval_seed must be >= 0 or None, got {self.eval_seed}")
        try:
            protocol.check_disjoint_seeds(
                protocol.training_seeds(self.seed, self.num_iterations),
                {
                    "in-training evaluation": self.eval_map_seed,
                    "final evaluation": self.final_map_seed,
                },
            )
        except ValueError as err:
            bad(str(err))
        if self.eval_max_cycles is not None and self.eval_max_cycles < 1:
            bad(f"eval_max_cycles must be >= 1 or None, got {self.eval_max_cycles}")
        if self.run_name is not None and (
            self.run_name in ("", ".", "..") or any(c in self.run_name for c in "/\\")
        ):
            bad(f"run_name must be a plain folder name, got {self.run_name!r}")
        try:
            torch.device(self.device)
        except (RuntimeError, ValueError):
            bad(f"device {self.device!r} is not a torch device (try 'cpu' or 'cuda')")
        if self.eval_horizon < 1:  # also fails now, not after a rollout, when there is none
            bad(f"the evaluation length must be >= 1, got {self.eval_horizon}")

    # --- derived values ---
    @property
    def batch_size(self) -> int:
        """Env steps per rollout: ``num_envs * num_steps``."""
        return self.num_envs * self.num_steps

    @property
    def map_side(self) -> int:
        """Side of the training maps (the longer one): the env config's ``map_size`` for this
        preset and settings; an env that registers no config is built once to measure it."""
        if REGISTRY[self.env_id].config_entry_point is not None:
            return int(env_config(self.env_id, self.preset, **self.env_settings).map_size)
        return max(make_batched(self.env_id, num_envs=1, **self.env_kwargs).map_shape)

    @property
    def minibatch_size(self) -> int:
        """Env steps (rows) per minibatch: ``batch_size // num_minibatches``."""
        return self.batch_size // self.num_minibatches

    @property
    def num_iterations(self) -> int:
        """Rollout-and-update iterations: ``total_timesteps // batch_size`` (rounded down)."""
        return self.total_timesteps // self.batch_size

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``make_batched`` for the training worlds (preset + settings)."""
        preset = {} if self.preset is None else {"preset": self.preset}
        return {**preset, **self.env_settings}

    @property
    def eval_horizon(self) -> int:
        """``eval_max_cycles``, or the preset's ``eval_max_cycles`` when that is ``None``.

        Raises:
            ValueError: neither is set.
        """
        if self.eval_max_cycles is not None:
            return self.eval_max_cycles
        found = None
        if self.preset is not None:
            found = getattr(presets(self.env_id)[self.preset], "eval_max_cycles", None)
        if found is None:
            raise ValueError(
                f"{type(self).__name__}: no evaluation length: preset {self.preset!r} of "
                f"{self.env_id} has no eval_max_cycles; set eval_max_cycles"
            )
        return int(found)

    @property
    def eval_map_seed(self) -> int:
        """Reset seed of the in-training evaluations: ``eval_seed``, or derived from ``seed``
        (``protocol.eval_map_seed``)."""
        return protocol.eval_map_seed(self.seed) if self.eval_seed is None else self.eval_seed

    @property
    def final_map_seed(self) -> int:
        """Reset seed of the held-out final evaluation (``protocol.final_map_seed(seed)``)."""
        return protocol.final_map_seed(self.seed)

    @property
    def eval_kwargs(self) -> dict[str, Any]:
        """The in-training evaluation as ``evaluate``'s arguments after the policy: this
        config's env and settings, ``eval_episodes`` worlds, ``eval_horizon`` steps,
        ``eval_map_seed`` and ``eval_opponent`` (``evaluate(make_policy, **cfg.eval_kwargs)``)."""
        return {
            "env_id": self.env_id,
            "settings": self.env_kwargs,
            "num_envs": self.eval_episodes,
            "max_cycles": self.eval_horizon,
            "seed": self.eval_map_seed,
            "opponent": self.eval_opponent,
        }

    @property
    def final_eval_kwargs(self) -> dict[str, Any]:
        """The held-out final evaluation: ``eval_kwargs`` on the maps of ``final_map_seed``,
        which no in-training evaluation played. Its results are the run's final metrics."""
        return {**self.eval_kwargs, "seed": self.final_map_seed}

    def should_evaluate(self, iteration: int) -> bool:
        """Whether to evaluate after ``iteration`` (1-based); always after the last one."""
        return _every(iteration, self.eval_every, self.num_iterations)

    def should_checkpoint(self, iteration: int) -> bool:
        """Whether to save a checkpoint after ``iteration`` (1-based); always after the last."""
        return _every(iteration, self.checkpoint_every, self.num_iterations)


def _every(iteration: int, every: int, last: int) -> bool:
    return iteration == last or (every > 0 and iteration % every == 0)


# ---------------------------------------------------------------------- command line
#: extra option strings of some fields
ALIASES: dict[str, tuple[str, ...]] = {"env_id": ("--env",)}


def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring (the string literal right after it), searched along the MRO."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):  # defined in a REPL or a string
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def build_parser(
    cls: type, parser: argparse.ArgumentParser | None = None, *, prog: str | None = None
) -> argparse.ArgumentParser:
    """An argparse parser with one ``--field-name`` option per field of dataclass ``cls``.

    Options default to ``argparse.SUPPRESS``: only what the user typed overrides the dataclass
    defaults (shown in ``--help``). Dict fields take JSON (``--env-settings '{"players": 2}'``);
    a dict field named ``env_settings`` also gets ``--set KEY=VALUE`` (value parsed as JSON,
    else kept as text).

    Args:
        cls: a dataclass (``PPOConfig`` or a subclass).
        parser: add to this parser instead of making one.
        prog: program name of a new parser.

    Raises:
        TypeError: a field's annotation has no command-line form.
    """
    if parser is None:
        parser = argparse.ArgumentParser(
            prog=prog,
            description=(cls.__doc__ or "").strip().split("\n\n")[0],
        )
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind, optional = _unwrap_optional(hints[f.name])
        options: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        help_text = docs.get(f.name, "") + f" (default: {_default_text(f)})"
        options["help"] = help_text.replace("``", "").replace("%", "%%")  # argparse %-formats
        origin = typing.get_origin(kind)
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            choices = typing.get_args(kind)
            options["type"] = _optional(_literal_type(choices), optional)
            options["metavar"] = "{" + ",".join(map(str, choices)) + "}"
        elif kind in (int, float, str):
            options["type"] = _optional(kind, optional)
            options["metavar"] = kind.__name__.upper()
        elif kind is dict or origin is dict:
            options["type"] = _optional(_json_dict, optional)
            options["metavar"] = "JSON"
        elif origin in (list, tuple) or kind in (list, tuple):
            item = (typing.get_args(kind) or (str,))[0]
            options["type"] = item if item in (int, float, str) else json.loads
            options["nargs"] = "*"
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no command-line form for {kind!r}")
        parser.add_argument(flag, *ALIASES.get(f.name, ()), **options)
    if "env_settings" in {f.name for f in dataclasses.fields(cls)}:
        parser.add_argument(
            "--set",
            dest="_settings",
            type=parse_setting,
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="an env setting over the preset's, e.g. --set players=2 (repeatable)",
        )
    return parser


def config_from_args(cls: type[C], args: argparse.Namespace) -> C:
    """Build ``cls`` from a namespace parsed by ``build_parser(cls)``.

    ``--set`` entries are merged over ``--env-settings``; tuple fields become tuples.

    Raises:
        ValueError: the config's own validation.
    """
    values = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in values.items() if k in names}
    settings = getattr(args, "_settings", [])
    if settings:
        values["env_settings"] = {**values.get("env_settings", {}), **dict(settings)}
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        kind, _ = _unwrap_optional(hints[name])
        if (kind is tuple or typing.get_origin(kind) is tuple) and value is not None:
            values[name] = tuple(value)
    return cls(**values)


def config_from_cli(cls: type[C], argv: Sequence[str], *, prog: str | None = None) -> C:
    """Parse command-line words into ``cls`` (``--help`` lists every field).

    Raises:
        SystemExit: bad options (argparse's message), or the config's ``ValueError``.
    """
    parser = build_parser(cls, prog=prog)
    args = parser.parse_args(list(argv))
    try:
        return config_from_args(cls, args)
    except ValueError as err:
        parser.error(str(err))
        raise  # unreachable: parser.error exits


def parse_setting(text: str) -> tuple[str, Any]:
    """``"players=2"`` -> ``("players", 2)``: the value as JSON, else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``int | None`` -> ``(int, True)``; anything else -> ``(hint, False)``."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _optional(convert: Any, optional: bool) -> Any:
    """``convert``, also mapping ``none`` / ``None`` to ``None`` when the field is optional."""
    if not optional:
        return convert

    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "null") else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")  # argparse names it in errors
    return parse


def _literal_type(choices: tuple[Any, ...]) -> Any:
    def parse(text: str) -> Any:
        for choice in choices:
            if str(choice) == text:
                return choice
        raise argparse.ArgumentTypeError(
            f"invalid choice {text!r} (choose from {', '.join(map(str, choices))})"
        )

    return parse


def _json_dict(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
