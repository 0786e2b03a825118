"""Drawing skirmish: the only module of the env that touches pygame (through ``Canvas``).

One picture feeds both render modes, the recorders, replays and the viewer. Open ground is pale
green, rock dark grey. Capture zones are tinted gold while nobody holds them and in the holder's
colour once held, with a flag on the centre cell. Bases are rounded squares in a deeper shade of
their team's colour (player_0 blue, player_1 red); melee units are circles and ranged units
diamonds in the team colour. Every base and unit has a hit-point bar (green, yellow below half,
red below a quarter). The HUD says the step and, per team, resources, points, bases, units and
capture points held.

Overlays (``envs.core.rendering``): ``ids`` labels every agent (``B0``, ``M3``, ``R12``: kind
initial and serial); ``actions`` shows what each agent did in the last step: a white arrow from
where a unit came from, a short grey arrow where its move bounced, an orange arrow in the
direction of an attack, ``+M`` / ``+R`` over a base that built, the attempted action in red when
it was masked, and a red cross where an agent died; ``mask`` tints the cells the selected
agent's actions target (a unit's four neighbours: move or attack that way; a base's own cell:
build): red where none is legal, green where some are (the greener, the larger the legal share),
and lists its legal actions in an extra HUD line.
"""

from __future__ import annotations

import numpy as np

from ..core.batched import BatchStep
from ..core.canvas import Canvas, Color
from ..core.rendering import (
    HUD_TEAM_COLORS,
    ILLEGAL,
    OUTLINE,
    OVERLAYS,
    SELECTED,
    TEAM_COLORS,
    TEXT,
    TRAIL,
    CanvasRenderer,
)
from .world import (
    ACTION_NAMES,
    ATTACK_N,
    ATTACK_W,
    BASE,
    BUILD_MELEE,
    BUILD_RANGED,
    DIRS,
    IDLE,
    MELEE,
    MOVE_N,
    MOVE_W,
    NUM_ACTIONS,
    RANGED,
    SkirmishWorld,
)

#: base colour of each team: a deeper shade of the team colour
BASE_COLORS: tuple[Color, ...] = ((30, 68, 160), (150, 34, 34))

GROUND: Color = (196, 214, 170)
ROCK: Color = (92, 94, 100)
GRID_LINE: Color = (176, 194, 152)
ZONE: Color = (240, 200, 70)
"""Tint of a capture zone nobody holds (and of its flag)."""
HP_HIGH: Color = (90, 220, 90)
HP_MID: Color = (240, 210, 60)
HP_LOW: Color = (240, 70, 50)
BOUNCE: Color = (160, 160, 160)
"""Short arrow of a move that bounced (the unit stayed)."""
ATTACK: Color = (255, 150, 30)

KIND_INITIAL = {BASE: "B", MELEE: "M", RANGED: "R"}
#: target of each action as an index into ``DIRS`` (0 = the agent's own cell, 1-4 = N E S W)
ACTION_TARGET = np.zeros(NUM_ACTIONS, dtype=np.int64)
ACTION_TARGET[MOVE_N : MOVE_W + 1] = np.arange(1, 5)
ACTION_TARGET[ATTACK_N : ATTACK_W + 1] = np.arange(1, 5)
#: actions each kind can ever take (the mask heat is the legal share of these), ``[3, A]`` bool
KIND_ACTIONS = np.zeros((3, NUM_ACTIONS), dtype=bool)
KIND_ACTIONS[BASE, [IDLE, BUILD_MELEE, BUILD_RANGED]] = True
KIND_ACTIONS[MELEE, : ATTACK_W + 1] = True
KIND_ACTIONS[RANGED, : ATTACK_W + 1] = True

_DIR_LETTERS = "CNESW"


def tile_colors(world: SkirmishWorld, index: int = 0) -> np.ndarray:
    """The ground colour of every cell of world ``index``.

    Returns:
        ``[H, W, 3]`` uint8: ground, rock, and capture zones blended 35% towards gold (nobody
        holds them) or the holder's team colour.
    """
    h, w = world.map_shape
    out = np.empty((h * w, 3), dtype=np.float64)
    out[:] = GROUND
    out[world.rock[index]] = ROCK
    zone = world.zone[index]
    inz = zone >= 0
    if inz.any():
        holder = world.holder[index, zone[inz]]
        tint = np.array([ZONE, *TEAM_COLORS], dtype=np.float64)[holder + 1]
        out[inz] = 0.65 * out[inz] + 0.35 * tint
    return np.round(out).astype(np.uint8).reshape(h, w, 3)


def mask_heat(world: SkirmishWorld, index: int, slot: int, mask: np.ndarray) -> np.ndarray:
    """Share of legal actions on each cell an agent's actions target.

    Args:
        world: the skirmish world. index: which world. slot: the agent's slot (alive).
        mask: ``[A]`` bool, its action mask.

    Returns:
        ``[H, W]`` float64: on each targeted cell the legal share (in ``[0, 1]``) of the actions
        aimed at it; ``nan`` elsewhere. A unit's moves and attacks aim at its four neighbours
        (idle at its own cell); a base's actions all aim at its own cell.
    """
    h, w = world.map_shape
    kind = int(world.kind[index, slot])
    y, x = divmod(int(world.cell[index, slot]), w)
    can = KIND_ACTIONS[kind]
    target = ACTION_TARGET[can]
    share = np.bincount(target, weights=mask[can], minlength=5) / np.maximum(
        np.bincount(target, minlength=5), 1
    )
    heat = np.full((h, w), np.nan)
    ty, tx = y + DIRS[:, 0], x + DIRS[:, 1]
    aimed = np.bincount(target, minlength=5) > 0
    on_map = aimed & (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
    heat[ty[on_map], tx[on_map]] = share[on_map]
    return heat


def legal_summary(mask: np.ndarray) -> str:
    """A short text of an ``[A]`` bool action mask, e.g. ``idle, move N/E, attack S``."""
    parts = ["idle"] if mask[IDLE] else []
    for first, word in ((MOVE_N, "move"), (ATTACK_N, "attack")):
        dirs = [_DIR_LETTERS[d] for d in range(1, 5) if mask[first + d - 1]]
        if dirs:
            parts.append(f"{word} {'/'.join(dirs)}")
    parts += [ACTION_NAMES[a].replace("_", " ") for a in (BUILD_MELEE, BUILD_RANGED) if mask[a]]
    return ", ".join(parts)


def _hp_color(frac: float) -> Color:
    return HP_HIGH if frac > 0.5 else HP_MID if frac > 0.25 else HP_LOW


class SkirmishRenderer(CanvasRenderer):
    """Draws world 0 of a ``SkirmishEnv`` (or any world of a ``SkirmishWorld``) with a ``Canvas``.

    The canvas is built on the first draw, when the map size is known (and rebuilt when the map,
    ``window_size`` or the HUD lines change); until then nothing of pygame is imported. It
    implements ``envs.core.rendering.Renderer``.

    Args:
        fps: frames per second in ``"human"`` mode.
        window_size: pixels of the map area: ``int`` (square) or ``(width, height)``.
        overlays: names from ``overlay_names`` (or ``"ids,actions"``); see the module docstring.
        selected: name of the agent to highlight (and whose action mask ``mask`` shows).

    Attributes:
        canvas: the ``Canvas`` (``None`` before the first render).
        overlay_names: the overlays this renderer offers (all of ``OVERLAYS``).

    Raises:
        ValueError: an unknown overlay.
    """

    overlay_names: tuple[str, ...] = OVERLAYS
    title = "spawnzoo skirmish-v0"
    reset_hint = "the skirmish map is generated there"
    summarize_mask = staticmethod(legal_summary)
    tile_colors = staticmethod(tile_colors)
    mask_heat = staticmethod(mask_heat)
    grid_line = GRID_LINE

    # ------------------------------------------------------------ the frame's layers
    def draw_board(self, canvas: Canvas, world: SkirmishWorld, index: int) -> None:
        """The capture points' flags."""
        self._draw_flags(canvas, world, index)

    def draw_actions_under(
        self, canvas: Canvas, world: SkirmishWorld, index: int, batch: BatchStep, actions
    ) -> None:
        """Trails of the units that moved."""
        self._draw_moves(canvas, world, index, *self._acted(world, index, batch, actions))

    def draw_agents(self, canvas: Canvas, world: SkirmishWorld, index: int) -> None:
        """Bases and units."""
        for slot in np.flatnonzero(world.alive[index]).tolist():
            self._draw_entity(canvas, world, index, slot)

    def draw_actions_over(
        self, canvas: Canvas, world: SkirmishWorld, index: int, batch: BatchStep, actions
    ) -> None:
        """Attack and build badges, then crosses where units died."""
        if actions is not None:
            self._draw_action_icons(
                canvas, world, index, *self._acted(world, index, batch, actions)
            )
            self._draw_deaths(canvas, world, index, batch)

    def draw_selection(self, canvas: Canvas, world: SkirmishWorld, index: int, slot: int) -> None:
        """A rounded square around the selected agent."""
        y, x = divmod(int(world.cell[index, slot]), world.map_shape[1])
        canvas.rect(y, x, None, inset=0.0, radius=0.3, outline=SELECTED, outline_width=0.08)

    # ------------------------------------------------------------ inspection
    def agent_at(self, world: SkirmishWorld, index: int, cell: tuple[int, int]) -> str | None:
        """The agent on cell ``cell = (y, x)``, or ``None``."""
        h, w = world.map_shape
        y, x = cell
        if not (0 <= y < h and 0 <= x < w):
            return None
        slot = int(world.occupant[index, y * w + x])
        if slot < 0 or not world.alive[index, slot]:
            return None
        return self._name(world, index, slot)

    def describe(self, world: SkirmishWorld, index: int, agent: str) -> list[tuple[str, str]]:
        """``(field, value)`` rows of a live agent's state (``[]`` if it is not alive)."""
        slot = self.slot_of(world, index, agent)
        if slot is None:
            return []
        w = world.map_shape[1]
        kind, owner = int(world.kind[index, slot]), int(world.owner[index, slot])
        y, x = divmod(int(world.cell[index, slot]), w)
        rows = [
            ("agent", agent),
            ("kind", world.kind_names[kind]),
            ("owner", world.pool.owners[owner]),
            ("cell (x, y)", f"({x}, {y})"),
            ("hp", f"{int(world.hp[index, slot])} / {int(world.max_hp[kind])}"),
        ]
        if kind == BASE:
            rows.append(("team resources", str(int(world.resources[index, owner]))))
        else:
            rows.append(("damage / range", f"{world.damage[kind]} / {world.attack_range[kind]}"))
        return rows

    # ------------------------------------------------------------- helpers
    def _draw_flags(self, canvas: Canvas, world: SkirmishWorld, i: int) -> None:
        """A pennant on each capture point's centre cell, in the holder's colour (gold: none)."""
        n = world.map_shape[1]
        for c, holder in zip(world.capture_cell[i].tolist(), world.holder[i].tolist()):
            y, x = divmod(c, n)
            color = ZONE if holder < 0 else TEAM_COLORS[holder]
            canvas.segment((y + 0.15, x + 0.3), (y + 0.85, x + 0.3), OUTLINE, width=0.07)
            canvas.polygon(
                [(y + 0.15, x + 0.33), (y + 0.33, x + 0.8), (y + 0.5, x + 0.33)],
                color,
                outline=OUTLINE,
            )

    def _draw_entity(self, canvas: Canvas, world: SkirmishWorld, i: int, slot: int) -> None:
        n = world.map_shape[1]
        y, x = divmod(int(world.cell[i, slot]), n)
        owner, kind = int(world.owner[i, slot]), int(world.kind[i, slot])
        if kind == BASE:
            canvas.rect(y, x, BASE_COLORS[owner], inset=0.06, radius=0.2, outline=OUTLINE)
            canvas.rect(y, x, TEAM_COLORS[owner], inset=0.3, radius=0.1)
        elif kind == MELEE:
            canvas.circle(y, x, TEAM_COLORS[owner], radius=0.32, outline=OUTLINE)
        else:
            d = 0.36
            pts = [(y + 0.5 - d, x + 0.5), (y + 0.5, x + 0.5 + d), (y + 0.5 + d, x + 0.5)]
            canvas.polygon([*pts, (y + 0.5, x + 0.5 - d)], TEAM_COLORS[owner], outline=OUTLINE)
        if canvas.cell_size >= 8:
            frac = float(world.hp[i, slot] / world.max_hp[kind])
            canvas.bar(y, x, frac, _hp_color(frac), top=0.02, height=0.12)

    def _draw_moves(self, canvas, world: SkirmishWorld, i: int, slots, actions, illegal) -> None:
        """White arrows from the cell each unit that moved came from (drawn under units), and a
        short grey arrow towards the cell a bounced move aimed at."""
        n = world.map_shape[1]
        tried = (actions >= MOVE_N) & (actions <= MOVE_W) & ~illegal
        moved = world.moved[i, slots]
        y, x = np.divmod(world.cell[i, slots], n)
        for yy, xx, a, ok in zip(
            y[tried].tolist(), x[tried].tolist(), actions[tried].tolist(), moved[tried].tolist()
        ):
            dy, dx = DIRS[a]
            cy, cx = yy + 0.5, xx + 0.5
            if ok:
                start, end, color = (
                    (cy - dy * 0.9, cx - dx * 0.9),
                    (cy - dy * 0.35, cx - dx * 0.35),
                    TRAIL,
                )
            else:
                start, end, color = (
                    (cy + dy * 0.3, cx + dx * 0.3),
                    (cy + dy * 0.7, cx + dx * 0.7),
                    BOUNCE,
                )
            canvas.arrow(start, end, color, width=0.13, head=0.28, outline=OUTLINE)

    def _draw_action_icons(
        self, canvas, world: SkirmishWorld, i: int, slots, actions, illegal
    ) -> None:
        """Attack arrows, build labels, masked attempts in red."""
        n = world.map_shape[1]
        y, x = np.divmod(world.cell[i, slots], n)
        for yy, xx, a, bad in zip(y.tolist(), x.tolist(), actions.tolist(), illegal.tolist()):
            cy, cx = yy + 0.5, xx + 0.5
            if (MOVE_N <= a <= MOVE_W and bad) or ATTACK_N <= a <= ATTACK_W:
                dy, dx = DIRS[ACTION_TARGET[a]]
                canvas.arrow(
                    (cy + dy * 0.25, cx + dx * 0.25),
                    (cy + dy * 0.95, cx + dx * 0.95),
                    ILLEGAL if bad else ATTACK,
                    width=0.14,
                    head=0.32,
                    outline=OUTLINE,
                )
            elif a in (BUILD_MELEE, BUILD_RANGED):
                canvas.label(
                    yy - 0.1,
                    xx + 1.0,
                    "+M" if a == BUILD_MELEE else "+R",
                    size=0.45,
                    color=ILLEGAL if bad else SELECTED,
                    anchor="topright",
                )

    def draw_ids(self, canvas: Canvas, world: SkirmishWorld, i: int) -> None:
        """Kind initial and serial of every live agent (team by colour)."""
        if canvas.cell_size < 10:
            return
        n = world.map_shape[1]
        slots = np.flatnonzero(world.alive[i])
        y, x = np.divmod(world.cell[i, slots], n)
        kind, serial = world.kind[i, slots].tolist(), world.serial[i, slots].tolist()
        for yy, xx, k, s in zip(y.tolist(), x.tolist(), kind, serial):
            canvas.label(
                yy + 0.55, xx + 0.5, f"{KIND_INITIAL[k]}{s}", size=0.4, color=TEXT, background=None
            )

    def draw_hud(self, canvas: Canvas, world: SkirmishWorld, i: int) -> None:
        canvas.hud_line(0, [(f"step {int(world.t[i])} / {world.max_cycles}", TEXT)])
        alive, kind, owner = world.alive[i], world.kind[i], world.owner[i]
        for p in range(2):
            mine = alive & (owner == p)
            melee, ranged = (
                int((mine & (kind == MELEE)).sum()),
                int((mine & (kind == RANGED)).sum()),
            )
            canvas.hud_line(
                1 + p,
                [
                    (f"{world.pool.owners[p]}   ", HUD_TEAM_COLORS[p]),
                    (
                        f"points {int(world.points[i, p])}   "
                        f"resources {int(world.resources[i, p])}   "
                        f"bases {int((mine & (kind == BASE)).sum())}   "
                        f"units {melee + ranged} ({melee} melee, {ranged} ranged)   "
                        f"held {int((world.holder[i] == p).sum())}/{world.num_capture}",
                        TEXT,
                    ),
                ],
            )
