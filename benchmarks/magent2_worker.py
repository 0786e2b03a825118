"""MAgent2's side of ``env_throughput.py --vs magent2``: run by a Python that has magent2.

MAgent2 pulls ``pygame-ce``, which clashes with the ``pygame`` spawnzoo uses, so it usually
lives in its own virtual environment (``.venv-magent2``, see docs/benchmarks.md). This script
imports only magent2 and numpy. It reads one command per line on stdin and answers each with
one JSON line on stdout:

* ``round SECONDS``: step ``battle_v4`` with uniformly random actions (battle has no action
  masks) until ``SECONDS`` of timed env time have passed; answer
  ``{"env_steps", "agent_steps", "seconds", "resets"}``. The timed region is ``env.step`` plus
  ``env.reset`` (when no agents are left, the episode is truncated, or fewer than
  ``--reset-below`` agents are alive), as on spawnzoo's side; the random draw is not timed.
* ``quit``: exit.

The first line it writes, before any command, is ``{"ready": ..., "magent2": version,
"live_agents": n}``.

Usage (by ``env_throughput.py``, not by hand)::

    .venv-magent2/bin/python benchmarks/magent2_worker.py --map-size 45 --clock cpu
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--map-size", type=int, default=45)
    p.add_argument("--max-cycles", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reset-below", type=int, default=0, help="reset below this many agents")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    p.add_argument("--warmup", type=int, default=200, help="untimed steps first")
    args = p.parse_args(argv)

    import magent2
    import numpy as np
    from magent2.environments import battle_v4

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    env = battle_v4.parallel_env(map_size=args.map_size, max_cycles=args.max_cycles)
    env.reset(seed=args.seed)
    rng = np.random.default_rng(args.seed)
    n_actions = env.action_space(env.agents[0]).n
    episode = [0]

    def needs_reset() -> bool:
        return len(env.agents) < max(1, args.reset_below) or env.unwrapped.frames >= (
            args.max_cycles
        )

    def step_once() -> int:
        agents = env.agents
        actions = dict(zip(agents, rng.integers(0, n_actions, len(agents)).tolist()))
        env.step(actions)
        return len(actions)

    for _ in range(args.warmup):
        if needs_reset():
            episode[0] += 1
            env.reset(seed=args.seed + episode[0])
        step_once()
    out = sys.stdout
    print(
        json.dumps(
            {
                "ready": True,
                "magent2": getattr(magent2, "__version__", "unknown"),
                "live_agents": len(env.agents),
            }
        ),
        file=out,
        flush=True,
    )
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        seconds = float(cmd[1])
        env_s = 0.0
        env_steps = agent_steps = resets = 0
        while env_s < seconds:
            t0 = clock()
            if needs_reset():
                episode[0] += 1
                env.reset(seed=args.seed + episode[0])
                resets += 1
            t1 = clock()
            agents = env.agents
            actions = dict(zip(agents, rng.integers(0, n_actions, len(agents)).tolist()))
            t2 = clock()
            env.step(actions)
            t3 = clock()
            env_s += (t1 - t0) + (t3 - t2)
            env_steps += 1
            agent_steps += len(actions)
        reply = {
            "env_steps": env_steps,
            "agent_steps": agent_steps,
            "seconds": env_s,
            "resets": resets,
        }
        print(json.dumps(reply), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
