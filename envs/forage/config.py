"""Every number of the forage rules, in one frozen dataclass, and the named presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..core.presets import Preset, build_config


@dataclass(frozen=True)
class ForageConfig:
    """All numbers of ``forage-v0``. Energy and food share one unit: eating one unit of food
    gives one unit of energy.

    ``None`` in a sizing field means "derived" (see the properties).
    """

    # --- episode ---
    map_size: int = 32
    """Side of the square map, in cells (at least 4)."""
    players: Literal[1, 2] = 1
    """1: one cooperative colony; 2: two colonies competing for the same food."""
    max_cycles: int = 256
    """Steps before truncation."""

    # --- food ---
    patch_density: float = 0.3
    """Fraction of cells that are fertile (hold food), grown as random-walk patches."""
    patch_size: tuple[int, int] = (4, 12)
    """Inclusive range of the number of cells in one patch."""
    food_capacity: float = 10.0
    """Most food one fertile cell holds; every fertile cell starts full."""
    food_regrow: float = 0.25
    """Food a fertile cell regains each step (up to ``food_capacity``)."""

    # --- agents ---
    initial_agents: int = 8
    """Agents each player starts with, on distinct random cells."""
    initial_energy: float = 30.0
    """Energy of every agent at reset."""
    max_energy: float = 60.0
    """Energy cap (an agent that cannot split stops gaining beyond it)."""
    energy_cost: float = 1.0
    """Energy every live agent spends per step."""
    move_cost: float = 0.5
    """Extra energy spent by an agent whose move succeeded."""
    bite: float = 5.0
    """Most food one ``eat`` takes from the agent's cell."""
    split_threshold: float = 40.0
    """An agent whose energy reaches this (after eating and paying) splits."""
    split_cost: float = 4.0
    """Energy lost by a split; parent and child share the rest equally."""
    max_age: int = 200
    """An agent dies after living this many steps."""
    agent_slots_per_player: int | None = None
    """Agents one player can have alive at once (slots); ``None``: a quarter of the cells
    (but at least ``initial_agents``)."""
    agent_ids_per_player: int | None = None
    """Agent names one player can use per episode (the pool); ``None``: 4 x slots. Once it is
    used up the colony stops splitting."""

    # --- rewards ---
    reward_food: float = 0.1
    """Reward per unit of food eaten, to the eater."""
    reward_birth: float = 1.0
    """Reward to the parent in the step it splits."""
    reward_death: float = 0.0
    """Added to an agent's reward in the step it dies (e.g. -1)."""

    # --- observations ---
    obs_radius: int = 4
    """Egocentric windows are ``2 r + 1`` cells wide (learners read this too)."""
    step_scale: int = 1000
    """The step plane and feature are ``step / step_scale`` mapped to [-1, 1]."""

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"ForageConfig: {msg}")

        if self.players not in (1, 2):
            bad(f"players must be 1 or 2, got {self.players!r}")
        if not isinstance(self.map_size, int) or self.map_size < 4:
            bad(f"map_size must be an int >= 4, got {self.map_size!r}")
        if not isinstance(self.max_cycles, int) or self.max_cycles < 1:
            bad(f"max_cycles must be an int >= 1, got {self.max_cycles!r}")
        if not 0.0 <= self.patch_density <= 1.0:
            bad(f"patch_density must be in [0, 1], got {self.patch_density}")
        lo, hi = self.patch_size
        if not 1 <= lo <= hi:
            bad(f"patch_size must be 1 <= lo <= hi, got {self.patch_size}")
        if self.food_capacity <= 0 or self.food_regrow < 0 or self.bite <= 0:
            bad("need food_capacity > 0, food_regrow >= 0 and bite > 0")
        if not isinstance(self.initial_agents, int) or self.initial_agents < 1:
            bad(f"initial_agents must be an int >= 1, got {self.initial_agents!r}")
        if self.players * self.initial_agents > self.map_size**2:
            bad(
                f"{self.players} x {self.initial_agents} initial agents do not fit on "
                f"{self.map_size**2} cells"
            )
        if not 0 < self.initial_energy <= self.max_energy:
            bad("need 0 < initial_energy <= max_energy")
        if not 0 < self.split_threshold <= self.max_energy:
            bad("need 0 < split_threshold <= max_energy")
        if not 0 <= self.split_cost < self.split_threshold:
            bad("need 0 <= split_cost < split_threshold (a child needs energy)")
        if self.energy_cost < 0 or self.move_cost < 0:
            bad("energy_cost and move_cost must be >= 0")
        if not isinstance(self.max_age, int) or self.max_age < 1:
            bad(f"max_age must be an int >= 1, got {self.max_age!r}")
        if self.obs_radius < 1:
            bad(f"obs_radius must be >= 1, got {self.obs_radius}")
        if self.step_scale < 1:
            bad(f"step_scale must be >= 1, got {self.step_scale}")
        if self.agent_slots < self.initial_agents:
            bad(
                f"agent_slots_per_player ({self.agent_slots}) must hold the "
                f"{self.initial_agents} initial agents"
            )
        if self.agent_id_pool < self.agent_slots:
            bad(
                f"agent_ids_per_player ({self.agent_id_pool}) must be >= agent slots "
                f"({self.agent_slots})"
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
