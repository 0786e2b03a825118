"""Grouped masked PPO on the batched core: the learner loop the slot-contract methods share.

A method supplies a network with the slot contract ``forward(planes [B, C, H, W], cell [B, S],
kind [B, S]) -> (logits [B, S, A], values [B, S])`` and a config naming its trajectory
separation (``grouping``, ``own_reward_weight``, ``globalise``, ``top_n``); this module does the
rest, top to bottom: seed -> envs -> policy -> storage -> for each cycle: rollout, per-player
group targets (GAE), epochs x players x minibatches, evaluation, log, checkpoint. The hybrid
(per-entity groups), the monolithic single brain (one global group) and MAPPO (per-entity groups,
centralized critic) all train through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from spawnzoo.envs import make_batched
from spawnzoo.envs.core.batched import BatchStep

from ..common import metrics as M
from ..common.buffer import Rollout
from ..common.distributions import MaskedCategorical
from ..common.evaluation import MilestoneTracker, check_opponent, evaluate, finish_run
from ..common.gae import masked_gae
from ..common.losses import masked_mean, normalize_advantages, policy_loss, value_loss
from ..common.progress import progress_bar
from ..common.protocol import train_reset_seed
from ..common.runs import RunDir, RunResult
from ..common.seeding import seed_everything
from ..nets.layers import count_parameters
from . import grouping as grp


@dataclass(frozen=True)
class Separation:
    """How a method keeps its PPO quantities apart (the paper's §3 switches).

    Attributes:
        grouping: a ``grouping.GroupingSpec`` string (``entity``, ``global``, ``random:N``...).
        own_reward_weight: group reward = w x own + (1 - w) x mean of the active groups.
        globalise: components made global while the rest stays separated.
        top_n: keep only N unit ("robot") examples per step (``None``: all).
        top_n_by: ``advantage``, ``abs_advantage``, ``return`` or ``random``.
    """

    grouping: str = "entity"
    own_reward_weight: float = 1.0
    globalise: tuple[str, ...] = ()
    top_n: int | None = None
    top_n_by: str = "advantage"


def player_view(
    cell: torch.Tensor, kind: torch.Tensor, owner: torch.Tensor, alive: torch.Tensor, players: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-player slot views for the network.

    Args:
        cell, kind, owner: ``[B, S]`` long. alive: ``[B, S]`` bool. players: ``P``.

    Returns:
        ``(cell [B, P, S], kind [B, P, S])`` with -1 wherever the slot is not that player's
        live entity.
    """
    p = torch.arange(players).view(1, players, 1)
    mine = alive.unsqueeze(1) & (owner.unsqueeze(1) == p)
    return torch.where(mine, cell.unsqueeze(1), -1), torch.where(mine, kind.unsqueeze(1), -1)


def forward_slots(
    policy: torch.nn.Module,
    planes: torch.Tensor,
    cell: torch.Tensor,
    kind: torch.Tensor,
    owner: torch.Tensor,
    alive: torch.Tensor,
    *,
    with_values: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One conv pass per (world, player) image; each slot reads its owner's outputs.

    Args:
        planes: ``[B, P, C, H, W]``. cell, kind, owner: ``[B, S]`` long. alive: ``[B, S]`` bool.
        with_values: ``False`` skips the critic where the network has ``logits_only`` (acting
            needs no values); the logits are the same to the bit.

    Returns:
        ``(logits [B, S, A], values [B, S])``; zeros for empty slots; values ``None`` without
        ``with_values``.
    """
    b, p = planes.shape[:2]
    cell_p, kind_p = player_view(cell, kind, owner, alive, p)
    logits, values = _on_device(
        policy,
        planes.flatten(0, 1),
        cell_p.flatten(0, 1),
        kind_p.flatten(0, 1),
        with_values=with_values,
    )
    pick = owner.clamp_min(0).unsqueeze(1)  # [B, 1, S]
    logits = logits.view(b, p, *logits.shape[1:])
    logits = logits.gather(1, pick.unsqueeze(-1).expand(-1, -1, -1, logits.shape[-1])).squeeze(1)
    if values is not None:
        values = values.view(b, p, -1).gather(1, pick).squeeze(1)
    return logits, values


def forward_player(
    policy: torch.nn.Module,
    planes: torch.Tensor,
    cell: torch.Tensor,
    kind: torch.Tensor,
    owner: torch.Tensor,
    alive: torch.Tensor,
    player: int,
    *,
    to_host: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One conv pass over ``player``'s images only.

    Args:
        planes: ``[B, C, H, W]`` (that player's view). cell, kind, owner: ``[B, S]`` long.
        alive: ``[B, S]`` bool.
        to_host: bring the outputs to the CPU; ``False`` leaves them on the network's device
            (the update, whose targets live there too).

    Returns:
        ``(logits [B, S, A], values [B, S])``; zeros for slots that are not the player's.
    """
    mine = alive & (owner == player)
    cell, kind = torch.where(mine, cell, -1), torch.where(mine, kind, -1)
    return _on_device(policy, planes, cell, kind, to_host=to_host)


def _on_device(
    policy: torch.nn.Module,
    planes: torch.Tensor,
    cell: torch.Tensor,
    kind: torch.Tensor,
    *,
    with_values: bool = True,
    to_host: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run the network where its weights live (``cfg.device``). With ``to_host`` the outputs
    come back to the CPU, where acting samples them (the CPU generator keeps a seed's actions
    the same on every device); the update passes ``False`` and stays on the device. Without
    ``with_values`` a network with ``logits_only`` runs its actor alone (values ``None``)."""
    device = next(policy.parameters()).device
    planes, cell, kind = planes.to(device), cell.to(device), kind.to(device)

    def out(x: torch.Tensor) -> torch.Tensor:
        return x.cpu() if to_host else x

    if not with_values and hasattr(policy, "logits_only"):
        return out(policy.logits_only(planes, cell, kind)), None
    logits, values = policy(planes, cell, kind)
    return out(logits), out(values) if with_values else None


def action_dist(policy: torch.nn.Module, logits: torch.Tensor, mask: torch.Tensor):
    """The masked action distribution of the network's outputs: a network with factorised heads
    (``joint_logits``) turns its raw head outputs into flat logits whose masked softmax is the
    product of its per-head masked softmaxes; other networks' logits are used as they are.

    Args:
        logits: ``[..., A]`` (or the factorised heads' ``[..., R]``). mask: ``[..., A]`` bool.
    """
    joint = getattr(policy, "joint_logits", None)
    return MaskedCategorical(logits if joint is None else joint(logits, mask), mask)


def _tensors(batch: BatchStep, masking: bool = True) -> dict[str, torch.Tensor]:
    """Slot tensors of a batch; without ``masking`` every action of a live entity counts as
    legal (the paper's "no invalid action masking" ablation; empty slots keep the no-op)."""
    mask = torch.from_numpy(batch.action_mask)
    alive = torch.from_numpy(batch.alive)
    if not masking:
        mask = mask | alive[..., None]
    return {
        "cell": torch.from_numpy(batch.cell.astype(np.int64)),
        "kind": torch.from_numpy(batch.kind.astype(np.int64)),
        "owner": torch.from_numpy(batch.owner.astype(np.int64)),
        "serial": torch.from_numpy(batch.serial.astype(np.int64)),
        "alive": alive,
        "spawned": torch.from_numpy(batch.spawned),
        "mask": mask,
    }


class SlotPolicyAgent:
    """A trained slot-contract network as a policy for any world: ``act(batch) -> actions``."""

    def __init__(
        self,
        world,
        policy: torch.nn.Module,
        seed: int | None = None,
        greedy: bool = False,
        masking: bool = True,
    ):
        self.world, self.policy, self.greedy, self.masking = world, policy, greedy, masking
        self.generator = torch.Generator().manual_seed(0 if seed is None else seed)

    @torch.inference_mode()
    def act(self, batch: BatchStep) -> np.ndarray:
        """``[E, S]`` actions sampled (or the mode with ``greedy``) from the masked policy."""
        self.policy.eval()
        x = _tensors(batch, self.masking)
        planes = torch.from_numpy(self.world.planes())
        logits, _ = forward_slots(
            self.policy, planes, x["cell"], x["kind"], x["owner"], x["alive"], with_values=False
        )
        dist = action_dist(self.policy, logits, x["mask"])
        return (dist.mode() if self.greedy else dist.sample(self.generator)).numpy()


def load_slot_agent(
    build_policy: Callable[[Any, Any], torch.nn.Module],
    config: Any,
    state: dict[str, torch.Tensor],
    world: Any,
    *,
    seed: int | None = None,
    greedy: bool = False,
    device: str = "cpu",
) -> SlotPolicyAgent:
    """A checkpoint's weights as a policy for ``world``: the network ``build_policy(config,
    world)`` (on ``device``, in eval mode) with ``state`` loaded, wrapped in ``SlotPolicyAgent``.
    The ``load_agent`` of every grouped method (see ``registry.MethodSpec``).

    Raises:
        RuntimeError: ``state`` does not fit the network (torch's ``load_state_dict`` message).
    """
    network = build_policy(config, world).to(device)
    network.load_state_dict(state)
    network.eval()
    masking = getattr(config, "action_masking", True)
    return SlotPolicyAgent(world, network, seed=seed, greedy=greedy, masking=masking)


@dataclass
class PlayerTargets:
    """One player's training targets in group space (``G`` = slots)."""

    group: torch.Tensor  # [T, E, S] long, -1 where not this player's active entity
    active: torch.Tensor  # [T, E, G] bool: groups that give a training example
    logp: torch.Tensor  # [T, E, G] old group log-probs
    values: torch.Tensor  # [T, E, G] old group values
    advantages: torch.Tensor  # [T, E, G]
    returns: torch.Tensor  # [T, E, G]


def player_targets(
    cfg: Any,
    sep: Separation,
    ro: Rollout,
    last_values: torch.Tensor,
    last: dict,
    p: int,
    width: int,
    layout: grp.EntityLayout,
    generator: torch.Generator,
) -> PlayerTargets:
    """Group assignment, group rewards/values/flags, GAE and the ablations for player ``p``.

    Args:
        last_values: ``[E, S]`` slot values of the observation after the rollout.
        last: the slot tensors of that observation (``[E, S]`` each).
        width: the map width ``W``.
        layout: the env's kinds, structure kinds and structure slots.
    """
    spec = grp.GroupingSpec.parse(sep.grouping)
    glob = set(sep.globalise)
    device = ro.active.device  # storage's device: targets are computed where they are used
    last_values = last_values.to(device)
    last = {k: v.to(device) for k, v in last.items()}
    mine = ro.active & (ro.owner == p)
    group = grp.assign_groups(spec, mine, ro.kind, ro.cell, ro.serial, width, layout)
    active_g, starts_g, dones_g, trunc_g = grp.group_flags(
        group, mine, ro.spawned, ro.terminated, ro.truncated
    )
    if "dones" in glob:
        active_g, starts_g, dones_g, trunc_g = grp.globalise_flags(
            active_g, starts_g, dones_g, trunc_g
        )
    reward_g = grp.mix_rewards(grp.to_groups(ro.rewards, group), active_g, sep.own_reward_weight)
    value_g = grp.to_groups(ro.values, group)
    logp_g = grp.to_groups(ro.logp, group)
    # bootstrap from the groups of the observation after the rollout
    last_mine = (last["alive"] & (last["owner"] == p)).unsqueeze(0)
    last_group = grp.assign_groups(
        spec,
        last_mine,
        last["kind"].unsqueeze(0),
        last["cell"].unsqueeze(0),
        last["serial"].unsqueeze(0),
        width,
        layout,
    )
    last_value_g = grp.to_groups(last_values.unsqueeze(0), last_group)
    for name in ("reward", "critic", "logprob"):
        if name in glob:
            if name == "reward":
                reward_g = grp.globalise(name, reward_g, active_g)
            elif name == "critic":
                value_g = grp.globalise(name, value_g, active_g)
                last_active = grp.to_groups(last_mine.float(), last_group) > 0
                last_value_g = grp.globalise(name, last_value_g, last_active)
            else:
                logp_g = grp.globalise(name, logp_g, active_g)
    adv, ret = masked_gae(
        reward_g, value_g, dones_g, active_g, starts_g, last_value_g[0], cfg.gamma, cfg.gae_lambda
    )
    if "advantage" in glob:
        adv = grp.globalise("advantage", adv, active_g)
    train_active = active_g
    if sep.top_n is not None:
        unit_groups = grp.to_groups((~layout.is_structure(ro.kind) & mine).float(), group) > 0
        score = {"advantage": adv, "abs_advantage": adv, "return": ret}.get(sep.top_n_by)
        train_active = grp.top_n_mask(
            active_g, unit_groups, score, sep.top_n, sep.top_n_by, generator=generator
        )
    return PlayerTargets(group, train_active, logp_g, value_g, adv, ret)


def collect(
    cfg: Any,
    env,
    policy: torch.nn.Module,
    ro: Rollout,
    batch: BatchStep,
    generator: torch.Generator,
    stats: dict,
) -> tuple[BatchStep, torch.Tensor, dict]:
    """Play ``num_steps`` steps in every world, filling ``ro``.

    Returns:
        ``(batch after the rollout, its per-slot values [E, S], its slot tensors)``.
    """
    policy.eval()
    masking = getattr(cfg, "action_masking", True)
    bootstrap = getattr(cfg, "truncation", "bootstrap") == "bootstrap"
    for t in range(cfg.num_steps):
        x = _tensors(batch, masking)
        # one copy to the storage's device; the network reads it there (no second copy)
        planes = torch.from_numpy(env.planes()).to(ro.planes.device)
        with torch.inference_mode():
            logits, values = forward_slots(
                policy, planes, x["cell"], x["kind"], x["owner"], x["alive"]
            )
            dist = action_dist(policy, logits, x["mask"])
            actions = dist.sample(generator)
            logp = dist.log_prob(actions)
        ro.planes[t] = planes
        for name in ("cell", "kind", "owner", "serial", "spawned", "mask"):
            getattr(ro, name)[t] = x[name]
        ro.active[t] = x["alive"]
        ro.actions[t], ro.logp[t], ro.values[t] = actions, logp, values * x["alive"]
        batch = env.step(actions.numpy())
        reward = torch.from_numpy(batch.reward)
        truncated = torch.from_numpy(batch.truncated)
        if bootstrap and batch.final is not None and truncated.any():
            reward += cfg.gamma * _final_values(policy, batch) * truncated
        ro.rewards[t] = reward * x["alive"]
        ro.terminated[t] = torch.from_numpy(batch.terminated)
        ro.truncated[t] = truncated
        stats["alive"] += float(x["alive"].sum())
        for metrics in batch.final.metrics if batch.final is not None else ():
            stats["episodes"].append(metrics)
    x = _tensors(batch)
    with torch.inference_mode():
        _, last_values = forward_slots(
            policy, torch.from_numpy(env.planes()), x["cell"], x["kind"], x["owner"], x["alive"]
        )
    return batch, last_values * x["alive"], x


def _final_values(policy: torch.nn.Module, batch: BatchStep) -> torch.Tensor:
    """``[E, S]`` values of the final states of worlds that ended (zeros elsewhere)."""
    f = batch.final
    out = torch.zeros(batch.reward.shape)
    with torch.inference_mode():
        _, v = forward_slots(
            policy,
            torch.from_numpy(f.planes),
            torch.from_numpy(f.cell.astype(np.int64)),
            torch.from_numpy(f.kind.astype(np.int64)),
            torch.from_numpy(f.owner.astype(np.int64)),
            torch.from_numpy(f.alive),
        )
    out[torch.from_numpy(f.env_index)] = v * torch.from_numpy(f.alive)
    return out


def update(
    cfg: Any,
    sep: Separation,
    policy: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    ro: Rollout,
    targets: list[PlayerTargets],
    generator: torch.Generator,
) -> dict[str, float]:
    """Epochs x players x minibatches of masked PPO on group tensors; returns mean losses and
    the epochs run (``"epochs"``). With ``cfg.target_kl``, the epochs stop early as in CleanRL's
    PPO: after an epoch whose last minibatch's approximate KL exceeds it."""
    policy.train()
    t_n, e_n = ro.actions.shape[:2]
    rows = t_n * e_n
    mb = max(1, rows // cfg.num_minibatches)
    # the network's device; storage made there (``train_grouped``) is not copied again
    device = next(policy.parameters()).device
    flat = {k: v.flatten(0, 1).to(device) for k, v in vars(ro).items()}
    flat_targets = [{k: v.flatten(0, 1).to(device) for k, v in vars(tg).items()} for tg in targets]
    glob = set(sep.globalise)
    # per-minibatch losses stay on the device; one transfer per epoch reads them
    logs: dict[str, list[torch.Tensor]] = {k: [] for k in ("pg", "v", "ent", "kl", "clip")}
    epochs = 0
    for _ in range(cfg.update_epochs):
        epochs += 1
        for p, tgf in enumerate(flat_targets):
            order = torch.randperm(rows, generator=generator).to(device)
            for start in range(0, rows, mb):
                idx = order[start : start + mb]
                active = tgf["active"][idx]
                if not active.any():
                    continue
                logits, values = forward_player(
                    policy,
                    flat["planes"][idx, p].float(),
                    flat["cell"][idx],
                    flat["kind"][idx],
                    flat["owner"][idx],
                    flat["active"][idx],
                    p,
                    to_host=False,
                )
                dist = action_dist(policy, logits, flat["mask"][idx])
                group = tgf["group"][idx]
                new_logp = grp.to_groups(dist.log_prob(flat["actions"][idx]), group)
                entropy = grp.to_groups(dist.entropy(), group)
                new_values = grp.to_groups(values, group)
                if "logprob" in glob:
                    new_logp = grp.globalise("logprob", new_logp, active)
                if "entropy" in glob:
                    entropy = grp.globalise("entropy", entropy, active)
                if "critic" in glob:
                    new_values = grp.globalise("critic", new_values, active)
                adv = tgf["advantages"][idx]
                if cfg.norm_adv:
                    adv = normalize_advantages(adv, active)
                pg, kl, clip = policy_loss(new_logp, tgf["logp"][idx], adv, active, cfg.clip_coef)
                v_loss = value_loss(
                    new_values,
                    tgf["values"][idx],
                    tgf["returns"][idx],
                    active,
                    cfg.clip_coef if cfg.clip_vloss else None,
                )
                ent = masked_mean(entropy, active)
                loss = pg + cfg.vf_coef * v_loss - cfg.ent_coef * ent
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
                optimizer.step()
                for key, val in (
                    ("pg", pg),
                    ("v", v_loss),
                    ("ent", ent),
                    ("kl", kl),
                    ("clip", clip),
                ):
                    logs[key].append(val.detach())
        if cfg.target_kl is not None and logs["kl"] and float(logs["kl"][-1]) > cfg.target_kl:
            break
    # the mean of the float64 values of the minibatches' float32 losses, on the host
    host = {k: torch.stack(v).tolist() if v else [] for k, v in logs.items()}
    return {
        "epochs": float(epochs),
        **{k: float(np.mean(v)) if v else 0.0 for k, v in host.items()},
    }


def train_grouped(
    config: Any,
    build_policy: Callable[[Any, Any], torch.nn.Module],
    method: str,
    separation: Separation,
) -> RunResult:
    """Grouped masked PPO with the network ``build_policy(config, world)``.

    Args:
        config: a ``PPOConfig`` (``planes_fp16`` and ``channels_last`` optional).
        build_policy: ``(config, world) -> network`` with the slot contract of
            ``forward_slots``.
        method: the method's registry name (run directory and summary).
        separation: how PPO quantities are kept apart (groups and the paper's switches).

    Returns:
        The run directory and its summary.
    """
    cfg, sep = config, separation
    masking = getattr(cfg, "action_masking", True)  # the hybrid's §3.7 "no masking" switch
    seed_everything(cfg.seed, deterministic=cfg.torch_deterministic)
    env = make_batched(cfg.env_id, num_envs=cfg.num_envs, **cfg.env_kwargs)
    layout = grp.EntityLayout.of(env)
    grp.check_grouping(grp.GroupingSpec.parse(sep.grouping), layout, env.num_slots)
    check_opponent(cfg.eval_opponent, cfg.env_id, env)
    policy = build_policy(cfg, env).to(cfg.device)
    if getattr(cfg, "channels_last", False):
        # conv weights in NHWC: oneDNN then runs every conv (and its backward) without
        # reordering NCHW inputs, outputs and weights; numerically a different kernel
        policy = policy.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps)
    generator = torch.Generator().manual_seed(cfg.seed)
    run = RunDir.for_config(cfg, method=method)
    milestones = MilestoneTracker()
    done_cycles, env_steps, agent_steps = 0, 0, 0
    final_metrics: dict = {}
    final_eval = None
    ckpt = run.resume(model=policy, optimizer=optimizer) if cfg.resume else None
    if ckpt is not None:
        done_cycles, env_steps = ckpt["cycle"], ckpt["env_steps"]
        agent_steps = ckpt.get("agent_steps", 0)
        milestones.load_state_dict(ckpt["state"]["milestones"])
        generator.set_state(ckpt["state"]["generator"])
        # the last evaluation so far: a run killed after its last checkpoint finishes with it
        final_metrics = ckpt["state"].get("final_metrics", {})
        final_eval = ckpt["state"].get("final_eval")
    ro = Rollout.for_world(cfg.num_steps, env, getattr(cfg, "planes_fp16", False), cfg.device)
    batch = env.reset(seed=train_reset_seed(cfg.seed, done_cycles))
    width, params = env.map_shape[1], count_parameters(policy)
    with progress_bar(
        cfg.num_iterations, enabled=cfg.progress, unit="cycles", start=done_cycles
    ) as bar:
        for cycle in range(done_cycles + 1, cfg.num_iterations + 1):
            if cfg.anneal_lr:
                frac = 1.0 - (cycle - 1) / cfg.num_iterations
                optimizer.param_groups[0]["lr"] = frac * cfg.learning_rate
            stats: dict = {"alive": 0.0, "episodes": []}
            t0 = time.perf_counter()
            batch, last_values, last = collect(cfg, env, policy, ro, batch, generator, stats)
            rollout_s = time.perf_counter() - t0
            env_steps += cfg.num_steps * cfg.num_envs
            agent_steps += int(stats["alive"])
            targets = [
                player_targets(cfg, sep, ro, last_values, last, p, width, layout, generator)
                for p in range(env.num_players)
            ]
            t0 = time.perf_counter()
            losses = update(cfg, sep, policy, optimizer, ro, targets, generator)
            update_s = time.perf_counter() - t0
            steps = cfg.num_steps * cfg.num_envs
            metrics = {
                M.CHARTS_ITERATION: cycle,
                M.CHARTS_LEARNING_RATE: optimizer.param_groups[0]["lr"],
                M.CHARTS_ROLLOUT_SECONDS: rollout_s,
                M.CHARTS_UPDATE_SECONDS: update_s,
                M.CHARTS_UPDATE_EPOCHS: losses["epochs"],
                M.CHARTS_SPS: steps / (rollout_s + update_s),
                M.CHARTS_AGENT_SPS: stats["alive"] / (rollout_s + update_s),
                M.LOSSES_POLICY: losses["pg"],
                M.LOSSES_VALUE: losses["v"],
                M.LOSSES_ENTROPY: losses["ent"],
                M.LOSSES_APPROX_KL: losses["kl"],
                M.LOSSES_CLIP_FRACTION: losses["clip"],
                M.AGENTS_ALIVE_MEAN: stats["alive"] / steps,
                M.AGENTS_GROUPS_ACTIVE_MEAN: float(sum(tg.active.sum() for tg in targets)) / steps,
            }
            if stats["episodes"]:
                lengths = [m["episode_length"] for m in stats["episodes"]]
                metrics[M.CHARTS_EPISODE_LENGTH] = float(np.mean(lengths))
            if cfg.should_evaluate(cycle):
                result = evaluate(
                    lambda world: SlotPolicyAgent(
                        world, policy, seed=cfg.eval_map_seed, masking=masking
                    ),
                    **cfg.eval_kwargs,
                )
                milestones.update(env_steps, result.full_length_fraction)
                final_metrics, final_eval = result.to_metrics(), result.to_dict()
                metrics.update(final_metrics)
            run.log(env_steps, metrics)
            if cfg.should_checkpoint(cycle):
                run.save_checkpoint(
                    cycle,
                    env_steps=env_steps,
                    model=policy,
                    optimizer=optimizer,
                    agent_steps=agent_steps,
                    state={
                        "milestones": milestones.state_dict(),
                        "generator": generator.get_state(),
                        "final_metrics": final_metrics,
                        "final_eval": final_eval,
                    },
                )
            bar.update(cycle, metrics)
    if final_eval is None:  # never evaluated (no full cycle, or a checkpoint without its result)
        result = evaluate(
            lambda world: SlotPolicyAgent(world, policy, seed=cfg.eval_map_seed, masking=masking),
            **cfg.eval_kwargs,
        )
        milestones.update(env_steps, result.full_length_fraction)
        final_metrics, final_eval = result.to_metrics(), result.to_dict()
        if cfg.num_iterations == 0:  # no cycle logged a row
            run.log(env_steps, final_metrics)
    final = evaluate(  # the held-out maps: the run's final numbers
        lambda world: SlotPolicyAgent(world, policy, seed=cfg.final_map_seed, masking=masking),
        **cfg.final_eval_kwargs,
    )
    return finish_run(
        run,
        cfg,
        milestones,
        final,
        env_steps=env_steps,
        agent_steps=agent_steps,
        parameter_count=params,
        last_eval_metrics=final_metrics,
        extra={
            "grouping": sep.grouping,
            "globalise": list(sep.globalise),
            "network": policy.describe() if hasattr(policy, "describe") else {"total": params},
        },
    )
