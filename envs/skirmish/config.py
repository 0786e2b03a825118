"""Every number of the skirmish rules, in one frozen dataclass, and the named presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.presets import Preset, build_config


@dataclass(frozen=True)
class UnitClass:
    """Numbers of one unit class."""

    cost: int
    """Resources the team spends to build one."""
    hp: int
    """Hit points of a fresh unit; it dies when they reach 0."""
    damage: int
    """Hit points one attack takes from its target."""
    attack_range: int
    """Cells an attack reaches along its direction (1: the adjacent cell only)."""


MELEE = UnitClass(cost=10, hp=12, damage=3, attack_range=1)
RANGED = UnitClass(cost=15, hp=7, damage=2, attack_range=3)


@dataclass(frozen=True)
class SkirmishConfig:
    """All numbers of ``skirmish-v0``.

    ``None`` in a sizing field means "derived from ``map_size``" (see the properties).
    """

    # --- episode ---
    map_size: int = 24
    """Side of the square map, in cells (even, at least 8)."""
    max_cycles: int = 200
    """Steps before truncation (the winner is then decided by points)."""

    # --- map generation ---
    bases_per_player: int = 2
    """Bases each team starts with (its structures; they never move and are never rebuilt)."""
    capture_points: int = 4
    """Capture points on the map (even: they come in mirrored pairs)."""
    capture_radius: int = 1
    """A capture point's zone is the square of Chebyshev radius ``capture_radius`` around it."""
    rock_density: float = 0.06
    """Fraction of cells that are impassable rock (in small mirrored clusters)."""
    base_min_distance: int = 4
    """Smallest Chebyshev distance between two bases, and between a base and a capture zone."""

    # --- economy ---
    start_resources: int = 20
    """Resources each team starts with."""
    base_income: int = 1
    """Resources a team gains every step while it has a live base."""
    capture_income: int = 1
    """Extra resources per step for each capture point the team holds."""
    resource_cap: int = 200
    """Most resources a team can bank (income beyond it is lost)."""

    # --- entities ---
    base_hp: int = 60
    """Hit points of a base."""
    melee: UnitClass = MELEE
    """Melee units: cost 10, 12 hit points, 3 damage, reach 1."""
    ranged: UnitClass = RANGED
    """Ranged units: cost 15, 7 hit points, 2 damage, reach 3."""
    unit_slots_per_player: int | None = None
    """Units one team can have alive at once; ``None``: ``map_size`` (at least 8)."""
    unit_ids_per_kind: int | None = None
    """Units of one class one team can build per episode (the ID pool); ``None``: 2 x slots.
    Building that class is masked once its pool is used up."""

    # --- points (decide the winner at max_cycles) ---
    points_per_capture_step: int = 1
    """Points per step for each capture point a team holds."""
    points_per_unit_kill: int = 2
    """Points for each enemy unit killed."""
    points_per_base_kill: int = 20
    """Points for each enemy base destroyed."""

    # --- rewards ---
    reward_damage: float = 0.02
    """Per hit point of damage dealt, to the attacker."""
    reward_kill_unit: float = 0.2
    """To every attacker that hit an enemy unit in the step it died."""
    reward_kill_base: float = 1.0
    """To every attacker that hit an enemy base in the step it was destroyed."""
    reward_capture: float = 0.01
    """Per step, to each unit standing in a capture zone its team holds."""
    reward_base_points: float = 0.01
    """Per step, to each base, times the points its team gained in that step."""
    reward_death: float = 0.0
    """Added to an agent's reward in the step it dies (e.g. -0.1)."""
    reward_win: float = 1.0
    """At the end of the episode: ``+reward_win`` to every agent of the winner that acted in
    the last step, ``-reward_win`` to the loser's; nothing on a draw."""

    # --- observations ---
    obs_radius: int = 4
    """Egocentric windows are ``2 r + 1`` cells wide."""
    points_scale: int = 200
    """The points planes and features read ``points / points_scale`` mapped to [-1, 1]."""

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"SkirmishConfig: {msg}")

        if not isinstance(self.map_size, int) or self.map_size < 8 or self.map_size % 2:
            bad(f"map_size must be an even int >= 8, got {self.map_size!r}")
        if not isinstance(self.max_cycles, int) or self.max_cycles < 1:
            bad(f"max_cycles must be an int >= 1, got {self.max_cycles!r}")
        if not isinstance(self.bases_per_player, int) or self.bases_per_player < 1:
            bad(f"bases_per_player must be an int >= 1, got {self.bases_per_player!r}")
        if self.capture_points < 0 or self.capture_points % 2:
            bad(f"capture_points must be even and >= 0 (mirrored pairs), got {self.capture_points}")
        if self.capture_radius < 0:
            bad(f"capture_radius must be >= 0, got {self.capture_radius}")
        if not 0.0 <= self.rock_density <= 0.3:
            bad(f"rock_density must be in [0, 0.3], got {self.rock_density}")
        if self.base_min_distance < 3:
            bad(
                f"base_min_distance must be >= 3 (bases' spawn cells must not touch), got "
                f"{self.base_min_distance}"
            )
        if self.base_hp < 1:
            bad(f"base_hp must be >= 1, got {self.base_hp}")
        for name in ("melee", "ranged"):
            uc = getattr(self, name)
            if uc.cost < 0 or uc.hp < 1 or uc.damage < 0 or uc.attack_range < 1:
                bad(f"{name} needs cost >= 0, hp >= 1, damage >= 0, attack_range >= 1; got {uc}")
        if self.start_resources < 0 or self.resource_cap < self.start_resources:
            bad("need 0 <= start_resources <= resource_cap")
        if self.obs_radius < 1:
            bad(f"obs_radius must be >= 1, got {self.obs_radius}")
        if self.points_scale < 1:
            bad(f"points_scale must be >= 1, got {self.points_scale}")
        if self.unit_slots < 1 or self.unit_id_pool < 1:
            bad("unit_slots_per_player and unit_ids_per_kind must be >= 1")
        # the bases and capture zones of one team must fit in its half of the map
        half = self.map_size * self.map_size // 2
        zone = (2 * self.capture_radius + 1) ** 2
        need = self.bases_per_player * 9 + self.capture_points // 2 * zone
        if need > half:
            bad(
                f"{self.bases_per_player} bases and {self.capture_points} capture points do not "
                f"fit on a {self.map_size}x{self.map_size} map; use fewer or a larger map"
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
