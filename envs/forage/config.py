"""Every number of the forage rules, in one frozen dataclass, and the named presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..core.presets import Preset, build_config
from ..core.settings import (
    MAX_AMOUNT,
    MAX_CYCLES,
    MAX_IDS,
    MAX_MAP_SIZE,
    MAX_REWARD,
    MAX_SLOTS,
    MIN_AMOUNT,
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
class ForageConfig:
    """All numbers of ``forage-v0``. Energy and food share one unit: eating one unit of food
    gives one unit of energy.

    ``None`` in a sizing field means "derived" (see the properties). Every field is checked
    when the config is built: a value of the wrong type, NaN, infinite or out of its range
    raises ``ValueError`` naming the field and its range (``envs.core.settings``).
    """

    # --- episode ---
    map_size: int = setting(32, Int(4, MAX_MAP_SIZE))
    """Side of the square map, in cells (4 to 1024)."""
    players: Literal[1, 2] = setting(1, OneOf((1, 2)))
    """1: one cooperative colony; 2: two colonies competing for the same food."""
    max_cycles: int = setting(256, Int(1, MAX_CYCLES))
    """Steps before truncation."""

    # --- food ---
    patch_density: float = setting(0.3, Real(0.0, 1.0))
    """Fraction of cells that are fertile (hold food), grown as random-walk patches."""
    patch_size: tuple[int, int] = setting((4, 12), IntPair(1, MAX_MAP_SIZE))
    """Inclusive range of the number of cells in one patch (``1 <= low <= high <= 1024``)."""
    food_capacity: float = setting(10.0, Real(MIN_AMOUNT, MAX_AMOUNT))
    """Most food one fertile cell holds; every fertile cell starts full (at least 0.001)."""
    food_regrow: float = setting(0.25, Real(0.0, MAX_AMOUNT))
    """Food a fertile cell regains each step (up to ``food_capacity``)."""

    # --- agents ---
    initial_agents: int = setting(8, Int(1, MAX_SLOTS))
    """Agents each player starts with, on distinct random cells."""
    initial_energy: float = setting(30.0, Real(MIN_AMOUNT, MAX_AMOUNT))
    """Energy of every agent at reset (at least 0.001, at most ``max_energy``)."""
    max_energy: float = setting(60.0, Real(MIN_AMOUNT, MAX_AMOUNT))
    """Energy cap (an agent that cannot split stops gaining beyond it; at least 0.001)."""
    energy_cost: float = setting(1.0, Real(0.0, MAX_AMOUNT))
    """Energy every live agent spends per step."""
    move_cost: float = setting(0.5, Real(0.0, MAX_AMOUNT))
    """Extra energy spent by an agent whose move succeeded."""
    bite: float = setting(5.0, Real(MIN_AMOUNT, MAX_AMOUNT))
    """Most food one ``eat`` takes from the agent's cell (at least 0.001)."""
    split_threshold: float = setting(40.0, Real(MIN_AMOUNT, MAX_AMOUNT))
    """An agent whose energy reaches this (after eating and paying) splits (at least 0.001, at
    most ``max_energy``)."""
    split_cost: float = setting(4.0, Real(0.0, MAX_AMOUNT))
    """Energy lost by a split; parent and child share the rest equally (below
    ``split_threshold``, so a child gets energy)."""
    max_age: int = setting(200, Int(1, MAX_CYCLES))
    """An agent dies after living this many steps."""
    agent_slots_per_player: int | None = setting(None, OrNone(Int(1, MAX_SLOTS)))
    """Agents one player can have alive at once (slots); ``None``: a quarter of the cells
    (but at least ``initial_agents``)."""
    agent_ids_per_player: int | None = setting(None, OrNone(Int(1, MAX_IDS)))
    """Agent names one player can use per episode (the pool); ``None``: 4 x slots. Once it is
    used up the colony stops splitting."""

    # --- rewards ---
    reward_food: float = setting(0.1, Real(-MAX_REWARD, MAX_REWARD))
    """Reward per unit of food eaten, to the eater."""
    reward_birth: float = setting(1.0, Real(-MAX_REWARD, MAX_REWARD))
    """Reward to the parent in the step it splits."""
    reward_death: float = setting(0.0, Real(-MAX_REWARD, MAX_REWARD))
    """Added to an agent's reward in the step it dies (e.g. -1)."""

    # --- observations ---
    obs_radius: int = setting(4, Int(1, MAX_MAP_SIZE))
    """Egocentric windows are ``2 r + 1`` cells wide (learners read this too; ``r`` at most
    ``map_size``)."""
    step_scale: int = setting(1000, Int(1, MAX_CYCLES))
    """The step plane and feature are ``step / step_scale`` mapped to [-1, 1] (at least 1)."""

    def __post_init__(self) -> None:
        check_fields(self)
        n, p = self.map_size, self.players
        require(
            self,
            p * self.initial_agents <= n * n,
            f"{p} players (players) x {self.initial_agents} initial agents (initial_agents) "
            f"do not fit on {n * n} cells (map_size {n})",
        )
        require(
            self,
            self.initial_energy <= self.max_energy,
            f"initial_energy ({self.initial_energy}) must be <= max_energy ({self.max_energy})",
        )
        require(
            self,
            self.split_threshold <= self.max_energy,
            f"split_threshold ({self.split_threshold}) must be <= max_energy ({self.max_energy})",
        )
        require(
            self,
            self.split_cost < self.split_threshold,
            f"split_cost ({self.split_cost}) must be < split_threshold ({self.split_threshold}): "
            "a child needs energy",
        )
        require(
            self,
            self.obs_radius <= n,
            f"obs_radius ({self.obs_radius}) must be <= map_size ({n})",
        )
        require(
            self,
            self.agent_slots <= MAX_SLOTS,
            f"agent_slots_per_player ({self.agent_slots}) must be at most {MAX_SLOTS}",
        )
        require(
            self,
            self.agent_slots >= self.initial_agents,
            f"agent_slots_per_player ({self.agent_slots}) must hold the "
            f"{self.initial_agents} initial agents (initial_agents)",
        )
        require(
            self,
            self.agent_slots <= self.agent_id_pool <= MAX_IDS,
            f"agent_ids_per_player ({self.agent_id_pool}) must be >= agent slots "
            f"({self.agent_slots}) and at most {MAX_IDS}",
        )

    # --- derived values ---
    @property
    def agent_slots(self) -> int:
        """Agent slots per player (the most agents of one player alive at once)."""
        if self.agent_slots_per_player is not None:
            return self.agent_slots_per_player
        return max(self.initial_agents, self.map_size**2 // (4 * self.players))

    @property
    def agent_id_pool(self) -> int:
        """Agent names per player and episode."""
        if self.agent_ids_per_player is not None:
            return self.agent_ids_per_player
        return 4 * self.agent_slots

    def replace(self, **changes: Any) -> ForageConfig:
        """A copy with some fields changed (unknown names raise ``ValueError``)."""
        return make_config(self, **changes)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        {"map_size": 16, "max_cycles": 128, "initial_agents": 8, "agent_slots_per_player": 32},
        eval_max_cycles=256,
        description="16x16, 8 agents, up to 32 alive: tests and smoke runs",
    ),
    "small": Preset(
        {"map_size": 32, "max_cycles": 256, "initial_agents": 16},
        eval_max_cycles=512,
        description="32x32, 16 agents, up to 256 alive: CPU-sized experiments",
    ),
    "large": Preset(
        {
            "map_size": 128,
            "max_cycles": 512,
            "food_regrow": 0.5,
            "initial_agents": 1024,
            "agent_slots_per_player": 4096,
            "agent_ids_per_player": 16384,
        },
        eval_max_cycles=1000,
        description="128x128, faster regrowth, 1024 agents at the start, up to 4096 alive: scale",
    ),
}


def make_config(base: ForageConfig | None = None, preset: str | None = None, **overrides: Any):
    """Build a ``ForageConfig`` from an optional base, a preset name and field overrides.

    Raises:
        ValueError: unknown preset or field name (listing the valid ones), or invalid values.
    """
    return build_config(ForageConfig, PRESETS, "forage", base, preset, overrides)
