"""Trajectory separation: which slots form a group, and the group-level PPO quantities.

The hybrid keeps every PPO quantity per *group* (paper §3): a group's reward, value, log-prob and
entropy are the sums of its members' per-slot quantities, and GAE runs element-wise over groups
(``baselines.common.gae.masked_gae``). This module turns the learner's per-slot rollout of one
player (``[T, B, S]``: steps, envs, slots) into ``[T, B, G]`` group tensors with ``G = S``, and
implements the paper's options on them.

Grouping rules (``GroupingSpec.parse``; §3.4). The names are the paper's, from harvest; on any
env a *factory* means a **structure** (a kind in ``BatchedEnv.structure_kinds``: harvest's
factories, skirmish's bases) and a *robot* a **unit** (every other kind):

===================================  =========================================================
spec string                          groups
===================================  =========================================================
``entity`` (default)                 every structure and unit its own group (the paper's best)
``global``                           one group for everything of the player
``factories=X,robots=Y``             ``X``, ``Y`` in {``entity``, ``global``}: per-class
                                     separate or one group per class (4 combinations)
``random:N``                         units by ``serial mod N`` (N >= 1); structures separate
``quadrant``                         units by map quadrant (west half ``x < W / 2``, north
                                     half ``y < H / 2``); structures separate
``nearest_factory``                  units join their nearest own structure's group
                                     (Manhattan distance to the structure's cell, ties to the
                                     lower slot); structures their own groups; no structure
                                     at that step: own group. Needs an env with structures
``nearest_heavy``                    units of kind ``light`` join their nearest own ``heavy``'s
                                     group (ties to the lower slot); everything else, and
                                     lights without any heavy: own groups. Needs kinds named
                                     ``light`` and ``heavy``
===================================  =========================================================

What a rule needs to know about the env's entities (its kind names, structure kinds and
structure slots) is an ``EntityLayout``, read from the env with ``EntityLayout.of(world)``;
``check_grouping`` says up front whether a rule makes sense on an env.

Group ids (``assign_groups``) live in ``[0, S)`` and never collide between rules: a slot's own
group is its slot index; all-structures-in-one-group is id 0 (a structure slot); unit buckets
(``global`` robots, ``random:N``, ``quadrant``) take ids ``structure_slots + bucket``, i.e. the
unit-slot range; ``global`` puts everything in id 0. ``serial`` is the per-(owner, kind) agent
serial (so light 3 and heavy 3 share a ``random:N`` bucket).

Flags (``group_flags``; §3.3): a group is active at ``t`` if any member acted. It is done at ``t``
if no member *carries on in it*: a member carries on when it did not terminate or truncate at
``t`` and is, at ``t + 1``, the same entity (not ``spawned``) in the same group. So a multi-member
group is done only when its last continuing member ends (the paper's AND over member flags), and
a group that a moving unit left (``nearest_*`` rules) ends too. It starts at ``t`` when active
and nothing carried on into it from ``t - 1``. A done group is ``truncated`` when at least one of
its members was truncated (and not terminated) at ``t``: its final value (the sum over the
members alive in the final state) must be bootstrapped.

Ablations (§3.5-3.6): ``mix_rewards`` (own-reward weight ``w``), ``globalise`` (reward, critic,
advantage, log-prob, entropy replaced on every active group by the player's total over active
groups), ``globalise_flags`` (dones, see its docstring) and ``top_n_mask`` (train-sample
reduction of unit groups).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

FactoryRule = Literal["entity", "global"]
RobotRule = Literal["entity", "global", "random", "quadrant", "nearest_factory", "nearest_heavy"]
_FACTORY_RULES = ("entity", "global")
_ROBOT_RULES = ("entity", "global", "random", "quadrant", "nearest_factory", "nearest_heavy")
#: unit rules that keep structures separate and have a one-word spec string
_NAMED_ROBOT_RULES = ("quadrant", "nearest_factory", "nearest_heavy")

#: the spec strings ``GroupingSpec.parse`` accepts (shown in its errors)
GROUPING_OPTIONS = (
    "entity",
    "global",
    "factories={entity|global},robots={entity|global}",
    "random:N (N >= 1)",
    "quadrant",
    "nearest_factory",
    "nearest_heavy",
)
#: components ``globalise`` replaces by the player's total ("dones" is ``globalise_flags``)
GLOBAL_COMPONENTS = ("reward", "critic", "advantage", "logprob", "entropy")
#: how ``top_n_mask`` ranks unit groups
TOP_N_METRICS = ("advantage", "abs_advantage", "return", "random")
#: bound on ``chunk x sources x targets`` elements of one distance block in ``nearest_*`` rules
_DISTANCE_BLOCK = 1 << 22


@dataclass(frozen=True)
class GroupingSpec:
    """How one player's structures ("factories") and units ("robots") are grouped into
    trajectories (the paper's names; see the module docstring).

    Build it with ``GroupingSpec.parse(text)``; ``str(spec)`` gives the canonical string back.

    Attributes:
        factories: the structures' rule: ``"entity"`` (each its own group) or ``"global"`` (one
            group for all of them).
        robots: the units' rule: ``"entity"``, ``"global"`` (one group for all units),
            ``"random"`` (``serial mod buckets``), ``"quadrant"``, ``"nearest_factory"`` or
            ``"nearest_heavy"``.
        buckets: ``N`` of ``random:N``; 0 for the other unit rules.
        shared: structures and units share one group (the ``global`` spec; needs both rules
            ``"global"``).
    """

    factories: FactoryRule = "entity"
    robots: RobotRule = "entity"
    buckets: int = 0
    shared: bool = False

    def __post_init__(self) -> None:
        if self.factories not in _FACTORY_RULES:
            raise ValueError(f"factories must be one of {_FACTORY_RULES}, got {self.factories!r}")
        if self.robots not in _ROBOT_RULES:
            raise ValueError(f"robots must be one of {_ROBOT_RULES}, got {self.robots!r}")
        if (self.robots == "random") != (self.buckets >= 1):
            raise ValueError(
                f"buckets must be >= 1 exactly when robots='random', got robots={self.robots!r}, "
                f"buckets={self.buckets}"
            )
        if self.shared and (self.factories, self.robots) != ("global", "global"):
            raise ValueError("shared=True needs factories='global' and robots='global'")
        if self.robots in ("random", *_NAMED_ROBOT_RULES) and self.factories != "entity":
            raise ValueError(
                f"robots={self.robots!r} keeps factories separate (needs factories='entity')"
            )

    @classmethod
    def parse(cls, text: str) -> GroupingSpec:
        """Parse a spec string (see the module docstring for the table).

        Args:
            text: ``"entity"``, ``"global"``, ``"factories=entity,robots=global"`` (keys in any
                order, a missing key means ``entity``), ``"random:4"``, ``"quadrant"``,
                ``"nearest_factory"`` or ``"nearest_heavy"``.

        Raises:
            ValueError: the string is none of these; the message lists the options.
        """
        s = str(text).strip().lower().replace(" ", "")

        def bad(why: str = "") -> ValueError:
            return ValueError(
                f"unknown grouping {text!r}{': ' + why if why else ''}; "
                f"options: {', '.join(GROUPING_OPTIONS)}"
            )

        if s == "entity":
            return cls()
        if s == "global":
            return cls("global", "global", shared=True)
        if s in _NAMED_ROBOT_RULES:
            return cls("entity", s)
        if s.startswith("random:"):
            n = s.removeprefix("random:")
            if not n.isdigit() or int(n) < 1:
                raise bad("N must be an integer >= 1")
            return cls("entity", "random", buckets=int(n))
        if "=" in s:
            rules = {"factories": "entity", "robots": "entity"}
            seen: set[str] = set()
            for part in s.split(","):
                key, _, value = part.partition("=")
                if key not in rules or key in seen or value not in _FACTORY_RULES:
                    raise bad("per-kind parts are factories=entity|global, robots=entity|global")
                seen.add(key)
                rules[key] = value
            return cls(rules["factories"], rules["robots"])
        raise bad()

    def __str__(self) -> str:
        if self.shared:
            return "global"
        if self.robots == "random":
            return f"random:{self.buckets}"
        if self.robots in _NAMED_ROBOT_RULES:
            return self.robots
        if (self.factories, self.robots) == ("entity", "entity"):
            return "entity"
        return f"factories={self.factories},robots={self.robots}"

    @property
    def robot_buckets(self) -> int:
        """Group ids the rule needs in the unit-slot range (0 when units keep slot ids)."""
        return {"global": 0 if self.shared else 1, "random": self.buckets, "quadrant": 4}.get(
            self.robots, 0
        )


@dataclass(frozen=True)
class EntityLayout:
    """What the grouping rules need to know about an env's entities (``BatchedEnv`` fields).

    Attributes:
        kind_names: name of each kind index (``BatchedEnv.kind_names``).
        structure_kinds: kinds that are structures (``BatchedEnv.structure_kinds``); every
            other kind is a unit.
        structure_slots: slots ``[0, structure_slots)`` hold structures, the rest units
            (``BatchedEnv.structure_slots``).

    Raises:
        ValueError: a structure kind outside ``[0, K)``, or a negative ``structure_slots``.
    """

    kind_names: tuple[str, ...]
    structure_kinds: tuple[int, ...] = ()
    structure_slots: int = 0

    def __post_init__(self) -> None:
        k = len(self.kind_names)
        if not k:
            raise ValueError("kind_names must name at least one kind")
        if any(not 0 <= i < k for i in self.structure_kinds):
            raise ValueError(
                f"structure_kinds {self.structure_kinds} must be kind indices in [0, {k})"
            )
        if self.structure_slots < 0:
            raise ValueError(f"structure_slots must be >= 0, got {self.structure_slots}")

    @classmethod
    def of(cls, world: Any) -> EntityLayout:
        """The layout of a ``BatchedEnv`` (its ``kind_names``, ``structure_kinds``,
        ``structure_slots``)."""
        return cls(
            tuple(world.kind_names),
            tuple(int(k) for k in world.structure_kinds),
            int(world.structure_slots),
        )

    def kind(self, name: str) -> int | None:
        """Index of the kind called ``name``; ``None`` when the env has none."""
        return self.kind_names.index(name) if name in self.kind_names else None

    def is_structure(self, kind: torch.Tensor) -> torch.Tensor:
        """``[...]`` bool: the kinds (``[...]`` long, any value) are structure kinds."""
        table = torch.zeros(len(self.kind_names), dtype=torch.bool, device=kind.device)
        table[list(self.structure_kinds)] = True
        inside = (kind >= 0) & (kind < len(self.kind_names))
        return inside & table[kind.clamp(0, len(self.kind_names) - 1)]


def check_grouping(spec: GroupingSpec, layout: EntityLayout, num_slots: int) -> None:
    """Raise if grouping rule ``spec`` cannot run on an env with this layout.

    Args:
        spec: the rule. layout: the env's entities. num_slots: ``S``.

    Raises:
        ValueError: ``nearest_factory`` on an env without structures, ``nearest_heavy`` on an
            env without kinds named ``light`` and ``heavy``, structure slots outside ``[0, S]``,
            or a rule that needs more unit buckets than there are unit slots; the message
            names the env's kinds.
    """
    kinds = f"kinds {list(layout.kind_names)}, structure kinds {list(layout.structure_kinds)}"
    if not 0 <= layout.structure_slots <= num_slots:
        raise ValueError(
            f"structure_slots must be in [0, S={num_slots}], got {layout.structure_slots}"
        )
    if spec.robots == "nearest_factory" and not layout.structure_kinds:
        raise ValueError(
            f"grouping 'nearest_factory' joins units to their nearest structure, but this env "
            f"has none ({kinds})"
        )
    if spec.robots == "nearest_heavy" and None in (layout.kind("light"), layout.kind("heavy")):
        raise ValueError(
            f"grouping 'nearest_heavy' needs kinds named 'light' and 'heavy'; this env has {kinds}"
        )
    unit_ids = num_slots - layout.structure_slots
    if 0 < unit_ids < spec.robot_buckets:
        raise ValueError(
            f"grouping {str(spec)!r} needs {spec.robot_buckets} group ids in the unit-slot range, "
            f"but there are only {unit_ids} unit slots"
        )


def assign_groups(
    spec: GroupingSpec,
    active: torch.Tensor,
    kind: torch.Tensor,
    cell: torch.Tensor,
    serial: torch.Tensor,
    map_width: int,
    layout: EntityLayout,
    *,
    map_height: int | None = None,
) -> torch.Tensor:
    """Group id of every active slot at every step.

    Args:
        spec: the grouping rule.
        active: ``[T, B, S]`` bool, the slot's entity belongs to this player and acted at ``t``.
        kind: ``[T, B, S]`` int, kind index into ``layout.kind_names`` (anything where
            inactive).
        cell: ``[T, B, S]`` int, flat cell ``y * map_width + x`` (a structure's is its anchor
            cell, harvest: the factory centre).
        serial: ``[T, B, S]`` int, the agent serial per (owner, kind).
        map_width: ``W``.
        layout: the env's kinds and structure slots (``EntityLayout.of(world)``).
        map_height: ``H`` for ``quadrant``; defaults to ``map_width`` (square maps).

    Returns:
        ``[T, B, S]`` long group ids in ``[0, S)``, -1 where inactive.

    Raises:
        ValueError: shapes differ, an active kind is not one of the layout's, a structure or
            unit sits outside its slot range, or ``check_grouping`` fails.
    """
    _check_shapes(active=active, kind=kind, cell=cell, serial=serial)
    num_slots = active.shape[-1]
    check_grouping(spec, layout, num_slots)
    fs = layout.structure_slots
    active = active.bool()
    kind, cell = kind.long(), cell.long()
    slot = torch.arange(num_slots, device=active.device).expand_as(active)
    if (active & ((kind < 0) | (kind >= len(layout.kind_names)))).any():
        raise ValueError(
            f"active slots must have a kind in [0, {len(layout.kind_names)}) "
            f"({list(layout.kind_names)})"
        )
    is_structure = active & layout.is_structure(kind)
    is_unit = active & ~is_structure
    if (is_structure & (slot >= fs)).any() or (is_unit & (slot < fs)).any():
        raise ValueError(
            f"structures must sit in slots [0, {fs}) and units in [{fs}, {num_slots}); "
            f"check structure_slots and structure_kinds"
        )

    structure_group = slot if spec.factories == "entity" else torch.zeros_like(slot)
    base = 0 if spec.shared else fs
    if spec.robots == "entity":
        unit_group = slot
    elif spec.robots == "global":
        unit_group = torch.full_like(slot, base)
    elif spec.robots == "random":
        unit_group = base + torch.remainder(serial.long(), spec.buckets)
    elif spec.robots == "quadrant":
        height = map_width if map_height is None else map_height
        y, x = torch.div(cell, map_width, rounding_mode="floor"), torch.remainder(cell, map_width)
        quadrant = (2 * x >= map_width).long() + 2 * (2 * y >= height).long()
        unit_group = base + quadrant
    elif spec.robots == "nearest_factory":
        unit_group = _join_nearest(slot, cell, map_width, movers=is_unit, targets=is_structure)
    else:  # nearest_heavy: lights join; heavies keep their own slots
        unit_group = _join_nearest(
            slot,
            cell,
            map_width,
            movers=is_unit & (kind == layout.kind("light")),
            targets=is_unit & (kind == layout.kind("heavy")),
        )
    group = torch.where(is_structure, structure_group, unit_group)
    return torch.where(active, group, torch.full_like(group, -1))


def _join_nearest(
    slot: torch.Tensor,
    cell: torch.Tensor,
    width: int,
    movers: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """Each mover's group is the slot of its nearest target at that step, else its own slot.

    Distances are Manhattan between flat cells; equal distances go to the lower target slot.
    Only slots that are ever a mover (or a target) take part, and the ``[rows, movers,
    targets]`` distance tensor is built in blocks of rows to bound its memory.

    Args:
        slot, cell: ``[T, B, S]`` long. movers, targets: ``[T, B, S]`` bool.

    Returns:
        ``[T, B, S]`` long.
    """
    shape, s_n = slot.shape, slot.shape[-1]
    mov, tgt = movers.reshape(-1, s_n), targets.reshape(-1, s_n)
    out = slot.reshape(-1, s_n).clone()
    src = torch.nonzero(mov.any(0)).squeeze(1)
    dst = torch.nonzero(tgt.any(0)).squeeze(1)  # ascending: argmin's first hit is the lowest
    if src.numel() == 0 or dst.numel() == 0:
        return out.reshape(shape)
    flat = cell.reshape(-1, s_n).to(torch.int32)
    sy, sx = flat[:, src] // width, flat[:, src] % width
    dy, dx = flat[:, dst] // width, flat[:, dst] % width
    ok = tgt[:, dst]
    nearest = torch.empty(sy.shape, dtype=torch.long, device=slot.device)
    step = max(1, _DISTANCE_BLOCK // (src.numel() * dst.numel()))
    for r in range(0, sy.shape[0], step):
        rows = slice(r, r + step)
        dist = (sy[rows, :, None] - dy[rows, None, :]).abs()
        dist += (sx[rows, :, None] - dx[rows, None, :]).abs()
        dist.masked_fill_(~ok[rows, None, :], torch.iinfo(torch.int32).max)
        nearest[rows] = dist.argmin(-1)
    joins = mov[:, src] & ok.any(-1, keepdim=True)
    out[:, src] = torch.where(joins, dst[nearest], out[:, src])
    return out.reshape(shape)


def to_groups(x: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """Sum per-slot values into their groups (scatter-add; gradients flow to members).

    Used for rewards, values, log-probs and entropies: a group's quantity is the sum of its
    members'. Entries of slots with group -1 are ignored (even NaN or inf).

    Args:
        x: ``[T, B, S]`` float (any leading dims ``[..., S]``).
        group: ``[T, B, S]`` long group ids in ``[0, S)``, -1 for no group.

    Returns:
        ``[T, B, G]`` float with ``G = S``, 0 for groups without members.
    """
    if x.shape != group.shape:
        raise ValueError(f"x {tuple(x.shape)} and group {tuple(group.shape)} must match")
    member = group >= 0
    src = torch.where(member, x, torch.zeros_like(x))
    return torch.zeros_like(src).scatter_add(-1, group.clamp_min(0), src)


def group_flags(
    group: torch.Tensor,
    active: torch.Tensor,
    spawned: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group-level activity and trajectory boundaries (see the module docstring).

    At ``t = 0`` a group starts when all its active members were ``spawned`` (nothing is known
    about the step before the rollout); at ``T - 1`` a member that did not end is taken to carry
    on in its group (so the caller bootstraps the group from its value after the rollout). For
    the ``entity`` rule and consistent slot flags (a slot that acts without ending acts at
    ``t + 1`` unspawned), the flags are the slot's ``active``, ``spawned``,
    ``terminated | truncated`` and ``truncated & ~terminated``.

    Args:
        group: ``[T, B, S]`` long from ``assign_groups`` (-1 where inactive).
        active: ``[T, B, S]`` bool, the slot's entity acted at ``t`` (must have a group).
        spawned: ``[T, B, S]`` bool, the slot's entity is new at ``t``.
        terminated: ``[T, B, S]`` bool, the entity ended for good in step ``t``.
        truncated: ``[T, B, S]`` bool, the entity was cut by the time limit in step ``t``.

    Returns:
        ``(active_g, starts_g, dones_g, truncated_g)``, each ``[T, B, G]`` bool: the group acted
        at ``t``; a new trajectory starts at ``t``; its trajectory ends after ``t``; it ended
        by truncation (bootstrap it).

    Raises:
        ValueError: shapes differ, or an active slot has no group.
    """
    _check_shapes(
        group=group, active=active, spawned=spawned, terminated=terminated, truncated=truncated
    )
    active = active.bool()
    if (active & (group < 0)).any():
        raise ValueError("every active slot needs a group id >= 0")
    idx = group.clamp_min(0)
    member = active
    ended = terminated.bool() | truncated.bool()
    # the member is, at t + 1, the same entity in the same group (always true after the rollout)
    stays = torch.ones_like(member)
    stays[:-1] = member[1:] & ~spawned[1:].bool() & (group[1:] == group[:-1])
    carries_on = _any_into(member & ~ended & stays, idx)
    active_g = _any_into(member, idx)
    dones_g = active_g & ~carries_on
    starts_g = torch.empty_like(active_g)
    starts_g[1:] = active_g[1:] & ~carries_on[:-1]
    starts_g[0] = active_g[0] & ~_any_into(member[0] & ~spawned[0].bool(), idx[0])
    cut = _any_into(member & truncated.bool() & ~terminated.bool(), idx)
    return active_g, starts_g, dones_g, dones_g & cut


def _any_into(mask: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``[..., G]`` bool: some entry of ``mask`` (``[..., S]``) with that group id is true."""
    counts = torch.zeros(mask.shape, dtype=torch.int32, device=mask.device)
    return counts.scatter_add(-1, idx, mask.to(torch.int32)) > 0


def mix_rewards(reward_g: torch.Tensor, active_g: torch.Tensor, w: float) -> torch.Tensor:
    """The paper's reward assignment: ``w x own + (1 - w) x mean of the active groups``.

    The mean is over the player's active groups of the same env and step (§3.4, as the code
    snapshot computes it). ``w = 1`` leaves rewards unchanged, ``w = 0`` gives every active group
    the mean.

    Args:
        reward_g: ``[T, B, G]`` float group rewards (any ``[..., G]``).
        active_g: ``[T, B, G]`` bool.
        w: own-reward weight in ``[0, 1]``.

    Returns:
        ``[T, B, G]`` float, 0 on inactive groups.

    Raises:
        ValueError: ``w`` outside ``[0, 1]`` or shapes differ.
    """
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"own-reward weight w must be in [0, 1], got {w}")
    _check_shapes(reward_g=reward_g, active_g=active_g)
    own = torch.where(active_g, reward_g, torch.zeros_like(reward_g))
    if w == 1.0:
        return own
    count = active_g.sum(-1, keepdim=True).clamp_min(1).to(own.dtype)
    mean = own.sum(-1, keepdim=True) / count
    mixed = w * own + (1.0 - w) * mean
    return torch.where(active_g, mixed, torch.zeros_like(mixed))


def globalise(component: str, x: torch.Tensor, active_g: torch.Tensor) -> torch.Tensor:
    """Replace a per-group quantity by the player's total over its active groups (ablations).

    Every active group gets the sum over the active groups of the same env and step; inactive
    groups get 0. Gradients flow from every active group to all of them.

    * ``"reward"``: the team reward (the same number in every group).
    * ``"critic"``: the team value; apply it to the rollout values, to ``last_values`` (with the
      final groups' activity) and to the new values in the loss.
    * ``"advantage"``: the sum of the groups' advantages, i.e. what GAE on the summed rewards
      and values gives where no group's trajectory ends inside the rollout (GAE is linear).
    * ``"logprob"``: the joint log-prob of the team's actions; apply it to old and new
      log-probs, so every group's ratio is the joint ratio.
    * ``"entropy"``: the team's (sum of) entropies.

    Args:
        component: one of ``GLOBAL_COMPONENTS``.
        x: ``[T, B, G]`` float (any ``[..., G]``).
        active_g: ``[T, B, G]`` bool.

    Returns:
        ``[T, B, G]`` float.

    Raises:
        ValueError: unknown component (``"dones"`` is ``globalise_flags``) or shapes differ.
    """
    if component not in GLOBAL_COMPONENTS:
        hint = "; dones are globalised by globalise_flags" if component == "dones" else ""
        raise ValueError(f"unknown component {component!r}: use one of {GLOBAL_COMPONENTS}{hint}")
    _check_shapes(x=x, active_g=active_g)
    own = torch.where(active_g, x, torch.zeros_like(x))
    total = own.sum(-1, keepdim=True).expand_as(own)
    return torch.where(active_g, total, torch.zeros_like(own))


def globalise_flags(
    active_g: torch.Tensor,
    starts_g: torch.Tensor,
    dones_g: torch.Tensor,
    truncated_g: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The "global dones" ablation: every group's trajectory is cut only where the player's is.

    The paper's done of a multi-member group is the AND over its members (§3.3); the global
    done is that rule over all the player's groups: the player is done at ``t`` when every
    active group is done (no group carries on), and it starts at ``t`` when nothing of the
    player carried on from ``t - 1`` (at ``t = 0``: when every active group starts). Active
    groups take these player flags. (The OR reading, "any group's end ends them all", would
    cut every trajectory at each death; the paper describes no such rule.) A group stays
    ``truncated`` only where it is still done. ``masked_gae`` also cuts at inactive steps, so
    this changes advantages only where a group ends and is active again at the next step with
    the player going on (e.g. a ``nearest_*`` group that one robot left and another joined),
    matching the paper's finding that separate dones are redundant (§3.6).

    Args:
        active_g, starts_g, dones_g, truncated_g: ``[T, B, G]`` bool from ``group_flags``.

    Returns:
        ``(active_g, starts_g, dones_g, truncated_g)``, each ``[T, B, G]`` bool (``active_g``
        unchanged).
    """
    _check_shapes(active_g=active_g, starts_g=starts_g, dones_g=dones_g, truncated_g=truncated_g)
    any_active = active_g.any(-1, keepdim=True)
    player_done = any_active & (dones_g | ~active_g).all(-1, keepdim=True)
    player_start = torch.empty_like(player_done)
    player_start[0] = any_active[0] & (starts_g[0] | ~active_g[0]).all(-1, keepdim=True)
    player_start[1:] = any_active[1:] & ~(any_active[:-1] & ~player_done[:-1])
    dones = active_g & player_done
    return active_g, active_g & player_start, dones, truncated_g & dones


def top_n_mask(
    active_g: torch.Tensor,
    robot_group_mask: torch.Tensor,
    score: torch.Tensor | None,
    n: int,
    how: str,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Train-sample reduction: keep at most ``n`` active unit groups per env step (§3.4).

    Unit ("robot") groups are ranked per ``(t, b)`` by ``score`` (``"advantage"``, ``"return"``), by
    ``|score|`` (``"abs_advantage"``) or at random (``"random"``: a uniform subset); ties go to the
    lower group id. Structure groups are untouched. Use it with unit groups that hold only units
    (the ``entity`` rule: unit group ids are ``>= structure_slots``).

    Args:
        active_g: ``[T, B, G]`` bool.
        robot_group_mask: bool broadcastable to ``[T, B, G]`` (e.g. ``[G]``), unit groups.
        score: ``[T, B, G]`` float advantages or returns; unused (may be ``None``) for random.
        n: examples kept per env step, ``>= 1``.
        how: one of ``TOP_N_METRICS``.
        generator: the random stream, required for ``"random"``.

    Returns:
        ``[T, B, G]`` bool, the new active mask for the loss.

    Raises:
        ValueError: unknown ``how``, ``n < 1``, a missing score or generator, or bad shapes.
    """
    if how not in TOP_N_METRICS:
        raise ValueError(f"how must be one of {TOP_N_METRICS}, got {how!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    robot = robot_group_mask.bool().expand_as(active_g)
    candidate = active_g & robot
    if how == "random":
        if generator is None:
            raise ValueError("how='random' needs a torch.Generator")
        key = torch.rand(active_g.shape, generator=generator, device=generator.device)
        key = key.to(active_g.device)
    else:
        if score is None:
            raise ValueError(f"how={how!r} needs a score tensor")
        _check_shapes(score=score, active_g=active_g)
        key = score.abs() if how == "abs_advantage" else score
    # rank: candidates first, by key descending; stable sorts break ties by lower group id
    by_key = torch.sort(key.detach(), dim=-1, descending=True, stable=True).indices
    by_candidate = torch.sort(
        candidate.gather(-1, by_key).to(torch.int8), dim=-1, descending=True, stable=True
    ).indices
    order = by_key.gather(-1, by_candidate)
    positions = torch.arange(order.shape[-1], device=order.device).expand_as(order)
    rank = torch.empty_like(order).scatter_(-1, order, positions)
    keep = candidate & (rank < n)
    return active_g & (~robot | keep)


def _check_shapes(**tensors: torch.Tensor) -> None:
    """Raise a ValueError naming the tensors unless they all share one shape."""
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"shapes must match: {shapes}")
