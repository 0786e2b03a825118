"""A training progress bar (rich), shown only when asked for and only on a terminal.

    with progress_bar(config.total_timesteps, enabled=config.progress, start=env_steps) as bar:
        for iteration in ...:
            bar.update(env_steps, metrics)           # a few known keys shown after the bar
            bar.update(env_steps, kl=0.01)           # or any fields as key=value
            bar.message("eval @ 8192: length 512.0, full 0.92")

On a terminal: ``train ━━━━━━━━━━╸━━━━━ 8192/102400 env steps 0:00:41 < 0:07:50 sps=1234 ...``
with messages printed above the bar. Not on a terminal (a log file, CI): no bar, messages as
plain lines on the stream. ``enabled=False``: silent.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO

from .metrics import (
    CHARTS_SPS,
    EVAL_EPISODE_LENGTH,
    EVAL_FULL_LENGTH_FRACTION,
    EVAL_ICE_TRANSFERRED,
    LOSSES_APPROX_KL,
)

#: metric key -> short label, for the metrics ``update`` shows after the bar
SHOWN: dict[str, str] = {
    CHARTS_SPS: "sps",
    LOSSES_APPROX_KL: "kl",
    EVAL_EPISODE_LENGTH: "len",
    EVAL_ICE_TRANSFERRED: "ice",
    EVAL_FULL_LENGTH_FRACTION: "full",
}


class TrainingProgress:
    """Progress in env steps (or any unit), with a few live numbers.

    Args:
        total: units of the whole run (0: the bar shows no total).
        enabled: ``False`` writes nothing at all.
        description: word in front of the bar.
        unit: what is counted, shown after ``done/total``.
        stream: where to write (default ``sys.stderr``).
        start: units already done (a resumed run).
    """

    def __init__(
        self,
        total: int,
        *,
        enabled: bool = True,
        description: str = "train",
        unit: str = "env steps",
        stream: TextIO | None = None,
        start: int = 0,
    ):
        self.total, self.enabled = total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self._progress: Any = None
        self._task: Any = None
        self._fields: dict[str, Any] = {}
        if enabled and _is_tty(self.stream):
            try:
                self._progress, self._task = _rich_bar(self.stream, description, unit, total, start)
            except ImportError:  # rich is part of the train extra; fall back to plain lines
                self._progress = None

    @property
    def live(self) -> bool:
        """Whether a bar is being drawn."""
        return self._progress is not None

    def update(
        self,
        completed: int,
        metrics: Mapping[str, Any] | None = None,
        **info: float | int | str,
    ) -> None:
        """Move the bar to ``completed`` and show numbers after it.

        Args:
            completed: units done so far (absolute, not an increment).
            metrics: a logged metric dict; its keys in ``SHOWN`` are shown by short label
                (the last value of each stays shown until replaced).
            info: more fields, shown as ``key=value``.
        """
        if self._progress is None:
            return
        for key, label in SHOWN.items():
            if metrics is not None and key in metrics:
                self._fields[label] = metrics[key]
        self._fields.update(info)
        text = " ".join(f"{k}={_short(v)}" for k, v in self._fields.items())
        self._progress.update(self._task, completed=completed, info=text)

    def message(self, text: str) -> None:
        """Print a line (above the bar on a terminal; plain elsewhere; nothing if disabled)."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Stop drawing (idempotent); the last state of the bar stays on screen."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> TrainingProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def progress_bar(
    total: int,
    *,
    enabled: bool = True,
    description: str = "train",
    unit: str = "env steps",
    start: int = 0,
    stream: TextIO | None = None,
) -> TrainingProgress:
    """A ``TrainingProgress`` (a context manager); see the class for the arguments."""
    return TrainingProgress(
        total, enabled=enabled, description=description, unit=unit, stream=stream, start=start
    )


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _rich_bar(
    stream: TextIO, description: str, unit: str, total: int, start: int
) -> tuple[Any, Any]:
    """A started ``rich.progress.Progress`` on ``stream`` and its one task."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("<"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(file=stream),
        transient=False,
    )
    task = progress.add_task(description, total=total or None, completed=start, info="")
    progress.start()
    return progress, task


def _short(value: Any) -> str:
    if hasattr(value, "item"):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
