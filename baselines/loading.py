"""Load a trained (or reference) policy back from its run directory, for any method.

    agent = load_policy("runs/cmp/runs/harvest-v0__hybrid__1", world)      # latest checkpoint
    agent = load_policy("runs/.../checkpoints/cycle_0007.pt", world, seed=0)
    actions = agent.act(batch)                                           # [E, S] int actions

A run directory records everything needed to rebuild its policy: ``config.json`` names the
method and holds the config's fields, and each checkpoint holds the network's ``state_dict``.
Everything else comes from the method's entry in ``registry.METHODS``: its config class
(never a class named in the file: a run directory can't make this import anything) and its
``load_agent``, which rebuilds the network and loads the weights. Methods that don't learn
(``random``, ``heuristic``) have no checkpoint; their policy is made afresh from the env's
table.

Used by the comparison report (its GIF of the best run) and by ``spawnzoo render --policy RUN``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spawnzoo.envs.core.registry import load, make_policy

from .common.runs import CHECKPOINT_DIR, CONFIG_FILE, read_checkpoint
from .registry import METHODS, MethodSpec


@dataclass(frozen=True)
class RunSource:
    """What ``find_run`` resolved a path to.

    Attributes:
        run_dir: the run directory (holds ``config.json``).
        checkpoint: the checkpoint to load; ``None`` for a method that does not learn.
        method: the run's method (a key of ``registry.METHODS``).
        env_id: the run's env id.
        config: the run's config fields (``config.json``'s ``"config"``).
    """

    run_dir: Path
    checkpoint: Path | None
    method: str
    env_id: str
    config: dict[str, Any]

    @property
    def spec(self) -> MethodSpec:
        """The method's entry in ``registry.METHODS``."""
        return METHODS[self.method]


def find_run(path: str | os.PathLike) -> RunSource:
    """Resolve a run directory or a checkpoint file to its run, method and checkpoint.

    Args:
        path: a run directory (its latest checkpoint is used) or a ``checkpoints/*.pt`` file
            inside one.

    Raises:
        FileNotFoundError: the path does not exist, is not inside a run directory, or the run
            of a learning method has no checkpoint yet.
        ValueError: ``config.json`` names a method this installation does not know.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (expected a run directory or checkpoint)")
    if path.is_file():
        run_dir, checkpoint = path.parent.parent, path
        if path.parent.name != CHECKPOINT_DIR:
            raise FileNotFoundError(
                f"{path} is not a checkpoint of a run directory (expected RUN/{CHECKPOINT_DIR}/"
                "cycle_NNNN.pt)"
            )
    else:
        run_dir, checkpoint = path, None
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory: it has no {CONFIG_FILE}")
    try:
        meta = json.loads(config_path.read_text())
        method = meta.get("method")
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, AttributeError) as err:
        raise ValueError(f"{config_path} is not a readable run config ({err})") from None
    if method not in METHODS:
        raise ValueError(
            f"{config_path} names method {method!r}, which is not one of {sorted(METHODS)}"
        )
    if checkpoint is None and METHODS[method].learns:
        found = sorted((run_dir / CHECKPOINT_DIR).glob("cycle_*.pt"))
        if not found:
            raise FileNotFoundError(
                f"{run_dir} ({method}) has no checkpoint yet: nothing to load; train it first"
            )
        checkpoint = found[-1]  # zero-padded cycle numbers sort by cycle
    return RunSource(
        run_dir=run_dir,
        checkpoint=checkpoint,
        method=method,
        env_id=meta["env_id"],
        config=meta.get("config", {}),
    )


def rebuild_config(source: RunSource, **overrides: Any) -> Any:
    """The run's config dataclass (its method's config class in ``registry.METHODS``), rebuilt
    from ``config.json``'s fields (fields the class no longer has are dropped; ``overrides``
    replace fields, e.g. ``device="cpu"``)."""
    cls = load(source.spec.config)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    values = {k: v for k, v in source.config.items() if k in names}
    return cls(**{**values, **overrides})


def load_policy(
    path: str | os.PathLike,
    world: Any,
    seed: int | None = None,
    *,
    greedy: bool = False,
    device: str = "cpu",
) -> Any:
    """A run's policy bound to ``world``: an object with ``act(batch) -> [E, S] actions``.

    Args:
        path: a run directory (latest checkpoint) or one of its checkpoint files.
        world: the ``BatchedEnv`` the policy plays (any number of worlds of the run's env;
            its map size may differ only where the method's network allows it).
        seed: seed of the policy's action sampling (default 0).
        greedy: take the most probable legal action instead of sampling (learned methods).
        device: torch device to load the network on.

    Returns:
        ``SlotPolicyAgent`` (hybrid, mappo, monolithic), ``IndependentAgent`` (independent),
        or the env's reference policy (random, heuristic).

    Raises:
        FileNotFoundError, ValueError: as ``find_run``; ``ValueError`` also when the
            checkpoint does not fit the rebuilt network (the message says which keys), and
            ``CheckpointError`` (a ``ValueError``) when it is damaged (``read_checkpoint``).
    """
    source = find_run(path)
    if not source.spec.learns:
        return make_policy(source.env_id, source.method, world, seed=seed)
    config = rebuild_config(source, device=device)
    state = read_checkpoint(source.checkpoint, map_location=device)["model"]
    try:
        return load(source.spec.load_agent)(
            config, state, world, seed=seed, greedy=greedy, device=device
        )
    except RuntimeError as err:
        raise ValueError(
            f"checkpoint {source.checkpoint} does not fit the {source.method} network rebuilt "
            f"from {source.run_dir / CONFIG_FILE}: {err}"
        ) from None
