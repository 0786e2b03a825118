"""Replays: an episode kept as its env id, settings, seed and actions, replayed to identical frames.

The rules are deterministic given the reset seed and the actions, so a replay stores only those:

    episode = run_episode("harvest-v0", "heuristic", seed=0, preset="tiny")
    episode.replay.save("ep.replay.npz")
    replay = Replay.load("ep.replay.npz")
    frames = list(replay_frames(replay, overlays="actions"))   # T + 1 frames
    replay_metrics(replay)                                     # the recorded metrics, again

File format, version 1 (``REPLAY_VERSION``): a compressed numpy ``.npz`` archive (the suffix
``.replay.npz`` is the convention; any name works) of two arrays, read without pickle:

* ``meta``: a 0-d unicode array holding one JSON object: ``format`` (``"spawnzoo-replay"``),
  ``version``, ``env_id``, ``settings`` (the keyword arguments of ``make``: ``preset`` and any
  env setting), ``seed``, ``steps`` (``T``), ``num_slots`` (``S``), ``metrics`` (the episode
  metrics when it was recorded, or ``null``), ``policy`` (a name, or ``null``) and
  ``spawnzoo`` (the package version that wrote it);
* ``actions``: ``[T, S]`` uint8 (int16 for actions above 255): the action each slot received at each
  step, 0 for empty slots (what ``SlotParallelEnv.last_actions`` holds after each step).

``Replay.load`` refuses every file it cannot replay with a ``ReplayError`` (a ``ValueError``)
whose message starts with the file's path and says what is wrong, and never lets another
exception out (``zlib.error``, numpy's errors, ``KeyError``...): a file that is not a zip/npz
archive or is cut short or corrupted (the archive's CRC-32 covers every member), members that
are missing, too large or of the wrong dtype or shape, a header that is not a JSON object or has
fields of the wrong type, one written in another format version (``ReplayVersionError``), an
unknown env id, settings the env refuses (see ``envs.core.settings``), or actions, slots or steps
that do not fit the env. A loaded replay has been checked to build and reset its env. Replaying
checks, when metrics were stored, that the replay reproduces them (``ReplayMismatchError``: the
rules changed since it was recorded). ``tests/test_replay_damage.py`` fuzzes the reader.

States are reached by stepping the env's batched world directly (``ReplayCursor``): random
access (``seek``) re-simulates from the nearest snapshot (a deep copy of the world kept every
``snapshot_every`` steps), which is how the viewer steps backwards.
"""

from __future__ import annotations

import copy
import json
import numbers
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from .batched import BatchedEnv, BatchStep
from .registry import make
from .rendering import Renderer, make_renderer
from .settings import NoRoomError, shown

REPLAY_FORMAT = "spawnzoo-replay"
REPLAY_VERSION = 1
"""The format version this spawnzoo writes and reads."""


#: the largest members ``Replay.load`` reads, in bytes (a crafted archive may claim more)
MAX_META_BYTES = 1 << 24
MAX_ACTIONS_BYTES = 1 << 30
#: what reading a damaged or foreign archive raises, from zipfile, zlib, json and numpy
#: (RecursionError: JSON nested thousands deep; RuntimeError: an encrypted member;
#: NotImplementedError: an unknown compression method; MemoryError: a forged array shape)
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    MemoryError,
)


class ReplayError(ValueError):
    """A replay file that cannot be read or does not fit the env it names."""


class ReplayVersionError(ReplayError):
    """A replay file written in a format version this spawnzoo does not read."""


class ReplayMismatchError(ReplayError):
    """Replaying did not reproduce the recorded episode (the rules changed since)."""


def check_json(value: Any, what: str) -> None:
    """Raise ``ValueError`` unless ``value`` is made of JSON values (a replay must hold it)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{what} must be JSON values (numbers, strings, lists, dicts): {err}"
        ) from None


def _package_version() -> str:
    try:
        return importlib_metadata.version("spawnzoo")
    except importlib_metadata.PackageNotFoundError:  # a source checkout, not installed
        return "unknown"


@dataclass(frozen=True)
class Replay:
    """One recorded episode: enough to rebuild every state of it.

    Args:
        env_id: registered env id, e.g. ``"harvest-v0"``.
        seed: the reset seed.
        actions: ``[T, S]`` ints, the action each slot received at each step (0 where none).
        settings: keyword arguments of ``make`` (``preset`` and env settings), JSON values.
        metrics: the episode metrics when it was recorded (checked on replay), or ``None``.
        policy: what played it (a name, for people), or ``None``.

    Raises:
        ValueError: naming the field: ``env_id`` is not a str, ``seed`` not an integer >= 0,
            ``actions`` not a 2-D integer array of values >= 0, ``settings`` not a dict of JSON
            values (or it holds ``render_mode``), ``metrics`` not ``None`` or a dict of numbers
            (with an optional non-empty ``per_player`` list of dicts of numbers), ``policy`` not
            a str or ``None`` (a replay must be writable and printable).
    """

    env_id: str
    seed: int
    actions: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    policy: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.env_id, str):
            raise ValueError(f"env_id must be a str, got {shown(self.env_id)}")
        if not _is_count(self.seed):
            raise ValueError(f"seed must be an integer >= 0, got {shown(self.seed)}")
        actions = np.asarray(self.actions)
        if actions.ndim != 2 or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions must be a [steps, slots] integer array, got {actions.dtype} "
                f"{actions.shape}"
            )
        if actions.size and actions.min() < 0:
            raise ValueError(f"actions must be >= 0, got {int(actions.min())}")
        object.__setattr__(self, "actions", actions.astype(np.int64, copy=False))
        object.__setattr__(self, "seed", int(self.seed))
        if not isinstance(self.settings, dict) or not all(
            isinstance(k, str) for k in self.settings
        ):
            raise ValueError(
                f"settings must be a dict of name -> value, got {shown(self.settings)}"
            )
        if "render_mode" in self.settings:
            raise ValueError("settings must not hold render_mode (it is chosen when replaying)")
        problem = _metrics_problem(self.metrics)
        if problem:
            raise ValueError(f"metrics {problem}")
        if self.policy is not None and not isinstance(self.policy, str):
            raise ValueError(f"policy must be a name (str) or None, got {shown(self.policy)}")
        check_json(self.settings, "replay settings")
        check_json(self.metrics, "replay metrics")

    @property
    def steps(self) -> int:
        """``T``, the number of steps (the episode has ``T + 1`` states)."""
        return int(self.actions.shape[0])

    def make_env(self, render_mode: str | None = None) -> Any:
        """The env the replay was recorded in (not reset), checked against the recorded shape.

        Raises:
            ReplayError: the env id is not registered, the env refuses the settings, or it has
                other slot or action counts than the replay.
        """
        try:
            env = make(self.env_id, render_mode=render_mode, **self.settings)
        except ValueError as err:  # an unknown env id, or settings the env refuses
            raise ReplayError(f"the replay's env cannot be built: {err}") from None
        world = env.world
        top = int(self.actions.max(initial=0))
        if self.actions.shape[1] != world.num_slots or top >= world.num_actions:
            env.close()
            raise ReplayError(
                f"this replay does not fit {self.env_id} with settings {self.settings}: it has "
                f"{self.actions.shape[1]} slots and actions up to {top}, the env has "
                f"{world.num_slots} slots and {world.num_actions} actions"
            )
        return env

    # ------------------------------------------------------------------ files
    def save(self, path: str | PathLike) -> Path:
        """Write the replay to ``path`` exactly (no suffix is added); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": REPLAY_FORMAT,
            "version": REPLAY_VERSION,
            "env_id": self.env_id,
            "settings": self.settings,
            "seed": self.seed,
            "steps": self.steps,
            "num_slots": int(self.actions.shape[1]),
            "metrics": self.metrics,
            "policy": self.policy,
            "spawnzoo": _package_version(),
        }
        dtype = np.uint8 if self.actions.max(initial=0) < 256 else np.int16
        with open(path, "wb") as f:
            np.savez_compressed(
                f, meta=np.array(json.dumps(meta)), actions=self.actions.astype(dtype)
            )
        return path

    @classmethod
    def load(cls, path: str | PathLike) -> Replay:
        """Read a replay written by ``save`` and check that it replays: its env builds from its
        settings, fits its actions and resets from its seed.

        Raises:
            FileNotFoundError: no such file.
            ReplayVersionError: written in another format version.
            ReplayError: anything else that is wrong with the file (the message starts with the
                path; see the module docstring).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no replay file at {path}")
        meta, actions = _read_archive(path)
        replay = _from_header(path, meta, actions)
        try:
            env = replay.make_env()
        except ReplayError as err:
            raise ReplayError(f"{path}: {err}") from None
        try:
            if replay.steps > env.world.max_cycles:
                raise ReplayError(
                    f"{path} does not fit {replay.env_id}: it has {replay.steps} steps, more "
                    f"than the env's max_cycles ({env.world.max_cycles})"
                )
            env.world.reset(seed=replay.seed)
        except NoRoomError as err:
            raise ReplayError(f"{path}: its settings draw no map: {err}") from None
        finally:
            env.close()
        return replay


def _is_count(value: Any) -> bool:
    """An integer >= 0 that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _metrics_problem(metrics: Any) -> str | None:
    """What is wrong with stored episode metrics, or ``None``: they must be ``None`` or a dict
    of numbers, with optionally ``per_player``, a non-empty list of dicts of numbers."""
    if metrics is None:
        return None
    if not isinstance(metrics, dict):
        return f"must be a dict or None, got {shown(metrics)}"
    for key, value in metrics.items():
        if key == "per_player":
            if not isinstance(value, list) or not value:
                return f"per_player must be a non-empty list, got {shown(value)}"
            for row in value:
                if not isinstance(row, dict) or not all(_is_number(v) for v in row.values()):
                    return f"per_player rows must be dicts of numbers, got {shown(row)}"
        elif not _is_number(value):
            return f"{key} must be a number, got {shown(value)}"
    return None


def _damaged(path: Path, what: str) -> ReplayError:
    return ReplayError(
        f"{path} is not a readable spawnzoo replay (damaged, or another kind of file): {what}"
    )


def _read_archive(path: Path) -> tuple[Any, np.ndarray]:
    """The parsed JSON header and the actions array of a replay file.

    Returns:
        ``(meta, actions)``: ``meta`` any JSON value (checked by ``_from_header``), ``actions``
        a 2-D integer array ``[T, S]``.

    Raises:
        ReplayError: not a zip archive, damaged, members missing, too large or of the wrong
            kind.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            missing = [m for m in ("meta.npy", "actions.npy") if m not in names]
            if missing:
                raise _damaged(path, f"it has no {' or '.join(missing)} (it holds {names[:6]})")
            raw = _read_member(archive, "meta.npy", MAX_META_BYTES, path)
            actions = _read_member(archive, "actions.npy", MAX_ACTIONS_BYTES, path)
            if raw.shape != () or raw.dtype.kind != "U":
                raise _damaged(path, f"meta is a {raw.dtype} {raw.shape} array, not a JSON string")
            meta = json.loads(str(raw[()]))
    except ReplayError:
        raise
    except (*_READ_ERRORS, RecursionError) as err:
        raise _damaged(path, f"{type(err).__name__}: {err}") from None
    if actions.ndim != 2 or actions.dtype.kind not in "iu":
        raise _damaged(
            path, f"actions are a {actions.dtype} {actions.shape} array, not [T, S] ints"
        )
    return meta, actions


def _read_member(archive: zipfile.ZipFile, name: str, limit: int, path: Path) -> np.ndarray:
    """One ``.npy`` member of ``archive``, without pickle. Its size and its header are checked
    before its data is read: a member larger than ``limit`` bytes, or whose header claims more
    data than the member holds (a forged shape would allocate that much), is refused."""
    size = archive.getinfo(name).file_size
    if size > limit:
        raise _damaged(path, f"{name} is {size} bytes, more than a replay's {limit}")
    with archive.open(name) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise _damaged(path, f"{name} is in .npy format version {version}, not 1.0 or 2.0")
        claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if claimed > size:
            raise _damaged(
                path, f"{name}'s header claims a {dtype} {shape} array, more than its {size} bytes"
            )
    with archive.open(name) as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def _from_header(path: Path, meta: Any, actions: np.ndarray) -> Replay:
    """The ``Replay`` a parsed header and actions describe.

    Raises:
        ReplayVersionError: another format version.
        ReplayError: not a spawnzoo header, fields missing or of the wrong type, or actions
            that do not match it.
    """
    if not isinstance(meta, dict) or meta.get("format") != REPLAY_FORMAT:
        raise ReplayError(f"{path} is not a spawnzoo replay (no '{REPLAY_FORMAT}' header)")
    version = meta.get("version")
    if version != REPLAY_VERSION or isinstance(version, bool):
        raise ReplayVersionError(
            f"{path} is a version {version} replay (written by spawnzoo "
            f"{meta.get('spawnzoo', '?')}); this spawnzoo ({_package_version()}) reads "
            f"version {REPLAY_VERSION} only: replay it with a matching spawnzoo or record it "
            "again"
        )
    missing = {"env_id", "seed", "settings", "steps", "num_slots"}.difference(meta)
    if missing:
        raise ReplayError(f"{path} is damaged: its header lacks {sorted(missing)}")
    for key in ("steps", "num_slots"):
        if not _is_count(meta[key]):
            raise ReplayError(
                f"{path} is damaged: its header's {key} must be an integer >= 0, got "
                f"{shown(meta[key])}"
            )
    if actions.shape != (meta["steps"], meta["num_slots"]):
        raise ReplayError(
            f"{path} is damaged: actions have shape {actions.shape}, the header says "
            f"{(meta['steps'], meta['num_slots'])}"
        )
    try:
        return Replay(
            env_id=meta["env_id"],
            seed=meta["seed"],
            actions=actions,
            settings=meta["settings"],
            metrics=meta.get("metrics"),
            policy=meta.get("policy"),
        )
    except ValueError as err:
        raise ReplayError(f"{path} is damaged: its {err}") from None


def episode_metrics(world: BatchedEnv, batch: BatchStep, index: int = 0) -> dict[str, Any]:
    """The episode metrics of world ``index``: the final ones if its episode ended in ``batch``,
    else (an episode cut short) the world's running ones.

    Raises:
        TypeError: the episode has not ended and the world keeps no running metrics.
    """
    if batch.final is not None and bool(batch.done[index]):
        row = int(np.flatnonzero(batch.final.env_index == index)[0])
        return batch.final.metrics[row]
    running = getattr(world, "episode_metrics", None)
    if running is None:
        raise TypeError(f"{type(world).__name__} has no episode_metrics() for unfinished episodes")
    return running(index)


class ReplayCursor:
    """Random access to the states of a replay, by stepping the env's world.

    Args:
        replay: the replay.
        snapshot_every: keep a copy of the world every this many steps (for ``seek`` backwards).

    Attributes:
        t: the current step, in ``[0, replay.steps]``.
        world: the batched world (one world) in the state after step ``t``.
        batch: the ``BatchStep`` that led to it (the reset's at ``t = 0``).
        env: the env the world belongs to (used only to build renderers).

    Raises:
        ReplayError: the replay does not fit its env.
    """

    def __init__(self, replay: Replay, *, snapshot_every: int = 10):
        if snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1, got {snapshot_every}")
        self.replay = replay
        self.snapshot_every = snapshot_every
        self.env = replay.make_env()
        self.world: BatchedEnv = self.env.world
        self.batch = self.world.reset(seed=replay.seed)
        self.t = 0
        self._snapshots: dict[int, tuple[BatchedEnv, BatchStep]] = {
            0: (copy.deepcopy(self.world), self.batch)
        }

    @property
    def steps(self) -> int:
        """``T``: the last step ``seek`` can reach."""
        return self.replay.steps

    @property
    def actions(self) -> np.ndarray | None:
        """``[S]`` actions of the step that led to the current state (``None`` at ``t = 0``)."""
        return self.replay.actions[self.t - 1] if self.t > 0 else None

    def seek(self, t: int) -> None:
        """Move to the state after step ``t`` (clipped to ``[0, steps]``).

        Raises:
            ReplayMismatchError: the episode ended before the replay's last step.
        """
        t = min(max(int(t), 0), self.steps)
        if t < self.t or t - self.t > self.snapshot_every:
            base = max(k for k in self._snapshots if k <= t)
            if not base <= self.t <= t:
                world, batch = self._snapshots[base]
                self.world, self.batch, self.t = copy.deepcopy(world), batch, base
        while self.t < t:
            self._step()

    def _step(self) -> None:
        if self.t > 0 and bool(self.batch.done[0]):
            raise ReplayMismatchError(
                f"the episode ended at step {self.t} but the replay has {self.steps} steps: "
                f"{self.replay.env_id} plays differently from when it was recorded"
            )
        self.batch = self.world.step(self.replay.actions[self.t][None])
        self.t += 1
        if self.t % self.snapshot_every == 0 and self.t not in self._snapshots:
            self._snapshots[self.t] = (copy.deepcopy(self.world), self.batch)

    def draw(self, renderer: Renderer) -> Any:
        """Draw the current state with ``renderer``; returns its ``Canvas``."""
        return renderer.draw(self.world, 0, batch=self.batch, actions=self.actions)

    def metrics(self) -> dict[str, Any]:
        """The episode metrics at the current step (see ``episode_metrics``)."""
        return episode_metrics(self.world, self.batch)

    def close(self) -> None:
        """Close the env (idempotent)."""
        self.env.close()


def replay_frames(
    replay: Replay,
    *,
    window_size: int | tuple[int, int] | None = None,
    overlays: str | Iterable[str] | None = None,
    selected: str | None = None,
) -> Iterator[np.ndarray]:
    """The ``T + 1`` frames of a replay, as ``spawnzoo render`` would have drawn them.

    Args:
        replay: the replay.
        window_size: pixels of the map area (default: the renderer's).
        overlays: overlay names (``envs.core.rendering``).
        selected: agent to highlight.

    Yields:
        ``[height, width, 3]`` uint8 frames, the reset state first.

    Raises:
        ReplayError: the replay does not fit its env, or does not replay.
    """
    cursor = ReplayCursor(replay, snapshot_every=max(replay.steps, 1))
    renderer = make_renderer(
        cursor.env, window_size=window_size, overlays=overlays, selected=selected
    )
    try:
        while True:
            yield cursor.draw(renderer).present("rgb_array")
            if cursor.t == cursor.steps:
                break
            cursor.seek(cursor.t + 1)
    finally:
        renderer.close()
        cursor.close()


def replay_metrics(replay: Replay) -> dict[str, Any]:
    """Replay without drawing and return the episode metrics.

    Raises:
        ReplayMismatchError: they differ from the recorded ones (when the replay has them).
        ReplayError: the replay does not fit its env.
    """
    cursor = ReplayCursor(replay, snapshot_every=max(replay.steps, 1))
    try:
        cursor.seek(cursor.steps)
        metrics = cursor.metrics()
    finally:
        cursor.close()
    check_metrics(replay, metrics)
    return metrics


def check_metrics(replay: Replay, metrics: dict[str, Any]) -> None:
    """Raise ``ReplayMismatchError`` if ``metrics`` differ from the replay's recorded ones."""
    if replay.metrics is not None and json.loads(json.dumps(metrics)) != replay.metrics:
        raise ReplayMismatchError(
            f"replaying gave other metrics than recorded:\n  recorded {replay.metrics}\n"
            f"  replayed {metrics}\n{replay.env_id} plays differently from when it was recorded"
        )
