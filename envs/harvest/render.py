"""Drawing harvest: the only module of the env that touches pygame (through ``Canvas``).

One picture feeds both render modes, the recorders, replays and the viewer. Tiles are sand shaded
darker brown by rubble; ice tiles are light blue and ore tiles amber (both dimmed a little by the
rubble on them). Factories are 3 x 3 blocks in their player's colour with the water left written
on top and three gauges below: water (full at the starting water; yellow when a quarter or less
is left), ice waiting to be refined and power (both on the scales of the observation planes).
Robots are circles in the player's colour, heavies larger than lights, with a battery bar above
and a cargo bar below (ice blue, ore amber). The HUD says the step, day or night, and per player
the live robots, live factories and the ice transferred into factories so far.

Overlays (``envs.core.rendering``): ``ids`` labels every agent (``F0``, ``L3``, ``H12``: kind
initial and serial); ``actions`` shows what each agent did in the last step: a white arrow from
where a robot came from, an ice-blue arrow toward a transfer's target, a badge for a dig (amber
chevron), a power pickup (green bolt) or a build (``+L`` / ``+H``), the attempted action in red
when it was masked, and a red cross where an agent died; ``mask`` tints the tiles the selected
agent's actions target: red where none of them is legal, green where some are (the greener, the
larger the legal share), and lists its legal actions in an extra HUD line.
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
    BUILD_HEAVY,
    BUILD_LIGHT,
    DIG,
    DIRS,
    FACTORY,
    FACTORY_POWER_SCALE,
    FACTORY_SCALE,
    HEAVY,
    IDLE,
    LIGHT,
    MOVE_N,
    MOVE_W,
    NUM_ACTIONS,
    PICKUP,
    TRANSFER_C,
    TRANSFER_N,
    TRANSFER_W,
    HarvestWorld,
)

#: factory colour of each player: a deeper shade of the team colour, so robots on it stand out
FACTORY_COLORS: tuple[Color, ...] = ((30, 68, 160), (150, 34, 34))

SAND: Color = (226, 212, 184)
"""A tile without rubble."""
RUBBLE: Color = (104, 74, 48)
"""A tile with the most rubble (``cfg.max_rubble``); in between is linear."""
ICE: Color = (150, 222, 246)
ORE: Color = (240, 160, 48)
GRID_LINE: Color = (199, 187, 162)
"""Lines between tiles: a shade darker than sand."""
WATER: Color = (70, 150, 255)
WATER_LOW: Color = (255, 214, 64)
BATTERY: Color = (120, 230, 90)
"""Power, of robots and factories."""
DAY: Color = (255, 210, 80)
NIGHT: Color = (150, 160, 220)
TRANSFER: Color = (40, 200, 235)
"""Arrow or badge of a cargo transfer."""

#: circle radius of each robot kind, fraction of a cell
ROBOT_RADIUS = {LIGHT: 0.27, HEAVY: 0.39}
#: label initial of each kind for the ``ids`` overlay
KIND_INITIAL = {FACTORY: "F", LIGHT: "L", HEAVY: "H"}

#: target of each action as an index into ``DIRS`` (0 = the agent's own tile, 1-4 = N E S W)
ACTION_TARGET = np.zeros(NUM_ACTIONS, dtype=np.int64)
ACTION_TARGET[MOVE_N : MOVE_W + 1] = np.arange(1, 5)
ACTION_TARGET[TRANSFER_C : TRANSFER_W + 1] = np.arange(0, 5)
#: actions each kind can ever take (the mask heat is the legal share of these), ``[3, A]`` bool
KIND_ACTIONS = np.zeros((3, NUM_ACTIONS), dtype=bool)
KIND_ACTIONS[FACTORY, [IDLE, BUILD_LIGHT, BUILD_HEAVY]] = True
KIND_ACTIONS[LIGHT, : PICKUP + 1] = True
KIND_ACTIONS[HEAVY, : PICKUP + 1] = True

_DIR_LETTERS = "CNESW"


def _lerp(a: Color, b: Color, t: np.ndarray) -> np.ndarray:
    """Colours ``a + t (b - a)`` for an array ``t`` in ``[0, 1]``: shape ``t.shape + (3,)``."""
    a_, b_ = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a_ + np.asarray(t, np.float64)[..., None] * (b_ - a_)


def tile_colors(world: HarvestWorld, index: int = 0) -> np.ndarray:
    """The ground colour of every tile of world ``index``.

    Args:
        world: the harvest world.
        index: which of its ``num_envs`` worlds.

    Returns:
        ``[H, W, 3]`` uint8: sand to brown by rubble; ice and ore tiles in their colour,
        darkened by up to 45% of the way to brown by their rubble.
    """
    h, w = world.map_shape
    rub = np.clip(world.rubble[index] / world.cfg.max_rubble, 0.0, 1.0)
    out = _lerp(SAND, RUBBLE, rub)
    for mask, color in ((world.ore[index], ORE), (world.ice[index], ICE)):
        out[mask] = _lerp(color, RUBBLE, 0.45 * rub[mask])
    return np.round(out).astype(np.uint8).reshape(h, w, 3)


def mask_heat(world: HarvestWorld, index: int, slot: int, mask: np.ndarray) -> np.ndarray:
    """Share of legal actions on each tile an agent's actions target.

    Args:
        world: the harvest world. index: which world. slot: the agent's slot (alive).
        mask: ``[A]`` bool, its action mask.

    Returns:
        ``[H, W]`` float64: on each targeted tile the legal share (in ``[0, 1]``) of the actions
        aimed at it (a factory's actions aim at its 9 tiles); ``nan`` on every other tile.
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
    if kind == FACTORY:
        heat[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = share[0]
        return heat
    ty, tx = y + DIRS[:, 0], x + DIRS[:, 1]
    aimed = np.bincount(target, minlength=5) > 0
    on_map = aimed & (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
    heat[ty[on_map], tx[on_map]] = share[on_map]
    return heat


def legal_summary(mask: np.ndarray) -> str:
    """A short text of an ``[A]`` bool action mask, e.g. ``idle, move N/E, dig, transfer C``."""
    parts = []
    for first, last, word in ((MOVE_N, MOVE_W, "move"), (TRANSFER_C, TRANSFER_W, "transfer")):
        dirs = [_DIR_LETTERS[ACTION_TARGET[a]] for a in range(first, last + 1) if mask[a]]
        if dirs:
            parts.append((first, f"{word} {'/'.join(dirs)}"))
    names = {PICKUP: "pickup", BUILD_LIGHT: "build light", BUILD_HEAVY: "build heavy"}
    for a in (IDLE, DIG, PICKUP, BUILD_LIGHT, BUILD_HEAVY):
        if mask[a]:
            parts.append((a, names.get(a, ACTION_NAMES[a])))
    return ", ".join(text for _, text in sorted(parts))


class HarvestRenderer(CanvasRenderer):
    """Draws world 0 of a ``HarvestEnv`` (or any world of a ``HarvestWorld``) with a ``Canvas``.

    The canvas is built on the first draw, when the map size is known (and rebuilt when the map,
    ``window_size`` or the HUD lines change); until then nothing of pygame is imported. It
    implements ``envs.core.rendering.Renderer``.

    Args:
        fps: frames per second in ``"human"`` mode.
        window_size: pixels of the map area: ``int`` (square) or ``(width, height)``; the HUD
            strip comes on top. Tiles are the largest squares that fit.
        overlays: names from ``overlay_names`` (or ``"ids,actions"``); see the module docstring.
        selected: name of the agent to highlight (and whose action mask ``mask`` shows).

    Attributes:
        canvas: the ``Canvas`` (``None`` before the first render); its ``cell_size``,
            ``origin``, ``cell_center`` and ``cell_at`` map tiles to pixels and back.
        overlay_names: the overlays this renderer offers (all of ``OVERLAYS``).

    Raises:
        ValueError: an unknown overlay.
    """

    overlay_names: tuple[str, ...] = OVERLAYS
    title = "spawnzoo harvest-v0"
    reset_hint = "the harvest map is generated there"
    summarize_mask = staticmethod(legal_summary)
    tile_colors = staticmethod(tile_colors)
    mask_heat = staticmethod(mask_heat)
    grid_line = GRID_LINE

    # ------------------------------------------------------------ the frame's layers
    def draw_board(self, canvas: Canvas, world: HarvestWorld, index: int) -> None:
        """The factories (under overlays and robots)."""
        alive, kind = world.alive[index], world.kind[index]
        for slot in np.flatnonzero(alive & (kind == FACTORY)).tolist():
            self._draw_factory(canvas, world, index, slot)

    def draw_actions_under(
        self, canvas: Canvas, world: HarvestWorld, index: int, batch: BatchStep, actions
    ) -> None:
        """Trails of the robots that moved and crosses where robots died."""
        self._draw_moves(canvas, world, index, *self._acted(world, index, batch, actions))
        self._draw_deaths(canvas, world, index, batch)

    def draw_agents(self, canvas: Canvas, world: HarvestWorld, index: int) -> None:
        """The robots (the factories are the board's)."""
        alive, kind = world.alive[index], world.kind[index]
        for slot in np.flatnonzero(alive & (kind > FACTORY)).tolist():
            self._draw_robot(canvas, world, index, slot)

    def draw_actions_over(
        self, canvas: Canvas, world: HarvestWorld, index: int, batch: BatchStep, actions
    ) -> None:
        """The badge of each acting agent's action."""
        if actions is not None:
            self._draw_action_icons(
                canvas, world, index, *self._acted(world, index, batch, actions)
            )

    # ------------------------------------------------------------ inspection
    def agent_at(self, world: HarvestWorld, index: int, cell: tuple[int, int]) -> str | None:
        """The agent on tile ``cell = (y, x)``: the robot there, else the factory; or ``None``."""
        h, w = world.map_shape
        y, x = cell
        if not (0 <= y < h and 0 <= x < w):
            return None
        flat = y * w + x
        slot = int(world.robot_map[index, flat])
        if slot < 0:
            slot = int(world.factory_map[index, flat])
        if slot < 0 or not world.alive[index, slot]:
            return None
        return self._name(world, index, slot)

    def describe(self, world: HarvestWorld, index: int, agent: str) -> list[tuple[str, str]]:
        """``(field, value)`` rows of a live agent's state (``[]`` if it is not alive)."""
        slot = self.slot_of(world, index, agent)
        if slot is None:
            return []
        w = world.map_shape[1]
        kind = int(world.kind[index, slot])
        y, x = divmod(int(world.cell[index, slot]), w)
        rows = [
            ("agent", agent),
            ("kind", world.kind_names[kind]),
            ("owner", world.pool.owners[int(world.owner[index, slot])]),
            ("cell (x, y)", f"({x}, {y})"),
        ]
        power, ice, ore = (
            int(a[index, slot]) for a in (world.power, world.cargo_ice, world.cargo_ore)
        )
        if kind == FACTORY:
            rows += [
                ("water", str(int(world.water[index, slot]))),
                ("metal", str(int(world.metal[index, slot]))),
                ("ice", str(ice)),
                ("ore", str(ore)),
                ("power", str(power)),
            ]
        else:
            robot = world.cfg.heavy if kind == HEAVY else world.cfg.light
            rows += [
                ("power", f"{power} / {robot.battery_capacity}"),
                ("ice", f"{ice} / {robot.cargo_space}"),
                ("ore", f"{ore} / {robot.cargo_space}"),
            ]
        return rows

    # ------------------------------------------------------------- helpers
    def _draw_factory(self, canvas: Canvas, world: HarvestWorld, i: int, slot: int) -> None:
        n = world.map_shape[1]
        cy, cx = divmod(int(world.cell[i, slot]), n)
        owner = int(world.owner[i, slot])
        canvas.rect(
            cy - 1,
            cx - 1,
            FACTORY_COLORS[owner],
            inset=0.06,
            span=(3, 3),
            radius=0.3,
            outline=OUTLINE,
            outline_width=0.05,
        )
        water = int(world.water[i, slot])
        frac = min(water / max(world.cfg.init_water, 1), 1.0)
        gauges = (
            (frac, WATER if frac > 0.25 else WATER_LOW),
            (world.cargo_ice[i, slot] / FACTORY_SCALE, ICE),
            (world.power[i, slot] / FACTORY_POWER_SCALE, BATTERY),
        )
        for row, (value, color) in enumerate(gauges):
            canvas.bar(
                cy + 1,
                cx - 1,
                value,
                color,
                top=0.12 + 0.24 * row,
                height=0.17,
                inset=0.3,
                span=3,
            )
        if canvas.cell_size >= 10:
            px, py = canvas.cell_center(cy - 1, cx)
            size = max(12, round(canvas.cell_size * 0.9))
            canvas.text(str(water), (px, py), size=size, color=TEXT, anchor="center")

    def _draw_robot(self, canvas: Canvas, world: HarvestWorld, i: int, slot: int) -> None:
        n = world.map_shape[1]
        y, x = divmod(int(world.cell[i, slot]), n)
        owner, kind = int(world.owner[i, slot]), int(world.kind[i, slot])
        robot = world.cfg.heavy if kind == HEAVY else world.cfg.light
        canvas.circle(
            y,
            x,
            TEAM_COLORS[owner],
            radius=ROBOT_RADIUS[kind],
            outline=OUTLINE,
            outline_width=0.07 if kind == HEAVY else 0.05,
        )
        if canvas.cell_size < 8:
            return
        canvas.bar(y, x, world.power[i, slot] / robot.battery_capacity, BATTERY, top=0.02)
        cargo = robot.cargo_space
        canvas.bar(
            y,
            x,
            (world.cargo_ice[i, slot] / cargo, world.cargo_ore[i, slot] / cargo),
            (ICE, ORE),
            top=0.86,
        )

    def _draw_moves(
        self,
        canvas: Canvas,
        world: HarvestWorld,
        i: int,
        slots: np.ndarray,
        actions: np.ndarray,
        illegal: np.ndarray,
    ) -> None:
        """White arrows from the tile each robot that moved came from (drawn under robots)."""
        n = world.map_shape[1]
        moved = (actions >= MOVE_N) & (actions <= MOVE_W) & ~illegal
        y, x = np.divmod(world.cell[i, slots[moved]], n)
        d = DIRS[actions[moved]]
        gap = np.where(
            world.kind[i, slots[moved]] == HEAVY, ROBOT_RADIUS[HEAVY], ROBOT_RADIUS[LIGHT]
        )
        for yy, xx, (dy, dx), r in zip(y.tolist(), x.tolist(), d.tolist(), gap.tolist()):
            cy, cx = yy + 0.5, xx + 0.5
            canvas.arrow(
                (cy - dy * 0.9, cx - dx * 0.9),
                (cy - dy * (r + 0.03), cx - dx * (r + 0.03)),
                TRAIL,
                width=0.13,
                head=0.28,
                outline=OUTLINE,
            )

    def _draw_action_icons(
        self,
        canvas: Canvas,
        world: HarvestWorld,
        i: int,
        slots: np.ndarray,
        actions: np.ndarray,
        illegal: np.ndarray,
    ) -> None:
        """Transfer arrows and badges for digs, pickups and builds; masked attempts in red."""
        n = world.map_shape[1]
        y, x = np.divmod(world.cell[i, slots], n)
        for yy, xx, a, bad in zip(y.tolist(), x.tolist(), actions.tolist(), illegal.tolist()):
            cy, cx = yy + 0.5, xx + 0.5
            if MOVE_N <= a <= MOVE_W and bad:
                dy, dx = DIRS[a]
                canvas.arrow(
                    (cy, cx), (cy + dy * 0.75, cx + dx * 0.75), ILLEGAL, width=0.1, outline=OUTLINE
                )
            elif TRANSFER_N <= a <= TRANSFER_W:
                dy, dx = DIRS[a - TRANSFER_C]
                canvas.arrow(
                    (cy + dy * 0.25, cx + dx * 0.25),
                    (cy + dy * 1.1, cx + dx * 1.1),
                    ILLEGAL if bad else TRANSFER,
                    width=0.18,
                    head=0.4,
                    outline=OUTLINE,
                )
            elif a in (DIG, TRANSFER_C, PICKUP):
                self._badge(canvas, yy, xx, a, ILLEGAL if bad else None)
            elif a in (BUILD_LIGHT, BUILD_HEAVY):
                text = "+L" if a == BUILD_LIGHT else "+H"
                canvas.label(
                    yy - 0.5,
                    xx + 1.5,
                    text,
                    size=0.5,
                    color=ILLEGAL if bad else SELECTED,
                    anchor="topright",
                )

    @staticmethod
    def _badge(canvas: Canvas, y: int, x: int, action: int, color: Color | None) -> None:
        """A dark disc in the top-right corner of tile ``(y, x)`` with the action's glyph: an
        amber chevron (dig), a blue diamond (transfer here), a green bolt (power pickup)."""
        by, bx = y + 0.27, x + 0.79  # the badge's centre, cell units
        canvas.circle(y, x, OUTLINE, radius=0.2, offset=(by - y - 0.5, bx - x - 0.5))
        if action == DIG:
            pts = [(by - 0.09, bx - 0.12), (by - 0.09, bx + 0.12), (by + 0.11, bx)]
            canvas.polygon(pts, color or ORE)
        elif action == TRANSFER_C:
            pts = [(by - 0.12, bx), (by, bx + 0.12), (by + 0.12, bx), (by, bx - 0.12)]
            canvas.polygon(pts, color or TRANSFER)
        else:
            pts = [
                (by - 0.15, bx + 0.05),
                (by + 0.02, bx - 0.09),
                (by + 0.0, bx + 0.01),
                (by + 0.15, bx - 0.05),
                (by - 0.02, bx + 0.09),
                (by + 0.0, bx - 0.01),
            ]
            canvas.polygon(pts, color or BATTERY)

    def _cross(self, kind: int) -> tuple[float, float]:
        """A factory's death cross spans its 3 x 3 footprint."""
        return (1.2, 0.3) if kind == FACTORY else (0.42, 0.14)

    def draw_selection(self, canvas: Canvas, world: HarvestWorld, i: int, slot: int) -> None:
        n = world.map_shape[1]
        y, x = divmod(int(world.cell[i, slot]), n)
        if world.kind[i, slot] == FACTORY:
            canvas.rect(y - 1, x - 1, None, inset=0.0, span=(3, 3), radius=0.3, outline=SELECTED)
        else:
            canvas.rect(y, x, None, inset=0.0, radius=0.5, outline=SELECTED, outline_width=0.08)

    def draw_ids(self, canvas: Canvas, world: HarvestWorld, i: int) -> None:
        """Kind initial and serial of every live agent (team by colour)."""
        if canvas.cell_size < 10:
            return
        n = world.map_shape[1]
        slots = np.flatnonzero(world.alive[i])
        y, x = np.divmod(world.cell[i, slots], n)
        kind, owner = world.kind[i, slots].tolist(), world.owner[i, slots].tolist()
        serial = world.serial[i, slots].tolist()
        for yy, xx, k, o, s in zip(y.tolist(), x.tolist(), kind, owner, serial):
            text = f"{KIND_INITIAL[k]}{s}"
            if k == FACTORY:
                canvas.label(
                    yy - 0.9,
                    xx - 0.92,
                    text,
                    size=0.6,
                    color=HUD_TEAM_COLORS[o],
                    background=None,
                    anchor="topleft",
                )
            else:
                canvas.label(yy + 0.5, xx + 0.5, text, size=0.45, color=TEXT, background=None)

    def draw_hud(self, canvas: Canvas, world: HarvestWorld, i: int) -> None:
        cfg = world.cfg
        t = int(world.t[i])
        phase = t % cfg.cycle_length
        is_day = phase < cfg.day_length
        canvas.hud_line(
            0,
            [
                (f"step {t} / {world.max_cycles}   ", TEXT),
                ("day" if is_day else "night", DAY if is_day else NIGHT),
                (
                    f" ({cfg.day_length - phase} to night)"
                    if is_day
                    else f" ({cfg.cycle_length - phase} to day)",
                    TEXT,
                ),
            ],
        )
        alive, kind, owner = world.alive[i], world.kind[i], world.owner[i]
        ice = world.metrics["ice_transferred"][i]
        for p in range(world.num_players):
            mine = alive & (owner == p)
            lights = int((mine & (kind == LIGHT)).sum())
            heavies = int((mine & (kind == HEAVY)).sum())
            facs = int((mine & (kind == FACTORY)).sum())
            canvas.hud_line(
                1 + p,
                [
                    (f"{world.pool.owners[p]}   ", HUD_TEAM_COLORS[p]),
                    (
                        f"robots {lights + heavies} ({lights} light, {heavies} heavy)   "
                        f"factories {facs}   ice transferred {int(ice[p])}",
                        TEXT,
                    ),
                ],
            )
