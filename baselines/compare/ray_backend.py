"""``spawnzoo compare --backend ray``: each (method, seed) a Ray task, on one machine or a cluster.

The plan, the run directories, the report and the resume rules are the runner's
(``runner.run_comparison``); only where a worker runs changes. ``RayLauncher`` submits each run as
a Ray task that declares ``cpus_per_run`` CPUs (its torch threads) and ``gpus_per_run`` GPUs, so
Ray places as many runs at once as the machines have room for. Without an ``address`` a local Ray
is started for the comparison (and shut down after it); ``address="auto"`` or
``"ray://HOST:PORT"`` joins a running cluster.

A task trains into the run directory under the driver's ``--out``, given as an absolute path: on
one machine that is simply the driver's folder; on a cluster it must be storage every node sees
at the same path (NFS or the like, see ``docs/scale-out.md``), and a task on a node that cannot see
it fails at once, naming the node. Each task runs in a fresh worker process (``max_calls=1``: no
torch state carried between runs). When a worker or its node dies, Ray runs the task again (up
to ``max_retries`` times), and since every run's config asks for ``resume``, the new attempt
continues from the run's last checkpoint; the run's lock (``common.locks``) left by an attempt on
a node that died is taken over (``release_lock_of_lost_node``). An exception raised by training
is not retried: it fails the run, with its traceback in ``OUT/logs/{run}.log`` as with local
processes.

Ray is optional (``pip install 'spawnzoo[ray]'``); it is imported when a ``RayLauncher`` is
entered, never when this module is.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import traceback
from pathlib import Path
from typing import Any

from .plan import PLAN_FILE
from .runner import redirect_output, train_run

#: what to run when Ray is missing
INSTALL_HINT = "pip install 'spawnzoo[ray]'"
#: how often Ray starts a task again after its worker died (the run resumes each time)
DEFAULT_MAX_RETRIES = 3


def import_ray() -> Any:
    """``import ray``, or one clear error saying how to install it.

    Raises:
        ImportError: Ray is not installed (the message says ``pip install 'spawnzoo[ray]'``).
    """
    try:
        import ray
    except ImportError as err:
        raise ImportError(
            f"--backend ray needs Ray, which is not installed: {INSTALL_HINT}"
        ) from err
    return ray


class RayLauncher:
    """Runs as Ray tasks: the ``runner.Launcher`` of ``--backend ray``.

    Args:
        address: a running cluster (``"auto"``: the one this machine belongs to,
            ``"ray://HOST:PORT"``: Ray Client), or ``None`` to start a local Ray for the
            comparison.
        cpus_per_run: CPUs each task declares; also its torch threads.
        gpus_per_run: GPUs each task declares (a fraction shares a GPU); above 0, learners whose
            config says ``device="cpu"`` train on ``cuda`` (the GPU Ray gives the task).
        jobs: runs submitted at a time; default: as many as the cluster's CPUs (and GPUs) fit,
            at least 1. On a local Ray started here, ``jobs`` also sizes it: it gets
            ``jobs * cpus_per_run`` CPUs (default: every core).
        max_retries: how often a task whose worker died is started again.

    Raises:
        ValueError: ``cpus_per_run`` below 1, ``gpus_per_run`` negative (or a fraction above
            1), ``jobs`` below 1 or ``max_retries`` negative.
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        cpus_per_run: int = 1,
        gpus_per_run: float = 0.0,
        jobs: int | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ):
        if not isinstance(cpus_per_run, int) or cpus_per_run < 1:
            raise ValueError(f"cpus per run must be a whole number >= 1, got {cpus_per_run!r}")
        if gpus_per_run < 0 or (gpus_per_run > 1 and gpus_per_run != int(gpus_per_run)):
            raise ValueError(
                "gpus per run must be >= 0, and a whole number when above 1 (a fraction shares "
                f"one GPU), got {gpus_per_run!r}"
            )
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.address, self.jobs, self.max_retries = address, jobs, max_retries
        self.cpus_per_run, self.gpus_per_run = cpus_per_run, float(gpus_per_run)
        self._ray: Any = None
        self._task: Any = None
        self._started = False

    def __enter__(self) -> RayLauncher:
        ray = import_ray()
        options: dict[str, Any] = {"log_to_driver": False}  # each run's output is in its log
        if self.address is None:
            # "local": a new Ray of our own, even where `ray start` left one running
            options.update(address="local", include_dashboard=False)
            if self.jobs is not None:
                options["num_cpus"] = self.jobs * self.cpus_per_run
        else:
            options["address"] = self.address
        if not ray.is_initialized():
            ray.init(**options)
            self._started = True
        self._ray = ray
        self._task = ray.remote(max_calls=1)(train_task)  # a fresh worker process per run
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

    def capacity(self) -> int:
        """``jobs``, or the runs the cluster's CPUs (and GPUs) fit now, at least 1."""
        if self.jobs is not None:
            return self.jobs
        resources = self._ray.cluster_resources()
        fits = math.floor(resources.get("CPU", 1) / self.cpus_per_run)
        if self.gpus_per_run > 0:
            fits = min(fits, math.floor(resources.get("GPU", 0) / self.gpus_per_run))
        return max(1, fits)

    def start(self, method: str, config: Any, log_path: Path) -> RayRun:
        """Submit one run; its run directory and log are given to the task as absolute paths."""
        out = Path(log_path).absolute().parent.parent
        changes: dict[str, Any] = {"run_root": str(Path(config.run_root).absolute())}
        if self.gpus_per_run > 0 and getattr(config, "device", None) == "cpu":
            changes["device"] = "cuda"
        config = dataclasses.replace(config, **changes)
        task = self._task.options(
            num_cpus=self.cpus_per_run,
            num_gpus=self.gpus_per_run,
            max_retries=self.max_retries,
            retry_exceptions=False,
            name=f"spawnzoo-compare-{Path(log_path).stem}",
        )
        ref = task.remote(
            method, config, str(Path(log_path).absolute()), self.cpus_per_run, str(out)
        )
        return RayRun(self._ray, ref)


class RayRun:
    """A ``runner.RunHandle`` over a Ray task's result."""

    def __init__(self, ray: Any, ref: Any):
        self._ray, self.ref = ray, ref

    def done(self) -> bool:
        ready, _ = self._ray.wait([self.ref], timeout=0)
        return bool(ready)

    def error(self) -> str | None:
        try:
            self._ray.get(self.ref)
        except self._ray.exceptions.RayTaskError as err:  # training raised (not retried)
            return _first_line(getattr(err, "cause", None) or err)
        except self._ray.exceptions.RayError as err:  # the worker kept dying, or was cancelled
            return _first_line(err)
        return None

    def stop(self) -> None:
        self._ray.cancel(self.ref, force=True)
        try:
            self._ray.get(self.ref, timeout=30)
        except Exception:  # cancelled: any outcome is fine, it is gone
            pass


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def release_lock_of_lost_node(run_dir: Path) -> str | None:
    """Remove ``run_dir``'s lock when it names a process on a host that is no live node of this
    Ray cluster any more: the attempt of this task on a node that died. (A lock of another host
    is never judged stale by ``common.locks``, which cannot see that host's processes; Ray can
    tell the host is gone, and runs one attempt of a task at a time.) Returns the holder's
    description when it removed the lock, else ``None``."""
    import ray

    from ..common.locks import read_holder
    from ..common.runs import LOCK_FILE

    holder = read_holder(run_dir / LOCK_FILE)
    if holder is None or not holder.host or holder.host == socket.gethostname():
        return None  # this host's locks judge themselves (process id and start time)
    alive = {node.get("NodeManagerHostname") for node in ray.nodes() if node.get("Alive")}
    if holder.host in alive:
        return None
    (run_dir / LOCK_FILE).unlink(missing_ok=True)
    return holder.describe()


def train_task(method: str, config: Any, log_path: str, threads: int, out: str) -> None:
    """Body of a Ray task: train ``config`` with ``method`` in this worker, output to the end of
    ``log_path`` (the first line names the node and process).

    Raises:
        FileNotFoundError: this node does not see the driver's output folder ``out`` (on a
            cluster it must be storage every node sees at the same path).
        Exception: what training raises (its traceback is also in the log).
    """
    node = socket.gethostname()
    if not (Path(out) / PLAN_FILE).exists():
        raise FileNotFoundError(
            f"node {node} does not see the comparison's output folder {out}: on a cluster, "
            "--out must be storage every node sees at the same path (docs/scale-out.md)"
        )
    log = redirect_output(log_path)
    print(f"ray task on node {node}, process {os.getpid()}", flush=True)
    lost = release_lock_of_lost_node(Path(config.run_root) / config.run_name)
    if lost is not None:
        print(f"the run's lock named {lost}, on a node the cluster lost: taken over", flush=True)
    try:
        train_run(method, config, threads)
    except BaseException:
        traceback.print_exc()
        log.flush()
        raise
