"""The learners' shared core with exact numbers: masked GAE, masked losses, masked categorical.

GAE is checked against the textbook recursion written out in plain Python on each trajectory
alone (float64, same operation order, so the results are bit-identical), including an agent that
dies mid-rollout and a new agent reusing its slot. The losses are checked against hand-computed
values and against the same loss computed on the active entries only.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from spawnzoo.baselines.common.distributions import MaskedCategorical  # noqa: E402
from spawnzoo.baselines.common.gae import masked_gae  # noqa: E402
from spawnzoo.baselines.common.losses import (  # noqa: E402
    masked_mean,
    normalize_advantages,
    policy_loss,
    value_loss,
)

F64 = torch.float64


def textbook_gae(
    rewards: list[float], values: list[float], bootstrap: float, gamma: float, lam: float
) -> list[float]:
    """GAE of one trajectory, written out: ``delta_t = r_t + gamma V_{t+1} - V_t`` and
    ``A_t = delta_t + gamma lam A_{t+1}``; ``bootstrap`` is ``V`` after the last step (0 for a
    terminal end).
    """
    adv = [0.0] * len(rewards)
    next_adv, next_value = 0.0, bootstrap
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_value - values[t]
        next_adv = delta + gamma * lam * next_adv
        adv[t] = next_adv
        next_value = values[t]
    return adv


def column(rows: list[list[float]], dtype=F64) -> torch.Tensor:
    """``[T][G]`` nested lists -> ``[T, 1, G]`` tensor (one env)."""
    return torch.tensor(rows, dtype=dtype).unsqueeze(1)


def run_gae(rewards, values, dones, active, starts, last, gamma=0.99, lam=0.95):
    """``masked_gae`` on ``[T][G]`` lists with one env; returns ``[T, G]`` tensors."""
    adv, ret = masked_gae(
        column(rewards),
        column(values),
        column(dones, torch.bool),
        column(active, torch.bool),
        column(starts, torch.bool),
        torch.tensor([last], dtype=F64),
        gamma,
        lam,
    )
    return adv[:, 0], ret[:, 0]


# ------------------------------------------------------------------------------------------ GAE


def test_gae_by_hand():
    """gamma = lam = 0.5, rewards 1, values 0, terminal after 3 steps: 1.3125, 1.25, 1."""
    ones = [[1.0]] * 3
    adv, ret = run_gae(
        rewards=ones,
        values=[[0.0]] * 3,
        dones=[[False], [False], [True]],
        active=[[True]] * 3,
        starts=[[True], [False], [False]],
        last=[7.0],
        gamma=0.5,
        lam=0.5,
    )
    assert adv[:, 0].tolist() == [1.3125, 1.25, 1.0]
    assert ret[:, 0].tolist() == [1.3125, 1.25, 1.0]  # values are 0; the 7 after a done is unused


def test_single_trajectory_matches_textbook():
    r = [0.5, -1.25, 2.0, 0.0, 3.5, -0.75]
    v = [0.1, 0.7, -0.3, 1.9, 0.25, 0.6]
    t_n = len(r)
    adv, ret = run_gae(
        rewards=[[x] for x in r],
        values=[[x] for x in v],
        dones=[[False]] * t_n,
        active=[[True]] * t_n,
        starts=[[t == 0] for t in range(t_n)],
        last=[1.5],
    )
    expected = textbook_gae(r, v, 1.5, 0.99, 0.95)
    assert adv[:, 0].tolist() == expected
    assert ret[:, 0].tolist() == [a + b for a, b in zip(expected, v)]


def test_two_groups_with_different_lengths():
    """Group 0 runs the whole rollout (bootstrapped); group 1 ends after step 1, then idles."""
    r0, v0 = [1.0, 0.5, -0.5, 2.0, 0.25], [0.2, 0.4, 0.6, 0.8, 1.0]
    r1, v1 = [3.0, -1.0], [0.5, 1.5]
    rewards = [[r0[t], r1[t] if t < 2 else 9.0] for t in range(5)]
    values = [[v0[t], v1[t] if t < 2 else 9.0] for t in range(5)]
    dones = [[False, t == 1] for t in range(5)]
    active = [[True, t < 2] for t in range(5)]
    starts = [[t == 0, t == 0] for t in range(5)]
    adv, ret = run_gae(rewards, values, dones, active, starts, [2.0, 5.0])
    assert adv[:, 0].tolist() == textbook_gae(r0, v0, 2.0, 0.99, 0.95)
    assert adv[:2, 1].tolist() == textbook_gae(r1, v1, 0.0, 0.99, 0.95)
    assert adv[2:, 1].tolist() == [0.0, 0.0, 0.0]
    assert ret[2:, 1].tolist() == [0.0, 0.0, 0.0]


def slot_reuse_rollout(r_first: list[float], r_second: list[float]):
    """One slot: robot A acts at t = 0..3 and dies (done at 3); empty at 4; robot B spawns at 5
    and acts at 5..6 (unfinished). Group 1 is a bystander that acts throughout."""
    garbage = 100.0  # reward and value of the empty step: must not matter
    rewards = [[x, 0.25] for x in [*r_first, garbage, *r_second]]
    values = [[x, 0.5] for x in [0.1, 0.2, 0.3, 0.4, garbage, 0.6, 0.7]]
    dones = [[t == 3, False] for t in range(7)]
    active = [[t != 4, True] for t in range(7)]
    starts = [[t in (0, 5), t == 0] for t in range(7)]
    return run_gae(rewards, values, dones, active, starts, [0.9, 0.5])


def test_dead_robot_and_reused_slot_are_separate_trajectories():
    r_a, r_b = [1.0, 0.0, 2.0, -1.0], [0.5, 1.5]
    adv, ret = slot_reuse_rollout(r_a, r_b)
    # A ends for good after t = 3 (no bootstrap); B bootstraps from last_values (0.9)
    assert adv[:4, 0].tolist() == textbook_gae(r_a, [0.1, 0.2, 0.3, 0.4], 0.0, 0.99, 0.95)
    assert adv[5:, 0].tolist() == textbook_gae(r_b, [0.6, 0.7], 0.9, 0.99, 0.95)
    assert adv[4, 0].item() == 0.0 and ret[4, 0].item() == 0.0
    # A does not see B's rewards, nor B A's
    adv_other_b, _ = slot_reuse_rollout(r_a, [-30.0, 40.0])
    assert torch.equal(adv_other_b[:4, 0], adv[:4, 0])
    adv_other_a, _ = slot_reuse_rollout([5.0, 6.0, -7.0, 8.0], r_b)
    assert torch.equal(adv_other_a[5:, 0], adv[5:, 0])
    # the bystander group is untouched by the slot's story
    assert adv[:, 1].tolist() == textbook_gae([0.25] * 7, [0.5] * 7, 0.5, 0.99, 0.95)


def test_truncation_bootstraps_through_the_last_reward():
    """Truncated after t = 2 with V(final) = 4: the caller adds gamma * 4 to the last reward."""
    gamma, v_final = 0.99, 4.0
    r, v = [1.0, 2.0, 0.5, 3.0, 1.0], [0.5, 1.0, 1.5, 2.0, 2.5]
    rewards = [[x] for x in r]
    rewards[2][0] += gamma * v_final
    adv, _ = run_gae(
        rewards=rewards,
        values=[[x] for x in v],
        dones=[[t == 2] for t in range(5)],
        active=[[True]] * 5,
        starts=[[t in (0, 3)] for t in range(5)],
        last=[0.0],
    )
    assert adv[:3, 0].tolist() == textbook_gae(r[:3], v[:3], v_final, gamma, 0.95)
    assert adv[3:, 0].tolist() == textbook_gae(r[3:], v[3:], 0.0, gamma, 0.95)


def test_start_cuts_a_trajectory_without_a_done():
    r, v = [1.0, -2.0, 0.5, 3.0, 1.0], [0.5, 1.0, 1.5, 2.0, 2.5]
    adv, _ = run_gae(
        rewards=[[x] for x in r],
        values=[[x] for x in v],
        dones=[[False]] * 5,  # no done: the start at t = 3 alone ends the first trajectory
        active=[[True]] * 5,
        starts=[[t in (0, 3)] for t in range(5)],
        last=[1.25],
    )
    assert adv[:3, 0].tolist() == textbook_gae(r[:3], v[:3], 0.0, 0.99, 0.95)
    assert adv[3:, 0].tolist() == textbook_gae(r[3:], v[3:], 1.25, 0.99, 0.95)


def test_envs_are_independent():
    """The same trajectories in two envs of one call give what each gives alone."""
    t_n = 4
    r = torch.tensor([[1.0, 0.0], [2.0, 1.0], [0.5, -1.0], [1.0, 2.0]], dtype=F64)  # [T, E]
    v = torch.full((t_n, 2), 0.5, dtype=F64)
    dones = torch.tensor([[False, True], [False, False], [False, False], [False, False]])
    active = torch.ones(t_n, 2, dtype=torch.bool)
    starts = torch.tensor([[True, True], [False, True], [False, False], [False, False]])
    last = torch.tensor([1.0, 3.0], dtype=F64)
    adv, _ = masked_gae(
        r[..., None],
        v[..., None],
        dones[..., None],
        active[..., None],
        starts[..., None],
        last[:, None],
        0.99,
        0.95,
    )
    assert adv[:, 0, 0].tolist() == textbook_gae(r[:, 0].tolist(), [0.5] * 4, 1.0, 0.99, 0.95)
    assert adv[:1, 1, 0].tolist() == textbook_gae([0.0], [0.5], 0.0, 0.99, 0.95)
    assert adv[1:, 1, 0].tolist() == textbook_gae(r[1:, 1].tolist(), [0.5] * 3, 3.0, 0.99, 0.95)


def test_gae_shape_errors():
    x = torch.zeros(3, 2, 4)
    b = torch.zeros(3, 2, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"share one \[T, E, G\] shape"):
        masked_gae(x, torch.zeros(3, 2, 5), b, b, b, torch.zeros(2, 4), 0.99, 0.95)
    with pytest.raises(ValueError, match=r"share one \[T, E, G\] shape"):
        masked_gae(x, x, b[:2], b, b, torch.zeros(2, 4), 0.99, 0.95)
    with pytest.raises(ValueError, match=r"last_values must be \[E, G\] = \(2, 4\)"):
        masked_gae(x, x, b, b, b, torch.zeros(4), 0.99, 0.95)


# --------------------------------------------------------------------------------------- losses


def test_masked_mean_ignores_inactive_and_handles_none():
    x = torch.tensor([1.0, 2.0, 1e9, 5.0])
    mask = torch.tensor([True, True, False, True])
    assert masked_mean(x, mask).item() == pytest.approx(8.0 / 3.0, rel=1e-7)
    assert masked_mean(x, torch.zeros(4, dtype=torch.bool)).item() == 0.0


def test_normalize_advantages_uses_only_active_entries():
    adv = torch.tensor([[1.0, 2.0, 1e6], [3.0, -7.0, 6.0]], dtype=F64)
    mask = torch.tensor([[True, True, False], [True, False, True]])
    out = normalize_advantages(adv, mask)
    # active [1, 2, 3, 6]: mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5
    std = math.sqrt(3.5) + 1e-8
    assert out.tolist() == [[-2.0 / std, -1.0 / std, 0.0], [0.0, 0.0, 3.0 / std]]
    alone = normalize_advantages(adv[mask], torch.ones(4, dtype=torch.bool))
    assert torch.equal(out[mask], alone)
    # a single active entry has no spread: it normalises to 0, never to inf
    single = torch.tensor([[True, False, False], [False, False, False]])
    assert normalize_advantages(adv, single).abs().sum().item() == 0.0


def loss_inputs():
    """Four active entries with hand-computed surrogate terms, four inactive garbage ones."""
    ratios = [1.5, 0.5, 1.0, 0.5]
    log_ratio = [math.log(x) for x in ratios] + [5.0, -3.0, 0.0, 2.0]
    old = torch.tensor([0.1, -0.2, 0.3, -0.4, 0.0, 0.0, 0.0, 0.0], dtype=F64)
    new = (old + torch.tensor(log_ratio, dtype=F64)).requires_grad_(True)
    adv = torch.tensor([2.0, 1.0, -1.0, -2.0, 1e3, -1e3, 50.0, 7.0], dtype=F64)
    mask = torch.tensor([True] * 4 + [False] * 4)
    return new, old, adv, mask


def test_policy_loss_by_hand_and_inactive_entries_have_no_effect():
    new, old, adv, mask = loss_inputs()
    loss, kl, clip_frac = policy_loss(new, old, adv, mask, clip_coef=0.2)
    # max(-A r, -A clip(r)): 1.5 & A=2 -> -2.4; 0.5 & A=1 -> -0.5; 1 & A=-1 -> 1; 0.5 & A=-2 -> 1.6
    assert loss.item() == pytest.approx((-2.4 - 0.5 + 1.0 + 1.6) / 4, rel=1e-12)
    expected_kl = sum((r - 1) - math.log(r) for r in (1.5, 0.5, 1.0, 0.5)) / 4
    assert kl.item() == pytest.approx(expected_kl, rel=1e-12)
    assert clip_frac.item() == 0.75
    loss.backward()
    assert torch.equal(new.grad[~mask], torch.zeros(4, dtype=F64))
    # the same loss on the active entries alone: value and gradients
    sub = new.detach()[mask].requires_grad_(True)
    sub_loss, _, _ = policy_loss(sub, old[mask], adv[mask], torch.ones(4, dtype=torch.bool), 0.2)
    sub_loss.backward()
    assert loss.item() == pytest.approx(sub_loss.item(), rel=1e-12)
    assert torch.allclose(new.grad[mask], sub.grad, rtol=1e-12, atol=0.0)
    # by hand: d/dlogp of -A r / 4 is -A r / 4 where unclipped wins, 0 where clipped
    assert new.grad[mask].tolist() == pytest.approx([0.0, -0.125, 0.25, 0.0], rel=1e-12)


@pytest.mark.parametrize(
    ("clip", "expected"),
    [(None, 0.5 * (1.0 + 1.0 + 4.0) / 3), (0.5, 0.5 * (1.0 + 2.25 + 4.0) / 3)],
)
def test_value_loss_by_hand_and_inactive_entries_have_no_effect(clip, expected):
    new = torch.tensor([1.0, 2.0, 3.0, 1e4, -1e4], dtype=F64, requires_grad=True)
    old = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0], dtype=F64)
    returns = torch.tensor([0.0, 3.0, 1.0, -1e4, 1e4], dtype=F64)
    mask = torch.tensor([True, True, True, False, False])
    # clipped values: 1, 1.5, 1.5 -> squared errors 1, 2.25, 0.25 vs unclipped 1, 1, 4
    loss = value_loss(new, old, returns, mask, clip)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    assert torch.equal(new.grad[~mask], torch.zeros(2, dtype=F64))
    sub = new.detach()[mask].requires_grad_(True)
    sub_loss = value_loss(sub, old[mask], returns[mask], torch.ones(3, dtype=torch.bool), clip)
    sub_loss.backward()
    assert loss.item() == pytest.approx(sub_loss.item(), rel=1e-12)
    assert torch.allclose(new.grad[mask], sub.grad, rtol=1e-12, atol=0.0)


# -------------------------------------------------------------------------------- distributions


def test_entropy_of_uniform_over_k_legal_actions_is_log_k():
    logits = torch.zeros(5, 5)
    mask = torch.arange(5)[None, :] <= torch.arange(5)[:, None]  # row k: k + 1 legal actions
    ent = MaskedCategorical(logits, mask).entropy()
    assert ent.tolist() == pytest.approx([0.0, math.log(2), math.log(3), math.log(4), math.log(5)])
    assert ent[0].item() == 0.0  # a single legal action: exactly no entropy


def test_entropy_only_over_legal_actions():
    logits = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=F64)
    mask = torch.tensor([[True, False, True, False]])
    # legal logits 1 and 3: p = (1, e^2) / (1 + e^2)
    p0 = 1.0 / (1.0 + math.exp(2.0))
    expected = -(p0 * math.log(p0) + (1 - p0) * math.log(1 - p0))
    assert MaskedCategorical(logits, mask).entropy().item() == pytest.approx(expected, rel=1e-12)


def test_masked_actions_are_never_sampled():
    logits = torch.tensor([0.0, 50.0, 0.3, 50.0, -0.2]).expand(10_000, 5)
    mask = torch.tensor([True, False, True, False, True]).expand(10_000, 5)
    dist = MaskedCategorical(logits, mask)
    samples = dist.sample(torch.Generator().manual_seed(0))
    counts = torch.bincount(samples, minlength=5)
    assert counts[1].item() == 0 and counts[3].item() == 0
    assert counts.sum().item() == 10_000 and (counts[[0, 2, 4]] > 0).all()
    assert dist.mode()[0].item() == 2  # the most likely legal action, not the masked 50s


def test_log_probs_of_legal_actions_sum_to_one():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(8, 6, generator=g) * 3
    mask = torch.rand(8, 6, generator=g) < 0.5
    mask[:, 0] = True
    dist = MaskedCategorical(logits, mask)
    probs = torch.stack([dist.log_prob(torch.full((8,), a)).exp() for a in range(6)], -1)
    assert torch.allclose((probs * mask).sum(-1), torch.ones(8), atol=1e-6)
    assert torch.equal(probs[~mask], torch.zeros(int((~mask).sum())))


def test_masked_categorical_shape_error():
    with pytest.raises(ValueError, match="differ"):
        MaskedCategorical(torch.zeros(2, 3), torch.ones(2, 4, dtype=torch.bool))
