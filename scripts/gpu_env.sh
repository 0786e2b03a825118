# Sourced by the GPU scripts (gpu_check.sh, gpu_trajsep.sh): makes `python -m spawnzoo.cli`
# importable on a bare GPU machine and prints what the machine is.
#
# Without an installed spawnzoo the checkout's packages are linked under /tmp (PYTHONPATH);
# wheels of missing packages (gymnasium, pettingzoo, farama-notifications) are installed from
# `.whl/` or `$WHEELS` if that folder exists (a device machine may reach no package index).
# Sets HERE (the checkout) and PY (the interpreter, `$PYTHON` or python3).

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"

WHEELS="${WHEELS:-$HERE/.whl}"
if ! "$PY" -c "import gymnasium, pettingzoo" 2>/dev/null && [[ -d "$WHEELS" ]]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
        "$WHEELS"/*.whl && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -c "import spawnzoo.cli" 2>/dev/null; then
    # spawnzoo's packages are the checkout's top-level folders (setup.py): link them
    mkdir -p /tmp/spawnzoo_src/spawnzoo
    for layer in envs baselines hybrid cli integrations; do
        ln -sfn "$HERE/$layer" "/tmp/spawnzoo_src/spawnzoo/$layer"
    done
    export PYTHONPATH="/tmp/spawnzoo_src${PYTHONPATH:+:$PYTHONPATH}"
fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
"$PY" -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
      'numpy', numpy.__version__, 'cpu', torch.backends.cpu.get_cpu_capability())"
echo "commit $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)"
