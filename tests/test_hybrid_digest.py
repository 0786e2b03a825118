"""Speed work on the hybrid must not change its numbers: stored digests of short runs.

A digest is the SHA-256 of a run's ``metrics.jsonl`` rows without their timing columns plus
the final checkpoint's weights, for a fixed seed, in the suite's setting (one torch thread). A
change that only makes training faster keeps every digest; a change that alters the numbers on
purpose (a fix, a new default) updates them in the same commit and says why.

Float results depend on the CPU's kernels (oneDNN picks them per instruction set) and on the
torch build, so the stored digests are checked only where they were recorded; elsewhere the
test skips and says so. To re-record, run this file with ``SPAWNZOO_PRINT_DIGESTS=1 -s``.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch
from learner_helpers import metric_rows
from spawnzoo.hybrid.config import HybridConfig
from spawnzoo.hybrid.policy import HybridPolicy
from spawnzoo.hybrid.train import train

#: where the digests below were recorded: (torch version, ``get_cpu_capability()``)
RECORDED_ON = ("2.13.0+cpu", "AVX512")

#: name -> (config overrides, digest); every run: tiny map, truncations inside the rollout
#: (64-step episodes), several epochs x minibatches, evaluation after each cycle
RUNS = {
    "one_player": (dict(), "7a4d6dc0acf73d961491b42e"),
    "two_players_global": (
        dict(env_settings={"players": 2}, grouping="global", seed=5),
        "744c5b54ffbe2808cc7d0728",
    ),
}

BASE = dict(
    preset="tiny",
    num_envs=3,
    num_steps=32,
    total_timesteps=3 * 32 * 3,
    num_minibatches=4,
    update_epochs=2,
    eval_envs=2,
    eval_max_cycles=24,
    progress=False,
    seed=2,
)


def run_digest(tmp_path, name: str, **overrides) -> str:
    """SHA-256 of a run's non-timing metrics and its final weights."""
    cfg = HybridConfig(**{**BASE, "run_root": str(tmp_path), "run_name": name, **overrides})
    result = train(cfg)
    h = hashlib.sha256(json.dumps(metric_rows(result.run_dir), sort_keys=True).encode())
    last = sorted((result.run_dir / "checkpoints").iterdir())[-1]
    state = torch.load(last, weights_only=True, map_location="cpu")["model"]
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_short_runs_keep_their_stored_digest(tmp_path, name):
    overrides, stored = RUNS[name]
    digest = run_digest(tmp_path, name, **overrides)
    if os.environ.get("SPAWNZOO_PRINT_DIGESTS"):
        print(f"{name}: {digest}")
    here = (torch.__version__, torch.backends.cpu.get_cpu_capability())
    if here != RECORDED_ON or torch.get_num_threads() != 1:
        pytest.skip(f"digests were recorded on {RECORDED_ON} with 1 thread; this is {here}")
    assert digest == stored, (
        f"{name}: the run's numbers changed (digest {digest}, stored {stored}); a speed-up must "
        "leave them bit-identical, a deliberate change re-records the digest"
    )


def test_channels_last_computes_the_same_function(tmp_path):
    """The opt-in layout is another kernel, not another network: same outputs and gradients
    up to float rounding."""
    torch.manual_seed(0)
    planes = torch.rand(6, 17, 12, 12)
    cell = torch.randint(0, 144, (6, 10))
    kind = torch.randint(0, 3, (6, 10))
    cell[:, 7:] = -1
    grads = []
    for channels_last in (False, True):
        net = HybridPolicy(in_channels=17, num_actions=9, structure_kinds=(0,), width=16, seed=1)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        logits, values = net(planes, cell, kind)
        (logits.square().sum() + values.square().sum()).backward()
        grads.append((logits, values, [p.grad for p in net.parameters()]))
    (la, va, ga), (lb, vb, gb) = grads
    torch.testing.assert_close(lb, la, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(vb, va, rtol=1e-4, atol=1e-7)
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-7)


def test_a_channels_last_run_is_deterministic_and_its_checkpoint_loads_in_either_layout(
    tmp_path,
):
    a = run_digest(tmp_path, "cl_a", channels_last=True)
    assert run_digest(tmp_path, "cl_b", channels_last=True) == a
    ckpt = sorted((tmp_path / "cl_a" / "checkpoints").iterdir())[-1]
    state = torch.load(ckpt, weights_only=True, map_location="cpu")["model"]
    net = HybridPolicy(
        in_channels=17, num_actions=14, structure_kinds=(0,), width=16, depth=1, stages=1
    )
    net.load_state_dict(state)  # default layout: same values, whatever the saved strides
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())
