"""gunicorn's settings for the web server: ``gunicorn --config python:web.observability.gunicorn_config …``.

Importing this module is starting a server (gunicorn imports it once, in its
master process): it gives the server a fresh ``PROMETHEUS_MULTIPROC_DIR``,
where every worker process keeps its counts and from which any worker
answers a scrape with the sum (web/observability/metrics.py). The variable
must be set before prometheus_client is first imported, because the library
chooses between per-process and multi-process values once, at import, and
every worker inherits the master's modules.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def fresh_multiprocess_dir() -> tuple[str, bool]:
    """An empty directory for this server's counts, and whether it was made here (to remove at exit).

    ``PROMETHEUS_MULTIPROC_DIR`` from the environment is emptied (files
    left by an earlier server would add its counts to this one's);
    otherwise a new temporary directory is made.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return given, False
    return tempfile.mkdtemp(prefix="movielens-metrics-"), True


MULTIPROCESS_DIR, _MADE_HERE = fresh_multiprocess_dir()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = MULTIPROCESS_DIR

from prometheus_client import multiprocess  # noqa: E402 - only after PROMETHEUS_MULTIPROC_DIR is set (see above)


def child_exit(server: object, worker: object) -> None:
    """A worker process ended: drop its live gauges (its counters and histograms stay in the sum)."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    """The server stops: remove the directory it made (never one the environment named)."""
    if _MADE_HERE:
        shutil.rmtree(MULTIPROCESS_DIR, ignore_errors=True)
