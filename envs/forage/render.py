"""Drawing forage: the only module of the env that touches pygame (through ``Canvas``).

One picture feeds both render modes, the recorders, replays and the viewer. Barren cells are dark
soil; fertile cells are green, from pale (eaten bare) to deep (full of food). Agents are circles
in their player's colour (player_0 blue, player_1 red) with an energy bar below, yellow once the
agent has enough energy to split. The HUD says the step and, per player, the live agents, births,
deaths and food eaten so far.

Overlays (``envs.core.rendering``): ``ids`` labels every agent with its number (``12`` is
``player_p_forager_12``); ``actions`` shows what each agent did in the last step: a white arrow
from the cell a mover came from, the attempted move in red when it was masked, a pink ring
around every newborn and a red cross where an agent died; ``mask`` tints the cells the selected
agent's moves target, green when legal and red when not, and lists its legal actions in an extra
HUD line.
"""

from __future__ import annotations

import numpy as np

from ..core.batched import BatchStep
from ..core.canvas import Canvas, Color
from ..core.rendering import (
    HEAT_ALL,
    HEAT_NONE,
    HUD_TEAM_COLORS,
    ILLEGAL,
    OUTLINE,
    OVERLAYS,
    TEAM_COLORS,
    TEXT,
    TRAIL,
    CanvasRenderer,
)
from .world import ACTION_NAMES, DIRS, MOVE_N, MOVE_W, ForageWorld

SOIL: Color = (92, 78, 64)
"""A barren cell."""
BARE: Color = (170, 182, 120)
"""A fertile cell with no food left."""
LUSH: Color = (46, 140, 56)
"""A fertile cell at ``food_capacity``; in between is linear."""
GRID_LINE: Color = (70, 60, 50)
ENERGY: Color = (120, 230, 90)
READY: Color = (255, 214, 64)
"""Energy bar of an agent at or above ``split_threshold``."""
BIRTH: Color = (255, 140, 225)
"""Ring around a newborn (the selected agent has a yellow one)."""
AGENT_RADIUS = 0.34


def cell_colors(world: ForageWorld, index: int = 0) -> np.ndarray:
    """The ground colour of every cell of world ``index``.

    Returns:
        ``[H, W, 3]`` uint8: soil for barren cells; fertile cells from ``BARE`` to ``LUSH`` by
        their food.
    """
    h, w = world.map_shape
    fill = np.clip(world.food[index] / world.cfg.food_capacity, 0.0, 1.0)[:, None]
    green = np.asarray(BARE, np.float64) + fill * (np.subtract(LUSH, BARE))
    out = np.where(world.fertile[index][:, None], green, np.asarray(SOIL, np.float64))
    return np.round(out).astype(np.uint8).reshape(h, w, 3)


def legal_summary(mask: np.ndarray) -> str:
    """A short text of an ``[A]`` bool action mask, e.g. ``stay, move N/W``."""
    dirs = [ACTION_NAMES[a][-1].upper() for a in range(MOVE_N, MOVE_W + 1) if mask[a]]
    return "stay" + (f", move {'/'.join(dirs)}" if dirs else "")


class ForageRenderer(CanvasRenderer):
    """Draws world 0 of a ``ForageEnv`` (or any world of a ``ForageWorld``) with a ``Canvas``.

    The canvas is built on the first draw (and rebuilt when the map, ``window_size`` or the HUD
    lines change); until then nothing of pygame is imported. It implements
    ``envs.core.rendering.Renderer``.

    Args:
        fps: frames per second in ``"human"`` mode.
        window_size: pixels of the map area: ``int`` (square) or ``(width, height)``.
        overlays: names from ``overlay_names`` (or ``"ids,actions"``); see the module docstring.
        selected: name of the agent to highlight (and whose action mask ``mask`` shows).

    Raises:
        ValueError: an unknown overlay.
    """

    overlay_names: tuple[str, ...] = OVERLAYS
    title = "spawnzoo forage-v0"
    reset_hint = "the forage map is grown there"
    summarize_mask = staticmethod(legal_summary)
    death_cross = (0.38, 0.12)
    tile_colors = staticmethod(cell_colors)
    grid_line = GRID_LINE

    # ------------------------------------------------------------ the frame's layers
    def draw_actions_under(
        self, canvas: Canvas, world: ForageWorld, index: int, batch: BatchStep, actions
    ) -> None:
        """Trails of the foragers that moved and crosses where foragers died."""
        self._draw_moves(canvas, world, index, batch, actions)
        self._draw_deaths(canvas, world, index, batch)

    def draw_agents(self, canvas: Canvas, world: ForageWorld, index: int) -> None:
        """Each forager in its colony's colour, with its energy bar on large cells."""
        n = world.map_shape[1]
        slots = np.flatnonzero(world.alive[index])
        y, x = np.divmod(world.cell[index, slots], n)
        energy = world.energy[index, slots] / world.cfg.max_energy
        ready = world.energy[index, slots] >= world.cfg.split_threshold
        owners = world.owner[index, slots]
        big = canvas.cell_size >= 8
        for yy, xx, o, en, rd in zip(y.tolist(), x.tolist(), owners.tolist(), energy, ready):
            canvas.circle(yy, xx, TEAM_COLORS[o], radius=AGENT_RADIUS, outline=OUTLINE)
            if big:
                canvas.bar(yy, xx, float(en), READY if rd else ENERGY, top=0.84, height=0.12)

    def draw_actions_over(
        self, canvas: Canvas, world: ForageWorld, index: int, batch: BatchStep, actions
    ) -> None:
        """Rings around the newborns (at step 0 every agent counts as spawned: no rings)."""
        if world.t[index] == 0:
            return
        n = world.map_shape[1]
        for slot in np.flatnonzero(batch.spawned[index] & world.alive[index]).tolist():
            cy, cx = divmod(int(world.cell[index, slot]), n)
            canvas.rect(cy, cx, None, inset=0.02, radius=0.5, outline=BIRTH)

    def draw_ids(self, canvas: Canvas, world: ForageWorld, index: int) -> None:
        """Each forager's serial number, on cells large enough to read it."""
        if canvas.cell_size < 10:
            return
        slots = np.flatnonzero(world.alive[index])
        y, x = np.divmod(world.cell[index, slots], world.map_shape[1])
        for slot, yy, xx in zip(slots.tolist(), y.tolist(), x.tolist()):
            text = str(int(world.serial[index, slot]))
            canvas.label(yy + 0.45, xx + 0.5, text, size=0.42, color=TEXT, background=None)

    # ------------------------------------------------------------ inspection
    def agent_at(self, world: ForageWorld, index: int, cell: tuple[int, int]) -> str | None:
        """The agent on cell ``cell = (y, x)``, or ``None``."""
        h, w = world.map_shape
        y, x = cell
        if not (0 <= y < h and 0 <= x < w):
            return None
        slot = int(world.agent_map[index, y * w + x])
        if slot < 0 or not world.alive[index, slot]:
            return None
        return self._name(world, index, slot)

    def describe(self, world: ForageWorld, index: int, agent: str) -> list[tuple[str, str]]:
        """``(field, value)`` rows of a live agent's state (``[]`` if it is not alive)."""
        slot = self.slot_of(world, index, agent)
        if slot is None:
            return []
        cfg, w = world.cfg, world.map_shape[1]
        y, x = divmod(int(world.cell[index, slot]), w)
        return [
            ("agent", agent),
            ("owner", world.pool.owners[int(world.owner[index, slot])]),
            ("cell (x, y)", f"({x}, {y})"),
            ("energy", f"{float(world.energy[index, slot]):.2f} / {cfg.max_energy:g}"),
            ("age", f"{int(world.age[index, slot])} / {cfg.max_age}"),
            ("food here", f"{float(world.food[index, y * w + x]):.2f}"),
        ]

    # ------------------------------------------------------------- helpers
    def draw_mask(
        self, canvas: Canvas, world: ForageWorld, i: int, slot: int, mask: np.ndarray
    ) -> None:
        """Tint the selected agent's move targets: green if legal, red if not."""
        h, w = world.map_shape
        y, x = divmod(int(world.cell[i, slot]), w)
        colors = np.zeros((h, w, 3))
        alpha = np.zeros((h, w))
        for a in range(MOVE_N, MOVE_W + 1):
            ty, tx = y + DIRS[a, 0], x + DIRS[a, 1]
            if 0 <= ty < h and 0 <= tx < w:
                colors[ty, tx] = HEAT_ALL if mask[a] else HEAT_NONE
                alpha[ty, tx] = 0.55
        canvas.tint_grid(colors, alpha)

    def _draw_moves(
        self, canvas: Canvas, world: ForageWorld, i: int, batch: BatchStep, actions: np.ndarray
    ) -> None:
        """White arrows from where movers came from; attempted masked moves in red."""
        n = world.map_shape[1]
        slots, a, bad = self._acted(world, i, batch, actions)
        y, x = np.divmod(world.cell[i, slots], n)
        move = (a >= MOVE_N) & (a <= MOVE_W)
        for yy, xx, aa, b in zip(y[move].tolist(), x[move].tolist(), a[move], bad[move]):
            dy, dx = DIRS[aa]
            cy, cx = yy + 0.5, xx + 0.5
            if b:
                canvas.arrow((cy, cx), (cy + dy * 0.75, cx + dx * 0.75), ILLEGAL, width=0.1)
            else:
                start, end = (cy - dy * 0.9, cx - dx * 0.9), (cy - dy * 0.37, cx - dx * 0.37)
                canvas.arrow(start, end, TRAIL, width=0.13, head=0.28, outline=OUTLINE)

    def draw_hud(self, canvas: Canvas, world: ForageWorld, i: int) -> None:
        canvas.hud_line(0, [(f"step {int(world.t[i])} / {world.max_cycles}", TEXT)])
        alive, owner = world.alive[i], world.owner[i]
        m = world.metrics
        for p in range(world.num_players):
            canvas.hud_line(
                1 + p,
                [
                    (f"{world.pool.owners[p]}   ", HUD_TEAM_COLORS[p]),
                    (
                        f"alive {int((alive & (owner == p)).sum())}   "
                        f"births {int(m['births'][i, p])}   deaths {int(m['deaths'][i, p])}   "
                        f"food eaten {m['food_eaten'][i, p]:.0f}",
                        TEXT,
                    ),
                ],
            )
