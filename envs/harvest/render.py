"""Drawing harvest: the only module of the env that touches pygame (through ``Canvas``).

One picture feeds both render modes. Tiles are sand shaded darker brown by rubble; ice tiles are
light blue and ore tiles amber (both dimmed a little by the rubble on them). Factories are 3 x 3
blocks in their player's colour with the water left written on top and a water gauge below
(full at the starting water; it turns yellow when a quarter or less is left). Robots are circles
in the player's colour, heavies larger than lights, with a battery bar above and a cargo bar
below (ice blue, ore amber). The HUD says the step, day or night, and per player the live robots,
live factories and the ice transferred into factories so far.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.canvas import Canvas, Color
from .world import FACTORY, HEAVY, LIGHT, HarvestWorld

#: robot colour of each player (player_0 blue, player_1 red)
TEAM_COLORS: tuple[Color, ...] = ((58, 120, 240), (228, 64, 56))
#: factory colour of each player: a deeper shade of the team colour, so robots on it stand out
FACTORY_COLORS: tuple[Color, ...] = ((30, 68, 160), (150, 34, 34))
#: HUD text of each player: a lighter tint that reads well on the dark strip
HUD_TEAM_COLORS: tuple[Color, ...] = ((130, 175, 255), (255, 135, 125))

SAND: Color = (226, 212, 184)
"""A tile without rubble."""
RUBBLE: Color = (104, 74, 48)
"""A tile with the most rubble (``cfg.max_rubble``); in between is linear."""
ICE: Color = (150, 222, 246)
ORE: Color = (240, 160, 48)
GRID_LINE: Color = (199, 187, 162)
"""Lines between tiles: a shade darker than sand."""
OUTLINE: Color = (20, 22, 28)
WATER: Color = (110, 205, 255)
WATER_LOW: Color = (255, 214, 64)
BATTERY: Color = (120, 230, 90)
TEXT: Color = (235, 235, 235)
DAY: Color = (255, 210, 80)
NIGHT: Color = (150, 160, 220)

#: circle radius of each robot kind, fraction of a cell
ROBOT_RADIUS = {LIGHT: 0.27, HEAVY: 0.39}


def _lerp(a: Color, b: Color, t: np.ndarray) -> np.ndarray:
    """Colours ``a + t (b - a)`` for an array ``t`` in ``[0, 1]``: shape ``t.shape + (3,)``."""
    a_, b_ = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a_ + t[..., None] * (b_ - a_)


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


class HarvestRenderer:
    """Draws world 0 of a ``HarvestEnv`` (or any world of a ``HarvestWorld``) with a ``Canvas``.

    The canvas is built on the first render, when the map size is known; until then nothing of
    pygame is imported.

    Args:
        fps: frames per second in ``"human"`` mode.
        window_size: pixels of the square map area (the HUD strip comes on top).

    Attributes:
        canvas: the ``Canvas`` (``None`` before the first render); its ``cell_size``,
            ``origin`` and ``cell_center`` map tiles to pixels.
    """

    def __init__(self, fps: int = 10, window_size: int = 720):
        self.fps = fps
        self.window_size = window_size
        self.canvas: Canvas | None = None

    def render(self, env: Any, mode: str) -> np.ndarray | None:
        """Draw ``env.world`` (world 0) and present it.

        Args:
            env: a ``HarvestEnv`` (anything with a ``world`` attribute holding a
                ``HarvestWorld``).
            mode: ``"rgb_array"`` or ``"human"``.

        Returns:
            ``"rgb_array"``: ``[height, width, 3]`` uint8 frame; ``"human"``: ``None``.

        Raises:
            RuntimeError: the env was not reset yet (there is no map to draw).
        """
        return self.draw(env.world, 0).present(mode, self.fps)

    def draw(self, world: HarvestWorld, index: int = 0) -> Canvas:
        """Draw world ``index`` of ``world`` on the canvas (without presenting it).

        Args:
            world: the harvest world (batched; any ``num_envs``).
            index: which world to draw.

        Returns:
            The canvas holding the frame.

        Raises:
            RuntimeError: ``world`` was not reset yet.
        """
        if not world.is_reset:
            raise RuntimeError("call reset() before render(): the harvest map is generated there")
        canvas = self._canvas(world)
        canvas.clear()
        canvas.fill_grid(tile_colors(world, index))
        canvas.grid_lines(GRID_LINE)
        alive = world.alive[index]
        kind = world.kind[index]
        factories = np.flatnonzero(alive & (kind == FACTORY))
        robots = np.flatnonzero(alive & (kind > FACTORY))
        for slot in factories.tolist():
            self._draw_factory(canvas, world, index, slot)
        for slot in robots.tolist():
            self._draw_robot(canvas, world, index, slot)
        self._draw_hud(canvas, world, index)
        return canvas

    def close(self) -> None:
        """Close the canvas (and its window, if any). Safe to call many times."""
        if self.canvas is not None:
            self.canvas.close()

    # ------------------------------------------------------------- helpers
    def _canvas(self, world: HarvestWorld) -> Canvas:
        if self.canvas is None or self.canvas.grid_shape != world.map_shape:
            if self.canvas is not None:
                self.canvas.close()
            self.canvas = Canvas(
                world.map_shape,
                self.window_size,
                hud_lines=1 + world.num_players,
                title="spawnzoo harvest-v0",
            )
        return self.canvas

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
        full = max(world.cfg.init_water, 1)
        frac = min(water / full, 1.0)
        canvas.bar(
            cy + 1,
            cx - 1,
            frac,
            WATER if frac > 0.25 else WATER_LOW,
            top=0.38,
            height=0.26,
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

    def _draw_hud(self, canvas: Canvas, world: HarvestWorld, i: int) -> None:
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
