#!/usr/bin/env bash
# The trajectory-separation table's runs on one GPU, all at once, within a time budget.
#
# One prepared call for a lent GPU (the device tool allows 10 minutes a command): first times
# the learner's update on the `paper` setting (`benchmarks/learner_update.py --device cuda`,
# UPDATE_SECONDS at most; 0 skips it), then starts the runs of
#
#     python scripts/trajectory_separation.py --preset PRESET --groupings entity global \
#         --seeds SEEDS -- EXTRA --device cuda
#
# side by side (one process each, 2 torch threads; the GPU is shared) with the same run names,
# so that script writes the table from them, here or after copying RUN_ROOT back. Runs still
# going at the budget get SIGINT and keep their last checkpoint (`--resume` continues them).
# Each run directory is then packed into OUT_DIR/NAME.tar.gz (finished runs without their
# checkpoints) with the log, so a device tool can bring the results back.
#
# Usage (from the repository root, on the GPU machine):
#
#     bash scripts/gpu_trajsep.sh BUDGET_SECONDS OUT_DIR [UPDATE_SECONDS=60] [-- EXTRA...]
#
# Environment: PRESET (small), SEEDS ("1 2 3"), RUN_ROOT (runs/trajsep-gpu), DEVICE (cuda;
# cpu tries the script out on a machine without one).
# scripts/gpu_env.sh makes spawnzoo importable on a bare machine (see there).
set -uo pipefail

BUDGET="${1:?budget in seconds}"
OUT_DIR="${2:?output folder}"
UPDATE_SECONDS="${3:-60}"
shift $(( $# >= 3 ? 3 : $# ))
[[ "${1:-}" == "--" ]] && shift
PRESET="${PRESET:-small}"
SEEDS="${SEEDS:-1 2 3}"
RUN_ROOT="${RUN_ROOT:-runs/trajsep-gpu}"
DEVICE="${DEVICE:-cuda}"
START=$(date +%s)
source "$(dirname "${BASH_SOURCE[0]}")/gpu_env.sh"
echo "budget ${BUDGET}s, preset $PRESET, seeds $SEEDS, extra: $*"
mkdir -p "$OUT_DIR" "$RUN_ROOT"

if (( UPDATE_SECONDS > 0 )); then
    # the paper's minibatch (16 x 256 / 8 = 512 examples) from a shorter rollout
    timeout -s INT "$UPDATE_SECONDS" "$PY" "$HERE/benchmarks/learner_update.py" --repeats 2 -- \
        --preset paper --device "$DEVICE" --num-envs 16 --num-steps 64 --num-minibatches 2
    echo "update benchmark exited with $? after $(( $(date +%s) - START ))s"
fi

names=()
for seed in $SEEDS; do
    for grouping in entity global; do
        name="trajsep__${PRESET}__${grouping}__s${seed}"
        names+=("$name")
        [[ -f "$RUN_ROOT/$name/summary.json" ]] && continue
        left=$(( BUDGET - ($(date +%s) - START) ))
        OMP_NUM_THREADS=2 timeout -s INT "$left" "$PY" -m spawnzoo.cli train hybrid \
            --preset "$PRESET" --grouping "$grouping" --seed "$seed" --total-timesteps 102400 \
            --run-root "$RUN_ROOT" --run-name "$name" --resume --no-progress "$@" --device "$DEVICE" \
            >"$RUN_ROOT/$name.log" 2>&1 &
    done
done
wait
echo "runs ended after $(( $(date +%s) - START ))s"

"$PY" - "$RUN_ROOT" "$OUT_DIR" "${names[@]}" <<'PACK'
import sys, tarfile
from pathlib import Path

root, out, names = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
for name in names:
    run, log = root / name, root / f"{name}.log"
    finished = (run / "summary.json").exists()
    # a finished run needs no checkpoint; an unfinished one its newest (and .sha256) to resume
    newest = sorted((run / "checkpoints").glob("cycle_*.pt"))[-1:] if not finished else []
    keep = {p.name for c in newest for p in run.glob(f"checkpoints/{c.name}*")}
    with tarfile.open(out / f"{name}.tar.gz", "w:gz") as tar:
        for path in sorted(run.rglob("*")) + [log]:
            if path.is_file() and (path.parent.name != "checkpoints" or path.name in keep):
                tar.add(path, arcname=str(path.relative_to(root)))
    metrics = run / "metrics.jsonl"
    rows = len(metrics.read_text().splitlines()) if metrics.exists() else 0
    tail = log.read_text().strip().splitlines()[-2:] if log.exists() else []
    print(f"{name}: {'finished' if finished else 'NOT finished'}, {rows} metric rows; "
          f"log ends: {' | '.join(tail)}")
PACK
