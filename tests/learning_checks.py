"""The zoo's learning checks: one definition, used by the tests and by their calibration.

Every check trains one method on the ``tiny`` preset (12x12, one factory, one player) with
rubble-free ice (``resource_rubble_divisor=1000``: a robot on ice digs it at once) and compares
the run's final evaluation (32 worlds x 128 steps on the held-out maps of its seed, actions sampled
from the policy) with the ``random`` reference policy on the same maps, which delivers about 15
ice per episode there.

A check must fail only when learning is broken, on any machine. Float results differ between
CPUs (the kernels torch, oneDNN and MKL pick), so one seed's curve proves little: a check trains
``SEEDS`` and passes when the **median** ice of its seeds exceeds its ``threshold``, which sits
below the worst of its calibrated runs (8 seeds x every CPU profile this machine can emulate,
``tests/cpu_profile.py``) with a margin. The calibration table is in ``docs/testing.md``;
rerun it after a change to a learner's defaults or to a check's budget:

    python tests/learning_checks.py --checks hybrid dashnet --seeds 1-8 \\
        --profiles native avx2 default --jobs 2 --out runs/calibration
    python tests/learning_checks.py --out runs/calibration --table --doc docs/testing.md

A run is one process with one torch thread, started under the profile's environment, so its
kernels are the ones that profile's machine would use. Results are appended to
``OUT/results.jsonl`` as they finish; a rerun skips what is there.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: rubble-free ice on the tiny map: learnable within a CPU minute
EASY = {"resource_rubble_divisor": 1000}
#: what every check shares: 16 worlds x 64 steps (one tiny episode) per cycle, one final eval
COMMON: dict[str, Any] = dict(
    preset="tiny",
    env_settings=EASY,
    num_envs=16,
    num_steps=64,
    eval_every=0,  # evaluate once, after the last cycle
    progress=False,
)
#: the seeds a check trains in the test suite; it passes on their median
SEEDS = (1, 2, 3)


@dataclass(frozen=True)
class LearningCheck:
    """One method's learning check.

    Attributes:
        method: its name in the algorithm table.
        fields: config fields over ``COMMON`` (budget, learning rate, ...).
        threshold: the median final ice of ``SEEDS`` must exceed this.
        slow: excluded from the default suite (``pytest -m slow`` runs it).
        calibrated: what the calibration found, in words, for the failure message.
    """

    method: str
    fields: dict[str, Any] = field(default_factory=dict)
    threshold: float = 50.0
    slow: bool = False
    calibrated: str = ""

    def config(self, seed: int, run_root: str | Path) -> Any:
        """The run's config (its method's config class) for ``seed``, writing into ``run_root``."""
        from spawnzoo.baselines.registry import make_algorithm

        cls = make_algorithm(self.method).config_cls
        return cls(**{**COMMON, **self.fields, "seed": seed, "run_root": str(run_root)})

    def run(self, seed: int, run_root: str | Path) -> float:
        """Train ``seed`` and return its final evaluation's mean ice transferred per episode."""
        from spawnzoo.baselines.registry import make_algorithm

        result = make_algorithm(self.method).train(self.config(seed, run_root))
        return float(result.summary["final_metrics"]["eval/ice_transferred"])


#: name -> check. Thresholds: below the worst calibrated run of ``docs/testing.md``, with margin
CHECKS: dict[str, LearningCheck] = {
    "hybrid": LearningCheck(
        "hybrid",
        dict(total_timesteps=16_384, update_epochs=4, num_minibatches=16),
        # 24 calibrated runs: worst 245, worst median of 3 seeds 277 (docs/testing.md)
        threshold=120.0,
    ),
    "dashnet": LearningCheck(
        "monolithic",
        dict(total_timesteps=16_384, learning_rate=1e-3, update_epochs=4, num_minibatches=16),
        # 24 calibrated runs: worst 76, worst median of 3 seeds 81 (docs/testing.md)
        threshold=50.0,
    ),
    "bottlenet": LearningCheck(
        "monolithic",
        # the U-Net learns slower than DashNet here (as in the paper, §7.1): twice the budget
        dict(
            network="bottlenet",
            total_timesteps=32_768,
            learning_rate=1e-3,
            update_epochs=8,
            num_minibatches=16,
        ),
        threshold=33.0,
        slow=True,
    ),
    "mappo": LearningCheck(
        "mappo",
        # the team reward does not learn within this budget (see mappo.md)
        dict(
            reward="own",
            total_timesteps=16_384,
            learning_rate=1e-3,
            update_epochs=8,
            num_minibatches=16,
        ),
        threshold=50.0,
        slow=True,
    ),
    "independent": LearningCheck(
        "independent",
        # its own defaults: 8 worlds x 64 steps, 8 epochs x 8 minibatches
        dict(num_envs=8, total_timesteps=20_480),
        threshold=50.0,
        slow=True,
    ),
    "rllib-ppo": LearningCheck(
        "rllib-ppo",
        # RLlib's PPO through the PettingZoo env: 2.5-4 CPU minutes a seed on a busy machine
        dict(
            total_timesteps=16_384,
            learning_rate=1e-3,
            update_epochs=4,
            num_minibatches=16,
            ent_coef=0.01,
        ),
        threshold=60.0,
        slow=True,
        calibrated="seeds 1-3 on one AVX-512 machine only (held-out maps): 159, 154, 196",
    ),
}


@functools.cache
def random_ice(horizon: int = 128) -> float:
    """Ice transferred per episode by random legal actions on the checks' evaluation maps: the
    held-out final maps of ``SEEDS`` (the evaluation protocol's ``final_map_seed``), as many
    episodes per seed as a check's final evaluation plays; the mean over those seeds."""
    from spawnzoo.baselines.common.evaluation import evaluate
    from spawnzoo.baselines.common.protocol import DEFAULT_EVAL_EPISODES, final_map_seed
    from spawnzoo.envs.core.policies import RandomPolicy

    return statistics.mean(
        evaluate(
            lambda world: RandomPolicy(world, seed=0),
            "harvest-v0",
            {"preset": "tiny", **EASY},
            num_envs=DEFAULT_EVAL_EPISODES,
            max_cycles=horizon,
            seed=final_map_seed(seed),
        ).ice_transferred
        for seed in SEEDS
    )


# ---------------------------------------------------------------------- calibration
def _seeds(text: str) -> list[int]:
    """``"1-8"`` or ``"1,4,9"`` -> seeds."""
    if "-" in text:
        lo, hi = text.split("-", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def _run_one(name: str, seed: int, profile: str, out: Path) -> dict[str, Any]:
    """Run check ``name`` for ``seed`` in a child process under ``profile``; its result row."""
    from cpu_profile import profile_env

    env = profile_env(profile)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    run_root = out / "runs" / f"{name}__{profile}__{seed}"
    code = (
        "import json, sys, time, torch; sys.path.insert(0, sys.argv[1]);"
        "torch.set_num_threads(1); from learning_checks import CHECKS; t = time.time();"
        "ice = CHECKS[sys.argv[2]].run(int(sys.argv[3]), sys.argv[4]);"
        "print(json.dumps({'ice': ice, 'seconds': time.time() - t,"
        " 'capability': torch.backends.cpu.get_cpu_capability()}))"
    )
    argv = [sys.executable, "-c", code, str(HERE), name, str(seed), str(run_root)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{name} seed {seed} under {profile} failed:\n{done.stderr[-3000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return {"check": name, "seed": seed, "profile": profile, **row}


def read_results(out: Path) -> list[dict[str, Any]]:
    """The rows of ``out/results.jsonl`` (none when it does not exist)."""
    path = out / "results.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def calibrate(
    names: Sequence[str], seeds: Sequence[int], profiles: Sequence[str], out: Path, jobs: int
) -> None:
    """Run every (check, seed, profile) missing from ``out/results.jsonl``, ``jobs`` at a time."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "commands.txt").open("a") as f:  # the table names the commands behind it
        f.write(shlex.join(["python", "tests/learning_checks.py", *sys.argv[1:]]) + "\n")
    done = {(r["check"], r["seed"], r["profile"]) for r in read_results(out)}
    todo = [(n, s, p) for n in names for p in profiles for s in seeds if (n, s, p) not in done]
    print(f"{len(todo)} runs to do ({len(done)} done) -> {out / 'results.jsonl'}", flush=True)
    start = time.time()
    with ThreadPoolExecutor(max_workers=jobs) as pool, (out / "results.jsonl").open("a") as f:
        for i, row in enumerate(pool.map(lambda job: _run_one(*job, out), todo), 1):
            f.write(json.dumps(row) + "\n")
            f.flush()
            print(
                f"[{i}/{len(todo)}, {time.time() - start:.0f} s] {row['check']} seed "
                f"{row['seed']} {row['profile']} ({row['capability']}): {row['ice']:.1f} ice "
                f"in {row['seconds']:.0f} s",
                flush=True,
            )


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The calibration as markdown: one table per check, seeds x profiles, and a summary line:
    the worst run, and per profile the median of ``SEEDS`` and the worst median that any
    ``len(SEEDS)`` of the calibrated seeds could give (what the threshold must stay below)."""
    lines = []
    for name, check in CHECKS.items():
        mine = [r for r in rows if r["check"] == name]
        if not mine:
            continue
        profiles = list(dict.fromkeys(r["profile"] for r in mine))
        seeds = sorted({r["seed"] for r in mine})
        ice = {(r["seed"], r["profile"]): r["ice"] for r in mine}
        caps = {r["profile"]: r["capability"] for r in mine}
        head = ["seed", *(f"{p} ({caps[p]})" for p in profiles)]
        lines += [
            f"**{name}** (`{check.method}`, threshold {check.threshold:g} ice on the median "
            f"of seeds {', '.join(map(str, SEEDS))})",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---:" for _ in head) + "|",
        ]
        for seed in seeds:
            cells = [f"{ice[seed, p]:.1f}" if (seed, p) in ice else "" for p in profiles]
            lines.append(f"| {seed} | " + " | ".join(cells) + " |")
        values = [r["ice"] for r in mine]
        medians = {
            p: statistics.median(ice[s, p] for s in SEEDS)
            for p in profiles
            if all((s, p) in ice for s in SEEDS)
        }
        # the worst median of k seeds takes the k // 2 + 1 lowest: it is the (k // 2)-th lowest
        worst = {
            p: sorted(v for (_, q), v in ice.items() if q == p)[len(SEEDS) // 2]
            for p in profiles
            if sum(q == p for _, q in ice) >= len(SEEDS)
        }
        seconds = statistics.median(r["seconds"] for r in mine)
        lines += [
            "",
            f"{len(values)} runs: worst {min(values):.1f}, median {statistics.median(values):.1f},"
            f" best {max(values):.1f}. Median of seeds {', '.join(map(str, SEEDS))}: "
            + ", ".join(f"{m:.1f} ({p})" for p, m in medians.items())
            + f"; worst median of any {len(SEEDS)} seeds: "
            + ", ".join(f"{m:.1f} ({p})" for p, m in worst.items())
            + f". {seconds:.0f} s per run (median, one thread, on a shared machine).",
            "",
        ]
    return "\n".join(lines)


#: the calibration block of ``--doc`` pages lies between these lines
DOC_BEGIN = "<!-- calibration: begin (written by tests/learning_checks.py --doc) -->"
DOC_END = "<!-- calibration: end -->"


def write_doc(path: Path, text: str) -> None:
    """Replace the calibration block of markdown page ``path`` with ``text``.

    Raises:
        ValueError: the page has no block between ``DOC_BEGIN`` and ``DOC_END``.
    """
    page = path.read_text()
    if DOC_BEGIN not in page or DOC_END not in page:
        raise ValueError(f"{path} has no calibration block ({DOC_BEGIN} ... {DOC_END})")
    head, rest = page.split(DOC_BEGIN, 1)
    tail = rest.split(DOC_END, 1)[1]
    path.write_text(f"{head}{DOC_BEGIN}\n{text.strip()}\n{DOC_END}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Calibrate the learning checks.")
    parser.add_argument("--checks", nargs="+", default=list(CHECKS), choices=list(CHECKS))
    parser.add_argument("--seeds", type=_seeds, default=_seeds("1-8"))
    parser.add_argument("--profiles", nargs="+", default=["native", "avx2", "default"])
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2)))
    parser.add_argument("--out", type=Path, default=Path("runs/calibration"))
    parser.add_argument("--table", action="store_true", help="only print the table of OUT")
    parser.add_argument("--doc", type=Path, help="also write the table into this markdown page")
    args = parser.parse_args(argv)
    if not args.table:
        calibrate(args.checks, args.seeds, args.profiles, args.out, args.jobs)
    made_by = out_commands(args.out)
    text = (
        f"Runs made by: {made_by}  \nMachine: {describe_machine()}  \n"
        f"Random legal actions on the checks' evaluation maps: {random_ice():.1f} ice per "
        f"episode.\n\n{table(read_results(args.out))}"
    )
    print(text)
    if args.doc is not None:
        write_doc(args.doc, text)
    return 0


def out_commands(out: Path) -> str:
    """The calibration commands that wrote ``out`` (from ``out/commands.txt``), as markdown."""
    path = out / "commands.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return "; ".join(f"`{line}`" for line in dict.fromkeys(lines)) or "(not recorded)"


def describe_machine() -> str:
    """The machine in one line (CPU, its feature level, torch and its kernels)."""
    from spawnzoo.baselines.common.machine import describe, one_line

    return one_line(describe(import_torch=True))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
