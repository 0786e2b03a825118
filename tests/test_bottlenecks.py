"""BottleNet's bottleneck variants (the paper's §2.2: simple, dilated, multi-scale; inception
from its code): shapes, parameter counts, and that they train through the monolithic policy."""

from __future__ import annotations

import pytest
import torch

from spawnzoo.baselines.centralized.bottlenet import (
    BOTTLENECKS,
    BottleNet,
    BottleNetEncoder,
    bottleneck_layers,
)
from spawnzoo.baselines.centralized.config import MonolithicConfig
from spawnzoo.baselines.nets.layers import count_parameters


def test_every_bottleneck_keeps_the_shape_and_the_simple_one_is_unchanged():
    x = torch.randn(2, 18, 12, 12)
    sizes = {}
    for kind in BOTTLENECKS:
        torch.manual_seed(0)
        net = BottleNet(18, 8, 2, 1, kind)
        assert net(x).shape == (2, 8, 12, 12)
        assert BottleNetEncoder(18, 8, 2, 1, kind)(x).shape == (2, 16, 3, 3)
        sizes[kind] = count_parameters(net.encoder.bottleneck)
    c = 16  # width 8 at depth 2: 16 channels in the bottleneck
    residual = count_parameters(bottleneck_layers("simple", c, 1))
    assert sizes["simple"] == residual
    # two dilated conv blocks: 3x3 weights and BatchNorm
    assert sizes["dilated"] == residual + 2 * (c * c * 9 + 2 * c)
    # branches of c/4 channels at 1x1 .. 7x7, then BatchNorm over the c concatenated channels
    assert sizes["multiscale"] == residual + sum(c * (c // 4) * k * k for k in (1, 3, 5, 7)) + 2 * c
    assert sizes["inception"] > residual


def test_dilated_bottleneck_convs_have_dilation_2_then_4():
    layers = bottleneck_layers("dilated", 8, 1)
    dilations = [m.dilation for m in layers.modules() if isinstance(m, torch.nn.Conv2d)][:2]
    assert dilations == [(2, 2), (4, 4)]
    x = torch.randn(1, 8, 12, 12)
    assert layers(x).shape == x.shape


def test_bad_bottlenecks_are_refused():
    with pytest.raises(ValueError, match="bottleneck must be one of"):
        bottleneck_layers("wide", 8, 1)
    with pytest.raises(ValueError, match="divisible by 4"):
        bottleneck_layers("multiscale", 6, 1)
    with pytest.raises(ValueError, match="bottleneck is a BottleNet setting"):
        MonolithicConfig(preset="tiny", bottleneck="dilated")
    with pytest.raises(ValueError, match="bottleneck must be"):
        MonolithicConfig(preset="tiny", network="bottlenet", bottleneck="wide")


@pytest.mark.parametrize("kind", ["dilated", "multiscale", "inception"])
def test_monolithic_trains_with_each_bottleneck(tmp_path, kind):
    from spawnzoo.baselines.centralized.monolithic import train

    cfg = MonolithicConfig(
        preset="tiny",
        network="bottlenet",
        bottleneck=kind,
        num_envs=2,
        num_steps=16,
        total_timesteps=32,
        num_minibatches=2,
        update_epochs=1,
        eval_episodes=1,
        eval_max_cycles=8,
        run_root=str(tmp_path),
        progress=False,
    )
    result = train(cfg)
    assert result.summary["network"]["total"] > 138_156  # more than the simple bottleneck
