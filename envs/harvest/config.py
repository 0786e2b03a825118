"""Every number of the harvest rules, in one frozen dataclass (Lux AI Season 2 defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from ..core.presets import Preset, build_config


@dataclass(frozen=True)
class RobotClass:
    """Numbers of one robot class (Lux S2 ``UnitConfig``)."""

    metal_cost: int
    """Metal a factory spends to build one."""
    power_cost: int
    """Power a factory spends to build one."""
    battery_capacity: int
    """Most power the robot can hold."""
    init_power: int
    """Power of a freshly built robot."""
    cargo_space: int
    """Most ice (and, separately, most ore) the robot can carry."""
    charge: int
    """Power gained per day step."""
    move_cost: int
    """Base power cost of one move."""
    rubble_movement_cost: float
    """Extra move cost per unit of rubble on the target tile (total is floored)."""
    dig_cost: int
    """Power cost of one dig."""
    dig_rubble_removed: int
    """Rubble removed by one dig on a rubble tile."""
    dig_resource_gain: int
    """Ice or ore gained by one dig on a clear resource tile."""
    rubble_after_destruction: int
    """Rubble added to the tile where the robot is destroyed."""


LIGHT = RobotClass(
    metal_cost=10,
    power_cost=50,
    battery_capacity=150,
    init_power=50,
    cargo_space=100,
    charge=1,
    move_cost=1,
    rubble_movement_cost=0.05,
    dig_cost=5,
    dig_rubble_removed=2,
    dig_resource_gain=2,
    rubble_after_destruction=1,
)
HEAVY = RobotClass(
    metal_cost=100,
    power_cost=500,
    battery_capacity=3000,
    init_power=500,
    cargo_space=1000,
    charge=10,
    move_cost=20,
    rubble_movement_cost=1.0,
    dig_cost=60,
    dig_rubble_removed=20,
    dig_resource_gain=20,
    rubble_after_destruction=10,
)

#: the area the Lux factory counts are quoted for (48 x 48)
REFERENCE_AREA = 48 * 48


@dataclass(frozen=True)
class HarvestConfig:
    """All numbers of ``harvest-v0``. Defaults are Lux AI Season 2's (``luxai_s2`` 3.0.1).

    ``None`` in a sizing field means "derived from ``map_size``" (see the properties).
    """

    # --- episode ---
    map_size: int = 48
    """Side of the square map, in tiles (even when ``players=2``; at least 8)."""
    players: Literal[1, 2] = 1
    """1: cooperative survival (the paper's task); 2: two players, self-play."""
    max_cycles: int = 1000
    """Steps before truncation."""

    # --- map generation ---
    ice_density: float = 0.02
    """Fraction of tiles that are ice (placed in clusters)."""
    ore_density: float = 0.015
    """Fraction of tiles that are ore (placed in clusters)."""
    cluster_size: tuple[int, int] = (2, 6)
    """Range of resource cluster sizes in tiles (random walks)."""
    resource_rubble_divisor: int = 5
    """Rubble on resource tiles is the noise value divided by this (Lux's cave walls)."""
    max_rubble: int = 100
    """Rubble cap per tile."""

    # --- day / night ---
    cycle_length: int = 50
    """Length of one day + night cycle."""
    day_length: int = 30
    """The first ``day_length`` steps of each cycle are day."""

    # --- factories ---
    factories_per_player: tuple[int, int] | None = None
    """Inclusive range the per-player factory count is sampled from; ``None`` scales [2, 5] at
    48 x 48 with map area (at least 1)."""
    placement: Literal["heuristic", "random"] = "heuristic"
    """Factory placement at reset: the ice-seeking heuristic (documented in the env) or uniform
    over valid spots."""
    factory_min_distance: int = 6
    """Smallest Chebyshev distance between two factory centres."""
    init_water: int = 150
    init_metal: int = 150
    init_factory_power: int = 1000
    factory_charge: int = 50
    """Power a factory gains every step."""
    water_per_step: int = 1
    """Water a factory consumes every step; a factory whose water goes below 0 is destroyed."""
    ice_refine_rate: int = 100
    """Most ice refined per step."""
    ice_water_ratio: int = 4
    ore_refine_rate: int = 50
    """Most ore refined per step."""
    ore_metal_ratio: int = 5
    factory_rubble_after_destruction: int = 50
    """Rubble added to each of the 9 tiles of a destroyed factory."""

    # --- robots ---
    light: RobotClass = LIGHT
    heavy: RobotClass = HEAVY
    power_loss_factor: float = 0.5
    """In a collision the survivor loses ceil(factor x the runner-up's power)."""
    robot_slots_per_player: int | None = None
    """Robots one player can have alive at once (slots); ``None``: 16 per possible factory."""
    robot_ids_per_class: int | None = None
    """Robots of one class one player can build per episode (the ID pool); ``None``: 2 x slots.
    Building that class is masked once the pool is used up."""

    # --- rewards (the paper's hybrid reward) ---
    reward_ice_delivered: float = 0.25
    """Reward per unit of ice transferred into a factory (1 per 4 ice)."""
    reward_delivery_robot_share: float = 0.5
    """Share of the delivery reward that goes to the robot; the factory gets the rest."""
    reward_ice_dug: float = 0.025
    """Reward per unit of ice dug (0.1 per 4 ice), to the robot."""
    reward_early_boost: float = 0.1
    """All rewards are multiplied by ``1 + boost * (horizon - step) / horizon``."""
    reward_boost_horizon: int = 1000
    reward_robot_destroyed: float = 0.0
    """Added to a robot's reward in the step it is destroyed (e.g. -0.01)."""
    reward_factory_destroyed: float = 0.0
    """Added to a factory's reward in the step it is destroyed (e.g. -0.2)."""

    # --- observations ---
    obs_radius: int = 5
    """Egocentric windows are ``2 r + 1`` tiles wide."""
    step_scale: int = 1000
    """The step plane is ``step / step_scale`` mapped to [-1, 1]."""

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"HarvestConfig: {msg}")

        if self.players not in (1, 2):
            bad(f"players must be 1 or 2, got {self.players!r}")
        if not isinstance(self.map_size, int) or self.map_size < 8:
            bad(f"map_size must be an int >= 8, got {self.map_size!r}")
        if self.players == 2 and self.map_size % 2:
            bad(f"map_size must be even with 2 players (mirrored map), got {self.map_size}")
        if not isinstance(self.max_cycles, int) or self.max_cycles < 1:
            bad(f"max_cycles must be an int >= 1, got {self.max_cycles!r}")
        if self.placement not in ("heuristic", "random"):
            bad(f"placement must be 'heuristic' or 'random', got {self.placement!r}")
        if not 0 < self.day_length <= self.cycle_length:
            bad("need 0 < day_length <= cycle_length")
        lo, hi = self.factory_range
        if not 1 <= lo <= hi:
            bad(f"factories_per_player must be 1 <= lo <= hi, got {(lo, hi)}")
        if self.obs_radius < 1:
            bad(f"obs_radius must be >= 1, got {self.obs_radius}")
        if not 0.0 <= self.reward_delivery_robot_share <= 1.0:
            bad("reward_delivery_robot_share must be in [0, 1]")
        if self.robot_slots < 1 or self.robot_id_pool < 1:
            bad("robot_slots_per_player and robot_ids_per_class must be >= 1")

    # --- derived values ---
    @property
    def factory_range(self) -> tuple[int, int]:
        """Inclusive (lo, hi) factories per player: Lux's [2, 5] scaled by map area."""
        if self.factories_per_player is not None:
            return tuple(self.factories_per_player)  # type: ignore[return-value]
        scale = self.map_size**2 / REFERENCE_AREA
        return max(1, math.ceil(2 * scale - 1e-9)), max(1, math.ceil(5 * scale - 1e-9))

    @property
    def robot_slots(self) -> int:
        """Robot slots per player."""
        if self.robot_slots_per_player is not None:
            return self.robot_slots_per_player
        return 16 * self.factory_range[1]

    @property
    def robot_id_pool(self) -> int:
        """Serial numbers per (player, robot class)."""
        if self.robot_ids_per_class is not None:
            return self.robot_ids_per_class
        return 2 * self.robot_slots

    def replace(self, **changes: Any) -> HarvestConfig:
        """A copy with some fields changed (unknown names raise ``ValueError``)."""
        return make_config(self, **changes)


PRESETS: dict[str, Preset] = {
    "paper": Preset(
        {"map_size": 48, "max_cycles": 256},
        eval_max_cycles=1000,
        description="the paper's setting: 48x48, training episodes cut at 256, evaluation to 1000",
    ),
    "small": Preset(
        {"map_size": 24, "max_cycles": 256},
        eval_max_cycles=512,
        description="24x24 with 1-2 factories per player: CPU-sized experiments",
    ),
    "tiny": Preset(
        {"map_size": 12, "max_cycles": 64, "ice_density": 0.04, "factory_min_distance": 4},
        eval_max_cycles=128,
        description="12x12 with one factory: tests and smoke runs",
    ),
}


def make_config(base: HarvestConfig | None = None, preset: str | None = None, **overrides: Any):
    """Build a ``HarvestConfig`` from an optional base, a preset name and field overrides.

    Raises:
        ValueError: unknown preset or field name (listing the valid ones), or invalid values.
    """
    return build_config(HarvestConfig, PRESETS, "harvest", base, preset, overrides)
