"""A pygame canvas for grid worlds, shared by every env of the suite.

``Canvas`` knows pixels, not games: it maps grid cells ``(y, x)`` (row, column) to pixels and
back, draws cells, tints (heat maps), insets, circles, polygons, arrows, bars, labels and text on
an off-screen surface with a HUD strip above the map, and presents the frame as an
``H x W x 3`` uint8 array (``"rgb_array"``) or in a window (``"human"``). Each env's
``render.py`` decides what to draw; ``envs.core.rendering`` says what recording, replays and the
viewer expect of it.

pygame is imported inside the methods that draw, and nothing is initialised until the first draw:
importing this module, or building a ``Canvas``, costs nothing and opens nothing. Off-screen
drawing initialises only pygame's font module; only ``present("human", ...)`` opens a display.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

Color = tuple[int, int, int]
"""An RGB colour, each channel an int in ``[0, 255]``."""

_ANCHORS = (
    "topleft",
    "midtop",
    "topright",
    "midleft",
    "center",
    "midright",
    "bottomleft",
    "midbottom",
    "bottomright",
)


def _pygame() -> Any:
    """Import pygame on first use (quietly: no support banner on stdout)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


class Canvas:
    """An off-screen pygame surface for an ``H x W`` grid of square cells plus a HUD strip.

    Geometry (plain ints, known before any pygame call): the map area is ``window_size`` pixels
    (an int for a square area, or ``(width, height)``); cells are the largest square that fits,
    ``cell_size = min(width // W, height // H)`` pixels, and the grid is centred in the map
    area. The HUD strip of ``hud_lines`` text lines sits above the map. The whole frame is
    ``size = (width, hud_height + height)`` pixels.

    Args:
        grid_shape: ``(H, W)`` cells.
        window_size: pixel size of the map area: ``int`` (square) or ``(width, height)``; at
            least one pixel per cell.
        hud_lines: text lines in the HUD strip (0: no strip).
        background: colour of the margins around the grid.
        hud_background: colour of the HUD strip.
        title: the window caption in ``"human"`` mode.
        font_name: a system font for ``pygame.font.SysFont``; ``None`` (default) or a font that
            fails to load uses pygame's bundled default font.

    Attributes:
        grid_shape: ``(H, W)`` cells.
        cell_size: side of one cell, pixels.
        origin: ``(x, y)`` pixel of the top-left corner of cell ``(0, 0)``.
        size: ``(width, height)`` of the whole frame, pixels.
        hud_height: height of the HUD strip, pixels (a multiple of 16).
        hud_font_size: font size of HUD lines (pygame font units).

    Raises:
        ValueError: empty grid, negative ``hud_lines``, or a map area too small for the grid.
    """

    def __init__(
        self,
        grid_shape: tuple[int, int],
        window_size: int | tuple[int, int] = 720,
        *,
        hud_lines: int = 1,
        background: Color = (24, 26, 32),
        hud_background: Color = (32, 35, 44),
        title: str = "spawnzoo",
        font_name: str | None = None,
    ):
        h, w = (int(v) for v in grid_shape)
        if h < 1 or w < 1:
            raise ValueError(f"grid_shape must be two positive ints, got {grid_shape!r}")
        if isinstance(window_size, (int, np.integer)):
            map_w = map_h = int(window_size)
        else:
            map_w, map_h = (int(v) for v in window_size)
        if map_w < w or map_h < h:
            raise ValueError(
                f"window_size {window_size!r} is too small for a {h}x{w} grid "
                f"(need at least {w}x{h} pixels: one per cell)"
            )
        if hud_lines < 0:
            raise ValueError(f"hud_lines must be >= 0, got {hud_lines}")
        self.grid_shape = (h, w)
        self.cell_size = min(map_w // w, map_h // h)
        self.hud_font_size = max(14, round(min(map_w, map_h) / 28))
        self._hud_line_h = math.ceil(self.hud_font_size * 0.85)
        self.hud_lines = hud_lines
        # rounded up to 16 pixels, so frames of a 16-multiple map area suit video encoders
        text_h = hud_lines * self._hud_line_h + max(6, self.hud_font_size // 2)
        self.hud_height = -(-text_h // 16) * 16 if hud_lines else 0
        self._hud_pad = (self.hud_height - hud_lines * self._hud_line_h) // 2
        self.origin = (
            (map_w - self.cell_size * w) // 2,
            self.hud_height + (map_h - self.cell_size * h) // 2,
        )
        self.size = (map_w, self.hud_height + map_h)
        self.background = background
        self.hud_background = hud_background
        self.title = title
        self.font_name = font_name
        # pygame state: all None until the first draw / the first human present
        self._surface: Any = None
        self._fonts: dict[int, Any] = {}
        self._screen: Any = None
        self._clock: Any = None

    # ------------------------------------------------------------ geometry
    def cell_rect(
        self, y: int, x: int, *, inset: float = 0.0, span: tuple[int, int] = (1, 1)
    ) -> tuple[int, int, int, int]:
        """Pixel rectangle of a block of cells, shrunk by ``inset`` on every side.

        Args:
            y: row of the block's top-left cell. x: its column.
            inset: margin on each side, as a fraction of ``cell_size`` (0 = the full block).
            span: ``(rows, columns)`` of cells the block covers.

        Returns:
            ``(left, top, width, height)`` in pixels (width and height at least 1).
        """
        c = self.cell_size
        d = round(inset * c)
        left = self.origin[0] + x * c + d
        top = self.origin[1] + y * c + d
        return left, top, max(1, span[1] * c - 2 * d), max(1, span[0] * c - 2 * d)

    def cell_center(self, y: int, x: int) -> tuple[int, int]:
        """Pixel ``(px, py)`` at the centre of cell ``(y, x)`` (index a frame as ``[py, px]``)."""
        c = self.cell_size
        return self.origin[0] + x * c + c // 2, self.origin[1] + y * c + c // 2

    def point(self, fy: float, fx: float) -> tuple[int, int]:
        """Pixel ``(px, py)`` of a point in cell units: ``(y + 0.5, x + 0.5)`` is the centre of
        cell ``(y, x)``, ``(y, x)`` its top-left corner."""
        c = self.cell_size
        return self.origin[0] + round(fx * c), self.origin[1] + round(fy * c)

    def cell_at(self, px: int, py: int) -> tuple[int, int] | None:
        """The cell ``(y, x)`` under pixel ``(px, py)`` of the frame, or ``None`` off the grid."""
        c, (h, w) = self.cell_size, self.grid_shape
        y, x = (py - self.origin[1]) // c, (px - self.origin[0]) // c
        return (int(y), int(x)) if 0 <= y < h and 0 <= x < w else None

    # ------------------------------------------------------------- drawing
    @property
    def surface(self) -> Any:
        """The off-screen ``pygame.Surface`` of ``size`` pixels (created on first access)."""
        if self._surface is None:
            pygame = _pygame()
            self._surface = pygame.Surface(self.size)
            self._surface.fill(self.background)
        return self._surface

    def clear(self) -> None:
        """Fill the map area with ``background`` and the HUD strip with ``hud_background``."""
        surf = self.surface
        surf.fill(self.background)
        if self.hud_height:
            surf.fill(self.hud_background, (0, 0, self.size[0], self.hud_height))

    def fill_grid(self, colors: np.ndarray) -> None:
        """Paint every cell at once.

        Args:
            colors: ``[H, W, 3]`` uint8 (or int in ``[0, 255]``) RGB of each cell.

        Raises:
            ValueError: ``colors`` is not ``[H, W, 3]`` for this canvas' grid.
        """
        pygame = _pygame()
        h, w = self.grid_shape
        arr = np.asarray(colors)
        if arr.shape != (h, w, 3):
            raise ValueError(f"colors must have shape {(h, w, 3)}, got {arr.shape}")
        small = pygame.surfarray.make_surface(np.ascontiguousarray(arr.transpose(1, 0, 2)))
        big = pygame.transform.scale(small, (w * self.cell_size, h * self.cell_size))
        self.surface.blit(big, self.origin)

    def tint_grid(self, colors: np.ndarray, alpha: np.ndarray) -> None:
        """Blend a colour over every cell at once (heat maps, highlights).

        Args:
            colors: ``[H, W, 3]`` RGB in ``[0, 255]`` laid over each cell.
            alpha: ``[H, W]`` opacity in ``[0, 1]`` of each cell's colour (0 leaves it as is).

        Raises:
            ValueError: ``colors`` or ``alpha`` does not match this canvas' grid.
        """
        pygame = _pygame()
        h, w = self.grid_shape
        rgb, a = np.asarray(colors), np.asarray(alpha, dtype=np.float64)
        if rgb.shape != (h, w, 3) or a.shape != (h, w):
            raise ValueError(
                f"colors and alpha must have shapes {(h, w, 3)} and {(h, w)}, "
                f"got {rgb.shape} and {a.shape}"
            )
        small = pygame.Surface((w, h), pygame.SRCALPHA)
        pixels = pygame.surfarray.pixels3d(small)  # [W, H, 3] views; released below
        pixels[...] = rgb.transpose(1, 0, 2)
        del pixels
        opacity = pygame.surfarray.pixels_alpha(small)  # [W, H]
        opacity[...] = np.round(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8).T
        del opacity
        big = pygame.transform.scale(small, (w * self.cell_size, h * self.cell_size))
        self.surface.blit(big, self.origin)

    def fill_cell(self, y: int, x: int, color: Color) -> None:
        """Paint cell ``(y, x)`` entirely with ``color``."""
        self.surface.fill(color, self.cell_rect(y, x))

    def grid_lines(self, color: Color, *, min_cell: int = 6) -> None:
        """Draw 1-pixel lines between cells (skipped when cells are under ``min_cell`` pixels)."""
        if self.cell_size < min_cell:
            return
        pygame = _pygame()
        surf, c = self.surface, self.cell_size
        (x0, y0), (h, w) = self.origin, self.grid_shape
        for i in range(1, h):
            pygame.draw.line(surf, color, (x0, y0 + i * c), (x0 + w * c - 1, y0 + i * c))
        for j in range(1, w):
            pygame.draw.line(surf, color, (x0 + j * c, y0), (x0 + j * c, y0 + h * c - 1))

    def rect(
        self,
        y: int,
        x: int,
        color: Color | None,
        *,
        inset: float = 0.1,
        span: tuple[int, int] = (1, 1),
        radius: float = 0.0,
        outline: Color | None = None,
        outline_width: float = 0.06,
    ) -> None:
        """A filled rectangle inset within a cell (or a ``span`` block of cells).

        Args:
            y: row of the top-left cell. x: its column.
            color: fill colour, or ``None`` for an outline only.
            inset: margin on each side, fraction of ``cell_size``.
            span: ``(rows, columns)`` of cells covered.
            radius: corner radius, fraction of ``cell_size`` (0 = square corners).
            outline: border colour, or ``None`` for no border.
            outline_width: border width, fraction of ``cell_size`` (at least 1 pixel).
        """
        pygame = _pygame()
        r = pygame.Rect(self.cell_rect(y, x, inset=inset, span=span))
        rad = round(radius * self.cell_size)
        if color is not None:
            pygame.draw.rect(self.surface, color, r, border_radius=rad)
        if outline is not None:
            width = max(1, round(outline_width * self.cell_size))
            pygame.draw.rect(self.surface, outline, r, width=width, border_radius=rad)

    def circle(
        self,
        y: int,
        x: int,
        color: Color,
        *,
        radius: float = 0.4,
        outline: Color | None = None,
        outline_width: float = 0.08,
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        """A filled, anti-aliased circle centred in cell ``(y, x)`` (or off its centre).

        Args:
            y: row. x: column.
            color: fill colour.
            radius: fraction of ``cell_size`` (0.5 touches the cell's sides).
            outline: ring colour drawn outside the fill, or ``None``.
            outline_width: ring width, fraction of ``cell_size`` (at least 1 pixel).
            offset: ``(dy, dx)`` of the centre from the cell's centre, fractions of a cell
                (e.g. a badge in a corner).
        """
        _pygame()  # the quiet import
        from pygame import gfxdraw

        surf = self.surface
        cx, cy = self.point(y + 0.5 + offset[0], x + 0.5 + offset[1])
        if offset == (0.0, 0.0):
            cx, cy = self.cell_center(y, x)  # the exact centre pixel, also for odd cell sizes
        r = max(1, round(radius * self.cell_size))
        if outline is not None:
            gfxdraw.filled_circle(surf, cx, cy, r, outline)
            gfxdraw.aacircle(surf, cx, cy, r, outline)
            r = max(1, r - max(1, round(outline_width * self.cell_size)))
        gfxdraw.filled_circle(surf, cx, cy, r, color)
        gfxdraw.aacircle(surf, cx, cy, r, color)

    def polygon(
        self,
        points: Sequence[tuple[float, float]],
        color: Color,
        *,
        outline: Color | None = None,
        outline_width: float = 0.04,
    ) -> None:
        """A filled, anti-aliased polygon given in cell units (see ``point``).

        Args:
            points: ``[(fy, fx), ...]`` vertices, at least three.
            color: fill colour.
            outline: border colour, or ``None``.
            outline_width: border width, fraction of ``cell_size`` (at least 1 pixel).
        """
        pygame = _pygame()
        from pygame import gfxdraw

        pts = [self.point(fy, fx) for fy, fx in points]
        gfxdraw.filled_polygon(self.surface, pts, color)
        gfxdraw.aapolygon(self.surface, pts, color)
        if outline is not None:
            width = max(1, round(outline_width * self.cell_size))
            pygame.draw.lines(self.surface, outline, True, pts, width)

    def segment(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        color: Color,
        *,
        width: float = 0.12,
        outline: Color | None = None,
    ) -> None:
        """A thick straight line from ``start`` to ``end``, in cell units (see ``point``).

        Args:
            start: ``(fy, fx)`` of one end. end: ``(fy, fx)`` of the other.
            color: fill colour.
            width: thickness, fraction of a cell.
            outline: border colour, or ``None``.
        """
        (y0, x0), (y1, x1) = start, end
        length = math.hypot(y1 - y0, x1 - x0)
        if length == 0:
            return
        ny, nx = (x1 - x0) / length * width / 2, -(y1 - y0) / length * width / 2
        pts = [(y0 + ny, x0 + nx), (y1 + ny, x1 + nx), (y1 - ny, x1 - nx), (y0 - ny, x0 - nx)]
        self.polygon(pts, color, outline=outline, outline_width=0.03)

    def arrow(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        color: Color,
        *,
        width: float = 0.12,
        head: float = 0.3,
        outline: Color | None = None,
    ) -> None:
        """A straight arrow from ``start`` to ``end`` (its tip), in cell units (see ``point``).

        Args:
            start: ``(fy, fx)`` of the tail. end: ``(fy, fx)`` of the tip.
            color: fill colour.
            width: shaft width, fraction of a cell.
            head: head length (and width), fraction of a cell; shortened for short arrows.
            outline: border colour, or ``None``.
        """
        (y0, x0), (y1, x1) = start, end
        length = math.hypot(y1 - y0, x1 - x0)
        if length == 0:
            return
        uy, ux = (y1 - y0) / length, (x1 - x0) / length  # along the arrow
        ny, nx = ux, -uy  # across it
        hl = min(head, 0.6 * length)
        hw, sw = hl * 0.55, width / 2
        by, bx = y1 - uy * hl, x1 - ux * hl  # base of the head
        pts = [
            (y0 + ny * sw, x0 + nx * sw),
            (by + ny * sw, bx + nx * sw),
            (by + ny * hw, bx + nx * hw),
            (y1, x1),
            (by - ny * hw, bx - nx * hw),
            (by - ny * sw, bx - nx * sw),
            (y0 - ny * sw, x0 - nx * sw),
        ]
        self.polygon(pts, color, outline=outline, outline_width=0.03)

    def bar(
        self,
        y: int,
        x: int,
        fractions: float | Sequence[float],
        colors: Color | Sequence[Color],
        *,
        top: float = 0.8,
        height: float = 0.12,
        inset: float = 0.12,
        span: int = 1,
        back: Color = (28, 28, 32),
    ) -> None:
        """A small horizontal gauge inside a cell: a dark track filled left to right.

        Several ``fractions`` stack one after another (e.g. ice then ore in a cargo bar); their
        sum is clipped to 1.

        Args:
            y: row of the leftmost cell. x: its column.
            fractions: fill in ``[0, 1]``, one value or one per colour.
            colors: fill colour, one or one per fraction.
            top: the bar's top edge, fraction of ``cell_size`` down from the cell's top.
            height: bar height, fraction of ``cell_size`` (at least 2 pixels).
            inset: left and right margins, fraction of ``cell_size``.
            span: cells the bar spans to the right.
            back: colour of the empty track.
        """
        pygame = _pygame()
        if isinstance(fractions, (int, float, np.number)):
            fractions, colors = [float(fractions)], [colors]  # type: ignore[list-item]
        c = self.cell_size
        left = self.origin[0] + x * c + round(inset * c)
        width = max(2, span * c - 2 * round(inset * c))
        bar_top = self.origin[1] + y * c + round(top * c)
        bar_h = max(2, round(height * c))
        surf = self.surface
        surf.fill(back, (left, bar_top, width, bar_h))
        done = 0.0
        for frac, color in zip(fractions, colors):  # type: ignore[arg-type]
            frac = min(max(float(frac), 0.0), 1.0 - done)
            start, stop = round(done * width), round((done + frac) * width)
            if stop > start:
                surf.fill(color, pygame.Rect(left + start, bar_top, stop - start, bar_h))
            done += frac

    def font(self, size: int) -> Any:
        """The cached ``pygame.font.Font`` of ``size`` (initialises pygame's font module once).

        Args:
            size: font size in pygame font units (a text line is about ``0.75 * size`` pixels
                high with the default font).
        """
        font = self._fonts.get(size)
        if font is None:
            pygame = _pygame()
            if not pygame.font.get_init():
                pygame.font.init()
            font = None
            if self.font_name is not None:
                try:
                    font = pygame.font.SysFont(self.font_name, size)
                except (OSError, RuntimeError, ValueError):
                    font = None
            if font is None:
                with warnings.catch_warnings():
                    # pygame finds its bundled font through pkg_resources, which warns about
                    # our namespace package on import; nothing is wrong
                    warnings.filterwarnings("ignore", "Module .* was already imported", UserWarning)
                    font = pygame.font.Font(None, size)
            self._fonts[size] = font
        return font

    def text(
        self,
        text: str,
        pos: tuple[int, int],
        *,
        size: int | None = None,
        color: Color = (235, 235, 235),
        anchor: str = "topleft",
    ) -> tuple[int, int, int, int]:
        """Draw one line of anti-aliased text.

        Args:
            text: the string.
            pos: ``(px, py)`` pixel the ``anchor`` point of the text box is placed at.
            size: font size (default ``hud_font_size``).
            color: text colour.
            anchor: which point of the text box sits at ``pos``: ``"topleft"``, ``"midtop"``,
                ``"topright"``, ``"midleft"``, ``"center"``, ``"midright"``, ``"bottomleft"``,
                ``"midbottom"`` or ``"bottomright"``.

        Returns:
            The drawn text box ``(left, top, width, height)`` in pixels.

        Raises:
            ValueError: unknown ``anchor``.
        """
        if anchor not in _ANCHORS:
            raise ValueError(f"anchor must be one of {_ANCHORS}, got {anchor!r}")
        img = self.font(size or self.hud_font_size).render(text, True, color)
        box = img.get_rect(**{anchor: pos})
        self.surface.blit(img, box)
        return box.x, box.y, box.w, box.h

    def label(
        self,
        y: float,
        x: float,
        text: str,
        *,
        size: float = 0.45,
        color: Color = (235, 235, 235),
        background: Color | None = (20, 22, 28),
        anchor: str = "center",
    ) -> None:
        """A short text tied to the grid, on an optional backdrop so it reads on any tile.

        Args:
            y: row of the anchor point, in cell units (see ``point``). x: its column.
            text: the string.
            size: font size as a fraction of ``cell_size`` (at least 10 font units).
            color: text colour.
            background: colour of a box just around the text, or ``None``.
            anchor: which point of the text box sits at ``(y, x)`` (as in ``text``).

        Raises:
            ValueError: unknown ``anchor``.
        """
        if anchor not in _ANCHORS:
            raise ValueError(f"anchor must be one of {_ANCHORS}, got {anchor!r}")
        pygame = _pygame()
        font = self.font(max(10, round(size * self.cell_size)))
        img = font.render(text, True, color)
        box = img.get_rect(**{anchor: self.point(y, x)})
        if background is not None:
            pygame.draw.rect(self.surface, background, box.inflate(4, 0), border_radius=3)
        self.surface.blit(img, box)

    def hud_line(self, line: int, segments: str | Sequence[tuple[str, Color]]) -> None:
        """Write HUD line ``line`` (0 = top) from left to right.

        Args:
            line: index in ``[0, hud_lines)``.
            segments: one string (default colour), or ``(text, colour)`` pairs written one after
                another, e.g. a team's name in its colour followed by its numbers.

        Raises:
            ValueError: ``line`` outside the HUD.
        """
        if not 0 <= line < self.hud_lines:
            raise ValueError(f"line must be in [0, {self.hud_lines}), got {line}")
        if isinstance(segments, str):
            segments = [(segments, (235, 235, 235))]
        px = self.hud_font_size // 2
        py = self._hud_pad + line * self._hud_line_h + self._hud_line_h // 2
        for text, color in segments:
            left, _, width, _ = self.text(text, (px, py), color=color, anchor="midleft")
            px = left + width

    # --------------------------------------------------------------- output
    def present(self, mode: str, fps: int = 10) -> np.ndarray | None:
        """Show or return the current frame.

        Args:
            mode: ``"rgb_array"`` returns the frame; ``"human"`` opens a window on the first
                call (``pygame.display.set_mode``), shows the frame, pumps window events and
                waits to hold ``fps``.
            fps: frames per second in ``"human"`` mode (ignored otherwise; 0 = no wait).

        Returns:
            ``"rgb_array"``: ``[height, width, 3]`` uint8 with ``(width, height) = size``;
            ``"human"``: ``None``.

        Raises:
            ValueError: an unknown ``mode``.
        """
        pygame = _pygame()
        if mode == "rgb_array":
            frame = pygame.surfarray.array3d(self.surface)  # [width, height, 3]
            return np.ascontiguousarray(frame.transpose(1, 0, 2), dtype=np.uint8)
        if mode != "human":
            raise ValueError(f"mode must be 'human' or 'rgb_array', got {mode!r}")
        if self._screen is None:
            pygame.display.init()
            self._screen = pygame.display.set_mode(self.size)
            pygame.display.set_caption(self.title)
            self._clock = pygame.time.Clock()
        self._screen.blit(self.surface, (0, 0))
        pygame.event.pump()
        pygame.display.flip()
        self._clock.tick(fps)
        return None

    def close(self) -> None:
        """Release the surface and fonts; quit the display if this canvas opened one.

        Idempotent: safe before any draw and any number of times. pygame's font module stays
        initialised (other canvases may be using it). Drawing again after ``close`` starts over.
        """
        if self._screen is not None:
            pygame = _pygame()
            pygame.display.quit()
        self._screen = None
        self._clock = None
        self._surface = None
        self._fonts.clear()


def scale_frame(frame: np.ndarray, scale: float) -> np.ndarray:
    """Resize an ``[H, W, 3]`` uint8 frame by ``scale``.

    Whole-number scales repeat pixels (crisp tiles); others resample smoothly (pygame).

    Returns:
        ``[round(H * scale), round(W * scale), 3]`` uint8 (``frame`` itself when ``scale == 1``).
    """
    if scale == 1:
        return frame
    if float(scale).is_integer():
        k = int(scale)
        return np.repeat(np.repeat(frame, k, axis=0), k, axis=1)
    pygame = _pygame()
    h, w = frame.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    surf = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
    small = pygame.transform.smoothscale(surf, size)
    return np.ascontiguousarray(pygame.surfarray.array3d(small).transpose(1, 0, 2))
