"""Where a hybrid PPO update spends its time, on the CPU or a GPU.

Builds the learner exactly as ``spawnzoo train hybrid`` does (every train option after ``--``),
collects one rollout, computes the group targets, then times whole update epochs (the
config's ``num_minibatches`` per player) and reports the median seconds per epoch and
milliseconds per minibatch step. ``--profile`` adds torch.profiler's tables for one more epoch
(top operators by host time and, on CUDA, by kernel time); ``--fast-kernels`` adds a row with
cuDNN benchmarking on and the deterministic-algorithm switch off (the learner's default is
deterministic kernels).

Usage::

    .venv/bin/python benchmarks/learner_update.py -- --preset small --update-epochs 1
    python benchmarks/learner_update.py --profile --fast-kernels \\
        -- --preset paper --set players=2 --device cuda

The output is markdown: the command, the machine, the table, then the profiles.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import statistics
import sys
import time

import torch

from spawnzoo.baselines.common.buffer import Rollout
from spawnzoo.baselines.common.config import config_from_cli
from spawnzoo.baselines.common.machine import describe, one_line
from spawnzoo.baselines.common.seeding import seed_everything
from spawnzoo.baselines.grouped import grouping as grp
from spawnzoo.baselines.grouped import ppo as gppo
from spawnzoo.envs import make_batched
from spawnzoo.hybrid.config import HybridConfig
from spawnzoo.hybrid.train import build_policy, separation


def machine(device: str) -> str:
    """One line: CPU model and feature level, torch and its kernels, threads, Python and, on
    CUDA, the GPU's name."""
    line = (
        f"{one_line(describe())}, {torch.get_num_threads()} torch threads, "
        f"Python {platform.python_version()}"
    )
    if device.startswith("cuda"):
        line += f", {torch.cuda.get_device_name(torch.device(device))}"
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="timed epochs per row (median)")
    p.add_argument("--profile", action="store_true", help="profile one more epoch")
    p.add_argument("--fast-kernels", action="store_true", help="also time non-deterministic")
    p.add_argument("train", nargs="*", help="'spawnzoo train hybrid' options, after --")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    cfg = config_from_cli(HybridConfig, args.train, prog="learner_update.py --")
    cuda = cfg.device.startswith("cuda")

    seed_everything(cfg.seed, deterministic=cfg.torch_deterministic)
    env = make_batched(cfg.env_id, num_envs=cfg.num_envs, **cfg.env_kwargs)
    layout = grp.EntityLayout.of(env)
    policy = build_policy(cfg, env).to(cfg.device)
    if cfg.channels_last:
        policy = policy.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps)
    generator = torch.Generator().manual_seed(cfg.seed)
    sep = separation(cfg)
    ro = Rollout.for_world(cfg.num_steps, env, cfg.planes_fp16)
    t0 = time.perf_counter()
    stats: dict = {"alive": 0.0, "episodes": []}
    batch = env.reset(seed=cfg.seed)
    _, last_values, last = gppo.collect(cfg, env, policy, ro, batch, generator, stats)
    rollout_s = time.perf_counter() - t0
    targets = [
        gppo.player_targets(cfg, sep, ro, last_values, last, p, env.map_shape[1], layout, generator)
        for p in range(env.num_players)
    ]
    one_epoch = HybridConfig(**{**vars(cfg), "update_epochs": 1})
    steps = env.num_players * max(1, cfg.num_minibatches)

    def epoch() -> float:
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        gppo.update(one_epoch, sep, policy, optimizer, ro, targets, generator)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    rows = []

    def measure(label: str) -> None:
        epoch()  # warm-up: allocator, cuDNN plans, lazy init
        seconds = statistics.median(epoch() for _ in range(args.repeats))
        rows.append(f"| {label} | {seconds:.2f} | {1000 * seconds / steps:.0f} |")

    measure("default (deterministic kernels)")
    profiles = []
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            epoch()
        table = prof.key_averages().table
        profiles.append(("host time", table(sort_by="self_cpu_time_total", row_limit=15)))
        if cuda:
            profiles.append(("kernel time", table(sort_by="self_cuda_time_total", row_limit=15)))
    if args.fast_kernels:
        torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.benchmark = True
        torch.use_deterministic_algorithms(False)
        measure("cuDNN benchmark, non-deterministic")

    words = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "benchmarks/learner_update.py", *words])
    samples = cfg.num_envs * cfg.num_steps // max(1, cfg.num_minibatches)
    print(f"command: `{command}`  \nmachine: {machine(cfg.device)}  ")
    settings = f" {cfg.env_settings}" if cfg.env_settings else ""
    print(
        f"setting: {cfg.env_id} preset {cfg.preset}{settings}, network "
        f"{cfg.width}x{cfg.depth}x{cfg.stages}, {env.num_players} player(s) x "
        f"{cfg.num_minibatches} minibatches of {samples} env steps per epoch, device "
        f"{cfg.device}; the rollout ({cfg.num_envs} x {cfg.num_steps} steps) took "
        f"{rollout_s:.1f} s\n"
    )
    print(f"| update ({args.repeats} epochs, median) | s per epoch | ms per minibatch step |")
    print("|---|---:|---:|")
    print("\n".join(rows))
    for title, text in profiles:
        print(f"\nprofile of one epoch, by {title}:\n\n```\n{text}\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
