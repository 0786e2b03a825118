"""An interactive pygame viewer of a replay: play, pause, step both ways, jump, inspect agents.

    spawnzoo replay episode.replay.npz
    spawnzoo render --env harvest-v0 --preset small          # plays an episode, then opens it here

The window shows the env's own frame (its renderer, with any overlays) and a side panel: the
step, play state and speed, a progress bar (click it to jump), the selected agent's state and
action mask (legal actions bright, masked ones dim, the last action marked), and the keys:

==================  =====================================================================
key / mouse         does
==================  =====================================================================
space               play / pause (at the last step, play starts over)
right, left         one step forward / back (pauses)
page up, page down  ten steps forward / back
up, down            faster / slower (1/4 x to 16 x the frame rate)
home, end           first / last step
g, digits, enter    jump to a step (escape cancels)
i, a, m             toggle the ``ids``, ``actions`` and ``mask`` overlays
click on the map    select the robot or factory there (click empty ground to clear)
q, escape           quit
==================  =====================================================================

Stepping back re-simulates from the nearest snapshot of the world (``ReplayCursor``), so any step
is a few env steps away. Everything env-specific comes from the env's renderer
(``envs.core.rendering.Renderer``), so every env of the suite gets this viewer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .canvas import Color, _pygame
from .rendering import make_renderer
from .replay import Replay, ReplayCursor

#: playback speeds, in steps per frame
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

PANEL: Color = (32, 35, 44)
TEXT: Color = (235, 235, 235)
DIM: Color = (120, 124, 136)
ACCENT: Color = (255, 230, 0)
LEGAL: Color = (120, 230, 90)
ILLEGAL: Color = (255, 90, 80)
TRACK: Color = (60, 64, 76)

HELP = (
    ("space", "play / pause"),
    ("left right", "step back / forward"),
    ("pgup pgdn", "10 steps"),
    ("up down", "speed"),
    ("home end", "first / last step"),
    ("g 1 2 enter", "jump to step"),
    ("i a m", "overlays"),
    ("click", "inspect an agent"),
    ("q", "quit"),
)


class Viewer:
    """A pygame window over a ``Replay`` (see the module docstring for the keys).

    Args:
        replay: the episode.
        window_size: pixels of the map area (an int or ``(width, height)``).
        overlays: overlays drawn at start (toggled with ``i``, ``a``, ``m``).
        fps: frames per second of the window (0: as fast as possible, e.g. in tests).
        snapshot_every: world snapshot interval for stepping back.

    Attributes:
        t: the step shown. playing: whether it plays. speed: steps per frame when playing.
        selected: the inspected agent's name, or ``None``. running: ``False`` once quit.
        progress_bar: ``(left, top, width, height)`` of the clickable progress bar, in window
            pixels (set when the panel is drawn).

    Raises:
        ReplayError: the replay does not fit its env.
        ValueError: an overlay the env's renderer does not offer.
    """

    def __init__(
        self,
        replay: Replay,
        *,
        window_size: int | tuple[int, int] = 720,
        overlays: str | Iterable[str] | None = "actions",
        fps: int = 10,
        snapshot_every: int = 10,
    ):
        self.replay = replay
        self.cursor = ReplayCursor(replay, snapshot_every=snapshot_every)
        self.renderer = make_renderer(self.cursor.env, window_size=window_size, overlays=overlays)
        self.fps = fps
        self.playing = False
        self.running = True
        self.selected: str | None = None
        self._speed = SPEEDS.index(1.0)
        self._carry = 0.0
        self._typed: str | None = None  # digits typed after "g"
        self._screen: Any = None
        self._clock: Any = None
        self.progress_bar: tuple[int, int, int, int] = (
            0,
            0,
            0,
            0,
        )  # the progress bar, window pixels

    # ------------------------------------------------------------------ state
    @property
    def t(self) -> int:
        """The step shown, in ``[0, replay.steps]``."""
        return self.cursor.t

    @property
    def speed(self) -> float:
        """Steps advanced per frame while playing."""
        return SPEEDS[self._speed]

    def seek(self, t: int) -> None:
        """Show the state after step ``t`` (clipped to ``[0, steps]``)."""
        self.cursor.seek(t)

    def select(self, agent: str | None) -> None:
        """Inspect ``agent`` (a name; ``None`` clears the selection)."""
        self.selected = agent
        self.renderer.selected = agent

    def toggle_overlay(self, name: str) -> None:
        """Switch overlay ``name`` on or off (ignored if the renderer does not offer it)."""
        if name not in self.renderer.overlay_names:
            return
        on = set(self.renderer.overlays) ^ {name}
        self.renderer.overlays = tuple(on)

    # ------------------------------------------------------------- the window
    def open(self) -> None:
        """Open the window (once); its size is the frame's plus the side panel."""
        if self._screen is not None:
            return
        pygame = _pygame()
        canvas = self.cursor.draw(self.renderer)
        pygame.display.init()
        self._font_size = max(14, round(canvas.size[1] / 40))
        self._panel_w = max(300, 16 * self._font_size)
        self._set_mode(canvas.size)
        pygame.display.set_caption(f"spawnzoo viewer: {self.replay.env_id}")
        self._clock = pygame.time.Clock()

    def _set_mode(self, frame_size: tuple[int, int]) -> None:
        """Size the window to a frame of ``frame_size`` plus the panel."""
        width, height = frame_size
        self._screen = _pygame().display.set_mode((width + self._panel_w, height))
        self._frame_size = frame_size

    def run(self, max_ticks: int | None = None) -> None:
        """Show the window and handle events until quit (or for ``max_ticks`` frames).

        Events already in pygame's queue (e.g. posted by a script) are handled first.
        """
        pygame = _pygame()
        self.open()
        ticks = 0
        while self.running and (max_ticks is None or ticks < max_ticks):
            for event in pygame.event.get():
                self.handle(event)
            if not self.running:
                break
            if self.playing:
                self._advance()
            self._present()
            self._clock.tick(self.fps)
            ticks += 1

    def handle(self, event: Any) -> None:
        """Act on one pygame event (keys, clicks, window close)."""
        pygame = _pygame()
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            self._key(event.key)
        elif event.type == pygame.MOUSEBUTTONDOWN and getattr(event, "button", 1) == 1:
            self._click(*event.pos)

    def frame(self) -> np.ndarray:
        """The window as shown now: ``[height, width, 3]`` uint8 (opens it if needed)."""
        pygame = _pygame()
        self.open()
        self._present()
        return np.ascontiguousarray(
            pygame.surfarray.array3d(self._screen).transpose(1, 0, 2), dtype=np.uint8
        )

    def close(self) -> None:
        """Close the window and release everything (idempotent)."""
        if self._screen is not None:
            _pygame().display.quit()
            self._screen = None
        self.renderer.close()
        self.cursor.close()
        self.running = False

    # ---------------------------------------------------------------- input
    def _key(self, key: int) -> None:
        pygame = _pygame()
        if self._typed is not None:
            if pygame.K_0 <= key <= pygame.K_9:
                self._typed += str(key - pygame.K_0)
            elif pygame.K_KP0 <= key <= pygame.K_KP9:
                self._typed += str(key - pygame.K_KP0)
            elif key == pygame.K_BACKSPACE:
                self._typed = self._typed[:-1]
            elif key in (pygame.K_RETURN, pygame.K_KP_ENTER):
                if self._typed:
                    self.playing = False
                    self.seek(int(self._typed))
                self._typed = None
            elif key == pygame.K_ESCAPE:
                self._typed = None
            return
        step = {
            pygame.K_RIGHT: 1,
            pygame.K_PERIOD: 1,
            pygame.K_LEFT: -1,
            pygame.K_COMMA: -1,
            pygame.K_PAGEUP: 10,
            pygame.K_PAGEDOWN: -10,
        }.get(key)
        overlay = {pygame.K_i: "ids", pygame.K_a: "actions", pygame.K_m: "mask"}.get(key)
        if step is not None:
            self.playing = False
            self.seek(self.t + step)
        elif overlay is not None:
            self.toggle_overlay(overlay)
        elif key == pygame.K_SPACE:
            self.playing = not self.playing
            if self.playing and self.t == self.cursor.steps:
                self.seek(0)
            self._carry = 0.0
        elif key in (pygame.K_UP, pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
            self._speed = min(self._speed + 1, len(SPEEDS) - 1)
        elif key in (pygame.K_DOWN, pygame.K_MINUS, pygame.K_KP_MINUS):
            self._speed = max(self._speed - 1, 0)
        elif key == pygame.K_HOME:
            self.playing = False
            self.seek(0)
        elif key == pygame.K_END:
            self.playing = False
            self.seek(self.cursor.steps)
        elif key == pygame.K_g:
            self._typed = ""
        elif key in (pygame.K_q, pygame.K_ESCAPE):
            self.running = False

    def _click(self, px: int, py: int) -> None:
        left, top, width, height = self.progress_bar
        if left <= px < left + width and top - 4 <= py < top + height + 4:
            self.playing = False
            self.seek(round((px - left) / max(width - 1, 1) * self.cursor.steps))
            return
        canvas = self.renderer.canvas
        cell = canvas.cell_at(px, py) if canvas is not None else None
        if cell is not None:
            self.select(self.renderer.agent_at(self.cursor.world, 0, cell))

    def _advance(self) -> None:
        self._carry += self.speed
        steps, self._carry = int(self._carry), self._carry % 1.0
        if steps:
            self.seek(self.t + steps)
        if self.t >= self.cursor.steps:
            self.playing = False

    # --------------------------------------------------------------- drawing
    def _present(self) -> None:
        pygame = _pygame()
        canvas = self.cursor.draw(self.renderer)
        if canvas.size != self._frame_size:  # an overlay changed the HUD
            self._set_mode(canvas.size)
        self._screen.blit(canvas.surface, (0, 0))
        self._draw_panel(canvas.size[0], canvas.size[1])
        pygame.event.pump()
        pygame.display.flip()

    def _draw_panel(self, x0: int, height: int) -> None:
        pygame = _pygame()
        screen, fs = self._screen, self._font_size
        screen.fill(PANEL, (x0, 0, self._panel_w, height))
        pygame.draw.line(screen, TRACK, (x0, 0), (x0, height))
        font = self.renderer.canvas.font(fs)
        small = self.renderer.canvas.font(max(12, round(fs * 0.85)))
        pad, line = fs // 2 + 4, round(fs * 0.95)
        y = pad

        def write(text: str, color: Color = TEXT, *, f: Any = font, dx: int = 0) -> None:
            nonlocal y
            screen.blit(f.render(text, True, color), (x0 + pad + dx, y))
            y += line if f is font else round(line * 0.9)

        replay = self.replay
        write(f"{replay.env_id}   seed {replay.seed}", ACCENT)
        settings = ", ".join(f"{k} {v}" for k, v in replay.settings.items())
        write(
            f"policy {replay.policy or '?'}" + (f"   {settings}" if settings else ""), DIM, f=small
        )
        y += line // 3
        state = f"playing {self.speed:g}x" if self.playing else f"paused   speed {self.speed:g}x"
        write(f"step {self.t} / {self.cursor.steps}   {state}")
        bar_w = self._panel_w - 2 * pad
        self.progress_bar = (x0 + pad, y + 2, bar_w, max(6, fs // 2))
        screen.fill(TRACK, self.progress_bar)
        done = round(bar_w * self.t / max(self.cursor.steps, 1))
        screen.fill(ACCENT, (x0 + pad, y + 2, done, self.progress_bar[3]))
        y += self.progress_bar[3] + line // 2
        if self._typed is not None:
            write(f"jump to step: {self._typed}_   (enter / escape)", ACCENT)
        overlays = ", ".join(self.renderer.overlays) or "none"
        write(f"overlays: {overlays}", DIM, f=small)
        y += line // 3
        self._draw_selection(write, small)
        help_top = height - pad - len(HELP) * round(line * 0.9)
        if y > help_top:  # a small window: the inspection comes first
            return
        y = help_top
        for keys, what in HELP:
            screen.blit(small.render(keys, True, ACCENT), (x0 + pad, y))
            screen.blit(small.render(what, True, DIM), (x0 + pad + 7 * fs, y))
            y += round(line * 0.9)

    def _draw_selection(self, write: Any, small: Any) -> None:
        if self.selected is None:
            write("click a robot or factory to inspect it", DIM, f=small)
            return
        world, batch = self.cursor.world, self.cursor.batch
        slot = self.renderer.slot_of(world, 0, self.selected)
        if slot is None:
            write(self.selected, ACCENT)
            write("not alive at this step", DIM, f=small)
            return
        for key, value in self.renderer.describe(world, 0, self.selected):
            write(f"{key}: {value}", TEXT if key != "agent" else ACCENT, f=small)
        names = getattr(world, "action_names", None) or tuple(
            str(a) for a in range(world.num_actions)
        )
        mask = batch.action_mask[0, slot]
        actions = self.cursor.actions
        last = None if actions is None or batch.spawned[0, slot] else int(actions[slot])
        bad = bool(batch.illegal[0, slot]) if batch.illegal.size else False
        write("action mask (> last action):", DIM, f=small)
        for a, name in enumerate(names):
            color = LEGAL if mask[a] else DIM
            mark = "> " if a == last else "   "
            if a == last and bad:
                color, name = ILLEGAL, f"{name} (masked: ran as no-op)"
            write(f"{mark}{a:>2} {name}", color, f=small, dx=8)
