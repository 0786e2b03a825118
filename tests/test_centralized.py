"""The centralized learners: the monolithic single brain, its Gymnasium view, and MAPPO."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from learner_helpers import QUICK_RUN, metric_rows

from spawnzoo.baselines.centralized.bottlenet import BottleNet, BottleNetEncoder
from spawnzoo.baselines.centralized.config import MappoConfig, MonolithicConfig
from spawnzoo.baselines.centralized.mappo import MappoPolicy
from spawnzoo.baselines.centralized.mappo import build_policy as build_mappo
from spawnzoo.baselines.centralized.mappo import train as train_mappo
from spawnzoo.baselines.centralized.monolithic import MonolithicPolicy
from spawnzoo.baselines.centralized.monolithic import build_policy as build_monolithic
from spawnzoo.baselines.centralized.monolithic import train as train_monolithic
from spawnzoo.baselines.common import metrics as M
from spawnzoo.cli import main as cli_main
from spawnzoo.envs import make_batched


@pytest.fixture(scope="module")
def world():
    """Two tiny worlds a few steps in: factories build lights, robots move north if they can."""
    w = make_batched("harvest-v0", num_envs=2, preset="tiny")
    batch = w.reset(seed=1)
    for _ in range(6):
        mask = batch.action_mask
        actions = np.where(mask[..., 12], 12, np.where(mask[..., 1], 1, 0))
        batch = w.step(actions.astype(np.int64))
    return w, batch


def slot_inputs(w, batch):
    """Player 0's images and slot views, as the hybrid's ``forward_player`` builds them."""
    planes = torch.from_numpy(w.planes()[:, 0])
    mine = batch.alive & (batch.owner == 0)
    cell = torch.from_numpy(np.where(mine, batch.cell, -1).astype(np.int64))
    kind = torch.from_numpy(np.where(mine, batch.kind, -1).astype(np.int64))
    return planes, cell, kind


# --- parameter counts -------------------------------------------------------------------


def test_parameter_counts_are_reported(world, capsys):
    w, _ = world
    counts = {}
    for preset in ("paper", "small", "tiny"):
        counts[f"monolithic/{preset}"] = build_monolithic(MonolithicConfig(preset=preset), w)
        counts[f"monolithic-bottlenet/{preset}"] = build_monolithic(
            MonolithicConfig(preset=preset, network="bottlenet"), w
        )
        counts[f"mappo/{preset}"] = build_mappo(MappoConfig(preset=preset), w)
    with capsys.disabled():
        for name, net in counts.items():
            print(f"\n{name}: {net.describe()}", end="")
        print()
    for net in counts.values():
        d = net.describe()
        assert d["total"] == sum(v for k, v in d.items() if k != "total") > 0
    # the paper's DashNet code widths (16 -> 64, four 64-wide SE blocks), two trunks
    assert counts["monolithic/paper"].describe()["total"] == 704_847
    # the paper's BottleNet code widths (32 -> 256 over 4 levels, "simple" bottleneck of 2
    # residual blocks) for the actor, its encoder and bottleneck again for the critic
    bottlenet = counts["monolithic-bottlenet/paper"].describe()
    assert bottlenet["actor_embedding"] == 6_952_988
    assert bottlenet["total"] == 11_348_809


# --- monolithic -------------------------------------------------------------------------


def test_monolithic_reads_cell_logits_and_puts_one_global_value_per_image(world):
    w, batch = world
    net = build_monolithic(MonolithicConfig(preset="tiny"), w).eval()
    planes, cell, kind = slot_inputs(w, batch)
    with torch.no_grad():
        logits, values = net(planes, cell, kind)
        maps = net.action_logits(planes).flatten(2)  # [B, A, H*W]
        v = net.global_value(planes)
    present = cell >= 0
    assert present.sum(1).min() >= 2  # a factory and at least one robot
    for b in range(planes.shape[0]):
        for s in torch.nonzero(present[b]).flatten():
            torch.testing.assert_close(logits[b, s], maps[b, :, cell[b, s]])
        assert (logits[b, ~present[b]] == 0).all()
        assert int((values[b] != 0).sum()) == 1
        torch.testing.assert_close(values[b].sum(), v[b])
        assert values[b, torch.nonzero(present[b])[0, 0]] == v[b]


@pytest.mark.parametrize("network", ["dashnet", "bottlenet"])
def test_monolithic_net_preserves_shape_on_any_map(network):
    depth = 3 if network == "bottlenet" else None
    net = MonolithicPolicy(
        in_channels=5, num_actions=7, width=8, blocks=1, network=network, depth=depth
    ).eval()
    for h, w in ((9, 13), (12, 12), (24, 24), (8, 16)):
        with torch.no_grad():
            assert net.action_logits(torch.zeros(3, 5, h, w)).shape == (3, 7, h, w)
            assert net.global_value(torch.zeros(3, 5, h, w)).shape == (3,)


def test_monolithic_net_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiple of 4"):
        MonolithicPolicy(in_channels=5, num_actions=7, width=6)
    with pytest.raises(ValueError, match="depth"):
        MonolithicPolicy(in_channels=5, num_actions=7, network="bottlenet")
    with pytest.raises(ValueError, match="depth is a BottleNet setting"):
        MonolithicPolicy(in_channels=5, num_actions=7, depth=2)
    with pytest.raises(ValueError, match="network"):
        MonolithicPolicy(in_channels=5, num_actions=7, network="unet")
    with pytest.raises(ValueError, match="width"):
        BottleNet(5, 0, 2, 1)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        BottleNetEncoder(5, 4, 2, 1)(torch.zeros(5, 12, 12))


def test_bottlenet_shapes_follow_the_paper_and_its_skips_reach_full_resolution():
    torch.manual_seed(0)
    encoder = BottleNetEncoder(17, 32, 4, 2).eval()
    with torch.no_grad():
        levels = encoder.levels(torch.zeros(1, 17, 48, 48))
    # the paper's code: C -> 32 -> 64 -> 128 -> 256 channels, 48 -> 24 -> 12 -> 6 -> 3 cells
    assert [tuple(x.shape[1:]) for x in levels] == [
        (32, 48, 48),
        (64, 24, 24),
        (128, 12, 12),
        (256, 6, 6),
        (256, 3, 3),
    ]
    # small and tiny maps are padded to a multiple of 2**depth: 12 -> 16 -> 1 cell at depth 4
    with torch.no_grad():
        assert encoder(torch.zeros(2, 17, 12, 12)).shape == (2, 256, 1, 1)
    # the decoder: each up block adds the encoder's features of its level (summed, as in the
    # paper's code) to the upsampled input; the last one the full-resolution first level
    net = BottleNet(4, 8, 2, 1).eval()
    x = torch.randn(2, 4, 10, 11)
    seen = []
    for up in net.ups:
        up.res.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    with torch.no_grad():
        y = net(x)
        levels = net.encoder.levels(x)  # [8, 12, 12], [16, 6, 6], bottleneck [16, 3, 3]
        first = net.ups[0].act(net.ups[0].norm(net.ups[0].up(levels[2])))
    assert y.shape == (2, 8, 10, 11)
    assert [tuple(t.shape[1:]) for t in seen] == [(16, 6, 6), (8, 12, 12)]
    torch.testing.assert_close(seen[0], first + levels[1])
    # a cell's output changes with its own input even where its 2x2 block shares coarse features
    nudged = x.clone()
    nudged[0, :, 4, 4] += 1.0
    with torch.no_grad():
        change = (net(nudged) - y)[0].abs().sum(0)  # [10, 11]
    assert change[4, 4] > change[4, 5] and change[4, 4] > change[5, 4]


def test_bottlenet_paper_init_covers_every_layer_and_is_seeded():
    kwargs = dict(in_channels=5, num_actions=7, width=8, blocks=1, network="bottlenet", depth=2)
    a, b = MonolithicPolicy(**kwargs, seed=3), MonolithicPolicy(**kwargs, seed=3)
    c = MonolithicPolicy(**kwargs, seed=4)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    # the logits start near uniform (output gain 0.01), the value near 0
    planes = torch.randn(2, 5, 12, 12)
    with torch.no_grad():
        assert a.eval().action_logits(planes).abs().max() < 0.5
        assert a.global_value(planes).abs().max() < 0.5


@pytest.fixture(scope="module")
def monolithic_run(tmp_path_factory):
    return train_monolithic(
        MonolithicConfig(**QUICK_RUN, run_root=str(tmp_path_factory.mktemp("runs")), run_name="a")
    )


def test_monolithic_two_iterations_write_the_standard_run_dir(monolithic_run):
    run = monolithic_run.run_dir
    assert run.name == "a"
    for name in ("config.json", "summary.json", "metrics.jsonl"):
        assert (run / name).exists()
    assert sorted(p.name for p in (run / "checkpoints").glob("*.pt")) == [
        "cycle_0001.pt",
        "cycle_0002.pt",
    ]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "monolithic" and summary["env_steps"] == 64
    assert summary["grouping"] == "global"
    assert summary["parameter_count"] == summary["network"]["total"]
    assert "eval/ice_transferred" in summary["final_metrics"]
    rows = metric_rows(run)
    assert [r[M.CHARTS_ITERATION] for r in rows] == [1, 2]
    # one trajectory per (world, player): one active group per world step
    assert rows[-1][M.AGENTS_GROUPS_ACTIVE_MEAN] == 1.0
    assert rows[-1][M.AGENTS_ALIVE_MEAN] > 1.0


@pytest.mark.numerics
def test_monolithic_same_seed_same_metrics(monolithic_run, tmp_path):
    again = train_monolithic(MonolithicConfig(**QUICK_RUN, run_root=str(tmp_path), run_name="b"))
    assert metric_rows(again.run_dir) == metric_rows(monolithic_run.run_dir)


def test_monolithic_config_sizes_by_preset_and_validates():
    cfg = MonolithicConfig(preset="tiny")
    assert (cfg.width, cfg.blocks, cfg.depth) == (16, 1, None)
    sizes = {
        preset: (c.width, c.blocks, c.depth)
        for preset in ("paper", "small", "tiny")
        for c in [MonolithicConfig(preset=preset, network="bottlenet")]
    }
    assert sizes == {"paper": (32, 2, 4), "small": (16, 2, 3), "tiny": (16, 1, 2)}
    assert MonolithicConfig(preset="tiny", network="bottlenet", depth=1).depth == 1
    with pytest.raises(ValueError, match="init"):
        MonolithicConfig(init="xavier")
    with pytest.raises(ValueError, match="network must be"):
        MonolithicConfig(network="unet")
    with pytest.raises(ValueError, match="depth is a BottleNet setting"):
        MonolithicConfig(depth=2)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        MonolithicConfig(network="bottlenet", depth=0)


def test_monolithic_bottlenet_trains_from_the_command_line(tmp_path, capsys):
    argv = ["train", "monolithic", "--network", "bottlenet", "--preset", "tiny"]
    argv += ["--total-timesteps", "32", "--num-envs", "2", "--num-steps", "16"]
    argv += ["--eval-episodes", "2", "--eval-max-cycles", "8", "--no-progress"]
    argv += ["--update-epochs", "1"]
    argv += ["--num-minibatches", "2", "--run-root", str(tmp_path), "--run-name", "unet"]
    assert cli_main(argv) == 0
    assert "monolithic on harvest-v0" in capsys.readouterr().out
    summary = json.loads((tmp_path / "unet" / "summary.json").read_text())
    config = json.loads((tmp_path / "unet" / "config.json").read_text())
    assert config.get("config", config)["network"] == "bottlenet"
    assert summary["parameter_count"] == summary["network"]["total"]
    rows = metric_rows(tmp_path / "unet")
    assert len(rows) == 1 and rows[0][M.AGENTS_GROUPS_ACTIVE_MEAN] == 1.0


# --- the Gymnasium view -----------------------------------------------------------------


@pytest.fixture
def view():
    from spawnzoo.baselines.wrappers.monolithic_view import MonolithicView

    return MonolithicView("harvest-v0", preset="tiny")


def test_monolithic_view_passes_gymnasium_check_env(view):
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(view, skip_render_check=True)


def test_monolithic_view_masks_and_rewards_follow_the_entities(view):
    obs, _ = view.reset(seed=0)
    assert obs.shape == view.observation_space.shape and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    steps, total = 0, 0.0
    while True:
        masks = view.action_masks().reshape(view.num_cells, view.num_actions)
        b = view._batch
        mine = b.alive[0] & (b.owner[0] == 0)
        occupied = np.zeros(view.num_cells, bool)
        occupied[b.cell[0][mine]] = True
        assert masks[:, 0].all() and not masks[~occupied, 1:].any()
        action = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, reward, terminated, truncated, info = view.step(action)
        assert info["illegal"] == 0 and view.observation_space.contains(obs)
        steps, total = steps + 1, total + reward
        if terminated or truncated:
            break
    assert truncated and steps == 64  # tiny: max_cycles 64, one factory survives random play
    bad = np.full(view.num_cells, 13)  # "build heavy" everywhere: illegal on most cells
    view.reset(seed=0)
    assert view.step(bad)[4]["illegal"] > 0


def test_monolithic_view_trains_with_maskable_ppo(view):
    sb3_contrib = pytest.importorskip("sb3_contrib")
    model = sb3_contrib.MaskablePPO(
        "MlpPolicy",
        view,
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        policy_kwargs={"net_arch": [32]},
        seed=0,
        device="cpu",
    )
    model.learn(64)
    assert model.num_timesteps == 64


# --- MAPPO ------------------------------------------------------------------------------


def test_mappo_windows_are_the_cores_egocentric_windows(world):
    w, batch = world
    net = build_mappo(MappoConfig(preset="tiny"), w)
    planes = w.planes()
    env_index, slot = np.nonzero(batch.alive)
    expected = w.egocentric(env_index, slot, net.radius, planes)
    image = env_index * w.num_players + batch.owner[env_index, slot].astype(np.int64)
    got = net.windows(
        torch.from_numpy(planes).flatten(0, 1),
        torch.from_numpy(image),
        torch.from_numpy(batch.cell[env_index, slot].astype(np.int64)),
    )
    np.testing.assert_array_equal(got.numpy(), expected)


def test_mappo_outputs_per_entity_logits_and_values(world):
    w, batch = world
    net = build_mappo(MappoConfig(preset="tiny"), w).eval()
    planes, cell, kind = slot_inputs(w, batch)
    with torch.no_grad():
        logits, values = net(planes, cell, kind)
        # an entity's outputs depend on its own slot only (no cross-slot leakage)
        second = int(torch.nonzero(cell[0] >= 0)[1])
        solo = torch.where(torch.arange(cell.shape[1]) == second, cell, -1)
        logits1, values1 = net(planes, solo, kind)
    present = cell >= 0
    assert (logits[~present] == 0).all() and (values[~present] == 0).all()
    assert (values[present] != 0).all()
    keep = solo >= 0
    torch.testing.assert_close(logits1[keep], logits[keep])
    torch.testing.assert_close(values1[keep], values[keep])


@pytest.mark.parametrize("reward", ["team", "own"])
def test_mappo_two_iterations(tmp_path, reward):
    result = train_mappo(MappoConfig(**QUICK_RUN, run_root=str(tmp_path), reward=reward))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["method"] == "mappo" and summary["env_steps"] == 64
    assert summary["grouping"] == "entity"
    assert summary["globalise"] == (["reward"] if reward == "team" else [])
    rows = metric_rows(result.run_dir)
    assert len(rows) == 2
    # one trajectory per entity
    assert rows[-1][M.AGENTS_GROUPS_ACTIVE_MEAN] == rows[-1][M.AGENTS_ALIVE_MEAN]
    if reward == "team":  # same seed, same metrics
        again = train_mappo(
            MappoConfig(**QUICK_RUN, run_root=str(tmp_path / "again"), reward=reward)
        )
        assert metric_rows(again.run_dir) == rows


def test_mappo_config_validates():
    with pytest.raises(ValueError, match="reward"):
        MappoConfig(reward="mean")
    with pytest.raises(ValueError, match="obs_radius"):
        MappoConfig(obs_radius=0)
    assert isinstance(MappoPolicy, type)
