"""Every number of the harvest rules, in one frozen dataclass (Lux AI Season 2 defaults)."""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass
from typing import Any, Literal

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
    IntPair,
    OneOf,
    OrNone,
    Real,
    check_fields,
    require,
    setting,
)


@dataclass(frozen=True)
class RobotClass:
    """Numbers of one robot class (Lux S2 ``UnitConfig``); every one is checked when the class
    is built (``ValueError`` naming it and its range)."""

    metal_cost: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Metal a factory spends to build one."""
    power_cost: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Power a factory spends to build one."""
    battery_capacity: int = setting(MISSING, Int(1, MAX_AMOUNT))
    """Most power the robot can hold (at least 1: power is observed as a share of it)."""
    init_power: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Power of a freshly built robot (at most ``battery_capacity``)."""
    cargo_space: int = setting(MISSING, Int(1, MAX_AMOUNT))
    """Most ice (and, separately, most ore) the robot can carry (at least 1)."""
    charge: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Power gained per day step."""
    move_cost: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Base power cost of one move."""
    rubble_movement_cost: float = setting(MISSING, Real(0.0, 1000.0))
    """Extra move cost per unit of rubble on the target tile (total is floored); in [0, 1000]."""
    dig_cost: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Power cost of one dig."""
    dig_rubble_removed: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Rubble removed by one dig on a rubble tile."""
    dig_resource_gain: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Ice or ore gained by one dig on a clear resource tile."""
    rubble_after_destruction: int = setting(MISSING, Int(0, MAX_AMOUNT))
    """Rubble added to the tile where the robot is destroyed (the tile stays capped at
    ``max_rubble``)."""

    def __post_init__(self) -> None:
        check_fields(self)
        require(
            self,
            self.init_power <= self.battery_capacity,
            f"init_power ({self.init_power}) must be <= battery_capacity ({self.battery_capacity})",
        )


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

#: the area below which the factory counts scale with map area (Lux's smallest default, 48 x 48)
REFERENCE_AREA = 48 * 48
#: factories per player drawn at reset by each ``luxai_s2`` version (``EnvConfig.MIN_FACTORIES``
#: and ``MAX_FACTORIES``); Lux draws them whatever the map size. v2.2.0 is the March 2023
#: competition version the paper used (default map 48 x 48); 3.0.1 has the same rules with
#: 4-10 factories and a 64 x 64 default map.
LUX_FACTORIES = {"2.2.0": (2, 5), "3.0.1": (4, 10)}
#: the smallest ``factory_min_distance`` at which two 3x3 footprints cannot overlap, per metric
SPACING_FLOOR = {"chebyshev": 3, "manhattan": 5}


def factory_room(map_size: int, players: int) -> int:
    """The most factories per player that placement always finds room for, whatever the map.

    Centres keep their 3x3 footprint on the map (and, with two players, in the player's half);
    when the configured spacing leaves no room, placement falls back to centres at least 3 tiles
    (Chebyshev) apart; each placed centre rules out at most the 5 x 5 centres around it, so
    ``ceil(centres / 25)`` always fit (see ``mapgen.place_factories``).
    """
    across = map_size - 2  # centre positions along an axis
    along = map_size // 2 - 2 if players == 2 else across  # along the mirror axis
    return max(-(-across * max(along, 0) // 25), 0)


@dataclass(frozen=True)
class HarvestConfig:
    """All numbers of ``harvest-v0``. Defaults are Lux AI Season 2's (``luxai_s2`` v2.2.0, the
    version the paper used; 3.0.1 has the same rules and constants but 4-10 factories per player,
    see ``lux_version``). Every remaining difference from Lux is listed in ``docs/lux-parity.md``.

    ``None`` in a sizing field means "derived from ``map_size``" (see the properties). Every
    field is checked when the config is built: a value of the wrong type, NaN, infinite or out
    of its range raises ``ValueError`` naming the field and its range (``envs.core.settings``).
    """

    # --- episode ---
    map_size: int = setting(48, Int(8, MAX_MAP_SIZE))
    """Side of the square map, in tiles (even when ``players=2``; 8 to 1024)."""
    players: Literal[1, 2] = setting(1, OneOf((1, 2)))
    """1: cooperative survival (the paper's task); 2: two players, self-play."""
    max_cycles: int = setting(1000, Int(1, MAX_CYCLES))
    """Steps before truncation."""

    # --- map generation ---
    ice_density: float = setting(0.02, Real(0.0, 0.5))
    """Fraction of tiles that are ice (placed in clusters); at most 0.5."""
    ore_density: float = setting(0.015, Real(0.0, 0.5))
    """Fraction of tiles that are ore (placed in clusters); at most 0.5."""
    cluster_size: tuple[int, int] = setting((2, 6), IntPair(1, 100))
    """Range of resource cluster sizes in tiles (random walks); ``1 <= low <= high <= 100``."""
    resource_rubble_divisor: int = setting(5, Int(1, MAX_AMOUNT))
    """Rubble on resource tiles is the noise value divided by this (Lux's cave walls)."""
    max_rubble: int = setting(100, Int(1, MAX_AMOUNT))
    """Rubble cap per tile (at least 1: rubble is observed as a share of it)."""

    # --- day / night ---
    cycle_length: int = setting(50, Int(1, MAX_CYCLES))
    """Length of one day + night cycle."""
    day_length: int = setting(30, Int(1, MAX_CYCLES))
    """The first ``day_length`` steps of each cycle are day (1 to ``cycle_length``)."""

    # --- factories ---
    lux_version: Literal["2.2.0", "3.0.1"] = setting("2.2.0", OneOf(tuple(LUX_FACTORIES)))
    """The ``luxai_s2`` version whose factory count ``factories_per_player=None`` follows:
    ``"2.2.0"`` (the paper's: 2-5 per player) or ``"3.0.1"`` (4-10). Every other rule is the same
    in both."""
    factories_per_player: tuple[int, int] | None = setting(None, OrNone(IntPair(1, MAX_SLOTS)))
    """Inclusive range the per-player factory count is sampled from; ``None``: the range of
    ``lux_version`` (as Lux, whatever the map size), scaled down with map area below 48 x 48
    (at least 1). The high end is at most ``factory_room(map_size, players)``, the count
    placement always finds room for (9 at 24 x 24 with two players)."""
    placement: Literal["heuristic", "random", "paper"] = setting(
        "heuristic", OneOf(("heuristic", "random", "paper"))
    )
    """Factory placement at reset: ``"heuristic"`` (greedy best score, documented in the env),
    ``"paper"`` (the paper's score with Gaussian-smoothed maps, sampled from a softmax over the
    best 200 centres, then hill-climbed; the ``paper`` preset's default) or ``"random"`` (uniform
    over valid centres; the paper's "random factory placement" ablation)."""
    factory_spacing: Literal["manhattan", "chebyshev"] = setting(
        "manhattan", OneOf(("manhattan", "chebyshev"))
    )
    """The distance ``factory_min_distance`` is measured in: ``"manhattan"`` (Lux: centres
    within Manhattan distance 6 of another are invalid) or ``"chebyshev"`` (harvest before
    0.4)."""
    factory_min_distance: int = setting(7, Int(3, MAX_MAP_SIZE))
    """Smallest distance between two factory centres in ``factory_spacing`` (Lux: 7 Manhattan;
    at least 5 Manhattan or 3 Chebyshev, so footprints never overlap; at most ``map_size``).
    Placement lowers it, down to that floor and then to 3 Chebyshev, when a map has no room."""
    init_water: int = setting(150, Int(0, MAX_AMOUNT))
    init_metal: int = setting(150, Int(0, MAX_AMOUNT))
    init_factory_power: int = setting(1000, Int(0, MAX_AMOUNT))
    factory_charge: int = setting(50, Int(0, MAX_AMOUNT))
    """Power a factory gains every step."""
    water_per_step: int = setting(1, Int(0, MAX_AMOUNT))
    """Water a factory consumes every step; a factory whose water goes below 0 is destroyed."""
    ice_refine_rate: int = setting(100, Int(0, MAX_AMOUNT))
    """Most ice refined per step."""
    ice_water_ratio: int = setting(4, Int(1, MAX_AMOUNT))
    """Ice per unit of water (at least 1)."""
    ore_refine_rate: int = setting(50, Int(0, MAX_AMOUNT))
    """Most ore refined per step."""
    ore_metal_ratio: int = setting(5, Int(1, MAX_AMOUNT))
    """Ore per unit of metal (at least 1)."""
    factory_rubble_after_destruction: int = setting(50, Int(0, MAX_AMOUNT))
    """Rubble added to each of the 9 tiles of a destroyed factory (capped at ``max_rubble``)."""

    # --- robots ---
    light: RobotClass = setting(LIGHT, Instance(RobotClass))
    heavy: RobotClass = setting(HEAVY, Instance(RobotClass))
    power_loss_factor: float = setting(0.5, Real(0.0, 1.0))
    """In a collision the survivor loses ceil(factor x the runner-up's power); in [0, 1], so
    the survivor's power never goes below 0."""
    robot_slots_per_player: int | None = setting(None, OrNone(Int(1, MAX_SLOTS)))
    """Robots one player can have alive at once (slots); ``None``: 16 per possible factory."""
    robot_ids_per_class: int | None = setting(None, OrNone(Int(1, MAX_IDS)))
    """Robots of one class one player can build per episode (the ID pool); ``None``: 2 x slots.
    Building that class is masked once the pool is used up."""

    action_masks: Literal["harvest", "paper"] = setting("harvest", OneOf(("harvest", "paper")))
    """Which actions the masks forbid beyond what the rules require. ``"harvest"``: every
    action the rules can carry out is legal (moves onto own robots, transfers into own robots,
    a factory may idle). ``"paper"`` (the paper's masks, the ``paper`` preset's default): no
    move onto a tile holding an own robot, and of several own robots moving onto one tile only
    the oldest moves (the others stay and pay nothing: no own collisions); no move onto a
    factory centre (a robot leaves the centre it was built on and never re-enters one);
    transfers only into an own factory; a factory that can build a heavy robot may not idle
    (it builds a heavy or a light one)."""

    # --- rewards (the paper's hybrid reward) ---
    reward_ice_delivered: float = setting(0.25, Real(-MAX_REWARD, MAX_REWARD))
    """Reward per unit of ice transferred into a factory (1 per 4 ice)."""
    reward_delivery_robot_share: float = setting(0.5, Real(0.0, 1.0))
    """Share of the delivery reward that goes to the robot; the factory gets the rest."""
    reward_ice_dug: float = setting(0.025, Real(-MAX_REWARD, MAX_REWARD))
    """Reward per unit of ice dug (0.1 per 4 ice), to the robot."""
    reward_early_boost: float = setting(0.1, Real(-MAX_REWARD, MAX_REWARD))
    """All rewards are multiplied by ``1 + boost * (horizon - step) / horizon``."""
    reward_boost_horizon: int = setting(1000, Int(1, MAX_CYCLES))
    reward_robot_destroyed: float = setting(0.0, Real(-MAX_REWARD, MAX_REWARD))
    """Added to a robot's reward in the step it is destroyed (e.g. -0.01)."""
    reward_factory_destroyed: float = setting(0.0, Real(-MAX_REWARD, MAX_REWARD))
    """Added to a factory's reward in the step it is destroyed (e.g. -0.2)."""

    # --- observations ---
    obs_radius: int = setting(5, Int(1, MAX_MAP_SIZE))
    """Egocentric windows are ``2 r + 1`` tiles wide (``r`` at most ``map_size``)."""
    step_scale: int = setting(1000, Int(1, MAX_CYCLES))
    """The step plane is ``step / step_scale`` mapped to [-1, 1] (at least 1)."""

    def __post_init__(self) -> None:
        check_fields(self)
        n, p = self.map_size, self.players
        require(
            self,
            p == 1 or n % 2 == 0,
            f"map_size must be even with 2 players (mirrored map), got {n}",
        )
        require(
            self,
            self.day_length <= self.cycle_length,
            f"day_length ({self.day_length}) must be <= cycle_length ({self.cycle_length})",
        )
        lo, hi = self.factory_range
        room = factory_room(n, p)
        require(
            self,
            hi <= room,
            f"factories_per_player {(lo, hi)}: at most {room} factories per player fit on a "
            f"{n}x{n} map (map_size) with {p} player(s) (players)",
        )
        floor = SPACING_FLOOR[self.factory_spacing]
        require(
            self,
            self.factory_min_distance >= floor,
            f"factory_min_distance ({self.factory_min_distance}) must be >= {floor} with "
            f"factory_spacing={self.factory_spacing!r} (3x3 footprints would overlap)",
        )
        require(
            self,
            self.factory_min_distance <= n,
            f"factory_min_distance ({self.factory_min_distance}) must be <= map_size ({n})",
        )
        require(
            self,
            self.obs_radius <= n,
            f"obs_radius ({self.obs_radius}) must be <= map_size ({n})",
        )
        require(
            self,
            self.robot_slots <= MAX_SLOTS and self.robot_id_pool <= MAX_IDS,
            f"{self.robot_slots} robot slots per player (robot_slots_per_player) and "
            f"{self.robot_id_pool} names per class (robot_ids_per_class) must be at most "
            f"{MAX_SLOTS} and {MAX_IDS}",
        )

    # --- derived values ---
    @property
    def factory_range(self) -> tuple[int, int]:
        """Inclusive (lo, hi) factories per player: ``lux_version``'s range, scaled down by map
        area below 48 x 48."""
        if self.factories_per_player is not None:
            return tuple(self.factories_per_player)  # type: ignore[return-value]
        lo, hi = LUX_FACTORIES[self.lux_version]
        scale = min(self.map_size**2 / REFERENCE_AREA, 1.0)
        return max(1, math.ceil(lo * scale - 1e-9)), max(1, math.ceil(hi * scale - 1e-9))

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
        {
            "map_size": 48,
            "players": 2,
            "max_cycles": 256,
            "lux_version": "2.2.0",
            "placement": "paper",
            "action_masks": "paper",
        },
        eval_max_cycles=1000,
        description=(
            "the paper's setting: 48x48, 2 players in self-play (Lux v2.2.0, 2-5 factories "
            "per player), the paper's factory placement and masks, training episodes cut at "
            "256, evaluation to 1000"
        ),
    ),
    "small": Preset(
        {"map_size": 24, "max_cycles": 256},
        eval_max_cycles=512,
        description="24x24 with 1-2 factories per player: CPU-sized experiments",
    ),
    "tiny": Preset(
        {"map_size": 12, "max_cycles": 64, "ice_density": 0.04, "factory_min_distance": 5},
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
