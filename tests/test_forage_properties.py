"""forage-v0 under random play: invariants after every step, determinism, adapter == core.

The masks are checked against a slow, obvious re-statement of the rules (``expected_mask``),
not against the vectorised code.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spawnzoo.envs import make, make_batched, make_policy
from spawnzoo.envs.forage.world import DIRS, NUM_ACTIONS, STAY, ForageWorld

SETTINGS = st.fixed_dictionaries(
    {
        "preset": st.sampled_from(["tiny", "small"]),
        "players": st.sampled_from([1, 2]),
        "seed": st.integers(0, 2**16),
        "policy": st.sampled_from(["random", "heuristic"]),
    }
)


def expected_mask(world: ForageWorld, e: int, s: int, occupied: set) -> np.ndarray:
    """The legal actions of slot ``s`` of world ``e``, straight from the actions table
    (``occupied``: the ``(y, x)`` of every live agent of the world)."""
    n = world.cfg.map_size
    mask = np.zeros(NUM_ACTIONS, dtype=bool)
    mask[STAY] = True
    if world.alive[e, s]:
        y, x = divmod(int(world.cell[e, s]), n)
        for action in range(1, 5):
            ty, tx = y + int(DIRS[action, 0]), x + int(DIRS[action, 1])
            mask[action] = 0 <= ty < n and 0 <= tx < n and (ty, tx) not in occupied
    return mask


def check_state(world: ForageWorld, batch) -> None:
    """Every invariant of the state after a step (or reset)."""
    cfg, r = world.cfg, world.agent_slots
    assert (batch.spawned <= batch.alive).all()
    for e in range(world.num_envs):
        slots = np.flatnonzero(world.alive[e])
        cells = world.cell[e, slots]
        assert len(set(cells.tolist())) == slots.size  # one agent per cell
        np.testing.assert_array_equal(world.agent_map[e, cells], slots)
        assert (world.agent_map[e] >= 0).sum() == slots.size
        owner = world.owner[e, slots]
        np.testing.assert_array_equal(owner, slots // r)  # each player in its own slot block
        serial = world.serial[e, slots]
        assert ((serial >= 0) & (serial < world.next_serial[e, owner])).all()
        assert (world.next_serial[e] <= cfg.agent_id_pool).all()
        keys = owner.astype(np.int64) * cfg.agent_id_pool + serial
        assert len(set(keys.tolist())) == slots.size  # names are unique among the living
        names = world.pool.names_of(owner, world.kind[e, slots], serial)
        assert set(names) <= set(world.pool.names)
        assert ((world.energy[e, slots] > 0) & (world.energy[e, slots] <= cfg.max_energy)).all()
        assert ((world.age[e, slots] >= 0) & (world.age[e, slots] < cfg.max_age)).all()
        occupied = {divmod(int(c), world.cfg.map_size) for c in cells.tolist()}
        for s in slots.tolist():
            np.testing.assert_array_equal(
                batch.action_mask[e, s], expected_mask(world, e, s, occupied)
            )
        empty = ~world.alive[e]
        assert batch.action_mask[e, empty, STAY].all() and not batch.action_mask[e, empty, 1:].any()
    assert ((world.food >= 0) & (world.food <= cfg.food_capacity)).all()
    assert (world.food[~world.fertile] == 0).all()
    planes = world.planes()
    own = planes[:, :, world.plane_names.index("own_agent")].sum(axis=(2, 3))
    per_player = world.alive.reshape(world.num_envs, world.num_players, -1).sum(-1)
    np.testing.assert_array_equal(own, per_player)


@settings(max_examples=12, deadline=None)
@given(SETTINGS)
def test_invariants_hold_after_every_step_of_play(params):
    core = make_batched(
        "forage-v0", num_envs=2, preset=params["preset"], players=params["players"], max_cycles=40
    )
    batch = core.reset(seed=params["seed"])
    policy = make_policy("forage-v0", params["policy"], core, seed=params["seed"])
    check_state(core, batch)
    for _ in range(50):
        batch = core.step(policy.act(batch))
        check_state(core, batch)
        assert not batch.illegal.any()  # both policies play legal moves only
        died = batch.terminated & ~batch.spawned
        assert not (died & batch.alive).any()


@settings(max_examples=6, deadline=None)
@given(SETTINGS)
def test_dict_api_names_are_fresh_and_never_come_back(params):
    env = make("forage-v0", preset=params["preset"], players=params["players"], max_cycles=60)
    obs, _ = env.reset(seed=params["seed"])
    policy = make_policy("forage-v0", params["policy"], env.world, seed=params["seed"])
    seen, gone = set(env.agents), set()
    possible = set(env.possible_agents)
    while env.agents:
        obs, rewards, terms, truncs, infos = env.step(
            env.actions_from_slots(policy.act(env.last_batch))
        )
        new = set(obs) - seen
        assert not new & gone and set(obs) <= possible
        seen |= new
        for agent in obs:
            assert obs[agent]["action_mask"].dtype == np.int8
            slot = env.slot_of(agent) if agent in env.agents else None
            if slot is not None:
                np.testing.assert_array_equal(
                    obs[agent]["action_mask"].astype(bool), env.last_batch.action_mask[0, slot]
                )
        gone |= {a for a in obs if terms[a] or truncs[a]}
        assert not set(env.agents) & gone


def run_core(seed: int, steps: int, **settings):
    """Play ``steps`` steps of the batched core with random legal actions; every BatchStep."""
    core = make_batched("forage-v0", num_envs=3, **settings)
    rng = np.random.default_rng(seed)
    out = [core.reset(seed=seed)]
    for _ in range(steps):
        mask = out[-1].action_mask
        out.append(core.step(np.argmax(rng.random(mask.shape) * mask, axis=-1)))
    return out


def test_same_seed_and_actions_give_the_same_batched_trajectory():
    a = run_core(5, 300, preset="tiny", players=2, max_cycles=70)
    b = run_core(5, 300, preset="tiny", players=2, max_cycles=70)
    births = 0
    for x, y in zip(a, b):
        for name in ("alive", "spawned", "serial", "cell", "action_mask", "reward", "done"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name))
        np.testing.assert_array_equal(x.terminated, y.terminated)
        np.testing.assert_array_equal(x.truncated, y.truncated)
        assert (x.final is None) == (y.final is None)
        if x.final is not None:
            assert x.final.metrics == y.final.metrics
            np.testing.assert_array_equal(x.final.planes, y.final.planes)
        births += int((x.spawned & ~x.done[:, None]).sum())
    assert births > 0 and sum(int(x.done.sum()) for x in a) > 0
    c = run_core(6, 30, preset="tiny", players=2, max_cycles=70)
    assert any(not np.array_equal(x.cell, y.cell) for x, y in zip(a, c))


def test_same_seed_and_actions_give_the_same_dict_trajectory(legal_actions):
    envs = [make("forage-v0", preset="tiny", max_cycles=80) for _ in range(2)]
    rngs = [np.random.default_rng(3), np.random.default_rng(3)]
    outs = [[env.reset(seed=9)] for env in envs]
    while envs[0].agents:
        for env, rng, out in zip(envs, rngs, outs):
            obs = out[-1][0]
            actions = {
                a: int(legal_actions(rng, obs[a]["action_mask"].astype(bool))) for a in env.agents
            }
            out.append(env.step(actions))
    assert not envs[1].agents
    for x, y in zip(*outs):
        obs_x, obs_y = x[0], y[0]
        assert list(obs_x) == list(obs_y)
        for agent in obs_x:
            np.testing.assert_array_equal(obs_x[agent]["observation"], obs_y[agent]["observation"])
        assert x[1:] == y[1:]  # (infos,) after a reset; rewards ... infos after a step


def test_the_heuristic_feeds_a_larger_colony_than_random_play():
    results = {}
    for name in ("heuristic", "random"):
        core = make_batched("forage-v0", num_envs=4, preset="small", max_cycles=150)
        batch = core.reset(seed=0)
        policy = make_policy("forage-v0", name, core, seed=0)
        for _ in range(150):
            batch = core.step(policy.act(batch))
        metrics = [m["per_player"][0] for m in batch.final.metrics]
        results[name] = {k: np.mean([m[k] for m in metrics]) for k in metrics[0]}
    heuristic, random = results["heuristic"], results["random"]
    assert heuristic["population_mean"] > 2 * random["population_mean"]
    assert heuristic["births"] > 2 * random["births"]
    assert heuristic["food_eaten"] > 2 * random["food_eaten"]
