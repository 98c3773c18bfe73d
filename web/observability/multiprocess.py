"""A fresh ``PROMETHEUS_MULTIPROC_DIR`` for each start of the web server (web/serve.py).

Every worker process of the server keeps its counts in files of its own in
that directory, and whichever worker answers a scrape adds them all up
(web/observability/metrics.py). The directory must be named in the
environment before prometheus_client is first imported in any worker,
because the library chooses between per-process and multi-process values
once, at import: so this module imports nothing of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def fresh_multiprocess_dir() -> tuple[str, bool]:
    """An empty directory for this server's counts, and whether it was made here (to remove at exit).

    ``PROMETHEUS_MULTIPROC_DIR`` from the environment is emptied (files
    left by an earlier server, say before a container restart, would add
    its counts to this one's); otherwise a new temporary directory is made.
    """
    given = os.environ.get(VARIABLE, "").strip()
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return given, False
    return tempfile.mkdtemp(prefix="movielens-metrics-"), True


def remove(directory: str, made_here: bool) -> None:
    """The server stops: remove the directory it made (never one the environment named)."""
    if made_here:
        shutil.rmtree(directory, ignore_errors=True)
