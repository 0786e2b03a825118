"""The forage rules on scripted scenarios, with exact numbers.

Each test builds one small world, clears it (no agents, no food), edits the state by hand
(agents via ``place_agent``, food by writing ``fertile``/``food``), calls ``refresh()`` for fresh
masks and steps it with an ``[E, S]`` action array. Defaults of ``ForageConfig`` unless a test
says otherwise: energy cost 1 (+0.5 for a move), bite 5, split at 40 costing 4, food capacity 10,
regrowth 0.25, reward 0.1 per food and 1 per birth.
"""

from __future__ import annotations

import numpy as np
import pytest

from spawnzoo.envs import make
from spawnzoo.envs.forage.config import make_config
from spawnzoo.envs.forage.world import (
    MOVE_E,
    MOVE_N,
    MOVE_S,
    NUM_ACTIONS,
    STAY,
    ForageWorld,
    grow_patches,
)

N = 8  # map side of the scenario worlds


# ----------------------------------------------------------------- scenario helpers
def blank_world(**settings) -> ForageWorld:
    """An 8x8 world (one or two players) with no agents and no food."""
    settings = {"map_size": N, "initial_agents": 1, "agent_slots_per_player": 8, **settings}
    world = ForageWorld(make_config(**settings), num_envs=1, auto_reset=False)
    world.reset(seed=0)
    for slot in np.flatnonzero(world.alive[0]):
        world.remove_agent(0, int(slot))
    world.next_serial[:] = 0
    world.fertile[:] = False
    world.food[:] = 0.0
    world.refresh()
    return world


def put_food(world: ForageWorld, yx: tuple[int, int], amount: float) -> None:
    """Make cell ``yx`` fertile with ``amount`` food."""
    cell = yx[0] * N + yx[1]
    world.fertile[0, cell] = True
    world.food[0, cell] = amount


def step(world: ForageWorld, moves: dict[int, int] | None = None):
    """One step; ``moves`` maps slots to actions, every other slot stays."""
    actions = np.zeros((1, world.num_slots), dtype=np.int64)
    for slot, action in (moves or {}).items():
        actions[0, slot] = action
    return world.step(actions)


def yx_of(world: ForageWorld, slot: int) -> tuple[int, int]:
    return divmod(int(world.cell[0, slot]), N)


# ----------------------------------------------------------------------------- map
@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 0.9, 1.0])
def test_patches_cover_exactly_the_fertile_share_of_the_map_in_clusters(density):
    cfg = make_config(map_size=32, patch_density=density)
    fertile = grow_patches(np.random.default_rng(1), cfg)
    assert fertile.shape == (32, 32) and fertile.sum() == round(density * 32 * 32)
    np.testing.assert_array_equal(fertile, grow_patches(np.random.default_rng(1), cfg))
    if 0 < density < 0.5:
        # clustered: most fertile cells have a fertile neighbour (uniform cells would not)
        padded = np.pad(fertile, 1)
        neighbours = padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
        assert (neighbours & fertile).sum() > 0.8 * fertile.sum()


def test_a_reset_world_starts_with_full_patches_and_its_agents_on_distinct_cells():
    world = ForageWorld(make_config(map_size=N, initial_agents=5, players=2), num_envs=3)
    batch = world.reset(seed=3)
    assert batch.alive.sum(1).tolist() == [10, 10, 10]
    np.testing.assert_array_equal(world.food, np.where(world.fertile, 10.0, 0.0))
    for e in range(3):
        cells = world.cell[e, world.alive[e]]
        assert len(set(cells.tolist())) == 10
    assert (world.energy[world.alive] == 30.0).all() and (world.age == 0).all()
    assert not np.array_equal(world.fertile[0], world.fertile[1])  # one stream per world


# ---------------------------------------------------------------------------- eating
def test_an_agent_eats_what_its_cell_holds_up_to_one_bite():
    world = blank_world()
    a = world.place_agent(0, 0, (3, 3), energy=20.0)
    put_food(world, (3, 3), 3.0)
    batch = step(world)
    assert world.energy[0, a] == pytest.approx(20.0 + 3.0 - 1.0)
    assert world.food[0, 3 * N + 3] == pytest.approx(0.25)  # eaten bare, then regrew
    assert batch.reward[0, a] == pytest.approx(0.1 * 3.0)
    assert world.episode_metrics(0)["per_player"][0]["food_eaten"] == pytest.approx(3.0)
    put_food(world, (3, 3), 10.0)
    step(world)
    assert world.energy[0, a] == pytest.approx(22.0 + 5.0 - 1.0)
    assert world.food[0, 3 * N + 3] == pytest.approx(5.25)


def test_eating_stops_at_max_energy_and_leaves_the_rest_on_the_cell():
    world = blank_world()
    a = world.place_agent(0, 0, (3, 3), energy=58.0)
    put_food(world, (3, 3), 10.0)
    world.place_agent(0, 0, (2, 3))  # box it in so it cannot split
    world.place_agent(0, 0, (4, 3))
    world.place_agent(0, 0, (3, 2))
    world.place_agent(0, 0, (3, 4))
    world.refresh()
    batch = step(world)
    assert world.energy[0, a] == pytest.approx(60.0 - 1.0)
    assert world.food[0, 3 * N + 3] == pytest.approx(8.0 + 0.25)
    assert batch.reward[0, a] == pytest.approx(0.2)
    assert not batch.spawned.any()


def test_an_agent_that_moved_eats_at_its_new_cell():
    world = blank_world()
    a = world.place_agent(0, 0, (3, 3), energy=20.0)
    put_food(world, (3, 4), 10.0)
    put_food(world, (3, 3), 10.0)
    world.refresh()
    step(world, {a: MOVE_E})
    assert yx_of(world, a) == (3, 4)
    assert world.energy[0, a] == pytest.approx(20.0 + 5.0 - 1.5)
    assert world.food[0, 3 * N + 3] == pytest.approx(10.0)  # the old cell is untouched


# -------------------------------------------------------------------------- regrowth
def test_fertile_cells_regrow_to_capacity_and_barren_cells_stay_empty():
    world = blank_world(food_regrow=0.5)
    world.place_agent(0, 0, (7, 7), energy=20.0)  # on a barren cell: the episode goes on
    put_food(world, (0, 0), 0.0)
    put_food(world, (0, 1), 9.8)
    world.refresh()
    for t in range(1, 5):
        step(world)
        assert world.food[0, 0] == pytest.approx(0.5 * t)
        assert world.food[0, 1] == pytest.approx(10.0)
    assert world.food[0, 2:].sum() == 0.0


# ----------------------------------------------------------------- energy and moves
def test_staying_costs_energy_cost_and_moving_costs_move_cost_more():
    world = blank_world()
    still = world.place_agent(0, 0, (1, 1), energy=20.0)
    mover = world.place_agent(0, 0, (5, 5), energy=20.0)
    world.refresh()
    batch = step(world, {mover: MOVE_S})
    assert world.energy[0, still] == pytest.approx(19.0)
    assert world.energy[0, mover] == pytest.approx(18.5)
    assert yx_of(world, mover) == (6, 5)
    assert world.age[0, still] == world.age[0, mover] == 1
    assert not batch.illegal.any()


def test_masks_allow_moves_onto_free_cells_on_the_map_only():
    world = blank_world()
    corner = world.place_agent(0, 0, (0, 0))
    world.place_agent(0, 0, (0, 1))
    mask = world.refresh()[0, corner]
    expected = np.zeros(NUM_ACTIONS, dtype=bool)
    expected[[STAY, MOVE_S]] = True  # N and W leave the map, E is taken
    np.testing.assert_array_equal(mask, expected)
    assert world.refresh()[0, 5].tolist() == [True] + [False] * (NUM_ACTIONS - 1)  # empty slot


def test_a_masked_move_runs_as_stay_and_is_flagged():
    world = blank_world()
    a = world.place_agent(0, 0, (0, 0), energy=20.0)
    world.refresh()
    batch = step(world, {a: MOVE_N})
    assert yx_of(world, a) == (0, 0)
    assert world.energy[0, a] == pytest.approx(19.0)
    assert batch.illegal[0, a]
    assert world.episode_metrics(0)["per_player"][0]["illegal_actions"] == 1.0


def test_a_cell_emptied_this_step_is_not_entered_this_step():
    world = blank_world()
    front = world.place_agent(0, 0, (3, 3))
    back = world.place_agent(0, 0, (3, 2))
    world.refresh()
    batch = step(world, {front: MOVE_E, back: MOVE_E})
    assert batch.illegal[0, back] and not batch.illegal[0, front]
    assert yx_of(world, front) == (3, 4) and yx_of(world, back) == (3, 2)


def test_several_movers_into_one_cell_the_most_energetic_wins():
    world = blank_world()
    north = world.place_agent(0, 0, (2, 3), energy=10.0)
    south = world.place_agent(0, 0, (4, 3), energy=12.0)
    west = world.place_agent(0, 0, (3, 2), energy=12.0)
    world.refresh()
    step(world, {north: MOVE_S, south: MOVE_N, west: MOVE_E})
    # south and west tie on energy; south has the lower slot
    assert south < west
    assert yx_of(world, south) == (3, 3)
    assert yx_of(world, north) == (2, 3) and yx_of(world, west) == (3, 2)
    assert world.energy[0, south] == pytest.approx(12.0 - 1.5)
    assert world.energy[0, north] == pytest.approx(10.0 - 1.0)  # a losing move costs nothing
    assert len(set(world.cell[0, world.alive[0]].tolist())) == 3


# ---------------------------------------------------------------------------- splits
def test_an_agent_at_the_threshold_splits_into_a_free_neighbouring_cell():
    world = blank_world()
    parent = world.place_agent(0, 0, (3, 3), energy=41.0)
    world.refresh()
    batch = step(world)  # 41 - 1 = 40: reaches the threshold
    child = int(np.flatnonzero(batch.spawned[0])[0])
    assert batch.spawned[0].sum() == 1 and child != parent
    # step 0, serial 0: the first direction tried is N
    assert yx_of(world, child) == (2, 3)
    assert world.energy[0, parent] == world.energy[0, child] == pytest.approx((40.0 - 4.0) / 2)
    assert world.age[0, child] == 0 and world.age[0, parent] == 1
    assert world.serial[0, child] == 1  # the next name of the pool
    assert world.owner[0, child] == 0
    assert batch.reward[0, parent] == pytest.approx(1.0)
    assert batch.reward[0, child] == 0.0 and not batch.terminated[0, child]
    assert world.agent_map[0, 2 * N + 3] == child
    assert world.episode_metrics(0)["per_player"][0]["births"] == 1.0


def test_the_first_direction_tried_rotates_with_step_and_serial():
    # serial 0 at step 0 tries N first; the next serial starts one turn later (E), and so on
    for serial, expected in ((0, (2, 3)), (1, (3, 4)), (2, (4, 3)), (3, (3, 2))):
        world = blank_world(agent_ids_per_player=16)
        world.next_serial[0, 0] = serial
        parent = world.place_agent(0, 0, (3, 3), energy=41.0)
        world.refresh()
        batch = step(world)
        child = int(np.flatnonzero(batch.spawned[0])[0])
        assert world.serial[0, parent] == serial
        assert yx_of(world, child) == expected, serial


def test_a_boxed_in_agent_does_not_split_and_keeps_its_energy():
    world = blank_world()
    parent = world.place_agent(0, 0, (0, 0), energy=50.0)
    world.place_agent(0, 0, (0, 1))
    world.place_agent(0, 0, (1, 0))
    world.refresh()
    batch = step(world)
    assert not batch.spawned.any()
    assert world.energy[0, parent] == pytest.approx(49.0)
    assert batch.reward[0, parent] == 0.0
    assert world.alive[0].sum() == 3


def test_two_parents_wanting_one_cell_the_lower_slot_gets_it_the_other_tries_on():
    world = blank_world()
    # at step 0, a (serial 0) tries N, E, S, W and b (serial 3) tries W, N, E, S: both want
    # (2, 2) first
    a = world.place_agent(0, 0, (3, 2), energy=41.0)
    world.next_serial[0, 0] = 3
    b = world.place_agent(0, 0, (2, 3), energy=41.0)
    world.refresh()
    batch = step(world)
    children = np.flatnonzero(batch.spawned[0])
    assert children.size == 2
    cells = sorted(yx_of(world, int(c)) for c in children)
    # a (lower slot) got (2,2); b's next choice is N = (1,3)
    assert cells == [(1, 3), (2, 2)]
    assert a < b
    assert world.serial[0, children].tolist() == [4, 5]


def test_the_slot_cap_holds_splits_back_and_a_fresh_dead_slot_is_not_reused_at_once():
    world = blank_world(agent_slots_per_player=2)
    parent = world.place_agent(0, 0, (3, 3), energy=45.0)
    dying = world.place_agent(0, 0, (6, 6), energy=1.0)
    world.refresh()
    batch = step(world)
    assert batch.terminated[0, dying] and not world.alive[0, dying]
    assert not batch.spawned.any()  # the only other slot was freed in this very step
    assert world.energy[0, parent] == pytest.approx(44.0)
    batch = step(world)  # now the slot is free
    assert batch.spawned[0, dying] and world.alive[0].sum() == 2


def test_the_name_pool_caps_births_for_the_whole_episode():
    world = blank_world(agent_slots_per_player=4, agent_ids_per_player=4)
    world.next_serial[0, 0] = 1
    a = world.place_agent(0, 0, (1, 1), energy=41.0)
    b = world.place_agent(0, 0, (5, 5), energy=41.0)
    world.refresh()
    batch = step(world)  # serials 1 and 2 are taken: one name (3) is left, for the lower slot
    assert batch.spawned[0].sum() == 1
    assert world.serial[0, batch.spawned[0]].tolist() == [3]
    assert world.energy[0, b] == pytest.approx(40.0)  # b could not split: no name left
    assert world.energy[0, a] == pytest.approx(18.0)
    world.energy[0, a] = 45.0
    batch = step(world)
    assert not batch.spawned.any() and world.next_serial[0, 0] == 4
    with pytest.raises(ValueError, match="used up its agent names"):
        world.place_agent(0, 0, (7, 7))


def test_a_child_of_player_1_belongs_to_player_1_and_takes_its_pool():
    world = blank_world(players=2)
    world.place_agent(0, 0, (1, 1))
    parent = world.place_agent(0, 1, (5, 5), energy=41.0)
    world.refresh()
    batch = step(world)
    child = int(np.flatnonzero(batch.spawned[0])[0])
    assert child >= world.agent_slots  # player 1's block
    assert world.owner[0, child] == 1 and world.serial[0, child] == world.serial[0, parent] + 1
    assert world.pool.name_of(1, 0, int(world.serial[0, child])).startswith("player_1_forager_")


# ---------------------------------------------------------------------------- deaths
def test_an_agent_dies_when_its_energy_runs_out():
    world = blank_world(reward_death=-1.0)
    a = world.place_agent(0, 0, (3, 3), energy=1.5)
    keep = world.place_agent(0, 0, (6, 6), energy=30.0)
    world.refresh()
    batch = step(world)
    assert world.alive[0, a] and world.energy[0, a] == pytest.approx(0.5)
    batch = step(world)
    assert batch.terminated[0, a] and not batch.alive[0, a]
    assert batch.cell[0, a] == 3 * N + 3  # the dead agent still shows its last cell
    assert batch.reward[0, a] == pytest.approx(-1.0)
    assert world.agent_map[0, 3 * N + 3] == -1  # its cell is free for others now
    assert not batch.done[0] and world.alive[0, keep]
    metrics = world.episode_metrics(0)["per_player"][0]
    assert (metrics["deaths"], metrics["deaths_of_age"]) == (1.0, 0.0)
    step(world)
    assert world.cell[0, a] == -1 and world.serial[0, a] == -1  # empty from the next step on


def test_an_agent_dies_of_old_age_whatever_its_energy():
    world = blank_world(max_age=5)
    a = world.place_agent(0, 0, (3, 3), energy=30.0, age=3)
    world.place_agent(0, 0, (6, 6), energy=30.0)
    world.refresh()
    assert not step(world).terminated[0, a]
    batch = step(world)
    assert batch.terminated[0, a] and world.age[0, a] == 5
    metrics = world.episode_metrics(0)["per_player"][0]
    assert (metrics["deaths"], metrics["deaths_of_age"]) == (1.0, 1.0)


# ----------------------------------------------------------------------- episode end
def test_the_episode_terminates_when_the_last_agent_dies():
    world = blank_world()
    a = world.place_agent(0, 0, (3, 3), energy=1.0)
    world.refresh()
    batch = step(world)
    assert batch.done[0] and batch.terminated[0, a] and not batch.truncated.any()
    metrics = batch.final.metrics[0]
    assert metrics["episode_length"] == 1
    assert metrics["per_player"][0]["population_final"] == 0.0


def test_the_episode_is_truncated_at_max_cycles_with_population_metrics():
    world = blank_world(max_cycles=3)
    a = world.place_agent(0, 0, (3, 3), energy=41.0)
    world.refresh()
    batches = [step(world) for _ in range(3)]
    assert [b.done[0] for b in batches] == [False, False, True]
    last = batches[-1]
    assert last.truncated[0].sum() == 2 and last.truncated[0, a]
    metrics = last.final.metrics[0]["per_player"][0]
    # populations after each step: 2, 2, 2 (the split happened in the first step)
    assert metrics["population_mean"] == pytest.approx(2.0)
    assert metrics["population_peak"] == 2.0 and metrics["population_final"] == 2.0
    assert metrics["births"] == 1.0


def test_auto_reset_starts_the_next_episode_with_fresh_agents():
    world = ForageWorld(make_config(map_size=N, max_cycles=2, initial_agents=3), num_envs=2)
    world.reset(seed=1)
    world.step(np.zeros((2, world.num_slots), np.int64))
    batch = world.step(np.zeros((2, world.num_slots), np.int64))
    assert batch.done.all() and batch.final.features.shape == (2, world.num_slots, 6)
    np.testing.assert_array_equal(batch.spawned, batch.alive)
    assert batch.alive.sum(1).tolist() == [3, 3] and world.t.tolist() == [0, 0]
    assert world.serial[batch.alive].max() == 2


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"players": 3}, r"players must be one of 1, 2, got 3 \(int\)"),
        ({"map_size": 2}, r"map_size must be an integer in \[4, 1024\], got 2"),
        ({"initial_agents": 0}, r"initial_agents must be an integer in \[1, \d+\], got 0"),
        ({"map_size": 4, "initial_agents": 17}, "do not fit"),
        ({"split_cost": 50.0}, r"split_cost \(50.0\) must be < split_threshold \(40.0\)"),
        ({"split_threshold": 70.0}, r"split_threshold \(70.0\) must be <= max_energy \(60.0\)"),
        ({"agent_slots_per_player": 4, "initial_agents": 5}, "must hold the 5 initial"),
        ({"agent_ids_per_player": 2, "agent_slots_per_player": 8}, "must be >= agent slots"),
        ({"patch_size": (5, 2)}, "patch_size"),
        ({"colour": "red"}, "unknown forage setting"),
    ],
)
def test_bad_settings_are_rejected_with_a_message_naming_them(settings, message):
    with pytest.raises(ValueError, match=message):
        make_config(**settings)
    with pytest.raises(ValueError, match="unknown preset"):
        make_config(preset="huge")


def test_the_dict_api_hands_a_child_a_fresh_name_and_retires_the_dead():
    env = make("forage-v0", map_size=N, initial_agents=2, agent_slots_per_player=8)
    obs, _ = env.reset(seed=0)
    world = env.world
    world.fertile[:] = False
    world.food[:] = 0.0
    world.energy[0, 0], world.energy[0, 1] = 41.0, 1.0
    world.refresh()
    obs, rewards, terms, truncs, infos = env.step({a: 0 for a in env.agents})
    assert set(obs) == {"player_0_forager_0", "player_0_forager_1", "player_0_forager_2"}
    assert terms == {
        "player_0_forager_0": False,
        "player_0_forager_1": True,
        "player_0_forager_2": False,
    }
    assert rewards["player_0_forager_0"] == pytest.approx(1.0)
    assert rewards["player_0_forager_2"] == 0.0
    assert env.agents == ["player_0_forager_0", "player_0_forager_2"]
    with pytest.raises(ValueError, match="not alive"):
        env.step({"player_0_forager_1": 0})
