"""How PPO's update behaved in the trajectory-separation runs: clipping, KL and entropy by phase.

Reads the ``metrics.jsonl`` of the runs that ``scripts/trajectory_separation.py`` wrote under
each ``RUN_ROOT`` (directories ``trajsep__{preset}__{grouping}__s{seed}``) and prints one
markdown table per root: for each grouping and training phase (cycles 1-5, 6-15, 16-25 by
default), the means over cycles and seeds of the clipped share of the surrogate's examples,
the approximate KL between the rollout's and the updated policy, the entropy per training
example (an example is a group: one entity with ``entity``, a player's whole team with
``global``), the entropy per entity (per-example entropy x active groups / live entities: a
group's entropy is the sum of its members') and the live entities per world (both players'
with two)::

    python scripts/trajsep_diagnostics.py runs/trajsep-f4-e10 runs/trajsep-f4

Nothing is trained: the script only reads finished (or partial) runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

RUN = re.compile(r"trajsep__(?P<preset>[^_]+)__(?P<grouping>.+)__s(?P<seed>\d+)$")
COLUMNS = {
    "clip fraction": "losses/clip_fraction",
    "approx. KL": "losses/approx_kl",
    "entropy per example": "losses/entropy",
}
COUNTS = ("agents/groups_active_mean", "agents/alive_mean")


def phases(spec: str) -> list[tuple[int, int]]:
    """``"1-5,6-15,16-25"`` -> ``[(1, 5), (6, 15), (16, 25)]`` (1-based cycles, inclusive)."""
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        try:
            lo_i, hi_i = int(lo), int(hi or lo)
        except ValueError:
            raise SystemExit(f"--phases: {part!r} is not a cycle range like 6-15") from None
        if not 1 <= lo_i <= hi_i:
            raise SystemExit(f"--phases: {part!r} must have 1 <= first <= last")
        out.append((lo_i, hi_i))
    return out


def read_metrics(run_dir: Path) -> list[dict]:
    """The run's per-cycle records (training cycles only: records with ``losses/``)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "losses/clip_fraction" in r]


def phase_mean(parts: list[list[dict]], key: str) -> float:
    """Mean over seeds of each seed's mean of ``key`` over the phase's cycles."""
    return float(np.mean([np.mean([r[key] for r in part]) for part in parts]))


def table(root: Path, cycle_ranges: list[tuple[int, int]]) -> str:
    runs: dict[str, list[list[dict]]] = {}
    for d in sorted(root.iterdir()):
        m = RUN.match(d.name)
        if m and d.is_dir() and (d / "metrics.jsonl").exists():
            runs.setdefault(m["grouping"], []).append(read_metrics(d))
    if not runs:
        raise SystemExit(f"{root}: no trajsep__<preset>__<grouping>__s<seed> runs with metrics")
    head = ["grouping", "cycles", "seeds", *COLUMNS, "entropy per entity", "live per world"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for grouping, seeds in runs.items():
        for lo, hi in cycle_ranges:
            parts = [s[lo - 1 : hi] for s in seeds if len(s) >= lo]
            if not parts:
                continue
            mean = {key: phase_mean(parts, key) for key in (*COLUMNS.values(), *COUNTS)}
            live = mean["agents/alive_mean"]
            per_entity = mean["losses/entropy"] * mean["agents/groups_active_mean"] / live
            cells = [f"{mean[key]:.3f}" for key in COLUMNS.values()]
            cells += [f"{per_entity:.2f}", f"{live:.1f}"]
            last = min(hi, max(len(p) + lo - 1 for p in parts))
            lines.append(f"| {grouping} | {lo}-{last} | {len(parts)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="+", type=Path, help="run roots of trajectory_separation.py")
    p.add_argument("--phases", default="1-5,6-15,16-25", help="cycle ranges, 1-based")
    args = p.parse_args(argv)
    cycle_ranges = phases(args.phases)
    for root in args.roots:
        if not root.is_dir():
            raise SystemExit(f"{root}: not a directory")
        print(f"### {root}\n\n{table(root, cycle_ranges)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
