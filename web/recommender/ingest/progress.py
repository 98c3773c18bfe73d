"""Progress as an interface: the ingest only says "stage, n of total done"; callers choose the display.

A callback is called as ``progress(stage, done, total, unit)``: ``total`` is
None when unknown, and a stage is over when ``done == total`` or another
stage starts. :class:`BarProgress` draws a tqdm bar per stage on a terminal;
:class:`LineProgress` prints a short line at a bounded rate for logs and
pipes (container log viewers choke on carriage-return floods).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Protocol


class ProgressCallback(Protocol):
    def __call__(self, stage: str, done: int, total: int | None, unit: str = "rows") -> None: ...


LINE_INTERVAL = 2.0
"""Seconds between two plain progress lines of the same stage."""


def report(progress: ProgressCallback | None, stage: str, done: int, total: int | None, unit: str = "rows") -> None:
    """Call ``progress`` if there is one (so compute code need not check)."""
    if progress is not None:
        progress(stage, done, total, unit)


class LineProgress:
    """Plain lines: each stage's start and end, and at most one line per ``interval`` seconds between."""

    def __init__(self, write: Callable[[str], None], interval: float = LINE_INTERVAL) -> None:
        self._write = write
        self._interval = interval
        self._stage: str | None = None
        self._last = 0.0
        self._last_done = -1

    def __call__(self, stage: str, done: int, total: int | None, unit: str = "rows") -> None:
        now = time.monotonic()
        new_stage = stage != self._stage
        finished = total is not None and done >= total and done != self._last_done
        if not (new_stage or finished or now - self._last >= self._interval):
            return
        self._stage, self._last, self._last_done = stage, now, done
        if total:
            self._write(f"{stage}: {done:,}/{total:,} {unit} ({100 * done // total}%)")
        else:
            self._write(f"{stage}: {done:,} {unit}")

    def close(self) -> None:
        """Nothing to release; here so both displays share one interface."""


class BarProgress:
    """A tqdm bar per stage, on ``file`` (a terminal)."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self._bar = None
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int | None, unit: str = "rows") -> None:
        from tqdm import tqdm  # only a terminal shows a bar: LineProgress never loads it

        if stage != self._stage:
            self.close()
            scale = unit == "bytes"
            unit_name = "B" if scale else f" {unit}"
            self._bar = tqdm(total=total, desc=stage, unit=unit_name, unit_scale=scale, file=self._file, leave=True)
            self._stage = stage
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Finish the current bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None


def for_output(stream: IO[str], verbosity: int = 1) -> BarProgress | LineProgress | None:
    """The display for a command's stderr: none at verbosity 0, a tqdm bar on a terminal, else plain lines.

    ``stream`` may be Django's ``OutputWrapper`` (its ``isatty`` asks the real
    stream; tqdm is given the real stream, since the wrapper appends newlines).
    """
    if verbosity < 1:
        return None
    if stream.isatty():
        return BarProgress(getattr(stream, "_out", stream))
    return LineProgress(lambda line: (stream.write(line + "\n"), stream.flush()))
