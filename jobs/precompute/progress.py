"""Progress is an interface: compute code reports "n more done", the job decides where it goes.

:class:`ProgressReporter` is all the stages see. The job composes, once:

* :class:`jobs.precompute.heartbeat.DbHeartbeat` - the run's rows in
  PostgreSQL for the progress page (about once a second);
* :class:`TerminalBar` - a tqdm bar when stderr is a terminal; or
* :class:`LogLines` - a short log line at a bounded rate otherwise
  (container log viewers choke on carriage-return floods).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

logger = logging.getLogger("jobs.precompute")

LOG_EVERY_SECONDS = 10.0
"""Seconds between two progress log lines (unless a :data:`LOG_EVERY_FRACTION` step comes first)."""
LOG_EVERY_FRACTION = 0.10
"""A progress log line is written each time this fraction of the total is passed."""


class ProgressReporter:
    """Where a run's progress goes. Every method is optional to override; all are cheap to call often."""

    def stage(self, stage: str, total: int | None = None) -> None:
        """Stage ``stage`` begins; ``total`` is how many units (users) it counts, if it counts any."""

    def advance(self, done: int, rows: int = 0) -> None:
        """``done`` more units finished and ``rows`` more result rows written."""

    def log(self, line: str) -> None:
        """The job logged ``line`` (see :class:`LogToReporter`); the database keeps the last ones for the page."""

    def close(self) -> None:
        """The run ended (either way); flush and release."""


class LogToReporter(logging.Handler):
    """Hands each record of the job's logger to ``reporter.log`` as one formatted line.

    The job adds it to the ``jobs.precompute`` logger for the length of a run, so the lines a
    pod's log shows also reach the progress page (through :class:`~jobs.precompute.heartbeat.DbHeartbeat`).
    """

    def __init__(self, reporter: ProgressReporter) -> None:
        super().__init__(logging.INFO)
        self.reporter = reporter
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.reporter.log(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break the job
            self.handleError(record)


@contextmanager
def logs_to(reporter: ProgressReporter, log: logging.Logger = logger) -> Iterator[None]:
    """While the block runs, every line ``log`` writes also goes to ``reporter.log``."""
    handler = LogToReporter(reporter)
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)


class FanOut(ProgressReporter):
    """Sends every report to each of ``reporters``."""

    def __init__(self, reporters: Iterable[ProgressReporter]) -> None:
        self.reporters = list(reporters)

    def stage(self, stage: str, total: int | None = None) -> None:
        for reporter in self.reporters:
            reporter.stage(stage, total)

    def advance(self, done: int, rows: int = 0) -> None:
        for reporter in self.reporters:
            reporter.advance(done, rows)

    def log(self, line: str) -> None:
        for reporter in self.reporters:
            reporter.log(line)

    def close(self) -> None:
        for reporter in self.reporters:
            reporter.close()


class _Counter(ProgressReporter):
    """Shared bookkeeping of the console reporters."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.current: str | None = None
        self.started = time.monotonic()
        self.total: int | None = None
        self.done = 0
        self.rows = 0

    def _begin(self, stage: str, total: int | None) -> float:
        """Switch to ``stage``; returns the seconds the previous stage took."""
        now = time.monotonic()
        elapsed = now - self.started
        self.current, self.started, self.total, self.done, self.rows = stage, now, total, 0, 0
        return elapsed

    def _rate_and_eta(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{rate:,.0f} users/s"
        if self.total and rate > 0:
            text += f", ETA {max(self.total - self.done, 0) / rate:,.0f} s"
        return text


class LogLines(_Counter):
    """A log line per stage and, while counting, at most one per :data:`LOG_EVERY_SECONDS` or 10 %."""

    def __init__(self, label: str, every_seconds: float = LOG_EVERY_SECONDS, every_fraction: float = LOG_EVERY_FRACTION):
        super().__init__(label)
        self.every_seconds, self.every_fraction = every_seconds, every_fraction
        self._last_line = 0.0
        self._next_fraction = every_fraction

    def stage(self, stage: str, total: int | None = None) -> None:
        previous = self.current
        elapsed = self._begin(stage, total)
        counted = f" ({total:,} users)" if total else ""
        took = f" [{previous} took {elapsed:.2f} s]" if previous is not None else ""
        logger.info("%s: %s%s%s", self.label, stage, counted, took)
        self._last_line, self._next_fraction = time.monotonic(), self.every_fraction

    def advance(self, done: int, rows: int = 0) -> None:
        self.done += done
        self.rows += rows
        now = time.monotonic()
        fraction = self.done / self.total if self.total else 0.0
        if now - self._last_line < self.every_seconds and fraction < self._next_fraction:
            return
        self._last_line = now
        while self._next_fraction <= fraction:
            self._next_fraction += self.every_fraction
        of_total = f"/{self.total:,} ({fraction:.0%})" if self.total else ""
        logger.info("%s: %s %s%s users, %s rows, %s", self.label, self.current, f"{self.done:,}", of_total,
                    f"{self.rows:,}", self._rate_and_eta())

    def close(self) -> None:
        if self.current is not None:
            logger.info("%s: %s took %.2f s", self.label, self.current, time.monotonic() - self.started)
            self.current = None


class TerminalBar(_Counter):
    """A tqdm bar on stderr for counted stages, a plain line for the others."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self._bar = None

    def stage(self, stage: str, total: int | None = None) -> None:
        from tqdm import tqdm  # only a terminal shows a bar: container logs never load it

        self._close_bar()
        self._begin(stage, total)
        if total:
            self._bar = tqdm(total=total, desc=f"{self.label} {stage}", unit="user", file=sys.stderr, dynamic_ncols=True)
        else:
            tqdm.write(f"{self.label}: {stage}", file=sys.stderr)

    def advance(self, done: int, rows: int = 0) -> None:
        self.rows += rows
        if self._bar is not None:
            self._bar.set_postfix(rows=f"{self.rows:,}", refresh=False)
            self._bar.update(done)

    def close(self) -> None:
        self._close_bar()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def console_reporter(label: str, stream=None) -> ProgressReporter:
    """A :class:`TerminalBar` if ``stream`` (stderr) is a terminal, else :class:`LogLines`."""
    stream = sys.stderr if stream is None else stream
    is_tty = getattr(stream, "isatty", lambda: False)()
    return TerminalBar(label) if is_tty else LogLines(label)
