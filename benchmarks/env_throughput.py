"""Env throughput of the suite's envs: env-steps/s and agent-steps/s under random legal actions.

``--env harvest-v0`` (default) measures harvest on maps of ``--maps`` sizes in a ``--scenario``;
``--env forage-v0`` / ``skirmish-v0`` measure each of the env's ``--presets`` (default: all).
``--scaling`` (forage) measures one 128x128 world's per-step cost against the number of live
agents, from a few to 4,096. Two paths:

* ``pettingzoo``: ``spawnzoo.envs.make(env_id, ...)`` stepped with a dict of actions, one
  world, reset when ``env.agents`` is empty. The timed region is ``env.step`` plus ``env.reset``;
  the random policy (one vectorised draw over the stacked observation masks, then the action
  dict) is timed apart and reported below the table.
* ``batched``: ``spawnzoo.envs.make_batched(env_id, num_envs=E, ...)`` (auto-reset, no
  egocentric windows), actions ``argmax(random * mask)``; one row times ``step`` alone, one row
  ``step`` + ``planes()``, the learners' usual call.

An agent-step is one live agent acting in one step (``len(actions)`` on the PettingZoo path, the
number of alive slots before the step on the batched path); "live agents/world" is agent-steps
per env-step. Everything runs on one core: BLAS/OpenMP pools get one thread (set below, before
numpy is imported) and the process is pinned to one CPU (``--cpu``, default 0) unless ``--no-pin``.

Usage::

    .venv/bin/python benchmarks/env_throughput.py --seconds 5
    .venv/bin/python benchmarks/env_throughput.py --seconds 5 --doc docs/benchmarks.md
    .venv/bin/python benchmarks/env_throughput.py --maps 48 --scenario default --json out.json
    .venv/bin/python benchmarks/env_throughput.py --env forage-v0 --doc docs/benchmarks.md
    .venv/bin/python benchmarks/env_throughput.py --env forage-v0 --scaling --doc docs/benchmarks.md
"""

from __future__ import annotations

import os

# One thread for every BLAS/OpenMP pool, before numpy is imported: the figures are single-core.
os.environ.update(
    dict.fromkeys(
        (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS",
            "NUMEXPR_NUM_THREADS",
        ),
        "1",
    )
)

import argparse
import datetime
import json
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spawnzoo import envs
from spawnzoo.baselines.common.machine import cpu_feature_level, cpu_model

HARVEST = "harvest-v0"

#: Settings of each scenario (players come from ``--players``).
SCENARIOS: dict[str, dict[str, Any]] = {
    # The target's setting (about 150 live agents at 48x48): 8 factories per player that neither
    # run dry (1000 water lasts the 1000-step episode) nor run out of metal, power or robot
    # names, so they keep building while random play destroys robots in collisions. About 145
    # live agents per world at 48x48.
    "crowded": {
        "factories_per_player": (8, 8),
        "init_metal": 10_000,
        "init_water": 1_000,
        "init_factory_power": 10_000,
        "robot_ids_per_class": 2_000,
        "max_cycles": 1_000,
    },
    # The same with Lux's largest factory count (5 per player): about 105 live agents at 48x48.
    "crowded-5": {
        "factories_per_player": (5, 5),
        "init_metal": 10_000,
        "init_water": 1_000,
        "init_factory_power": 10_000,
        "robot_ids_per_class": 2_000,
        "max_cycles": 1_000,
    },
    # Plain settings (factories per player scaled with the map, Lux starting resources): robots
    # are few and every factory dies of thirst after about 150 steps without ice.
    "default": {"max_cycles": 1_000},
}

#: (api, map size, num_envs) -> agent-steps/s the project aims for (crowded scenario, 2 players).
TARGETS: dict[tuple[str, int, int], int] = {
    ("pettingzoo", 48, 1): 100_000,
    ("batched step", 48, 64): 2_000_000,
    ("batched step+planes", 48, 64): 2_000_000,
}


#: forage's scaling curve: one world of the large preset (128x128, 4,096 agent slots) started
#: with each number of agents; the per-step cost is timed over the first ``SCALING_STEPS``
SCALING_ENV = "forage-v0"
SCALING_AGENTS = (16, 64, 256, 1024, 2048, 4096)
SCALING_STEPS = 40

#: the results block of ``--doc`` pages lies between these two lines (harvest's block; the
#: other envs' blocks carry their id, see ``doc_markers``)
DOC_BEGIN = "<!-- results: begin (written by benchmarks/env_throughput.py --doc) -->"
DOC_END = "<!-- results: end -->"


def doc_markers(env_id: str, scaling: bool = False, vs: str | None = None) -> tuple[str, str]:
    """The two lines around one results block of a ``--doc`` page."""
    if env_id == HARVEST and not scaling and vs is None:
        return DOC_BEGIN, DOC_END
    name = f"{env_id} scaling" if scaling else f"{env_id} vs {vs}" if vs else env_id
    return (
        f"<!-- results: begin {name} (written by benchmarks/env_throughput.py --doc) -->",
        f"<!-- results: end {name} -->",
    )


@dataclass
class Row:
    """One measurement.

    Attributes:
        api: ``pettingzoo``, ``batched step`` or ``batched step+planes``.
        case: what was measured, e.g. ``48x48`` or ``tiny 16x16``.
        map_size: side of the map.
        num_envs: worlds stepped together.
        live_agents: mean live agents per world (agent-steps / env-steps).
        env_steps_per_s: world-steps per second of timed env time.
        agent_steps_per_s: agent-steps per second of timed env time.
        env_steps: world-steps measured.
        agent_steps: agent-steps measured.
        timed_s: seconds inside the timed region.
        policy_s: seconds spent drawing the random actions (not in ``timed_s``).
        episodes: episodes that ended during the measurement.
        target: the agent-steps/s the project aims for here, if it set one.
    """

    api: str
    case: str
    map_size: int
    num_envs: int
    live_agents: float
    env_steps_per_s: float
    agent_steps_per_s: float
    env_steps: int
    agent_steps: int
    timed_s: float
    policy_s: float
    episodes: int
    target: int | None = None


def pin_to_one_core(cpu: int) -> str:
    """Pin this process to ``cpu`` where the OS allows it; return what was done, in words."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (os.sched_setaffinity unavailable)"
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def load_average() -> str:
    """The 1-minute load average (other work on the machine skews the figures), if known."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "unknown"


def numpy_dispatch() -> str:
    """The SIMD targets numpy's loops dispatch to on this machine (e.g. ``X86_V3 X86_V4``)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return " ".join(n for n in __cpu_dispatch__ if __cpu_features__.get(n)) or "baseline only"


def kernels_line() -> str:
    """How the envs' hot loops run: numba's version and the CPU it compiles for, or the numpy
    references (``SPAWNZOO_NO_NUMBA=1`` or no numba); torch is not used here."""
    from spawnzoo.envs.core import kernels

    if not kernels.numba_enabled():
        return "numpy references (SPAWNZOO_NO_NUMBA=1 or numba missing); torch not used"
    import llvmlite.binding
    import numba

    return (
        f"numba {numba.__version__} compiled for {llvmlite.binding.get_host_cpu_name()}; "
        "torch not used"
    )


def git_commit() -> str:
    """Short commit of the checkout, with ``+dirty`` when there are uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def machine_header(pinning: str) -> dict[str, str]:
    """What the numbers were measured on, and with which command."""
    python = os.path.relpath(sys.executable)
    if python.startswith(".."):
        python = sys.executable
    return {
        "command": shlex.join([python, *sys.argv]),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu features": f"{cpu_feature_level()} (numpy dispatch: {numpy_dispatch()})",
        "cores": f"{os.cpu_count()} on the machine",
        "threads": f"one: {pinning}; OMP_NUM_THREADS=1 and the other BLAS pools likewise",
        "spawnzoo commit": git_commit(),
        "kernels": kernels_line(),
        "load average (1 min) at start": load_average(),
    }


#: what the timed regions are measured with: ``wall`` (``time.perf_counter``, the default) or
#: ``cpu`` (``time.process_time``: this process's CPU time, which other load on a shared
#: machine inflates less); set by ``--clock``
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


class PettingZooStepper:
    """One PettingZoo world stepped with random legal actions, measured in rounds.

    Args:
        env_id: the env. settings: its settings.
        warmup: untimed steps first, so the agent count reaches its steady state.
        seed: seeds the env and the policy.
    """

    def __init__(self, env_id: str, settings: dict[str, Any], warmup: int, seed: int):
        self.env = envs.make(env_id, **settings)
        self.map_size = self.env.unwrapped.world.map_shape[0]
        self.rng = np.random.default_rng(seed)
        self.obs, _ = self.env.reset(seed=seed)
        for _ in range(warmup):
            if not self.env.agents:
                self.obs, _ = self.env.reset()
            self.obs = self.env.step(self.policy())[0]

    def policy(self) -> dict[str, int]:
        """Random legal actions: one vectorised draw over the stacked masks."""
        agents, obs = self.env.agents, self.obs
        masks = np.stack([obs[a]["action_mask"] for a in agents])
        return dict(zip(agents, np.argmax(self.rng.random(masks.shape) * masks, axis=1).tolist()))

    def run(self, seconds: float) -> dict[str, float]:
        """Step until ``seconds`` of timed env time (``step`` and ``reset``) have passed.

        Returns:
            ``{"env_steps", "agent_steps", "seconds", "policy_s", "episodes"}``.
        """
        env = self.env
        env_s = policy_s = 0.0
        env_steps = agent_steps = episodes = 0
        while env_s < seconds:
            t0 = clock()
            if not env.agents:
                self.obs, _ = env.reset()
                episodes += 1
            t1 = clock()
            actions = self.policy()
            t2 = clock()
            self.obs = env.step(actions)[0]
            t3 = clock()
            env_s += (t1 - t0) + (t3 - t2)
            policy_s += t2 - t1
            env_steps += 1
            agent_steps += len(actions)
        return {
            "env_steps": env_steps,
            "agent_steps": agent_steps,
            "seconds": env_s,
            "policy_s": policy_s,
            "episodes": episodes,
        }


def bench_pettingzoo(
    env_id: str, case: str, settings: dict[str, Any], seconds: float, warmup: int, seed: int
) -> Row:
    """Step the PettingZoo parallel env with random legal actions for ``seconds`` of env time.

    Args:
        env_id: the env. case: the row's label.
        settings: env settings (harvest: map size, players and the scenario's; others: preset).
        seconds: env time to accumulate in the timed region (``step`` and ``reset``).
        warmup: untimed steps first, so the agent count reaches its steady state.
        seed: seeds the env and the policy.
    """
    stepper = PettingZooStepper(env_id, settings, warmup, seed)
    m = stepper.run(seconds)
    stepper.env.close()
    return Row(
        api="pettingzoo",
        case=case,
        map_size=stepper.map_size,
        num_envs=1,
        live_agents=m["agent_steps"] / m["env_steps"],
        env_steps_per_s=m["env_steps"] / m["seconds"],
        agent_steps_per_s=m["agent_steps"] / m["seconds"],
        env_steps=m["env_steps"],
        agent_steps=m["agent_steps"],
        timed_s=m["seconds"],
        policy_s=m["policy_s"],
        episodes=m["episodes"],
    )


def bench_batched(
    env_id: str,
    case: str,
    num_envs: int,
    settings: dict[str, Any],
    seconds: float,
    warmup: int,
    seed: int,
    with_planes: bool,
) -> Row:
    """Step the batched core with random legal actions for ``seconds`` of timed step time.

    Args:
        env_id: the env. case: the row's label.
        num_envs: worlds stepped together.
        settings: env settings (harvest: map size, players and the scenario's; others: preset).
        seconds: time to accumulate in the timed region (``step``, plus ``planes()`` if asked).
        warmup: untimed steps first, so the agent count reaches its steady state.
        seed: seeds the env and the policy.
        with_planes: also time ``planes()`` after every step.
    """
    core = envs.make_batched(env_id, num_envs=num_envs, **settings)
    rng = np.random.default_rng(seed)
    batch = core.reset(seed=seed)
    for _ in range(warmup):
        batch = core.step(np.argmax(rng.random(batch.action_mask.shape) * batch.action_mask, -1))
    env_s = policy_s = 0.0
    steps = agent_steps = episodes = 0
    while env_s < seconds:
        t0 = clock()
        actions = np.argmax(rng.random(batch.action_mask.shape) * batch.action_mask, -1)
        acting = int(batch.alive.sum())
        t1 = clock()
        batch = core.step(actions)
        if with_planes:
            core.planes()
        t2 = clock()
        env_s += t2 - t1
        policy_s += t1 - t0
        steps += 1
        agent_steps += acting
        episodes += int(batch.done.sum())
    env_steps = steps * num_envs
    return Row(
        api="batched step+planes" if with_planes else "batched step",
        case=case,
        map_size=core.map_shape[0],
        num_envs=num_envs,
        live_agents=agent_steps / env_steps,
        env_steps_per_s=env_steps / env_s,
        agent_steps_per_s=agent_steps / env_s,
        env_steps=env_steps,
        agent_steps=agent_steps,
        timed_s=env_s,
        policy_s=policy_s,
        episodes=episodes,
    )


@dataclass
class ScalingRow:
    """One point of the scaling curve (one world, batched core).

    Attributes:
        initial_agents: agents at reset. live_agents: mean live agents over the timed steps.
        step_us: mean microseconds per ``step``; planes_us: per ``planes()``.
    """

    initial_agents: int
    live_agents: float
    step_us: float
    planes_us: float


def bench_scaling(seed: int, repeats: int = 3) -> list[ScalingRow]:
    """Forage's per-step cost against live agents: one 128x128 world (large preset, 4,096
    agent slots) reset with each of ``SCALING_AGENTS`` agents, ``SCALING_STEPS`` steps timed
    (random legal actions; the best of ``repeats`` resets, so other load counts least)."""
    rows = []
    for n in SCALING_AGENTS:
        best: tuple[float, float, float] | None = None
        for r in range(repeats):
            core = envs.make_batched(SCALING_ENV, num_envs=1, preset="large", initial_agents=n)
            rng = np.random.default_rng(seed + r)
            batch = core.reset(seed=seed + r)
            step_s = planes_s = 0.0
            live = 0
            for _ in range(SCALING_STEPS):
                actions = np.argmax(rng.random(batch.action_mask.shape) * batch.action_mask, -1)
                live += int(batch.alive.sum())
                t0 = clock()
                batch = core.step(actions)
                t1 = clock()
                core.planes()
                t2 = clock()
                step_s += t1 - t0
                planes_s += t2 - t1
            point = (step_s, planes_s, live / SCALING_STEPS)
            best = point if best is None or point[0] < best[0] else best
        step_s, planes_s, live_mean = best
        rows.append(
            ScalingRow(n, live_mean, step_s / SCALING_STEPS * 1e6, planes_s / SCALING_STEPS * 1e6)
        )
        print(f"scaling: {n} agents measured", file=sys.stderr, flush=True)
    return rows


def scaling_table(rows: list[ScalingRow]) -> str:
    """The scaling curve as a markdown table."""
    lines = [
        "| initial agents | live agents (mean) | us per step | us per live agent | "
        "agent-steps/s | us per planes() |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.initial_agents:,} | {r.live_agents:,.0f} | {r.step_us:,.0f} "
            f"| {r.step_us / r.live_agents:.2f} | {r.live_agents / r.step_us * 1e6:,.0f} "
            f"| {r.planes_us:,.0f} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ --vs magent2
#: MAgent2's side runs in its own interpreter (magent2 pulls pygame-ce, which clashes with
#: pygame): this worker script, started by ``magent2_python()``
MAGENT2_WORKER = Path(__file__).resolve().with_name("magent2_worker.py")
#: where ``--vs magent2`` looks for that interpreter when ``--magent2-python`` is not given
MAGENT2_VENV_PYTHON = Path(__file__).resolve().parents[1] / ".venv-magent2" / "bin" / "python"
#: the harvest side of the comparison: the crowded scenario on a 48x48 map, 2 players
VS_SETTINGS = {"map_size": 48, "players": 2, **SCENARIOS["crowded"]}
#: MAgent2's side: battle_v4 on a 45x45 map (162 agents at reset)
VS_MAGENT2_MAP = 45


def magent2_python(given: str | None) -> str:
    """The interpreter that has magent2: ``given``, else ``.venv-magent2/bin/python`` of the
    repository, else this one if it imports magent2.

    Raises:
        SystemExit: naming where it looked and how to install magent2.
    """
    if given:
        return given
    if MAGENT2_VENV_PYTHON.exists():
        return str(MAGENT2_VENV_PYTHON)
    import importlib.util

    if importlib.util.find_spec("magent2") is not None:
        return sys.executable
    raise SystemExit(
        "--vs magent2 needs magent2: none in this Python and no "
        f"{MAGENT2_VENV_PYTHON}; install it in its own venv (it pulls pygame-ce): "
        "python3 -m venv .venv-magent2 && .venv-magent2/bin/pip install magent2 "
        "(or pass --magent2-python PATH)"
    )


@dataclass
class VsRound:
    """One round of each side (agent-steps/s over that round's timed env time)."""

    spawnzoo_agent_steps_per_s: float
    spawnzoo_live_agents: float
    magent2_agent_steps_per_s: float
    magent2_live_agents: float


def bench_vs_magent2(args: argparse.Namespace, header: dict[str, str]) -> dict[str, Any]:
    """Alternate rounds of harvest's PettingZoo API (crowded 48x48, about 145 live agents) and
    MAgent2 ``battle_v4`` (map 45, about 160 live agents), ``--seconds`` of timed env time each;
    the MAgent2 worker waits (blocked on a read) while harvest runs, and the other way round.

    Returns:
        ``{"rounds": [VsRound], "spawnzoo": totals, "magent2": totals, "ratio": float}``,
        totals being ``{"agent_steps", "env_steps", "seconds", "agent_steps_per_s",
        "live_agents"}``.
    """
    python = magent2_python(args.magent2_python)
    cmd = [
        python,
        str(MAGENT2_WORKER),
        "--map-size",
        str(VS_MAGENT2_MAP),
        "--clock",
        args.clock,
        "--seed",
        str(args.seed),
        "--warmup",
        str(args.warmup),
        "--reset-below",
        str(args.magent2_reset_below),
    ]
    worker = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        hello = json.loads(worker.stdout.readline() or "{}")
        if not hello.get("ready"):
            raise SystemExit(f"the MAgent2 worker did not start: {shlex.join(cmd)}")
        header["magent2"] = (
            f"{hello['magent2']} (battle_v4, map {VS_MAGENT2_MAP}, random actions, "
            f"run by {python}; reset below {args.magent2_reset_below} agents)"
        )
        stepper = PettingZooStepper(HARVEST, VS_SETTINGS, args.warmup, args.seed)
        rounds, sides = [], {"spawnzoo": [], "magent2": []}
        for _ in range(args.rounds):
            ours = stepper.run(args.seconds)
            worker.stdin.write(f"round {args.seconds}\n")
            worker.stdin.flush()
            theirs = json.loads(worker.stdout.readline())
            sides["spawnzoo"].append(ours)
            sides["magent2"].append(theirs)
            rounds.append(
                VsRound(
                    ours["agent_steps"] / ours["seconds"],
                    ours["agent_steps"] / ours["env_steps"],
                    theirs["agent_steps"] / theirs["seconds"],
                    theirs["agent_steps"] / theirs["env_steps"],
                )
            )
            print(f"round {len(rounds)} measured", file=sys.stderr, flush=True)
        worker.stdin.write("quit\n")
        worker.stdin.flush()
    finally:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    result: dict[str, Any] = {"rounds": rounds}
    for side, runs in sides.items():
        total = {k: sum(r[k] for r in runs) for k in ("agent_steps", "env_steps", "seconds")}
        total["agent_steps_per_s"] = total["agent_steps"] / total["seconds"]
        total["live_agents"] = total["agent_steps"] / total["env_steps"]
        result[side] = total
    result["ratio"] = (
        result["spawnzoo"]["agent_steps_per_s"] / result["magent2"]["agent_steps_per_s"]
    )
    return result


def profile_round(args: argparse.Namespace, top: int = 14) -> str:
    """One more harvest round (``--seconds``) with ``env.step`` under cProfile: the functions
    with the most own time, as a text block, with each one's share of the profiled time."""
    import cProfile
    import io
    import pstats

    stepper = PettingZooStepper(HARVEST, VS_SETTINGS, args.warmup, args.seed)
    env = stepper.env
    profiler = cProfile.Profile(clock)
    m = {"env_steps": 0, "agent_steps": 0}
    spent = 0.0
    while spent < args.seconds:  # env.step alone is profiled, not the policy or resets
        if not env.agents:
            stepper.obs, _ = env.reset()
        actions = stepper.policy()
        t0 = clock()
        profiler.enable()
        stepper.obs = env.step(actions)[0]
        profiler.disable()
        spent += clock() - t0
        m["env_steps"] += 1
        m["agent_steps"] += len(actions)
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # own time of everything profiled
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    root = str(Path(__file__).resolve().parents[1]) + os.sep
    live = m["agent_steps"] / m["env_steps"]
    lines = [
        f"profile of {m['env_steps']:,} harvest PettingZoo steps ({live:.0f} live agents; "
        "cProfile adds its own cost to every Python call): own time per step",
        "",
        "```text",
    ]
    buf = io.StringIO()
    for (path, line, name), (_, calls, own, _cum, _callers) in rows:
        where = f"{path.replace(root, '')}:{line}({name})" if line else name
        buf.write(
            f"{own / m['env_steps'] * 1e6:8.0f} us  {own / total:5.1%}  "
            f"{calls / m['env_steps']:6.1f} calls/step  {where}\n"
        )
    lines += [buf.getvalue().rstrip(), "```"]
    return "\n".join(lines)


def vs_table(result: dict[str, Any]) -> str:
    """The rounds and the totals of ``bench_vs_magent2`` as a markdown table."""
    lines = [
        "| round | spawnzoo harvest agent-steps/s | live agents | MAgent2 battle agent-steps/s "
        "| live agents | spawnzoo / MAgent2 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(result["rounds"], 1):
        lines.append(
            f"| {i} | {r.spawnzoo_agent_steps_per_s:,.0f} | {r.spawnzoo_live_agents:.1f} "
            f"| {r.magent2_agent_steps_per_s:,.0f} | {r.magent2_live_agents:.1f} "
            f"| {r.spawnzoo_agent_steps_per_s / r.magent2_agent_steps_per_s:.2f} |"
        )
    ours, theirs = result["spawnzoo"], result["magent2"]
    lines.append(
        f"| all | {ours['agent_steps_per_s']:,.0f} | {ours['live_agents']:.1f} "
        f"| {theirs['agent_steps_per_s']:,.0f} | {theirs['live_agents']:.1f} "
        f"| {result['ratio']:.2f} |"
    )
    return "\n".join(lines)


def default_num_envs(map_size: int) -> int:
    """Worlds of the batched rows of a non-harvest preset: 64, fewer on large maps (about
    150,000 cells in all), so one step stays comparable in size."""
    return max(1, min(64, 150_000 // (map_size * map_size)))


def target_text(row: Row) -> str:
    """``>= 100,000: met`` / ``>= 100,000: not met (48%)`` / empty when there is no target."""
    if row.target is None:
        return ""
    share = row.agent_steps_per_s / row.target
    verdict = "met" if share >= 1.0 else f"not met ({share:.0%})"
    return f">= {row.target:,}: {verdict}"


def markdown_table(rows: list[Row]) -> str:
    """The rows as a markdown table, ready to paste."""
    columns = ("api", "case", "envs", "live agents/world", "env-steps/s", "agent-steps/s")
    lines = [
        "| " + " | ".join((*columns, "target agent-steps/s")) + " |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.api} | {r.case} | {r.num_envs} | {r.live_agents:.1f} "
            f"| {r.env_steps_per_s:,.0f} | {r.agent_steps_per_s:,.0f} | {target_text(r)} |"
        )
    return "\n".join(lines)


def notes(rows: list[Row]) -> list[str]:
    """Per-row policy cost (outside the timed region) and episode counts."""
    out = []
    for r in rows:
        per_step = r.policy_s / (r.env_steps / r.num_envs) * 1e6
        out.append(
            f"{r.api} {r.case}: random policy {per_step:,.0f} us/step "
            f"({r.policy_s / r.timed_s:.0%} of env time, not included); "
            f"{r.env_steps / r.num_envs:,.0f} steps, {r.episodes} episodes ended"
        )
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--env",
        default=HARVEST,
        choices=sorted(envs.REGISTRY),
        help=f"the env to measure (default: {HARVEST})",
    )
    parser.add_argument(
        "--maps",
        type=int,
        nargs="+",
        default=[24, 48, 64],
        help="harvest: map sizes (default: 24 48 64)",
    )
    parser.add_argument(
        "--presets", nargs="+", help="other envs: the presets to measure (default: all)"
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help=f"{SCALING_ENV}: per-step cost of one 128x128 world against live agents",
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="timed seconds per measurement (default: 5)"
    )
    parser.add_argument(
        "--num-envs",
        type=int,
        help="worlds of the batched core (default: 64; other envs: fewer on large maps)",
    )
    parser.add_argument(
        "--players", type=int, default=2, choices=(1, 2), help="harvest: players (default: 2)"
    )
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="crowded",
        help="harvest: crowded: 8 factories per player that keep building, about 150 live "
        "agents at 48x48 (default); crowded-5: the same with 5 factories per player; "
        "default: the env's plain settings",
    )
    parser.add_argument(
        "--api",
        choices=("all", "pettingzoo", "batched"),
        default="all",
        help="which path to measure (default: all)",
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="untimed steps before each measurement"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="what timed regions are measured with: wall time (default) or this process's CPU\n"
        "time, which other load on a shared machine inflates less",
    )
    parser.add_argument(
        "--vs",
        choices=("magent2",),
        help="magent2: alternate --rounds rounds of harvest's PettingZoo API (crowded 48x48)\n"
        "and MAgent2 battle_v4 (map 45) in a worker run by the Python that has magent2",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="--vs: rounds of each side (default: 5)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="--vs: then profile one more harvest round (cProfile, by own time, with the\n"
        "--clock): what bounds the PettingZoo step",
    )
    parser.add_argument(
        "--magent2-python",
        metavar="PATH",
        help="--vs magent2: the interpreter with magent2 (default: .venv-magent2/bin/python,\n"
        "else this one if it imports magent2)",
    )
    parser.add_argument(
        "--magent2-reset-below",
        type=int,
        default=0,
        metavar="N",
        help="--vs magent2: also reset battle when fewer than N agents are alive (default: 0,\n"
        "only at the end of an episode; random play rarely kills in battle)",
    )
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin to (default: 0)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to a CPU")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument(
        "--doc",
        type=Path,
        metavar="PAGE",
        help="also put header, table and notes between the results markers of this markdown\n"
        "page (docs/benchmarks.md)",
    )
    return parser.parse_args(argv)


def report(header: dict[str, str], rows: list[Row]) -> str:
    """The header (as a text block), the table and the notes, as markdown."""
    lines = ["```text", *(f"{k}: {v}" for k, v in header.items()), "```", ""]
    lines += [markdown_table(rows), "", *(f"- {line}" for line in notes(rows))]
    return "\n".join(lines)


def update_doc(path: Path, text: str, markers: tuple[str, str] = (DOC_BEGIN, DOC_END)) -> None:
    """Replace what lies between the two ``markers`` lines in ``path`` with ``text``.

    Raises:
        ValueError: if the page lacks the two markers.
    """
    begin, end = markers
    page = path.read_text()
    if begin not in page or end not in page:
        raise ValueError(f"{path} needs the lines {begin!r} and {end!r}")
    head, rest = page.split(begin, 1)
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{begin}\n{text}\n\n{end}{tail}")


def cases(args: argparse.Namespace) -> list[tuple[str, dict[str, Any], int]]:
    """``(label, env settings, batched worlds)`` of every measured case."""
    if args.env == HARVEST:
        settings = {"players": args.players, **SCENARIOS[args.scenario]}
        e = args.num_envs or 64
        return [(f"{m}x{m}", {"map_size": m, **settings}, e) for m in args.maps]
    table = envs.presets(args.env)
    names = args.presets or list(table)
    unknown = sorted(set(names) - set(table))
    if unknown:
        raise SystemExit(f"{args.env} has no preset(s) {unknown}; it has {sorted(table)}")
    out = []
    for name in names:
        size = envs.make_batched(args.env, num_envs=1, preset=name).map_shape[0]
        out.append(
            (f"{name} {size}x{size}", {"preset": name}, args.num_envs or default_num_envs(size))
        )
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the measurements; print the header first, the table and the notes at the end."""
    args = parse_args(argv)
    if args.scaling and args.env != SCALING_ENV:
        raise SystemExit(f"--scaling measures {SCALING_ENV}; pass --env {SCALING_ENV}")
    if args.vs and (args.env != HARVEST or args.scaling):
        raise SystemExit(
            f"--vs {args.vs} measures {HARVEST}'s PettingZoo API; drop --env/--scaling"
        )
    if args.rounds < 1:
        raise SystemExit(f"--rounds must be >= 1, got {args.rounds}")
    global clock
    clock = CLOCKS[args.clock]
    pinning = "not pinned (--no-pin)" if args.no_pin else pin_to_one_core(args.cpu)
    header = machine_header(pinning)
    header["clock"] = (
        "CPU time of the process (time.process_time)"
        if args.clock == "cpu"
        else "wall time (time.perf_counter)"
    )
    header["env"] = args.env
    if args.vs:
        return main_vs(args, header)
    if args.scaling:
        header["scenario"] = (
            f"one world of preset large (128x128, 4,096 agent slots) reset with "
            f"initial_agents in {list(SCALING_AGENTS)}; random legal actions"
        )
        header["measurement"] = (
            f"{SCALING_STEPS} steps timed after each reset, best of 3 resets, seed {args.seed}"
        )
    elif args.env == HARVEST:
        settings = {"players": args.players, **SCENARIOS[args.scenario]}
        header["scenario"] = f"{args.scenario}: " + ", ".join(
            f"{k}={v}" for k, v in settings.items()
        )
    else:
        header["scenario"] = "each preset's own settings"
    if not args.scaling:
        header["measurement"] = (
            f"{args.seconds:g} s timed per row after {args.warmup} untimed steps, seed {args.seed}"
        )
    for key, value in header.items():
        print(f"{key}: {value}", flush=True)
    if args.scaling:
        table = scaling_table(bench_scaling(args.seed))
        header["load average (1 min) at end"] = load_average()
        print(f"load average (1 min) at end: {header['load average (1 min) at end']}\n")
        print(table)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"header": header, "table": table}, indent=2) + "\n")
        if args.doc is not None:
            block = "\n".join(["```text", *(f"{k}: {v}" for k, v in header.items()), "```"])
            update_doc(args.doc, f"{block}\n\n{table}", doc_markers(args.env, scaling=True))
            print(f"results written into {args.doc}", file=sys.stderr)
        return
    rows: list[Row] = []
    for label, settings, num_envs in cases(args):
        if args.api in ("all", "pettingzoo"):
            rows.append(
                bench_pettingzoo(args.env, label, settings, args.seconds, args.warmup, args.seed)
            )
        if args.api in ("all", "batched"):
            for with_planes in (False, True):
                rows.append(
                    bench_batched(
                        args.env,
                        label,
                        num_envs,
                        settings,
                        args.seconds,
                        args.warmup,
                        args.seed,
                        with_planes,
                    )
                )
        print(f"{label} measured", file=sys.stderr, flush=True)
    if args.env == HARVEST and args.scenario == "crowded" and args.players == 2:
        for row in rows:
            row.target = TARGETS.get((row.api, row.map_size, row.num_envs))
    header["load average (1 min) at end"] = load_average()
    print(f"load average (1 min) at end: {header['load average (1 min) at end']}\n")
    print(markdown_table(rows))
    print()
    for line in notes(rows):
        print(f"- {line}")
    sys.stdout.flush()
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"header": header, "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    if args.doc is not None:
        update_doc(args.doc, report(header, rows), doc_markers(args.env))
        print(f"results written into {args.doc}", file=sys.stderr)


def main_vs(args: argparse.Namespace, header: dict[str, str]) -> None:
    """``--vs magent2``: the comparison's header, rounds table and totals."""
    header["scenario"] = "spawnzoo: crowded: " + ", ".join(
        f"{k}={v}" for k, v in VS_SETTINGS.items()
    )
    header["measurement"] = (
        f"{args.rounds} rounds of each side, alternating, {args.seconds:g} s timed env time "
        f"(step and reset) per round after {args.warmup} untimed steps, seed {args.seed}; "
        "random actions (spawnzoo: legal ones from the masks; battle has no masks)"
    )
    for key, value in header.items():
        print(f"{key}: {value}", flush=True)
    result = bench_vs_magent2(args, header)
    print(f"magent2: {header['magent2']}")
    header["load average (1 min) at end"] = load_average()
    print(f"load average (1 min) at end: {header['load average (1 min) at end']}\n")
    table = vs_table(result)
    if args.profile:
        table += "\n\n" + profile_round(args)
    print(table)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "header": header,
            **{k: v for k, v in result.items() if k != "rounds"},
            "rounds": [asdict(r) for r in result["rounds"]],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    if args.doc is not None:
        block = "\n".join(["```text", *(f"{k}: {v}" for k, v in header.items()), "```"])
        update_doc(args.doc, f"{block}\n\n{table}", doc_markers(HARVEST, vs=args.vs))
        print(f"results written into {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
