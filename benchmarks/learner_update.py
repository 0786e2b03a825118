"""Where a hybrid PPO update spends its time, on the CPU or a GPU.

Builds the learner exactly as ``spawnzoo train hybrid`` does (every train option after ``--``),
collects one rollout, computes the group targets, then times whole update epochs (the
config's ``num_minibatches`` per player) and reports the median seconds per epoch and
milliseconds per minibatch step. ``--profile`` adds torch.profiler's tables for one more epoch
(top operators by host time and, on CUDA, by kernel time); ``--fast-kernels`` adds a row with
cuDNN benchmarking on and the deterministic-algorithm switch off (the learner's default is
deterministic kernels). ``--conv`` records the shape of every convolution one minibatch step
runs (input, weight, stride, padding), times the same convolutions alone (forward and both
backward passes, in the policy's memory format and in the other one), and sets the update
against them: the FLOPs the update's convolutions do per second against what this machine's
convolution kernels reach on those shapes.

Usage::

    .venv/bin/python benchmarks/learner_update.py -- --preset small --update-epochs 1
    .venv/bin/python benchmarks/learner_update.py --conv -- --preset small
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
from dataclasses import dataclass

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

#: what the timings use (``--clock``): wall time, or this process's CPU time
clock = time.perf_counter


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
    p.add_argument(
        "--conv", action="store_true", help="time the update's convolutions alone (roofline)"
    )
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time (default) or this process's CPU time (steadier on a shared machine with\n"
        "one torch thread; it adds up all threads' time otherwise)",
    )
    p.add_argument("train", nargs="*", help="'spawnzoo train hybrid' options, after --")
    args = p.parse_args(argv)
    global clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
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
    ro = Rollout.for_world(cfg.num_steps, env, cfg.planes_fp16, cfg.device)
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
        start = clock()
        gppo.update(one_epoch, sep, policy, optimizer, ro, targets, generator)
        if cuda:
            torch.cuda.synchronize()
        return clock() - start

    rows: list[str] = []
    rows_seconds: list[float] = []

    def measure(label: str) -> None:
        epoch()  # warm-up: allocator, cuDNN plans, lazy init
        seconds = statistics.median(epoch() for _ in range(args.repeats))
        rows_seconds.append(seconds)
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

    conv_lines: list[str] = []
    if args.conv:
        shapes = conv_shapes(policy, flat_minibatch(ro, targets, cfg), cfg)
        conv_lines = conv_report(shapes, steps, rows_seconds[0], cfg)

    words = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "benchmarks/learner_update.py", *words])
    samples = cfg.num_envs * cfg.num_steps // max(1, cfg.num_minibatches)
    print(f"command: `{command}`  \nmachine: {machine(cfg.device)}  ")
    print(f"clock: {'CPU time of the process' if args.clock == 'cpu' else 'wall time'}  ")
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
    if conv_lines:
        print("\n".join(["", *conv_lines]))
    for title, text in profiles:
        print(f"\nprofile of one epoch, by {title}:\n\n```\n{text}\n```")
    return 0


@dataclass(frozen=True)
class ConvShape:
    """One convolution of a forward pass: input ``[N, C, H, W]`` and the layer's settings."""

    n: int
    c: int
    h: int
    w: int
    out: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    groups: int
    bias: bool

    def forward_flops(self) -> float:
        """Multiply-adds x 2 of the forward pass."""
        kh, kw = self.kernel
        ho = (self.h + 2 * self.padding[0] - kh) // self.stride[0] + 1
        wo = (self.w + 2 * self.padding[1] - kw) // self.stride[1] + 1
        return 2.0 * self.n * self.out * ho * wo * (self.c // self.groups) * kh * kw


def flat_minibatch(ro: Rollout, targets: list, cfg: HybridConfig) -> dict[str, torch.Tensor]:
    """The first minibatch of player 0 as ``update`` cuts it (rows of the flattened rollout)."""
    rows = ro.actions.shape[0] * ro.actions.shape[1]
    mb = max(1, rows // max(1, cfg.num_minibatches))
    idx = torch.arange(mb)
    flat = {k: v.flatten(0, 1)[idx] for k, v in vars(ro).items()}
    flat["planes"] = flat["planes"][:, 0].float()
    return flat


def conv_shapes(policy: torch.nn.Module, mb: dict[str, torch.Tensor], cfg: HybridConfig):
    """The ``ConvShape`` of every ``Conv2d`` call in one forward pass on minibatch ``mb``."""
    shapes: list[ConvShape] = []

    def hook(module: torch.nn.Conv2d, inputs: tuple) -> None:
        n, c, h, w = inputs[0].shape
        shapes.append(
            ConvShape(
                n,
                c,
                h,
                w,
                module.out_channels,
                tuple(module.kernel_size),
                tuple(module.stride),
                tuple(module.padding),
                module.groups,
                module.bias is not None,
            )
        )

    handles = [
        m.register_forward_pre_hook(hook)
        for m in policy.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            gppo.forward_player(
                policy, mb["planes"], mb["cell"], mb["kind"], mb["owner"], mb["active"], 0
            )
    finally:
        for h in handles:
            h.remove()
    return shapes


def time_convs(shapes: list[ConvShape], channels_last: bool, device: str, repeats: int = 3):
    """Seconds of forward + backward (input and weight gradients) of every shape, alone: the
    median of ``repeats`` passes over all of them after one warm-up pass."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    cases = []
    for s in shapes:
        conv = torch.nn.Conv2d(
            s.c, s.out, s.kernel, s.stride, s.padding, groups=s.groups, bias=s.bias
        ).to(device, memory_format=fmt)
        x = torch.randn(s.n, s.c, s.h, s.w, device=device).to(memory_format=fmt)
        x.requires_grad_(True)
        cases.append((conv, x))

    def one_pass() -> float:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = clock()
        for conv, x in cases:
            y = conv(x)
            y.backward(torch.ones_like(y))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return clock() - t0

    one_pass()
    return statistics.median(one_pass() for _ in range(repeats))


def conv_report(shapes: list[ConvShape], steps: int, epoch_s: float, cfg: HybridConfig):
    """Lines setting one epoch of the update against its convolutions timed alone."""
    flops = sum(s.forward_flops() for s in shapes)  # forward of one minibatch step
    train_flops = 3.0 * flops  # forward + input gradient + weight gradient
    lines = [
        f"convolutions of one minibatch step: {len(shapes)} calls, "
        f"{train_flops / 1e9:.2f} GFLOP forward and backward "
        f"(inputs from {min(s.h for s in shapes)}x{min(s.w for s in shapes)} to "
        f"{max(s.h for s in shapes)}x{max(s.w for s in shapes)}, batch {shapes[0].n})",
        "",
        "| | s per minibatch step | conv GFLOP/s | update / convs alone |",
        "|---|---:|---:|---:|",
    ]
    step_s = epoch_s / steps
    alone = {}
    for cl in (cfg.channels_last, not cfg.channels_last):
        alone[cl] = time_convs(shapes, cl, cfg.device)
    lines.append(
        f"| the update (one minibatch step of the epoch above) | {step_s:.3f} "
        f"| {train_flops / step_s / 1e9:.1f} | 1.00 |"
    )
    for cl, sec in alone.items():
        fmt = "channels-last" if cl else "contiguous (NCHW)"
        mine = " (the policy's format)" if cl == cfg.channels_last else ""
        lines.append(
            f"| the same convolutions alone, {fmt}{mine} | {sec:.3f} "
            f"| {train_flops / sec / 1e9:.1f} | {step_s / sec:.2f} |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
