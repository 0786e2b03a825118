"""Env throughput of harvest-v0: env-steps/s and agent-steps/s under random legal actions.

Two paths, each on maps of ``--maps`` sizes:

* ``pettingzoo``: ``spawnzoo.envs.make("harvest-v0", ...)`` stepped with a dict of actions, one
  world, reset when ``env.agents`` is empty. The timed region is ``env.step`` plus ``env.reset``;
  the random policy (one vectorised draw over the stacked observation masks, then the action
  dict) is timed apart and reported below the table.
* ``batched``: ``spawnzoo.envs.make_batched("harvest-v0", num_envs=E, ...)`` (auto-reset, no
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

ENV_ID = "harvest-v0"

#: Settings of each scenario (players come from ``--players``).
SCENARIOS: dict[str, dict[str, Any]] = {
    # Many live agents: 5 factories per player that neither run dry (1000 water lasts the
    # 1000-step episode) nor run out of metal, power or robot names, so they keep building while
    # random play destroys robots in collisions. About 100 live agents per world at 48x48.
    "crowded": {
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


#: the results block of ``--doc`` pages lies between these two lines
DOC_BEGIN = "<!-- results: begin (written by benchmarks/env_throughput.py --doc) -->"
DOC_END = "<!-- results: end -->"


@dataclass
class Row:
    """One measurement.

    Attributes:
        api: ``pettingzoo``, ``batched step`` or ``batched step+planes``.
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


def cpu_model() -> str:
    """The ``model name`` of /proc/cpuinfo, else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


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
        "cores": f"{os.cpu_count()} on the machine",
        "threads": f"one: {pinning}; OMP_NUM_THREADS=1 and the other BLAS pools likewise",
        "spawnzoo commit": git_commit(),
        "load average (1 min) at start": load_average(),
    }


def bench_pettingzoo(
    map_size: int, settings: dict[str, Any], seconds: float, warmup: int, seed: int
) -> Row:
    """Step the PettingZoo parallel env with random legal actions for ``seconds`` of env time.

    Args:
        map_size: side of the map.
        settings: env settings (``players`` and the scenario's).
        seconds: env time to accumulate in the timed region (``step`` and ``reset``).
        warmup: untimed steps first, so the agent count reaches its steady state.
        seed: seeds the env and the policy.
    """
    env = envs.make(ENV_ID, map_size=map_size, **settings)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)

    def policy() -> dict[str, int]:
        agents = env.agents
        masks = np.stack([obs[a]["action_mask"] for a in agents])
        return dict(zip(agents, np.argmax(rng.random(masks.shape) * masks, axis=1).tolist()))

    for _ in range(warmup):
        if not env.agents:
            obs, _ = env.reset()
        obs = env.step(policy())[0]
    env_s = policy_s = 0.0
    env_steps = agent_steps = episodes = 0
    clock = time.perf_counter
    while env_s < seconds:
        t0 = clock()
        if not env.agents:
            obs, _ = env.reset()
            episodes += 1
        t1 = clock()
        actions = policy()
        t2 = clock()
        obs = env.step(actions)[0]
        t3 = clock()
        env_s += (t1 - t0) + (t3 - t2)
        policy_s += t2 - t1
        env_steps += 1
        agent_steps += len(actions)
    env.close()
    return Row(
        api="pettingzoo",
        map_size=map_size,
        num_envs=1,
        live_agents=agent_steps / env_steps,
        env_steps_per_s=env_steps / env_s,
        agent_steps_per_s=agent_steps / env_s,
        env_steps=env_steps,
        agent_steps=agent_steps,
        timed_s=env_s,
        policy_s=policy_s,
        episodes=episodes,
    )


def bench_batched(
    map_size: int,
    num_envs: int,
    settings: dict[str, Any],
    seconds: float,
    warmup: int,
    seed: int,
    with_planes: bool,
) -> Row:
    """Step the batched core with random legal actions for ``seconds`` of timed step time.

    Args:
        map_size: side of the map.
        num_envs: worlds stepped together.
        settings: env settings (``players`` and the scenario's).
        seconds: time to accumulate in the timed region (``step``, plus ``planes()`` if asked).
        warmup: untimed steps first, so the agent count reaches its steady state.
        seed: seeds the env and the policy.
        with_planes: also time ``planes()`` after every step.
    """
    core = envs.make_batched(ENV_ID, num_envs=num_envs, map_size=map_size, **settings)
    rng = np.random.default_rng(seed)
    batch = core.reset(seed=seed)
    for _ in range(warmup):
        batch = core.step(np.argmax(rng.random(batch.action_mask.shape) * batch.action_mask, -1))
    env_s = policy_s = 0.0
    steps = agent_steps = episodes = 0
    clock = time.perf_counter
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
        map_size=map_size,
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


def target_text(row: Row) -> str:
    """``>= 100,000: met`` / ``>= 100,000: not met (48%)`` / empty when there is no target."""
    if row.target is None:
        return ""
    share = row.agent_steps_per_s / row.target
    verdict = "met" if share >= 1.0 else f"not met ({share:.0%})"
    return f">= {row.target:,}: {verdict}"


def markdown_table(rows: list[Row]) -> str:
    """The rows as a markdown table, ready to paste."""
    columns = ("api", "map", "envs", "live agents/world", "env-steps/s", "agent-steps/s")
    lines = [
        "| " + " | ".join((*columns, "target agent-steps/s")) + " |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.api} | {r.map_size}x{r.map_size} | {r.num_envs} | {r.live_agents:.1f} "
            f"| {r.env_steps_per_s:,.0f} | {r.agent_steps_per_s:,.0f} | {target_text(r)} |"
        )
    return "\n".join(lines)


def notes(rows: list[Row]) -> list[str]:
    """Per-row policy cost (outside the timed region) and episode counts."""
    out = []
    for r in rows:
        per_step = r.policy_s / (r.env_steps / r.num_envs) * 1e6
        out.append(
            f"{r.api} {r.map_size}x{r.map_size}: random policy {per_step:,.0f} us/step "
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
        "--maps", type=int, nargs="+", default=[24, 48, 64], help="map sizes (default: 24 48 64)"
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="timed seconds per measurement (default: 5)"
    )
    parser.add_argument(
        "--num-envs", type=int, default=64, help="worlds of the batched core (default: 64)"
    )
    parser.add_argument("--players", type=int, default=2, choices=(1, 2), help="(default: 2)")
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="crowded",
        help="crowded: 5 factories per player that keep building (default);\n"
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


def update_doc(path: Path, text: str) -> None:
    """Replace what lies between ``DOC_BEGIN`` and ``DOC_END`` in ``path`` with ``text``.

    Raises:
        ValueError: if the page lacks the two markers.
    """
    page = path.read_text()
    if DOC_BEGIN not in page or DOC_END not in page:
        raise ValueError(f"{path} needs the lines {DOC_BEGIN!r} and {DOC_END!r}")
    head, rest = page.split(DOC_BEGIN, 1)
    tail = rest.split(DOC_END, 1)[1]
    path.write_text(f"{head}{DOC_BEGIN}\n{text}\n\n{DOC_END}{tail}")


def main(argv: list[str] | None = None) -> None:
    """Run the measurements; print the header first, the table and the notes at the end."""
    args = parse_args(argv)
    pinning = "not pinned (--no-pin)" if args.no_pin else pin_to_one_core(args.cpu)
    header = machine_header(pinning)
    settings = {"players": args.players, **SCENARIOS[args.scenario]}
    header["scenario"] = f"{args.scenario}: " + ", ".join(f"{k}={v}" for k, v in settings.items())
    header["measurement"] = (
        f"{args.seconds:g} s timed per row after {args.warmup} untimed steps, seed {args.seed}"
    )
    for key, value in header.items():
        print(f"{key}: {value}", flush=True)
    rows: list[Row] = []
    for m in args.maps:
        if args.api in ("all", "pettingzoo"):
            rows.append(bench_pettingzoo(m, settings, args.seconds, args.warmup, args.seed))
        if args.api in ("all", "batched"):
            for with_planes in (False, True):
                rows.append(
                    bench_batched(
                        m,
                        args.num_envs,
                        settings,
                        args.seconds,
                        args.warmup,
                        args.seed,
                        with_planes,
                    )
                )
        print(f"map {m}x{m} measured", file=sys.stderr, flush=True)
    if args.scenario == "crowded" and args.players == 2:
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
        update_doc(args.doc, report(header, rows))
        print(f"results written into {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
