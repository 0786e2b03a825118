"""Speed work on the hybrid must not change its numbers, and no run may depend on chance.

A digest is the SHA-256 of a run's ``metrics.jsonl`` rows without their timing columns plus
the final checkpoint's weights. No digest is stored: float results depend on the kernels torch,
oneDNN and MKL pick for the CPU (AVX2 or AVX-512, and their cache sizes), so a digest recorded
on one machine says nothing on another (``docs/testing.md``). The checks here compare within
one process instead, which holds on every machine:

* the same run twice gives the same digest (no unseeded generator, thread race or dict order
  leaks into the numbers), and another seed another digest (the digest sees the run);
* a fast path computes what the plain path computes (channels-last against the default layout).

To check that a refactor keeps a run bit-identical, print the digests before and after it on
the same machine and compare them: ``python tests/test_hybrid_determinism.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from learner_helpers import metric_rows

from spawnzoo.envs import make_batched
from spawnzoo.hybrid.config import HybridConfig
from spawnzoo.hybrid.policy import HybridPolicy
from spawnzoo.hybrid.train import build_policy, train

pytestmark = pytest.mark.numerics

#: name -> config overrides; every run: tiny map, truncations inside the rollout (64-step
#: episodes), several epochs x minibatches, evaluation after each cycle
RUNS = {
    "one_player": dict(),
    "two_players_global": dict(env_settings={"players": 2}, grouping="global", seed=5),
}

BASE = dict(
    preset="tiny",
    num_envs=3,
    num_steps=32,
    total_timesteps=3 * 32 * 3,
    num_minibatches=4,
    update_epochs=2,
    eval_episodes=2,
    eval_max_cycles=24,
    progress=False,
    seed=2,
)


def run_digest(tmp_path, name: str, **overrides) -> str:
    """SHA-256 of a run's non-timing metrics and its final weights."""
    cfg = HybridConfig(**{**BASE, "run_root": str(tmp_path), "run_name": name, **overrides})
    result = train(cfg)
    h = hashlib.sha256(json.dumps(metric_rows(result.run_dir), sort_keys=True).encode())
    last = sorted((result.run_dir / "checkpoints").glob("*.pt"))[-1]
    state = torch.load(last, weights_only=True, map_location="cpu")["model"]
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_run_repeated_in_one_process_is_bit_identical(tmp_path, name):
    overrides = RUNS[name]
    first = run_digest(tmp_path, f"{name}_a", **overrides)
    assert run_digest(tmp_path, f"{name}_b", **overrides) == first, (
        f"{name}: two runs of the same config and seed differ; something unseeded or "
        "order-dependent reached the numbers"
    )
    other = {**overrides, "seed": overrides.get("seed", BASE["seed"]) + 1}
    assert run_digest(tmp_path, f"{name}_c", **other) != first


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
    ckpt = sorted((tmp_path / "cl_a" / "checkpoints").glob("*.pt"))[-1]
    state = torch.load(ckpt, weights_only=True, map_location="cpu")["model"]
    world = make_batched("harvest-v0", num_envs=1, preset=BASE["preset"])
    net = build_policy(HybridConfig(**BASE), world)  # the run's network (factorised heads)
    net.load_state_dict(state)  # default layout: same values, whatever the saved strides
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        torch.set_num_threads(1)
        for name, overrides in RUNS.items():
            print(f"{name}: {run_digest(Path(folder), name, **overrides)}")
    sys.exit(0)
