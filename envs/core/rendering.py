"""What recording, replays and the viewer expect of an env's renderer, and how they get one.

Each env draws itself in its own ``render.py`` on a ``Canvas``; the tools in ``envs/core``
(``recording``, ``replay``, ``viewer``) work for every env of the suite because they only call
the methods of ``Renderer`` below. Overlays are named layers a renderer can add on top of the
picture; the suite's names are:

=========  ==================================================================================
overlay    draws
=========  ==================================================================================
ids        a short label of every agent (its kind's initial and serial: ``H3`` is
           ``player_p_heavy_3``; the team is the colour)
actions    the last action of every agent: arrows for moves, icons for the other actions,
           a red mark for a masked (illegal) action, a cross where an agent died
mask       the selected agent's action mask as a heat map on the tiles its actions target,
           and its legal actions in the HUD
=========  ==================================================================================

A renderer draws the selected agent (``selected``: an agent name) with a highlight whether or not
``mask`` is on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np

from .batched import BatchedEnv, BatchStep
from .canvas import Canvas, Color

#: every overlay name of the suite (a renderer may offer a subset: ``Renderer.overlay_names``)
OVERLAYS: tuple[str, ...] = ("ids", "actions", "mask")

# The suite's shared palette: teams and overlays look the same in every env.
#: agent colour of each player (player_0 blue, player_1 red)
TEAM_COLORS: tuple[Color, ...] = ((58, 120, 240), (228, 64, 56))
#: HUD text of each player: a lighter tint that reads well on the dark strip
HUD_TEAM_COLORS: tuple[Color, ...] = ((130, 175, 255), (255, 135, 125))
OUTLINE: Color = (20, 22, 28)
TEXT: Color = (235, 235, 235)
TRAIL: Color = (250, 250, 250)
"""Arrow of a move, from the cell the agent came from."""
ILLEGAL: Color = (255, 40, 40)
"""An attempted action that was masked, and the cross where an agent died."""
SELECTED: Color = (255, 230, 0)
"""Highlight of the selected agent."""
HEAT_NONE: Color = (230, 40, 40)
"""``mask`` overlay: a target cell none of whose actions are legal."""
HEAT_ALL: Color = (40, 210, 70)
"""``mask`` overlay: a target cell with a legal action."""


class Renderer(Protocol):
    """An env's renderer, as ``envs.core`` tools use it (``HarvestRenderer`` is one).

    Attributes:
        overlay_names: the overlays it can draw, a subset of ``OVERLAYS``.
        overlays: the overlays it draws now (settable; validated).
        selected: the highlighted agent's name, or ``None``.
        window_size: pixels of the map area: ``int`` (square) or ``(width, height)``.
        fps: frames per second in ``"human"`` mode.
        canvas: the ``Canvas`` of the last frame (``None`` before the first draw).
    """

    overlay_names: tuple[str, ...]
    overlays: tuple[str, ...]
    selected: str | None
    window_size: int | tuple[int, int]
    fps: int
    canvas: Canvas | None

    def render(self, env: Any, mode: str) -> np.ndarray | None:
        """Draw a reset ``SlotParallelEnv`` and present it (``"rgb_array"`` or ``"human"``)."""
        ...

    def draw(
        self,
        world: BatchedEnv,
        index: int = 0,
        *,
        batch: BatchStep | None = None,
        actions: np.ndarray | None = None,
    ) -> Canvas:
        """Draw world ``index``.

        Args:
            world: the batched world.
            index: which of its worlds.
            batch: the ``BatchStep`` that led to this state (``[E, S]`` arrays), for the
                ``actions`` and ``mask`` overlays; ``None`` draws neither.
            actions: ``[S]`` actions submitted in that step (``None`` right after a reset).
        """
        ...

    def agent_at(self, world: BatchedEnv, index: int, cell: tuple[int, int]) -> str | None:
        """The name of the agent drawn on tile ``cell = (y, x)`` (robots over buildings)."""
        ...

    def slot_of(self, world: BatchedEnv, index: int, agent: str) -> int | None:
        """The slot of live agent ``agent`` in world ``index``; ``None`` if it is not alive."""
        ...

    def describe(self, world: BatchedEnv, index: int, agent: str) -> list[tuple[str, str]]:
        """``(field, value)`` rows of a live agent's state, for inspection."""
        ...

    def close(self) -> None:
        """Release pygame resources (idempotent)."""
        ...


class CanvasRenderer:
    """What every env's renderer shares: options, the overlay setter, ``render`` over world 0,
    the slot lookup by agent name, and one cached ``Canvas`` per (map, window, HUD size).

    ``draw`` is the one frame template every env shares; an env fills in its layers:

    ======================  =========  ===================================================
    hook                    required   draws
    ======================  =========  ===================================================
    ``tile_colors``         yes        ``[H, W, 3]`` colours of the board's cells
    ``draw_board``          no         what lies under everything (harvest's factories)
    ``draw_mask``           no         the ``mask`` overlay's tint for the selected agent
                                       (default: ``_tint_heat`` of ``mask_heat``)
    ``draw_actions_under``  no         the ``actions`` overlay under the agents (moves)
    ``draw_agents``         yes        the live agents
    ``draw_actions_over``   no         the ``actions`` overlay over the agents (icons)
    ``draw_selection``      no         the selected agent's outline
    ``draw_ids``            no         the ``ids`` overlay
    ``draw_hud``            yes        the HUD lines (step, one per player)
    ======================  =========  ===================================================

    Subclasses set ``overlay_names``, ``title`` and ``reset_hint`` and implement the required
    hooks, ``agent_at`` and ``describe`` (the ``Renderer`` protocol); ``summarize_mask`` (to
    name the env's actions), ``hud_lines``, ``death_cross`` and ``_cross`` may be overridden.
    The helpers below draw the overlays' parts that every env draws alike.
    """

    overlay_names: tuple[str, ...] = ()
    #: window title, e.g. ``"spawnzoo harvest-v0"``
    title: str = "spawnzoo"
    #: why there is nothing to draw before ``reset()``, for the error message
    reset_hint: str = "the map is made there"
    #: half the size and the stroke width of the cross where an agent died, in cells
    death_cross: tuple[float, float] = (0.4, 0.13)
    #: colour of the grid lines between cells
    grid_line: Color = (128, 128, 128)

    def __init__(
        self,
        fps: int = 10,
        window_size: int | tuple[int, int] = 720,
        *,
        overlays: str | Iterable[str] | None = None,
        selected: str | None = None,
    ):
        self.fps = fps
        self.window_size = window_size
        self.selected = selected
        self.overlays = overlays  # type: ignore[assignment]  # the setter parses
        self.canvas: Canvas | None = None
        self._canvas_key: tuple | None = None

    @property
    def overlays(self) -> tuple[str, ...]:
        """Overlays drawn now (set from names or ``"ids,actions"``; ``ValueError`` if unknown)."""
        return self._overlays

    @overlays.setter
    def overlays(self, value: str | Iterable[str] | None) -> None:
        self._overlays = parse_overlays(value, self.overlay_names)

    def render(self, env: Any, mode: str) -> np.ndarray | None:
        """Draw ``env.world`` (world 0) after its last step and present it.

        Args:
            env: a reset ``SlotParallelEnv``.
            mode: ``"rgb_array"`` or ``"human"``.

        Returns:
            ``"rgb_array"``: ``[height, width, 3]`` uint8 frame; ``"human"``: ``None``.

        Raises:
            RuntimeError: the env was not reset yet (there is no map to draw).
        """
        if not env.world.is_reset:
            raise RuntimeError(f"call reset() before render(): {self.reset_hint}")
        canvas = self.draw(env.world, 0, batch=env.last_batch, actions=env.last_actions)
        return canvas.present(mode, self.fps)

    def draw(
        self,
        world: BatchedEnv,
        index: int = 0,
        *,
        batch: BatchStep | None = None,
        actions: np.ndarray | None = None,
    ) -> Canvas:
        """Draw world ``index`` of ``world`` on the canvas (without presenting it), bottom layer
        first: cells and grid, ``draw_board``, mask tint, actions under, agents, actions over,
        selection, ids, HUD, the mask's HUD line.

        Args:
            world: the env's batched world (any ``num_envs``).
            index: which world to draw.
            batch: the ``BatchStep`` that led to this state (``[E, S]`` arrays): who was just
                spawned, who died, which actions were masked, the action masks now. Needed by
                the ``actions`` and ``mask`` overlays; without it ``mask`` uses the world's
                masks and ``actions`` draws nothing.
            actions: ``[S]`` (or ``[E, S]``) actions submitted in that step.

        Returns:
            The canvas holding the frame.

        Raises:
            RuntimeError: ``world`` was not reset yet.
        """
        if not world.is_reset:
            raise RuntimeError(f"call reset() before render(): {self.reset_hint}")
        canvas = self._canvas(world)
        canvas.clear()
        canvas.fill_grid(self.tile_colors(world, index))
        canvas.grid_lines(self.grid_line)
        self.draw_board(canvas, world, index)
        selected = self.slot_of(world, index, self.selected) if self.selected else None
        if "mask" in self._overlays and selected is not None:
            mask = self._mask(world, index, batch)[selected]
            self.draw_mask(canvas, world, index, selected, mask)
        show_actions = "actions" in self._overlays and batch is not None
        if show_actions and actions is not None:
            self.draw_actions_under(canvas, world, index, batch, actions)
        self.draw_agents(canvas, world, index)
        if show_actions:
            self.draw_actions_over(canvas, world, index, batch, actions)
        if selected is not None:
            self.draw_selection(canvas, world, index, selected)
        if "ids" in self._overlays:
            self.draw_ids(canvas, world, index)
        self.draw_hud(canvas, world, index)
        if "mask" in self._overlays:
            self._draw_mask_line(canvas, world, index, batch, selected)
        return canvas

    # ------------------------------------------------------------- the frame's layers
    def tile_colors(self, world: BatchedEnv, index: int) -> np.ndarray:
        """``[H, W, 3]`` uint8 colours of world ``index``'s cells (required)."""
        raise NotImplementedError

    def draw_board(self, canvas: Canvas, world: BatchedEnv, index: int) -> None:
        """What lies on the board under every overlay and agent (nothing by default)."""

    def mask_heat(self, world: BatchedEnv, index: int, slot: int, mask: np.ndarray) -> np.ndarray:
        """``[H, W]`` share of ``slot``'s legal actions (``[A]`` ``mask``) aiming at each cell,
        NaN where none aims; needed by the default ``draw_mask``."""
        raise NotImplementedError

    def draw_mask(
        self, canvas: Canvas, world: BatchedEnv, index: int, slot: int, mask: np.ndarray
    ) -> None:
        """The ``mask`` overlay's tint for the selected ``slot`` and its ``[A]`` mask."""
        self._tint_heat(canvas, self.mask_heat(world, index, slot, mask))

    def draw_actions_under(
        self, canvas: Canvas, world: BatchedEnv, index: int, batch: BatchStep, actions: np.ndarray
    ) -> None:
        """The ``actions`` overlay's layer under the agents (nothing by default)."""

    def draw_agents(self, canvas: Canvas, world: BatchedEnv, index: int) -> None:
        """Every live agent of world ``index`` (required)."""
        raise NotImplementedError

    def draw_actions_over(
        self,
        canvas: Canvas,
        world: BatchedEnv,
        index: int,
        batch: BatchStep,
        actions: np.ndarray | None,
    ) -> None:
        """The ``actions`` overlay's layer over the agents (nothing by default); ``actions``
        may be ``None`` (a state drawn without the actions that led to it)."""

    def draw_selection(self, canvas: Canvas, world: BatchedEnv, index: int, slot: int) -> None:
        """The selected agent's outline: a round one on its cell."""
        y, x = divmod(int(world.cell[index, slot]), world.map_shape[1])
        canvas.rect(y, x, None, inset=0.0, radius=0.5, outline=SELECTED, outline_width=0.08)

    def draw_ids(self, canvas: Canvas, world: BatchedEnv, index: int) -> None:
        """The ``ids`` overlay (nothing by default)."""

    def draw_hud(self, canvas: Canvas, world: BatchedEnv, index: int) -> None:
        """The HUD: the step line and one line per player (required)."""
        raise NotImplementedError

    # ------------------------------------------------------------- lookups
    def slot_of(self, world: BatchedEnv, index: int, agent: str) -> int | None:
        """The slot of live agent ``agent`` in world ``index``, or ``None`` (dead, unborn or not
        a name of this world's pool)."""
        pool = world.pool
        if agent not in pool:
            return None
        alive = np.flatnonzero(world.alive[index])
        flat = pool.flat_index(
            world.owner[index, alive].astype(np.int64),
            world.kind[index, alive].astype(np.int64),
            world.serial[index, alive],
        )
        hit = alive[flat == pool.index(agent)]
        return int(hit[0]) if hit.size else None

    def close(self) -> None:
        """Close the canvas (and its window, if any). Safe to call many times."""
        if self.canvas is not None:
            self.canvas.close()

    def hud_lines(self, world: BatchedEnv) -> int:
        """HUD text lines: the step line, one per player, one for the mask overlay."""
        return 1 + world.num_players + ("mask" in self._overlays)

    @staticmethod
    def summarize_mask(mask: np.ndarray) -> str:
        """The ``mask`` overlay's HUD text of an ``[A]`` bool action mask (envs name actions)."""
        return f"{int(np.count_nonzero(mask))} of {mask.size} actions legal"

    # ------------------------------------------------------------- helpers
    @staticmethod
    def _name(world: BatchedEnv, index: int, slot: int) -> str:
        """The agent name of (live or just dead) ``slot`` of world ``index``."""
        return world.pool.name_of(
            int(world.owner[index, slot]),
            int(world.kind[index, slot]),
            int(world.serial[index, slot]),
        )

    @staticmethod
    def _mask(world: BatchedEnv, index: int, batch: BatchStep | None) -> np.ndarray:
        """``[S, A]`` bool masks now: from ``batch`` if given, else from the world."""
        return batch.action_mask[index] if batch is not None else world.action_mask()[index]

    @staticmethod
    def _acted(
        world: BatchedEnv, index: int, batch: BatchStep, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Agents that acted in the last step and are still alive: ``(slots [m], actions [m],
        illegal [m])`` from ``actions`` ``[S]`` or ``[E, S]``."""
        act = np.asarray(actions).reshape(-1, world.num_slots)
        act = act[index] if act.shape[0] > 1 else act[0]
        slots = np.flatnonzero(world.alive[index] & ~batch.spawned[index])
        illegal = batch.illegal[index, slots] if batch.illegal.size else np.zeros(slots.size, bool)
        return slots, act[slots], illegal

    @staticmethod
    def _tint_heat(canvas: Canvas, heat: np.ndarray) -> None:
        """Tint the cells of ``heat`` ``[H, W]`` (share of legal actions aiming at each cell,
        NaN where none aims): green by the share where some are legal, red where none is."""
        shown = ~np.isnan(heat)
        share = np.where(shown, heat, 0.0)
        color = np.where((share > 0)[..., None], HEAT_ALL, HEAT_NONE)
        canvas.tint_grid(color, np.where(share > 0, 0.3 + 0.4 * share, 0.55) * shown)

    def _cross(self, kind: int) -> tuple[float, float]:
        """Half size and stroke width of the death cross of an agent of ``kind``."""
        return self.death_cross

    def _draw_deaths(self, canvas: Canvas, world: BatchedEnv, i: int, batch: BatchStep) -> None:
        """A red cross on the cell of every agent that died in the last step."""
        n = world.map_shape[1]
        dead = np.flatnonzero(batch.terminated[i] & ~world.alive[i])
        y, x = np.divmod(batch.cell[i, dead].astype(np.int64), n)
        for yy, xx, k in zip(y.tolist(), x.tolist(), batch.kind[i, dead].tolist()):
            r, width = self._cross(k)
            cy, cx = yy + 0.5, xx + 0.5
            for s in (1, -1):
                start, end = (cy - r, cx - s * r), (cy + r, cx + s * r)
                canvas.segment(start, end, ILLEGAL, width=width, outline=OUTLINE)

    def _draw_mask_line(
        self, canvas: Canvas, world: BatchedEnv, i: int, batch: BatchStep | None, slot: int | None
    ) -> None:
        """The ``mask`` overlay's HUD line: the selected agent's legal actions (or why none)."""
        line = 1 + world.num_players
        if slot is None:
            note = f"{self.selected} is not alive" if self.selected else "no agent selected"
            canvas.hud_line(line, [("mask: ", SELECTED), (note, TEXT)])
            return
        mask = self._mask(world, i, batch)[slot]
        canvas.hud_line(
            line,
            [
                (f"{self.selected}  ", HUD_TEAM_COLORS[int(world.owner[i, slot])]),
                ("legal: ", SELECTED),
                (self.summarize_mask(mask), TEXT),
            ],
        )

    def _canvas(self, world: BatchedEnv) -> Canvas:
        hud_lines = self.hud_lines(world)
        key = (world.map_shape, self.window_size, hud_lines)
        if self.canvas is None or self._canvas_key != key:
            if self.canvas is not None:
                self.canvas.close()
            self.canvas = Canvas(
                world.map_shape, self.window_size, hud_lines=hud_lines, title=self.title
            )
            self._canvas_key = key
        return self.canvas


def parse_overlays(spec: str | Iterable[str] | None, available: Iterable[str]) -> tuple[str, ...]:
    """Overlay names from ``"ids,actions"`` or an iterable, checked against ``available``.

    Args:
        spec: comma-separated names, an iterable of names, or ``None`` / ``""`` for none.
        available: the names the renderer offers.

    Returns:
        The names, without repeats, in the order of ``available``.

    Raises:
        ValueError: an unknown name (listing the available ones).
    """
    if spec is None:
        return ()
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    wanted = {n.strip() for n in names if n.strip()}
    avail = tuple(available)
    unknown = sorted(wanted.difference(avail))
    if unknown:
        raise ValueError(f"unknown overlay(s) {unknown}; available: {', '.join(avail)}")
    return tuple(n for n in avail if n in wanted)


def make_renderer(
    env: Any,
    *,
    window_size: int | tuple[int, int] | None = None,
    overlays: str | Iterable[str] | None = None,
    selected: str | None = None,
    fps: int | None = None,
) -> Renderer:
    """A fresh renderer for ``env`` (a ``SlotParallelEnv``), configured.

    The renderer is the env's own kind (the one ``env.render()`` uses) but separate from it, so
    recorders and the viewer draw with their own options without touching the env's.

    Args:
        env: the env (its ``unwrapped`` is used when it is wrapped).
        window_size: pixels of the map area (default: the renderer's).
        overlays: overlay names (see ``parse_overlays``); default none.
        selected: name of the agent to highlight (and whose mask ``mask`` draws).
        fps: frames per second in ``"human"`` mode (default: the renderer's).

    Raises:
        ValueError: an overlay the renderer does not offer.
    """
    base = getattr(env, "unwrapped", env)
    renderer: Renderer = base.make_renderer()
    if window_size is not None:
        renderer.window_size = window_size
    if fps is not None:
        renderer.fps = fps
    renderer.overlays = parse_overlays(overlays, renderer.overlay_names)
    renderer.selected = selected
    return renderer
