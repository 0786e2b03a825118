"""Make the screenshots of ``docs/rendering.md`` (``docs/img/*.png``), headless and deterministic.

Every picture comes from a recorded episode (``run_episode``) replayed to the step shown, so the
images are exactly what ``spawnzoo render`` and ``spawnzoo replay`` draw. PNGs are stored with a
256-colour palette to keep them small.

Usage::

    .venv/bin/python scripts/make_screenshots.py             # (re)write docs/img/*.png
    .venv/bin/python scripts/make_screenshots.py --out /tmp  # somewhere else
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


def save_png(frame: np.ndarray, path: Path) -> None:
    """Write an ``[H, W, 3]`` uint8 frame as a palette PNG."""
    from PIL import Image

    image = Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB, {frame.shape[1]}x{frame.shape[0]})")


def state_at(replay, t: int, **view) -> np.ndarray:
    """The frame of ``replay`` after step ``t``, drawn with renderer options ``view``."""
    from spawnzoo.envs.core.rendering import make_renderer
    from spawnzoo.envs.core.replay import ReplayCursor

    cursor = ReplayCursor(replay, snapshot_every=max(replay.steps, 1))
    renderer = make_renderer(cursor.env, **view)
    cursor.seek(t)
    frame = cursor.draw(renderer).present("rgb_array")
    renderer.close()
    cursor.close()
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS_IMG, help="folder for the PNGs")
    args = parser.parse_args()
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # the viewer opens a (virtual) window
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    from spawnzoo.envs.core.recording import run_episode
    from spawnzoo.envs.core.viewer import Viewer

    args.out.mkdir(parents=True, exist_ok=True)

    # 1. the renderer: two players on the small map, the random policy (many robots), no overlays
    small = run_episode("harvest-v0", "random", seed=0, preset="small", players=2).replay
    save_png(state_at(small, 60), args.out / "harvest_small.png")

    # 2. every overlay: the random policy on the tiny map (builds, moves, digs, pickups, a
    # collision), with the action-mask heat of one light
    tiny = run_episode("harvest-v0", "random", seed=1, preset="tiny", players=2).replay
    frame = state_at(
        tiny, 26, window_size=480, overlays="ids,actions,mask", selected="player_0_light_4"
    )
    save_png(frame, args.out / "harvest_overlays.png")

    # 3. the viewer, paused on a selected heavy
    viewer = Viewer(small, window_size=600, overlays="ids,actions", fps=0)
    viewer.seek(60)
    viewer.select("player_0_heavy_0")
    viewer.open()
    save_png(viewer.frame(), args.out / "viewer.png")
    viewer.close()
    pygame.quit()


if __name__ == "__main__":
    main()
