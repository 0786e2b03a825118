"""The hybrid network (hybrid/policy.py) and the shared init (baselines/nets/initialization.py)."""

from __future__ import annotations

import math
import os
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from spawnzoo.baselines.common.seeding import seed_everything  # noqa: E402
from spawnzoo.baselines.nets.initialization import (  # noqa: E402 -- after the torch skip
    GAINS,
    init_model,
    init_module,
    layer_seed,
)
from spawnzoo.hybrid.policy import HybridPolicy, count_parameters  # noqa: E402

#: the paper's published total (§2.4) and its embeddings + critic part at 18 planes, width 32
PAPER_TOTAL = 208_457
PAPER_EMBEDDINGS, PAPER_CRITIC_HEADS = 200_512, 2_500
A, K = 14, 3  # harvest: NUM_ACTIONS, kinds (factory, light, heavy)


def make(**kw) -> HybridPolicy:
    """A harvest-sized policy (17 planes) unless told otherwise."""
    kw.setdefault("in_channels", 17)
    kw.setdefault("num_actions", A)
    kw.setdefault("structure_kinds", (0,))  # harvest's factories
    return HybridPolicy(**kw)


def batch(b: int = 3, c: int = 17, n: int = 12, seed: int = 0):
    """``planes [b, c, n, n]``, and ``cell``/``kind`` ``[b, 7]`` with empty and foreign slots."""
    g = torch.Generator().manual_seed(seed)
    planes = torch.rand(b, c, n, n, generator=g) * 2 - 1
    cell = torch.randint(0, n * n, (b, 7), generator=g)
    kind = torch.randint(0, K, (b, 7), generator=g)
    kind[:, 0] = 0  # every image has a factory, a light and a heavy
    kind[:, 1], kind[:, 2] = 1, 2
    kind[0, 5:] = -1  # empty slots
    cell[0, 5:] = -1
    cell[min(1, b - 1), 6] = -1  # another player's entity: kind set, no cell
    return planes, cell, kind


def test_parameter_count_matches_the_paper():
    model = make(in_channels=18)
    parts = model.describe()
    print("paper config (18 planes):", parts)
    print("harvest config (17 planes):", make().describe())
    assert parts["actor_embedding"] == parts["critic_embedding"] == PAPER_EMBEDDINGS // 2
    assert parts["critic_heads"] == PAPER_CRITIC_HEADS
    assert parts["actor_embedding"] + parts["critic_embedding"] + parts["critic_heads"] == (
        PAPER_EMBEDDINGS + PAPER_CRITIC_HEADS
    )
    assert parts.pop("total") == count_parameters(model) == sum(parts.values())
    total = count_parameters(model)
    assert abs(total - PAPER_TOTAL) / PAPER_TOTAL < 0.01
    # one input plane less removes one 3x3 input slice from each embedding's first conv
    assert make().describe()["total"] == total - 2 * 32 * 9


def test_shapes_and_empty_slots_are_zero():
    model = make()
    planes, cell, kind = batch()
    logits, values = model(planes, cell, kind)
    assert logits.shape == (3, 7, A) and values.shape == (3, 7)
    empty = (cell < 0) | (kind < 0)
    assert empty.sum() == 3
    assert (logits[empty] == 0).all() and (values[empty] == 0).all()
    assert (logits[~empty] != 0).any(-1).all() and (values[~empty] != 0).all()
    # int32 cells and int8 kinds, as the batched env hands them out, give the same result (in
    # eval mode: in train mode each call moves BatchNorm statistics and spectral norm's u, v)
    model.eval()
    logits, values = model(planes, cell, kind)
    l32, v32 = model(planes, cell.int(), kind.to(torch.int8))
    torch.testing.assert_close(l32, logits, rtol=0, atol=0)
    torch.testing.assert_close(v32, values, rtol=0, atol=0)


def test_logits_only_and_value_only_match_forward():
    model = make(init="default").eval()
    planes, cell, kind = batch()
    logits, values = model(planes, cell, kind)
    torch.testing.assert_close(model.logits_only(planes, cell, kind), logits, rtol=0, atol=0)
    torch.testing.assert_close(model.value_only(planes, cell, kind), values, rtol=0, atol=0)


def test_gradients_flow_only_from_present_entities():
    model = make(init="default").eval()  # eval: BatchNorm's batch statistics would couple images
    planes, cell, kind = batch()
    planes.requires_grad_(True)
    logits, _ = model(planes, cell, kind)
    logits[1, 2].sum().backward()  # image 1, slot 2: a heavy
    grad = planes.grad.abs().sum(dim=(1, 2, 3))
    assert grad[1] > 0 and grad[0] == 0 and grad[2] == 0
    heads = model.actor_heads
    assert all(p.grad.abs().sum() > 0 for p in heads[2].parameters())
    assert all(p.grad is None or (p.grad == 0).all() for p in heads[0].parameters())
    assert all(p.grad is None for p in model.embed_critic.parameters())  # no shared weights

    model.zero_grad(set_to_none=True)
    planes.grad = None
    logits, values = model(planes, cell, kind)
    (logits[0, 5].sum() + values[0, 6] + values[1, 6]).backward()  # empty and foreign slots
    assert (planes.grad == 0).all()
    assert all(p.grad is None or (p.grad == 0).all() for p in model.parameters())


@pytest.mark.numerics
def test_same_seed_same_init_different_seed_different_init():
    a, b, c = make(seed=1), make(seed=1), make(seed=2)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    weights = [k for k in sa if k.endswith(("original", "excite.weight", "out.weight"))]
    assert all(not torch.equal(sa[k], sc[k]) for k in weights)


def test_init_is_independent_of_build_order_and_global_rng():
    torch.manual_seed(123)
    a = make(seed=7)
    state_before = torch.random.get_rng_state()
    torch.manual_seed(999)
    torch.rand(1000)
    b = make(seed=7)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    # building the model leaves the caller's RNG stream alone
    torch.manual_seed(123)
    make(seed=7)
    assert torch.equal(torch.random.get_rng_state(), state_before)

    # re-initialising in reverse order gives the same weights (seeds come from names)
    roles = a.init_roles()
    init_model(b, dict(reversed(roles.items())), global_seed=7, weight_scale=0.01)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())

    # two containers with the same layer names, built in opposite orders
    def build(order):
        layers = {"enc": lambda: nn.Conv2d(4, 8, 3, bias=False), "head": lambda: nn.Linear(8, 3)}
        model = nn.ModuleDict({name: layers[name]() for name in order})
        init_model(model, {"enc": "hidden", "head": "output"}, global_seed=3)
        return model

    first, second = build(["enc", "head"]), build(["head", "enc"])
    for name in ("enc", "head"):
        assert torch.equal(first[name].weight, second[name].weight)


def test_init_module_gain_scale_bias_and_spectral_norm():
    lin = nn.Linear(16, 8)
    init_module(lin, global_seed=0, name="x", gain=2.0, weight_scale=0.5)
    w = lin.weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(8), atol=1e-5, rtol=0)  # (2 * 0.5)^2 I
    assert (lin.bias == 0).all()

    for wrap in (nn.utils.parametrizations.spectral_norm, nn.utils.spectral_norm):
        torch.manual_seed(0)
        one = wrap(nn.Conv2d(3, 4, 3, bias=False))
        torch.manual_seed(1)  # spectral norm's own u, v draws differ ...
        two = wrap(nn.Conv2d(3, 4, 3, bias=False))
        for conv in (one, two):
            init_module(conv, global_seed=0, name="c", gain=GAINS["hidden"], weight_scale=0.01)
        # ... but are re-estimated from the layer's seed, so the layers agree exactly
        assert all(torch.equal(v, two.state_dict()[k]) for k, v in one.state_dict().items())
        old_api = hasattr(one, "weight_orig")
        raw = one.weight_orig if old_api else one.parametrizations.weight.original
        mat = raw.detach().flatten(1)
        expected = (GAINS["hidden"] * 0.01) ** 2 * torch.eye(4)
        torch.testing.assert_close(mat @ mat.T, expected, atol=1e-8, rtol=1e-4)
        # the normalised weight has spectral norm 1 whatever the raw scale
        sigma = torch.linalg.matrix_norm(one.weight.detach().flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, rel=1e-4)

    with pytest.raises(TypeError, match="no weight matrix"):
        init_module(nn.ReLU(), global_seed=0, name="r", gain=1.0)
    with pytest.raises(ValueError, match="without an init role"):
        init_model(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), {"0": "hidden"}, global_seed=0)
    with pytest.raises(KeyError, match="unknown role"):
        init_model(nn.Sequential(nn.Linear(2, 2)), {"0": "tanh"}, global_seed=0)


def test_layer_seed_is_stable_and_name_dependent():
    seeds = {layer_seed(0, "a"), layer_seed(0, "b"), layer_seed(1, "a")}
    assert len(seeds) == 3 and all(0 <= s < 10**8 for s in seeds)
    assert layer_seed(0, "a") == layer_seed(0, "a")


@pytest.mark.numerics
def test_seed_everything_repeats_python_numpy_and_torch(monkeypatch):
    for var in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG"):  # restored after the test
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        draws = []
        for _ in range(2):
            seed_everything(5)
            draws.append((random.random(), np.random.rand(), torch.rand(1).item()))  # noqa: NPY002
        assert draws[0] == draws[1]
        assert torch.are_deterministic_algorithms_enabled()
        assert os.environ["PYTHONHASHSEED"] == "5"
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


@pytest.mark.parametrize("train", [True, False])
def test_outputs_start_near_zero(train):
    model = make(seed=0, weight_scale=0.01, init="paper").train(train)
    planes, cell, kind = batch()
    logits, values = model(planes, cell, kind)
    assert logits.abs().max() < 1e-3 and values.abs().max() < 1e-3


@pytest.mark.parametrize("n", [12, 24, 48])
def test_any_map_size(n):
    model = make(init="default").eval()
    b = 1 if n == 48 else 2
    planes, cell, kind = batch(b=b, n=n)
    assert model.embed_actor(planes).shape == (b, 32, n, n)
    logits, values = model(planes, cell, kind)
    assert logits.shape == (b, 7, A) and values.shape == (b, 7)
    assert torch.isfinite(logits).all() and torch.isfinite(values).all()


def test_global_critic_reads_only_the_kind():
    planes, cell, kind = batch()
    cell[:, :3] = torch.tensor([0, 5, 77])  # factory, light, heavy at different cells
    moved = cell.clone()
    moved[:, :3] = torch.tensor([100, 31, 2])
    for critic in ("global", "local+global"):
        model = make(critic=critic, init="default").eval()
        here, there = model.value_only(planes, cell, kind), model.value_only(planes, moved, kind)
        if critic == "global":
            torch.testing.assert_close(here, there, rtol=0, atol=0)
            torch.testing.assert_close(here[:, 1], here[:, 2], rtol=0, atol=0)  # both robots
            assert (here[:, 0] != here[:, 1]).all()  # factories read their own map
        else:
            assert (here[:, :3] != there[:, :3]).all()
    assert count_parameters(make(critic="global")) == count_parameters(make())


@pytest.mark.numerics
def test_state_dict_roundtrip_gives_identical_outputs(tmp_path):
    model = make(seed=3)
    planes, cell, kind = batch()
    model.train()
    model(planes, cell, kind)  # move BatchNorm statistics and spectral norm's u, v
    model.eval()
    path = tmp_path / "policy.pt"
    torch.save(model.state_dict(), path)
    other = make(seed=4)
    other.load_state_dict(torch.load(path, weights_only=True))
    other.eval()
    for x, y in zip(model(planes, cell, kind), other(planes, cell, kind)):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="critic"):
        make(critic="local")
    with pytest.raises(ValueError, match="init"):
        make(init="xavier")
    with pytest.raises(ValueError, match="width"):
        make(width=30)
    with pytest.raises(ValueError, match="in_channels"):
        make(in_channels=0)
    model = make()
    planes, cell, kind = batch()
    with pytest.raises(ValueError, match=r"\[B, S\]"):
        model(planes, cell[:, :3], kind)


def test_configurable_depth_and_stages():
    small = make(depth=1, stages=1, width=16)
    assert len(small.embed_actor) == 3  # conv, residual, conv
    planes, cell, kind = batch()
    logits, values = small(planes, cell, kind)
    assert logits.shape == (3, 7, A) and values.shape == (3, 7)
    assert math.isfinite(values.sum().item())


def test_structure_kinds_choose_the_value_maps():
    planes, cell, kind = batch()
    harvest = make(seed=4)
    no_structures = make(seed=4, structure_kinds=())
    no_structures.load_state_dict(harvest.state_dict())  # same weights, no buffer in the dict
    for m in (harvest, no_structures):
        m.eval()
    with torch.no_grad():
        v_harvest = harvest.value_only(planes, cell, kind)
        v_units = no_structures.value_only(planes, cell, kind)
    factory = (kind == 0) & (cell >= 0)
    assert torch.equal(v_harvest[~factory], v_units[~factory])  # units read the same maps
    assert not torch.isclose(v_harvest[factory], v_units[factory]).any()  # kind 0: other maps
    with pytest.raises(ValueError, match=r"structure_kinds \(3,\) must be kind indices"):
        make(structure_kinds=(3,))
