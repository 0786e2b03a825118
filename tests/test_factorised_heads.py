"""The paper's factorised actor heads (hybrid, harvest): the joint distribution is the product
of the masked type and parameter distributions, and the parameter count is the paper's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spawnzoo.baselines.common.distributions import MaskedCategorical
from spawnzoo.baselines.grouped.ppo import action_dist
from spawnzoo.envs import make_batched
from spawnzoo.envs.harvest.world import (
    ACTION_FACTORS,
    BUILD_HEAVY,
    BUILD_LIGHT,
    DIG,
    FACTORY_ACTION_TYPES,
    IDLE,
    MOVE_E,
    MOVE_N,
    NUM_ACTIONS,
    PICKUP,
    TRANSFER_C,
    TRANSFER_W,
    UNIT_ACTION_TYPES,
)
from spawnzoo.hybrid.config import HybridConfig
from spawnzoo.hybrid.policy import FactorisedHeads, HybridPolicy
from spawnzoo.hybrid.train import build_policy


def heads(width: int = 8) -> FactorisedHeads:
    return FactorisedHeads(width, ACTION_FACTORS, len(UNIT_ACTION_TYPES), len(FACTORY_ACTION_TYPES))


def reference_probs(raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """p(type) x p(direction | type), each a softmax over its valid choices, row by row."""
    u, s = len(UNIT_ACTION_TYPES), len(FACTORY_ACTION_TYPES)
    out = torch.zeros(mask.shape, dtype=torch.float64)
    for i in range(raw.shape[0]):
        structure = raw[i, 0] > 0.5
        types = raw[i, 1 : 1 + u].double()
        dirs = raw[i, 1 + u :].double().view(u, 5)
        col = 2 if structure else 0
        valid_types = {int(ACTION_FACTORS[a, col]) for a in range(NUM_ACTIONS) if mask[i, a]}
        valid_types.discard(-1)
        n_types = s if structure else u
        tl = torch.tensor([types[t] if t in valid_types else -np.inf for t in range(n_types)])
        pt = torch.softmax(tl, 0)
        for a in range(NUM_ACTIONS):
            if not mask[i, a]:
                continue
            t, d = int(ACTION_FACTORS[a, col]), int(ACTION_FACTORS[a, 1])
            p = pt[t]
            if not structure and d >= 0:
                same = [
                    b
                    for b in range(NUM_ACTIONS)
                    if mask[i, b] and ACTION_FACTORS[b, 0] == t and ACTION_FACTORS[b, 1] >= 0
                ]
                dl = torch.stack([dirs[t, ACTION_FACTORS[b, 1]] for b in same])
                p = p * torch.softmax(dl, 0)[same.index(a)]
            out[i, a] = p
    return out


def test_the_joint_distribution_is_the_product_of_the_masked_type_and_direction_softmaxes():
    g = torch.Generator().manual_seed(0)
    h = heads()
    feats = torch.randn(40, 8, generator=g)
    is_structure = torch.arange(40) % 4 == 0
    raw = (h(feats, is_structure) * 300).detach()  # large logits: far from uniform
    mask = torch.rand(40, NUM_ACTIONS, generator=g) < 0.5
    unit_only = torch.tensor([ACTION_FACTORS[a, 0] >= 0 for a in range(NUM_ACTIONS)])
    structure_only = torch.tensor([ACTION_FACTORS[a, 2] >= 0 for a in range(NUM_ACTIONS)])
    mask &= torch.where(is_structure[:, None], structure_only, unit_only)
    mask[:, IDLE] |= torch.arange(40) % 3 == 0
    mask[~mask.any(-1), IDLE] = True
    dist = MaskedCategorical(h.joint_logits(raw, mask), mask)
    expected = reference_probs(raw.detach(), mask)
    # float32 log-sum-exps of logits in the hundreds: the last bits (about 300 x 2^-24 in log
    # space) depend on the CPU's reduction kernels, so the tolerance is relative, 1e-4; a wrong
    # factorisation is off by whole percents
    probs = dist.log_probs.exp().detach().double()
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)
    # a row with moves N and E legal: p(move N) / p(move E) is the ratio of their directions only
    row = int(np.flatnonzero((mask[:, MOVE_N] & mask[:, MOVE_E] & ~is_structure).numpy())[0])
    ratio = dist.log_probs[row, MOVE_N] - dist.log_probs[row, MOVE_E]
    dirs = raw[row, 1 + 7 :].view(7, 5)
    assert float(ratio) == pytest.approx(float(dirs[0, 1] - dirs[0, 2]), rel=1e-5)


def test_type_probabilities_do_not_depend_on_how_many_directions_a_type_has():
    """Uniform heads (all logits 0): with idle, dig and 4 moves legal, the type is uniform over
    {idle, dig, move}, so one move gets 1/12 (a flat head would give every action 1/6)."""
    h = heads()
    raw = torch.zeros(1, h.raw_size)
    mask = torch.zeros(1, NUM_ACTIONS, dtype=torch.bool)
    mask[0, [IDLE, DIG, 1, 2, 3, 4]] = True
    p = MaskedCategorical(h.joint_logits(raw, mask), mask).log_probs.exp()[0]
    assert float(p[IDLE]) == pytest.approx(1 / 3) and float(p[DIG]) == pytest.approx(1 / 3)
    assert float(p[MOVE_N]) == pytest.approx(1 / 12)
    mask[0, [TRANSFER_C, TRANSFER_W, PICKUP]] = True  # transfer (2 directions) and pickup too
    p = MaskedCategorical(h.joint_logits(raw, mask), mask).log_probs.exp()[0]
    assert float(p[TRANSFER_C]) == pytest.approx(1 / 10) and float(p[PICKUP]) == pytest.approx(0.2)


def test_structures_choose_among_their_own_types():
    h = heads()
    raw = torch.zeros(1, h.raw_size)
    raw[0, 0] = 1.0  # a structure
    raw[0, 1 + FACTORY_ACTION_TYPES.index("build_heavy")] = np.log(2.0)
    mask = torch.zeros(1, NUM_ACTIONS, dtype=torch.bool)
    mask[0, [IDLE, BUILD_LIGHT, BUILD_HEAVY]] = True
    p = MaskedCategorical(h.joint_logits(raw, mask), mask).log_probs.exp()[0]
    assert [float(p[a]) for a in (IDLE, BUILD_LIGHT, BUILD_HEAVY)] == pytest.approx(
        [0.25] * 2 + [0.5]
    )


def test_harvest_hybrid_defaults_to_the_factorised_heads_with_the_papers_208457_parameters():
    world = make_batched("harvest-v0", num_envs=1, preset="paper")
    net = build_policy(HybridConfig(preset="paper"), world)
    assert net.heads == "factorised"
    d = net.describe()
    assert d["actor_heads"] == 132 + 231 + 7 * (165 + 165 + 330 + 66)
    assert d["total"] == 208_457
    flat = build_policy(HybridConfig(preset="paper", heads="flat"), world)
    assert flat.heads == "flat" and flat.describe()["actor_heads"] == 3 * (32 * 33 + 33 * 14)


def test_envs_without_factors_get_flat_heads_and_factorised_is_refused_there():
    world = make_batched("forage-v0", num_envs=1, preset="tiny")
    assert build_policy(HybridConfig(env_id="forage-v0", preset="tiny"), world).heads == "flat"
    with pytest.raises(ValueError, match="action_factors"):
        build_policy(HybridConfig(env_id="forage-v0", preset="tiny", heads="factorised"), world)
    with pytest.raises(ValueError, match="heads must be"):
        HybridConfig(heads="tree")
    with pytest.raises(ValueError, match="heads must be"):
        HybridPolicy(in_channels=3, num_actions=4, heads="tree")


def test_sampled_actions_are_legal_and_their_log_probs_have_gradients():
    world = make_batched("harvest-v0", num_envs=2, preset="tiny")
    batch = world.reset(seed=3)
    net = build_policy(HybridConfig(preset="tiny"), world)
    planes = torch.from_numpy(world.planes()[:, 0])
    cell = torch.from_numpy(np.where(batch.alive, batch.cell, -1).astype(np.int64))
    kind = torch.from_numpy(np.where(batch.alive, batch.kind, -1).astype(np.int64))
    mask = torch.from_numpy(batch.action_mask)
    dist = action_dist(net, net.logits_only(planes, cell, kind), mask)
    actions = dist.sample(torch.Generator().manual_seed(0))
    assert mask.gather(-1, actions[..., None]).all()
    dist.log_prob(actions).sum().backward()
    assert net.actor_heads.unit_type.weight.grad is not None
    # rows where a type has no legal direction (factories, empty slots) give no NaN
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


# ------------------------------------------------------------- the env's factorised view
def test_the_env_offers_its_masks_and_actions_in_the_factorised_form():
    from spawnzoo.envs.harvest.world import FACTORY, LIGHT, compose_action, factor_mask

    world = make_batched("harvest-v0", num_envs=3, preset="tiny")
    batch = world.reset(seed=2)
    for _ in range(6):
        types, dirs = world.factored_mask()
        assert types.shape == (*batch.action_mask.shape[:2], 7) and dirs.shape[-2:] == (7, 5)
        # every legal flat action is a legal (type, direction) and composes back to itself
        e, s, a = np.nonzero(batch.action_mask)
        kind = batch.kind[e, s]
        col = np.where(kind == FACTORY, 2, 0)
        t = ACTION_FACTORS[a, col]
        d = np.maximum(np.where(kind == FACTORY, 0, ACTION_FACTORS[a, 1]), 0)
        assert types[e, s, t].all() and dirs[e, s, t, d].all()
        assert (compose_action(t, d, kind) == a).all()
        # and a legal type has at least one legal direction
        assert (dirs.any(-1) == types).all()
        rng = np.random.default_rng(0)
        batch = world.step(np.argmax(rng.random(batch.action_mask.shape) * batch.action_mask, -1))
    # the unit type "move" with direction 0 (the centre) and never-offered types are idle
    kind = np.array([LIGHT, LIGHT, FACTORY])
    moves = compose_action(np.array([0, 4, 2]), np.array([0, 2, 0]), kind)
    assert moves.tolist() == [IDLE, IDLE, IDLE]
    assert compose_action(np.array([0]), np.array([2]), np.array([LIGHT]))[0] == MOVE_E
    types, _ = factor_mask(
        np.eye(NUM_ACTIONS, dtype=bool)[[DIG, BUILD_HEAVY]], np.array([LIGHT, FACTORY])
    )
    assert (
        types[0, UNIT_ACTION_TYPES.index("dig")]
        and types[1, FACTORY_ACTION_TYPES.index("build_heavy")]
    )
