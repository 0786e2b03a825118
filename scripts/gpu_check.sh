#!/usr/bin/env bash
# The paper's exact hybrid setting on a GPU, for as many cycles as fit in a time budget.
#
# One prepared call for a lent GPU (the device tool allows 10 minutes a command and about 15
# minutes a session): trains `spawnzoo train hybrid --preset paper` (48x48, two players in
# self-play, the paper's 208,457-parameter network with factorised heads, 16 worlds x 256 steps
# per cycle, 10 epochs x 8 minibatches, evaluation of 12 worlds to step 1000 after every cycle,
# as the paper; the zoo's protocol default is 32)
# on `--device cuda` until BUDGET seconds have passed, then prints per cycle: the time of the
# rollout, the update and the whole cycle, env steps per second, and the evaluation so far (the
# share of full-length episodes, episode length, ice transferred), plus the milestones reached
# (env steps at which 10% and 95% of the evaluation episodes lasted to step 1000).
#
# Usage (from the repository root, on the GPU machine):
#
#     bash scripts/gpu_check.sh [BUDGET_SECONDS=480] [OUT_DIR=runs/gpu_check] [-- extra options]
#
# Extra options go to `spawnzoo train hybrid` (e.g. `-- --grouping global --seed 2`).
# scripts/gpu_env.sh makes spawnzoo importable on a bare machine (see there).
set -uo pipefail

BUDGET="${1:-480}"
OUT_DIR="${2:-runs/gpu_check}"
shift $(( $# >= 2 ? 2 : $# ))
[[ "${1:-}" == "--" ]] && shift
source "$(dirname "${BASH_SOURCE[0]}")/gpu_env.sh"
echo "budget ${BUDGET}s"

mkdir -p "$OUT_DIR"
RUN_NAME="paper_gpu_check"
START=$(date +%s)
# the command stops at the budget (SIGINT): the metrics of every finished cycle are on disk
timeout -s INT "$BUDGET" "$PY" -m spawnzoo.cli train hybrid --preset paper --device cuda \
    --total-timesteps 102400 --num-envs 16 --num-steps 256 --update-epochs 10 \
    --num-minibatches 8 --eval-episodes 12 --seed 1 --run-root "$OUT_DIR" --run-name "$RUN_NAME" --no-progress \
    "$@"
echo "train exited with $? after $(( $(date +%s) - START ))s"

"$PY" - "$OUT_DIR/$RUN_NAME" <<'EOF'
import json, sys
from pathlib import Path

run = Path(sys.argv[1])
rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
print(f"{'env steps':>10} {'rollout s':>9} {'update s':>8} {'cycle s':>7} {'sps':>6} "
      f"{'full-length':>11} {'length':>7} {'ice':>8}")
first = {}
for r in rows:
    m = {k: v for k, v in r.items()}
    step = m.get("global_step", m.get("env_steps"))
    roll, upd = m.get("charts/rollout_seconds", 0.0), m.get("charts/update_seconds", 0.0)
    share = m.get("eval/full_length_fraction")
    for q in (0.1, 0.95):
        if share is not None and share >= q and q not in first:
            first[q] = step
    print(f"{step:>10} {roll:>9.1f} {upd:>8.1f} {roll + upd:>7.1f} {m.get('charts/sps', 0):>6.1f} "
          f"{'' if share is None else f'{share:.0%}':>11} "
          f"{m.get('eval/episode_length', float('nan')):>7.0f} "
          f"{m.get('eval/ice_transferred', float('nan')):>8.0f}")
print("milestones:", {f"{q:.0%}": first.get(q, "not yet") for q in (0.1, 0.95)})
EOF
