"""Every number of the skirmish rules, in one frozen dataclass, and the named presets."""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from typing import Any

from ..core.presets import Preset, build_config
from ..core.settings import (
    MAX_AMOUNT,
    MAX_CYCLES,
    MAX_IDS,
    MAX_MAP_SIZE,
    MAX_REWARD,
    MAX_SLOTS,
    Instance,
    Int,
    OrNone,
    Real,
    check_fields,
    require,
    setting,
)


@dataclass(frozen=True)
class UnitClass:
    """Numbers of one unit class; every one is checked when the class is built (``ValueError``
    naming it and its range)."""

    cost: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Resources the team spends to build one."""
    hp: int = setting(MISSING, Int(1, MAX_AMOUNT))
    """Hit points of a fresh unit; it dies when they reach 0."""
    damage: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Hit points one attack takes from its target."""
    attack_range: int = setting(MISSING, Int(1, MAX_MAP_SIZE))
    """Cells an attack reaches along its direction (1: the adjacent cell only; at most the
    config's ``map_size``)."""

    def __post_init__(self) -> None:
        check_fields(self)


MELEE = UnitClass(cost=10, hp=12, damage=3, attack_range=1)
RANGED = UnitClass(cost=15, hp=7, damage=2, attack_range=3)


@dataclass(frozen=True)
class SkirmishConfig:
    """All numbers of ``skirmish-v0``.

    ``None`` in a sizing field means "derived from ``map_size``" (see the properties). Every
    field is checked when the config is built: a value of the wrong type, NaN, infinite or out
    of its range raises ``ValueError`` naming the field and its range (``envs.core.settings``).
    """

    # --- episode ---
    map_size: int = setting(24, Int(8, MAX_MAP_SIZE))
    """Side of the square map, in cells (even, 8 to 1024)."""
    max_cycles: int = setting(200, Int(1, MAX_CYCLES))
    """Steps before truncation (the winner is then decided by points)."""

    # --- map generation ---
    bases_per_player: int = setting(2, Int(1, MAX_SLOTS))
    """Bases each team starts with (its structures; they never move and are never rebuilt)."""
    capture_points: int = setting(4, Int(0, MAX_SLOTS))
    """Capture points on the map (even: they come in mirrored pairs)."""
    capture_radius: int = setting(1, Int(0, MAX_MAP_SIZE))
    """A capture point's zone is the square of Chebyshev radius ``capture_radius`` around it."""
    rock_density: float = setting(0.06, Real(0.0, 0.3))
    """Fraction of cells that are impassable rock (in small mirrored clusters); at most 0.3."""
    base_min_distance: int = setting(4, Int(3, MAX_MAP_SIZE))
    """Smallest Chebyshev distance between two bases, and between a base and a capture zone
    (at least 3, so the bases' spawn cells never touch; at most ``map_size``)."""

    # --- economy ---
    start_resources: int = setting(20, Int(0, MAX_AMOUNT))
    """Resources each team starts with (at most ``resource_cap``)."""
    base_income: int = setting(1, Int(0, MAX_AMOUNT))
    """Resources a team gains every step while it has a live base."""
    capture_income: int = setting(1, Int(0, MAX_AMOUNT))
    """Extra resources per step for each capture point the team holds."""
    resource_cap: int = setting(200, Int(1, MAX_AMOUNT))
    """Most resources a team can bank (income beyond it is lost; at least 1: resources are
    observed as a share of it)."""

    # --- entities ---
    base_hp: int = setting(60, Int(1, MAX_AMOUNT))
    """Hit points of a base."""
    melee: UnitClass = setting(MELEE, Instance(UnitClass))
    """Melee units: cost 10, 12 hit points, 3 damage, reach 1."""
    ranged: UnitClass = setting(RANGED, Instance(UnitClass))
    """Ranged units: cost 15, 7 hit points, 2 damage, reach 3."""
    unit_slots_per_player: int | None = setting(None, OrNone(Int(1, MAX_SLOTS)))
    """Units one team can have alive at once; ``None``: ``map_size`` (at least 8)."""
    unit_ids_per_kind: int | None = setting(None, OrNone(Int(1, MAX_IDS)))
    """Units of one class one team can build per episode (the ID pool); ``None``: 2 x slots.
    Building that class is masked once its pool is used up."""

    # --- points (decide the winner at max_cycles) ---
    points_per_capture_step: int = setting(1, Int(0, MAX_AMOUNT))
    """Points per step for each capture point a team holds."""
    points_per_unit_kill: int = setting(2, Int(0, MAX_AMOUNT))
    """Points for each enemy unit killed."""
    points_per_base_kill: int = setting(20, Int(0, MAX_AMOUNT))
    """Points for each enemy base destroyed."""

    # --- rewards ---
    reward_damage: float = setting(0.02, Real(-MAX_REWARD, MAX_REWARD))
    """Per hit point of damage dealt, to the attacker."""
    reward_kill_unit: float = setting(0.2, Real(-MAX_REWARD, MAX_REWARD))
    """To every attacker that hit an enemy unit in the step it died."""
    reward_kill_base: float = setting(1.0, Real(-MAX_REWARD, MAX_REWARD))
    """To every attacker that hit an enemy base in the step it was destroyed."""
    reward_capture: float = setting(0.01, Real(-MAX_REWARD, MAX_REWARD))
    """Per step, to each unit standing in a capture zone its team holds."""
    reward_base_points: float = setting(0.01, Real(-MAX_REWARD, MAX_REWARD))
    """Per step, to each base, times the points its team gained in that step."""
    reward_death: float = setting(0.0, Real(-MAX_REWARD, MAX_REWARD))
    """Added to an agent's reward in the step it dies (e.g. -0.1)."""
    reward_win: float = setting(1.0, Real(-MAX_REWARD, MAX_REWARD))
    """At the end of the episode: ``+reward_win`` to every agent of the winner that acted in
    the last step, ``-reward_win`` to the loser's; nothing on a draw."""

    # --- observations ---
    obs_radius: int = setting(4, Int(1, MAX_MAP_SIZE))
    """Egocentric windows are ``2 r + 1`` cells wide (``r`` at most ``map_size``)."""
    points_scale: int = setting(200, Int(1, MAX_AMOUNT))
    """The points planes and features read ``points / points_scale`` mapped to [-1, 1] (at
    least 1)."""

    def __post_init__(self) -> None:
        check_fields(self)
        n = self.map_size
        require(self, n % 2 == 0, f"map_size must be an even int (mirrored map), got {n}")
        require(
            self,
            self.capture_points % 2 == 0,
            f"capture_points must be even (mirrored pairs), got {self.capture_points}",
        )
        require(
            self,
            self.start_resources <= self.resource_cap,
            f"start_resources ({self.start_resources}) must be <= resource_cap "
            f"({self.resource_cap})",
        )
        for name in ("base_min_distance", "obs_radius"):
            value = getattr(self, name)
            require(self, value <= n, f"{name} ({value}) must be <= map_size ({n})")
        for name in ("melee", "ranged"):
            reach = getattr(self, name).attack_range
            require(self, reach <= n, f"{name}.attack_range ({reach}) must be <= map_size ({n})")
        require(
            self,
            self.unit_slots <= MAX_SLOTS,
            f"unit_slots_per_player ({self.unit_slots}) must be at most {MAX_SLOTS}",
        )
        # the bases and capture zones of one team must fit in its half of the map
        half = n * n // 2
        zone = (2 * self.capture_radius + 1) ** 2
        need = self.bases_per_player * 9 + self.capture_points // 2 * zone
        require(
            self,
            need <= half,
            f"{self.bases_per_player} bases (bases_per_player) and {self.capture_points} "
            f"capture points (capture_points, capture_radius {self.capture_radius}) do not fit "
            f"on a {n}x{n} map (map_size); use fewer or a larger map",
        )

    # --- derived values ---
    @property
    def unit_slots(self) -> int:
        """Unit slots per player."""
        if self.unit_slots_per_player is not None:
            return self.unit_slots_per_player
        return max(8, self.map_size)

    @property
    def unit_id_pool(self) -> int:
        """Serial numbers per (player, unit class)."""
        if self.unit_ids_per_kind is not None:
            return self.unit_ids_per_kind
        return 2 * self.unit_slots

    def replace(self, **changes: Any) -> SkirmishConfig:
        """A copy with some fields changed (unknown names raise ``ValueError``)."""
        return make_config(self, **changes)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        {
            "map_size": 12,
            "max_cycles": 100,
            "bases_per_player": 1,
            "capture_points": 2,
            "base_hp": 30,
            "obs_radius": 3,
            "base_min_distance": 3,
        },
        eval_max_cycles=200,
        description="12x12, one base and one capture point per side: tests and smoke runs",
    ),
    "small": Preset(
        {
            "map_size": 24,
            "max_cycles": 200,
            "bases_per_player": 2,
            "capture_points": 4,
            "points_scale": 500,
        },
        eval_max_cycles=400,
        description="24x24, two bases per side, four capture points: CPU-sized experiments",
    ),
    "large": Preset(
        {
            "map_size": 64,
            "max_cycles": 500,
            "bases_per_player": 3,
            "capture_points": 8,
            "obs_radius": 5,
            "base_min_distance": 6,
            "points_scale": 2000,
        },
        eval_max_cycles=1000,
        description="64x64, three bases per side, eight capture points: the scale test",
    ),
}


def make_config(base: SkirmishConfig | None = None, preset: str | None = None, **overrides: Any):
    """Build a ``SkirmishConfig`` from an optional base, a preset name and field overrides.

    Raises:
        ValueError: unknown preset or field name (listing the valid ones), or invalid values.
    """
    return build_config(SkirmishConfig, PRESETS, "skirmish", base, preset, overrides)
