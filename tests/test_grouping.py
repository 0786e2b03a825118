"""Trajectory separation (baselines/grouped/grouping.py) on hand-built scenes, exact groups.

The hand-built scene is one player's view of a 12 x 12 map with the harvest slot layout of two
players (factory slots 0-3, robot slots 4-13): the player owns factories 0 and 1 and robots in
slots 4-8; the other player's slots hold entities that are not active in this view. Plain-Python
references of every rule and of the flags check the vectorised code on random rollouts.
"""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from spawnzoo.baselines.common.gae import masked_gae  # noqa: E402
from spawnzoo.baselines.grouped import grouping  # noqa: E402
from spawnzoo.baselines.grouped.grouping import (  # noqa: E402
    EntityLayout,
    GroupingSpec,
    assign_groups,
    check_grouping,
    globalise,
    globalise_flags,
    group_flags,
    mix_rewards,
    to_groups,
    top_n_mask,
)
from spawnzoo.envs.harvest.world import FACTORY, HEAVY, LIGHT  # noqa: E402

W = 12
FS = 4  # factory slots: 2 players x 2 factories
S = 14  # + 2 players x 5 robot slots
_ = -1  # no group


def harvest(structure_slots: int) -> EntityLayout:
    """Harvest's kinds (factory = the structure kind), with ``structure_slots`` factory slots."""
    return EntityLayout(("factory", "light", "heavy"), (FACTORY,), structure_slots)


#: (slot, kind, serial, x, y) of the player's entities
SCENE = [
    (0, FACTORY, 0, 2, 2),
    (1, FACTORY, 1, 9, 9),
    (4, LIGHT, 0, 1, 1),  # quadrant 0; factory 0 at 2; heavy 5 at 8
    (5, HEAVY, 0, 8, 2),  # quadrant 1; factory 0 at 6 (factory 1 at 8)
    (6, LIGHT, 1, 3, 8),  # quadrant 2; factories 0 and 1 both at 7 (tie); heavy 7 at 9
    (7, HEAVY, 1, 10, 10),  # quadrant 3; factory 1 at 2
    (8, LIGHT, 2, 9, 3),  # quadrant 1; factory 1 at 6 (factory 0 at 8); heavy 5 at 2
]
#: the other player's entities: present in the arrays, not active in this view
OTHER = [(2, FACTORY, 0, 5, 5), (9, HEAVY, 0, 2, 3), (10, LIGHT, 0, 8, 8)]


def build_scene(entities=SCENE, others=OTHER) -> dict[str, torch.Tensor]:
    """``[1, 1, S]`` tensors of one step of one env."""
    active = torch.zeros(1, 1, S, dtype=torch.bool)
    kind, cell, serial = (torch.full((1, 1, S), -1, dtype=torch.long) for _ in range(3))
    for group, is_mine in ((entities, True), (others, False)):
        for slot, k, ser, x, y in group:
            active[0, 0, slot] = is_mine
            kind[0, 0, slot], serial[0, 0, slot], cell[0, 0, slot] = k, ser, y * W + x
    return {"active": active, "kind": kind, "cell": cell, "serial": serial}


def groups_of(text: str, scene: dict[str, torch.Tensor] | None = None, **kw) -> list[int]:
    s = build_scene() if scene is None else scene
    spec = GroupingSpec.parse(text)
    g = assign_groups(spec, s["active"], s["kind"], s["cell"], s["serial"], W, harvest(FS), **kw)
    assert g.dtype == torch.long and g.shape == (1, 1, S)
    return g[0, 0].tolist()


# ------------------------------------------------------------------------------------- parsing

VALID = [
    ("entity", ("entity", "entity", 0, False), "entity"),
    (" Global ", ("global", "global", 0, True), "global"),
    ("factories=entity,robots=entity", ("entity", "entity", 0, False), "entity"),
    ("factories=global,robots=entity", ("global", "entity", 0, False), None),
    ("factories=entity,robots=global", ("entity", "global", 0, False), None),
    ("factories=global,robots=global", ("global", "global", 0, False), None),
    (
        "robots=global,factories=entity",
        ("entity", "global", 0, False),
        "factories=entity,robots=global",
    ),
    ("factories=global", ("global", "entity", 0, False), "factories=global,robots=entity"),
    ("random:1", ("entity", "random", 1, False), None),
    ("random:16", ("entity", "random", 16, False), None),
    ("quadrant", ("entity", "quadrant", 0, False), None),
    ("nearest_factory", ("entity", "nearest_factory", 0, False), None),
    ("nearest_heavy", ("entity", "nearest_heavy", 0, False), None),
]


@pytest.mark.parametrize(("text", "fields", "canonical"), VALID)
def test_parse(text, fields, canonical):
    spec = GroupingSpec.parse(text)
    assert (spec.factories, spec.robots, spec.buckets, spec.shared) == fields
    assert str(spec) == (canonical or text)
    assert GroupingSpec.parse(str(spec)) == spec


@pytest.mark.parametrize(
    "text",
    [
        "",
        "foo",
        "random:0",
        "random:x",
        "random:",
        "random",
        "factories=quadrant",
        "robots=random:2",
        "units=global",
        "factories=entity,factories=global",
        "entity,global",
    ],
)
def test_parse_errors_list_the_options(text):
    options = (
        "options: entity, global, factories={entity|global},robots={entity|global}, "
        "random:N (N >= 1), quadrant, nearest_factory, nearest_heavy"
    )
    with pytest.raises(ValueError) as info:
        GroupingSpec.parse(text)
    assert options in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"factories": "team"}, "factories must be one of"),
        ({"robots": "team"}, "robots must be one of"),
        ({"robots": "random"}, "buckets must be >= 1 exactly when"),
        ({"robots": "entity", "buckets": 2}, "buckets must be >= 1 exactly when"),
        ({"shared": True}, "shared=True needs"),
        ({"factories": "global", "robots": "quadrant"}, "keeps factories separate"),
    ],
)
def test_spec_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupingSpec(**kwargs)


# ----------------------------------------------------------------------------- assign_groups

EXPECTED = {
    # slot:                           0  1  2  3  4  5  6  7  8  9 10 11 12 13
    "entity":                        [0, 1, _, _, 4, 5, 6, 7, 8, _, _, _, _, _],
    "global":                        [0, 0, _, _, 0, 0, 0, 0, 0, _, _, _, _, _],
    "factories=global,robots=entity": [0, 0, _, _, 4, 5, 6, 7, 8, _, _, _, _, _],
    "factories=entity,robots=global": [0, 1, _, _, 4, 4, 4, 4, 4, _, _, _, _, _],
    "factories=global,robots=global": [0, 0, _, _, 4, 4, 4, 4, 4, _, _, _, _, _],
    # serials 0, 0, 1, 1, 2 -> buckets 0, 0, 1, 1, 0 at ids FS + bucket
    "random:2":                      [0, 1, _, _, 4, 4, 5, 5, 4, _, _, _, _, _],
    "random:1":                      [0, 1, _, _, 4, 4, 4, 4, 4, _, _, _, _, _],
    # quadrants 0, 1, 2, 3, 1 at ids FS + quadrant
    "quadrant":                      [0, 1, _, _, 4, 5, 6, 7, 5, _, _, _, _, _],
    # slot 6 is 7 away from both factories: the lower slot wins
    "nearest_factory":               [0, 1, _, _, 0, 0, 0, 1, 1, _, _, _, _, _],
    # lights 4 and 8 nearest to heavy 5, light 6 to heavy 7; heavies keep their own groups
    "nearest_heavy":                 [0, 1, _, _, 5, 5, 7, 7, 5, _, _, _, _, _],
}  # fmt: skip


@pytest.mark.parametrize("text", list(EXPECTED))
def test_each_rule_gives_the_groups_it_names(text):
    assert groups_of(text) == EXPECTED[text]


def test_nearest_rules_without_targets_keep_robots_apart():
    no_heavy = build_scene([e for e in SCENE if e[1] != HEAVY])  # slots 0, 1, 4, 6, 8
    assert groups_of("nearest_heavy", no_heavy) == [0, 1, _, _, 4, _, 6, _, 8, _, _, _, _, _]
    robots_only = build_scene([e for e in SCENE if e[1] != FACTORY])
    assert groups_of("nearest_factory", robots_only) == [_, _, _, _, 4, 5, 6, 7, 8, _, _, _, _, _]


def test_quadrant_uses_map_height_on_non_square_maps():
    scene = build_scene([(4, LIGHT, 0, 1, 4)], [])  # x = 1, y = 4
    assert groups_of("quadrant", scene)[4] == FS + 0  # 12 x 12: top-left
    assert groups_of("quadrant", scene, map_height=6)[4] == FS + 2  # 12 wide, 6 high: bottom-left


def reference_groups(spec: GroupingSpec, active, kind, cell, serial, width, fs) -> list:
    """Plain-Python ``assign_groups`` (square maps): nested lists ``[T][B][S]``."""
    out = []
    for t in range(len(active)):
        out.append([])
        for b in range(len(active[t])):
            a, k, c, ser = active[t][b], kind[t][b], cell[t][b], serial[t][b]
            n = len(a)

            def dist(i, j, c=c):
                return abs(c[i] // width - c[j] // width) + abs(c[i] % width - c[j] % width)

            factories = [s for s in range(n) if a[s] and k[s] == FACTORY]
            heavies = [s for s in range(n) if a[s] and k[s] == HEAVY]
            row = []
            for s in range(n):
                if not a[s]:
                    row.append(-1)
                elif k[s] == FACTORY:
                    row.append(0 if spec.factories == "global" else s)
                elif spec.robots == "entity":
                    row.append(s)
                elif spec.robots == "global":
                    row.append(0 if spec.shared else fs)
                elif spec.robots == "random":
                    row.append(fs + ser[s] % spec.buckets)
                elif spec.robots == "quadrant":
                    x, y = c[s] % width, c[s] // width
                    row.append(fs + (x >= width / 2) + 2 * (y >= width / 2))
                elif spec.robots == "nearest_factory" and factories:
                    row.append(min(factories, key=lambda f, s=s: (dist(s, f), f)))
                elif spec.robots == "nearest_heavy" and k[s] == LIGHT and heavies:
                    row.append(min(heavies, key=lambda h, s=s: (dist(s, h), h)))
                else:
                    row.append(s)
            out[t].append(row)
    return out


def random_rollout(seed: int, t_n=6, b_n=3, s_n=10, fs=3, width=8) -> dict[str, torch.Tensor]:
    """Random slot data with kinds in their slot ranges (flags need not be consistent)."""
    g = torch.Generator().manual_seed(seed)
    shape = (t_n, b_n, s_n)
    slot = torch.arange(s_n).expand(shape)
    robot_kind = torch.randint(LIGHT, HEAVY + 1, shape, generator=g)
    return {
        "active": torch.rand(shape, generator=g) < 0.6,
        "kind": torch.where(slot < fs, torch.full(shape, FACTORY), robot_kind),
        "cell": torch.randint(0, width * width, shape, generator=g),
        "serial": torch.randint(0, 20, shape, generator=g),
        "spawned": torch.rand(shape, generator=g) < 0.3,
        "terminated": torch.rand(shape, generator=g) < 0.2,
        "truncated": torch.rand(shape, generator=g) < 0.2,
    }


ALL_SPECS = ["entity", "global", "random:1", "random:3", "quadrant", "nearest_factory"] + [
    "nearest_heavy",
    *(f"factories={f},robots={r}" for f in ("entity", "global") for r in ("entity", "global")),
]


@pytest.mark.parametrize("text", ALL_SPECS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assign_groups_matches_reference_over_steps_and_envs(text, seed, monkeypatch):
    # a tiny distance block makes the nearest_* rules work through many row blocks
    monkeypatch.setattr(grouping, "_DISTANCE_BLOCK", 50)
    r = random_rollout(seed)
    spec = GroupingSpec.parse(text)
    args = (r["active"], r["kind"], r["cell"], r["serial"], 8, harvest(3))
    got = assign_groups(spec, *args)
    lists = [x.tolist() for x in args[:4]]
    assert got.tolist() == reference_groups(spec, *lists, 8, 3)


def test_assign_groups_errors():
    s = build_scene()
    args = (s["active"], s["kind"], s["cell"], s["serial"], W)
    entity = GroupingSpec()
    with pytest.raises(ValueError, match="needs 11 group ids in the unit-slot range"):
        assign_groups(GroupingSpec.parse("random:11"), *args, harvest(FS))
    with pytest.raises(ValueError, match="structures must sit in slots"):
        assign_groups(entity, *args, harvest(1))  # factory 1 would sit in a robot slot
    with pytest.raises(ValueError, match="structures must sit in slots"):
        assign_groups(entity, *args, harvest(6))  # robot 4 would sit in a factory slot
    with pytest.raises(ValueError, match="structure_slots must be in"):
        assign_groups(entity, *args, harvest(S + 1))
    bad_kind = s["kind"].clone()
    bad_kind[0, 0, 4] = 7
    with pytest.raises(ValueError, match=r"a kind in \[0, 3\) \(\['factory', 'light', 'heavy'\]\)"):
        assign_groups(entity, s["active"], bad_kind, s["cell"], s["serial"], W, harvest(FS))
    with pytest.raises(ValueError, match="shapes must match"):
        assign_groups(
            entity, s["active"], s["kind"][..., :3], s["cell"], s["serial"], W, harvest(FS)
        )


# ------------------------------------------------------------- envs other than harvest

#: an env without structures (forage-like): one kind, every slot a unit slot
MITES = EntityLayout(("mite",), (), 0)


def mites(cells: list[int], serials: list[int]) -> dict[str, torch.Tensor]:
    """One step of one env: live mites in slots 0..n-1 of 6 at ``cells`` on a W-wide map."""
    n = len(cells)
    active = torch.zeros(1, 1, 6, dtype=torch.bool)
    active[..., :n] = True
    kind = torch.where(active, 0, -1)
    cell = torch.full((1, 1, 6), -1)
    cell[0, 0, :n] = torch.tensor(cells)
    serial = torch.full((1, 1, 6), -1)
    serial[0, 0, :n] = torch.tensor(serials)
    return {"active": active, "kind": kind, "cell": cell, "serial": serial}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("entity", [0, 1, 2, 3, _, _]),
        ("global", [0, 0, 0, 0, _, _]),
        ("factories=global,robots=entity", [0, 1, 2, 3, _, _]),
        ("factories=entity,robots=global", [0, 0, 0, 0, _, _]),
        ("random:2", [1, 0, 1, 1, _, _]),  # serials 5, 2, 7, 9
        ("quadrant", [0, 1, 2, 3, _, _]),  # one mite per quadrant
    ],
)
def test_rules_on_an_env_without_structures_use_unit_ids_from_zero(text, expected):
    s = mites([1 * W + 1, 1 * W + 9, 9 * W + 2, 10 * W + 10], [5, 2, 7, 9])
    got = assign_groups(
        GroupingSpec.parse(text), s["active"], s["kind"], s["cell"], s["serial"], W, MITES
    )
    assert got[0, 0].tolist() == expected


def test_structure_rules_need_an_env_that_has_them():
    s = mites([0, 5], [0, 1])
    args = (s["active"], s["kind"], s["cell"], s["serial"], W, MITES)
    with pytest.raises(ValueError, match=r"'nearest_factory'.*has none \(kinds \['mite'\]"):
        assign_groups(GroupingSpec.parse("nearest_factory"), *args)
    with pytest.raises(ValueError, match=r"'light' and 'heavy'; this env has kinds \['mite'\]"):
        check_grouping(GroupingSpec.parse("nearest_heavy"), MITES, 6)
    with pytest.raises(ValueError, match="needs 7 group ids in the unit-slot range"):
        check_grouping(GroupingSpec.parse("random:7"), MITES, 6)


def test_kinds_are_found_by_name_and_structure_kinds_by_index():
    # bases are kind 2 here, lights 0, heavies 1: the rules follow the names and the layout
    layout = EntityLayout(("light", "heavy", "base"), (2,), 1)
    active = torch.tensor([True, True, True, True]).view(1, 1, 4)
    kind = torch.tensor([2, 0, 1, 0]).view(1, 1, 4)
    cell = torch.tensor([0, 1, 3, 4 * W]).view(1, 1, 4)  # light 1 next to base and heavy 2 at 2
    group = {
        text: assign_groups(GroupingSpec.parse(text), active, kind, cell, cell, W, layout)[
            0, 0
        ].tolist()
        for text in ("nearest_heavy", "nearest_factory", "factories=global,robots=global")
    }
    assert group["nearest_heavy"] == [0, 2, 2, 2]  # lights 1 and 3 join heavy 2
    assert group["nearest_factory"] == [0, 0, 0, 0]
    assert group["factories=global,robots=global"] == [0, 1, 1, 1]
    assert layout.is_structure(torch.tensor([-1, 0, 1, 2, 3])).tolist() == [
        False,
        False,
        False,
        True,
        False,
    ]
    with pytest.raises(ValueError, match=r"structure_kinds \(3,\) must be kind indices"):
        EntityLayout(("light", "heavy", "base"), (3,), 1)


# -------------------------------------------------------------------------------- to_groups


def test_to_groups_sums_members_and_ignores_slots_without_group():
    x = torch.tensor([[[1.0, 2.0, 3.0, float("nan"), float("inf")]]], requires_grad=True)
    group = torch.tensor([[[0, 0, 2, -1, -1]]])
    out = to_groups(x, group)
    assert out.tolist() == [[[3.0, 0.0, 3.0, 0.0, 0.0]]]
    out.sum().backward()
    assert x.grad.tolist() == [[[1.0, 1.0, 1.0, 0.0, 0.0]]]
    with pytest.raises(ValueError, match="must match"):
        to_groups(x, group[..., :4])


# ------------------------------------------------------------------------------- group_flags


def bools(rows: list[str]) -> torch.Tensor:
    """``["0110", ...]`` one string per slot, one char per step -> ``[T, 1, S]`` bool."""
    return torch.tensor([[c == "1" for c in r] for r in rows]).T.unsqueeze(1)


def cols(x: torch.Tensor, slots) -> list[str]:
    """``[T, 1, G]`` bool -> one string per chosen group, one char per step."""
    return ["".join("1" if v else "0" for v in x[:, 0, g].tolist()) for g in slots]


FLAG_NAMES = ("active", "spawned", "terminated", "truncated")

#: factory slot 0 and robot slots 1, 2 over 7 steps (factory_slots = 1). Robot A acts in slot 1
#: at t = 1..3 and dies at 3; slot 1 is empty at 4; robot B spawns there at 5. Robot C acts in
#: slot 2 from t = 2. The episode hits its time limit at t = 6.
TIMELINE = {
    "active": bools(["1111111", "0111011", "0011111"]),
    "spawned": bools(["1000000", "0100010", "0010000"]),
    "terminated": bools(["0000000", "0001000", "0000000"]),
    "truncated": bools(["0000001", "0000001", "0000001"]),
}


def timeline_flags(text: str, timeline=TIMELINE) -> tuple[list[str], ...]:
    spec = GroupingSpec.parse(text)
    shape = timeline["active"].shape
    kind = torch.tensor([FACTORY, LIGHT, HEAVY]).expand(shape)
    zeros = torch.zeros(shape, dtype=torch.long)
    group = assign_groups(spec, timeline["active"], kind, zeros, zeros, 12, harvest(1))
    flags = group_flags(group, *(timeline[k] for k in FLAG_NAMES))
    return tuple(cols(f, range(3)) for f in flags)


def test_entity_flags_follow_each_slot():
    active, starts, dones, truncated = timeline_flags("entity")
    assert active == ["1111111", "0111011", "0011111"]
    assert starts == ["1000000", "0100010", "0010000"]  # exactly the slots' spawned
    assert dones == ["0000001", "0001001", "0000001"]  # A ends at 3: a new trajectory at 5
    assert truncated == ["0000001", "0000001", "0000001"]


def test_global_flags_continue_through_deaths_and_spawns():
    active, starts, dones, truncated = timeline_flags("global")
    assert active == ["1111111", "0000000", "0000000"]
    assert starts == ["1000000", "0000000", "0000000"]
    assert dones == ["0000001", "0000000", "0000000"]
    assert truncated == ["0000001", "0000000", "0000000"]


def test_robot_group_continues_while_any_robot_carries_on():
    active, starts, dones, truncated = timeline_flags("factories=entity,robots=global")
    assert active == ["1111111", "0111111", "0000000"]  # robot group id 1 (= factory_slots)
    assert starts == ["1000000", "0100000", "0000000"]
    assert dones == ["0000001", "0000001", "0000000"]  # A's death at 3: C carries on
    assert truncated == ["0000001", "0000001", "0000000"]


def test_multi_member_group_restarts_after_being_empty():
    """Robots in one group: A acts at 1..2 and dies; nobody at 3; B spawns at 4 (slot 2)."""
    timeline = {
        "active": bools(["111111", "011000", "000011"]),
        "spawned": bools(["100000", "010000", "000010"]),
        "terminated": bools(["000000", "001000", "000000"]),
        "truncated": bools(["000000", "000000", "000000"]),
    }
    active, starts, dones, truncated = timeline_flags("factories=entity,robots=global", timeline)
    assert active[1] == "011011" and starts[1] == "010010" and dones[1] == "001000"
    assert truncated[1] == "000000"
    assert dones[0] == "000000"  # the factory carries on past the rollout


def test_mixed_termination_and_truncation_in_a_group():
    """At the last step one robot dies and the other is truncated: the group is done and
    bootstrapped (its final value holds the truncated robot only); both dying: no bootstrap;
    a robot flagged both terminated and truncated counts as dead."""
    active = bools(["11", "11", "11"])
    spawned = bools(["10", "10", "10"])
    cases = [(["00", "01", "00"], ["01", "00", "01"], "01"), (["00", "01", "01"], ["01"] * 3, "00")]
    for terminated, truncated, bootstrapped in cases:
        flags = group_flags(
            torch.tensor([0, 1, 1]).expand(2, 1, 3),
            active,
            spawned,
            bools(terminated),
            bools(truncated),
        )
        assert cols(flags[2], [1]) == ["01"]  # done at the last step
        assert cols(flags[3], [1]) == [bootstrapped]


def test_group_starts_at_t0_only_when_all_its_members_are_new():
    active = bools(["1", "1", "1"])
    group = torch.tensor([0, 1, 1]).reshape(1, 1, 3)
    no = bools(["0", "0", "0"])
    starts = group_flags(group, active, bools(["1", "1", "0"]), no, no)[1]
    assert starts[0, 0].tolist() == [True, False, False]  # robot 2 carried on into the rollout
    starts = group_flags(group, active, bools(["0", "1", "1"]), no, no)[1]
    assert starts[0, 0].tolist() == [False, True, False]


def test_a_group_that_its_only_robot_left_ends_and_the_next_one_starts():
    """Quadrant rule: the light moves from quadrant 0 to quadrant 1 between t = 1 and t = 2."""
    # factory slot 0 (empty), robot slots 1-4: the light in slot 1; quadrant q is group 1 + q
    active = torch.tensor([False, True, False, False, False]).expand(4, 1, 5)
    kind = torch.tensor([FACTORY, LIGHT, LIGHT, LIGHT, LIGHT]).expand(4, 1, 5)
    cell = torch.zeros(4, 1, 5, dtype=torch.long)
    cell[:, 0, 1] = torch.tensor([5, 5, 6, 6]) + 12 * 1  # x = 5, 5, 6, 6; y = 1
    group = assign_groups(GroupingSpec.parse("quadrant"), active, kind, cell, cell, 12, harvest(1))
    assert group[:, 0, 1].tolist() == [1, 1, 2, 2]
    no = torch.zeros(4, 1, 5, dtype=torch.bool)
    spawned = no.clone()
    spawned[0, 0, 1] = True
    active_g, starts_g, dones_g, _ = group_flags(group, active, spawned, no, no)
    assert cols(active_g, [1, 2]) == ["1100", "0011"]
    assert cols(starts_g, [1, 2]) == ["1000", "0010"]
    assert cols(dones_g, [1, 2]) == ["0100", "0000"]


def reference_flags(group, active, spawned, terminated, truncated) -> list[list]:
    """Plain-Python ``group_flags`` from the definitions: ``[4][T][B][G]`` nested lists."""
    t_n, b_n, s_n = len(group), len(group[0]), len(group[0][0])
    out = [[[[False] * s_n for _ in range(b_n)] for _ in range(t_n)] for _ in range(4)]
    for b in range(b_n):
        for g in range(s_n):

            def members(t, b=b, g=g):
                return [s for s in range(s_n) if active[t][b][s] and group[t][b][s] == g]

            def carries(t, b=b, g=g, members=members):
                for s in members(t):
                    if terminated[t][b][s] or truncated[t][b][s]:
                        continue
                    if t == t_n - 1:
                        return True
                    if active[t + 1][b][s] and not spawned[t + 1][b][s] and group[t + 1][b][s] == g:
                        return True
                return False

            for t in range(t_n):
                m = members(t)
                if not m:
                    continue
                done = not carries(t)
                start = not carries(t - 1) if t else all(spawned[0][b][s] for s in m)
                cut = any(truncated[t][b][s] and not terminated[t][b][s] for s in m)
                for i, v in enumerate((True, start, done, done and cut)):
                    out[i][t][b][g] = v
    return out


@pytest.mark.parametrize("text", ALL_SPECS)
@pytest.mark.parametrize("seed", [3, 4])
def test_group_flags_match_reference(text, seed):
    r = random_rollout(seed)
    group = assign_groups(
        GroupingSpec.parse(text), r["active"], r["kind"], r["cell"], r["serial"], 8, harvest(3)
    )
    flags = [r[k] for k in FLAG_NAMES]
    got = group_flags(group, *flags)
    assert [f.tolist() for f in got] == reference_flags(
        group.tolist(), *(f.tolist() for f in flags)
    )


def consistent_rollout(seed: int, t_n=12, b_n=2, s_n=5) -> dict[str, torch.Tensor]:
    """Slots live entity after entity: spawned on the first step of a life, terminated or
    truncated on the last one, then empty for 0-2 steps (0: the slot is reused at once)."""
    rng = random.Random(seed)
    flags = {k: torch.zeros(t_n, b_n, s_n, dtype=torch.bool) for k in TIMELINE}
    for b in range(b_n):
        for s in range(s_n):
            t = rng.randrange(3) - 1  # -1: the first life started before the rollout
            while t < t_n:
                length = rng.randrange(1, 5)
                life = range(max(t, 0), min(t + length, t_n))
                flags["active"][list(life), b, s] = True
                if t >= 0:
                    flags["spawned"][t, b, s] = True
                end = t + length - 1
                if end < t_n:
                    flags["terminated" if rng.random() < 0.5 else "truncated"][end, b, s] = True
                t = end + 1 + rng.randrange(3)
    return flags


@pytest.mark.parametrize("seed", range(5))
def test_entity_flags_are_exactly_the_slot_flags(seed):
    f = consistent_rollout(seed)
    slots = torch.arange(5).expand(f["active"].shape)
    group = torch.where(f["active"], slots, torch.full_like(slots, -1))
    active_g, starts_g, dones_g, truncated_g = group_flags(
        group, f["active"], f["spawned"], f["terminated"], f["truncated"]
    )
    assert torch.equal(active_g, f["active"])
    assert torch.equal(starts_g, f["spawned"])
    assert torch.equal(dones_g, f["active"] & (f["terminated"] | f["truncated"]))
    assert torch.equal(truncated_g, f["truncated"])


def test_group_flags_errors():
    active = torch.ones(2, 1, 3, dtype=torch.bool)
    group = torch.tensor([0, 1, -1]).expand(2, 1, 3)
    with pytest.raises(ValueError, match="every active slot needs a group"):
        group_flags(group, active, active, active, active)
    with pytest.raises(ValueError, match="shapes must match"):
        group_flags(group, active[:1], active, active, active)


def test_flags_feed_gae_entity_separates_global_continues():
    """Robot A (slot 1, t = 0..1) dies at 1; robot B spawned in slot 2 at t = 1 carries on. With
    entity groups A's advantages ignore B's rewards; with one robot group they include them."""
    tl = {
        "active": bools(["1111", "1100", "0111"]),
        "spawned": bools(["1000", "1000", "0100"]),
        "terminated": bools(["0000", "0100", "0000"]),
        "truncated": bools(["0000", "0000", "0000"]),
    }
    kind = torch.tensor([FACTORY, LIGHT, LIGHT]).expand(4, 1, 3)
    zeros = torch.zeros(4, 1, 3, dtype=torch.long)

    def robot_advantage_at_0(text: str, reward_b: float) -> float:
        group = assign_groups(
            GroupingSpec.parse(text), tl["active"], kind, zeros, zeros, 12, harvest(1)
        )
        active_g, starts_g, dones_g, _ = group_flags(group, *tl.values())
        reward = torch.tensor([0.0, 1.0, reward_b]).expand(4, 1, 3) * tl["active"]
        adv, _ = masked_gae(
            to_groups(reward, group),
            torch.zeros(4, 1, 3),
            dones_g,
            active_g,
            starts_g,
            torch.zeros(1, 3),
            0.5,
            1.0,
        )
        return adv[0, 0, 1].item()

    # entity: A's own 1 + 0.5 x 1 whatever B earns
    assert robot_advantage_at_0("entity", 0.0) == robot_advantage_at_0("entity", 8.0) == 1.5
    # one robot group (gamma 0.5, lambda 1): 1 + 0.5 x (1 + rB) + 0.25 x rB + 0.125 x rB
    assert robot_advantage_at_0("factories=entity,robots=global", 8.0) == 1.5 + 0.875 * 8.0


# ------------------------------------------------------------------------- rewards, ablations

REWARD_G = torch.tensor([[[2.0, 4.0, 99.0, 0.0], [5.0, 6.0, 7.0, 8.0]]])  # [T=1, B=2, G=4]
ACTIVE_G = torch.tensor([[[True, True, False, True], [False, False, False, False]]])


@pytest.mark.parametrize(
    ("w", "env0"),
    [(1.0, [2.0, 4.0, 0.0, 0.0]), (0.5, [2.0, 3.0, 0.0, 1.0]), (0.0, [2.0, 2.0, 0.0, 2.0])],
)
def test_mix_rewards(w, env0):
    """Env 0: active rewards 2, 4, 0 (mean 2); env 1: nothing active."""
    out = mix_rewards(REWARD_G, ACTIVE_G, w)
    assert out.tolist() == [[env0, [0.0, 0.0, 0.0, 0.0]]]


def test_mix_rewards_rejects_weights_outside_unit_interval():
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        mix_rewards(REWARD_G, ACTIVE_G, 1.5)


@pytest.mark.parametrize("component", grouping.GLOBAL_COMPONENTS)
def test_globalise_gives_active_groups_the_player_total(component):
    x = REWARD_G.clone().requires_grad_(True)
    out = globalise(component, x, ACTIVE_G)
    assert out.tolist() == [[[6.0, 6.0, 0.0, 6.0], [0.0, 0.0, 0.0, 0.0]]]
    out[0, 0, 1].backward()  # e.g. the joint log-prob: every active group's gradient
    assert x.grad.tolist() == [[[1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]]


def test_globalise_rejects_dones_and_unknown_components():
    with pytest.raises(ValueError, match="globalise_flags"):
        globalise("dones", REWARD_G, ACTIVE_G)
    with pytest.raises(ValueError, match="unknown component 'value'"):
        globalise("value", REWARD_G, ACTIVE_G)


def test_global_dones_cut_every_group_only_where_the_player_ends():
    flags = timeline_flags("entity")
    active, starts, dones, truncated = globalise_flags(*(bools(f) for f in flags))
    assert cols(active, range(3)) == ["1111111", "0111011", "0011111"]
    assert cols(starts, range(3)) == ["1000000", "0000000", "0000000"]
    assert cols(dones, range(3)) == ["0000001", "0000001", "0000001"]
    assert cols(truncated, range(3)) == ["0000001", "0000001", "0000001"]


def test_global_dones_at_an_episode_end_inside_the_rollout():
    """Everything terminates at t = 1 (an episode end); the next episode spawns at t = 2. At
    t = 0 group 1 carried on into the rollout, so the player does not start there."""
    active = bools(["1111", "1111"])
    starts = bools(["1010", "0010"])
    dones = bools(["0100", "0100"])
    truncated = bools(["0000", "0000"])
    _, g_starts, g_dones, _ = globalise_flags(active, starts, dones, truncated)
    assert cols(g_starts, [0, 1]) == ["0010", "0010"]
    assert cols(g_dones, [0, 1]) == ["0100", "0100"]


# -------------------------------------------------------------------------------- top_n_mask

TOP_ACTIVE = torch.tensor([[[True] * 6, [True, False, True, True, False, True]]])
TOP_SCORE = torch.tensor([[[9.0, 9.0, 3.0, -5.0, 1.0, 2.0], [0.0, 0.0, 1.0, 1.0, 7.0, 1.0]]])
ROBOT_GROUPS = torch.arange(6) >= 2  # factory groups 0, 1; robot groups 2..5


@pytest.mark.parametrize(
    ("how", "env0", "env1"),
    [
        # env 0 by score: 3 (group 2) and 2 (group 5); by |score|: 5 (group 3) and 3 (group 2).
        # env 1: group 4 (score 7) is inactive; groups 2, 3, 5 tie: the lower ids win.
        ("advantage", [1, 1, 1, 0, 0, 1], [1, 0, 1, 1, 0, 0]),
        ("return", [1, 1, 1, 0, 0, 1], [1, 0, 1, 1, 0, 0]),
        ("abs_advantage", [1, 1, 1, 1, 0, 0], [1, 0, 1, 1, 0, 0]),
    ],
)
def test_top_n_keeps_the_best_robot_groups(how, env0, env1):
    keep = top_n_mask(TOP_ACTIVE, ROBOT_GROUPS, TOP_SCORE, 2, how)
    assert keep.int().tolist() == [[env0, env1]]


def test_top_n_larger_than_the_robots_keeps_all_and_never_revives_inactive():
    keep = top_n_mask(TOP_ACTIVE, ROBOT_GROUPS, TOP_SCORE, 10, "advantage")
    assert torch.equal(keep, TOP_ACTIVE)


def test_top_n_picks_candidates_even_with_minus_infinite_scores():
    score = torch.full((1, 1, 6), float("-inf"))
    keep = top_n_mask(TOP_ACTIVE[:, 1:], ROBOT_GROUPS, score, 1, "advantage")
    assert keep.int().tolist() == [[[1, 0, 1, 0, 0, 0]]]


def test_top_n_random_keeps_exactly_n_uniformly_and_reproducibly():
    active = torch.tensor([True, True, True, True, False, True]).expand(4000, 1, 6)
    keep = top_n_mask(active, ROBOT_GROUPS, None, 1, "random", torch.Generator().manual_seed(5))
    again = top_n_mask(active, ROBOT_GROUPS, None, 1, "random", torch.Generator().manual_seed(5))
    assert torch.equal(keep, again)
    robots = keep[..., 2:]
    assert robots.sum(-1).eq(1).all()  # exactly one robot group per step
    assert not robots[..., 2].any()  # group 4 is inactive
    assert keep[..., :2].all()  # factories untouched
    share = robots.float().mean((0, 1))  # ~1/3 each for groups 2, 3, 5
    assert share[[0, 1, 3]].sub(1 / 3).abs().max().item() < 0.04


def test_top_n_errors():
    args = (TOP_ACTIVE, ROBOT_GROUPS)
    with pytest.raises(ValueError, match="how must be one of"):
        top_n_mask(*args, TOP_SCORE, 1, "value")
    with pytest.raises(ValueError, match="n must be >= 1"):
        top_n_mask(*args, TOP_SCORE, 0, "advantage")
    with pytest.raises(ValueError, match="needs a torch.Generator"):
        top_n_mask(*args, None, 1, "random")
    with pytest.raises(ValueError, match="needs a score"):
        top_n_mask(*args, None, 1, "advantage")
