"""``python -m tests.reliability.precompute_refusals``: the job's command line called once per argument list, in one process.

Reads a JSON list of argument lists on stdin and writes, for each, the exit
code, everything written to file descriptors 1 and 2 (the job's messages,
logging, a traceback) and whether the runs' state and score tables were the same
after it as before. The job's ``main`` is what ``python -m jobs.precompute``
runs; one process for the whole table spares a Python and Django start-up
per row.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import django

from jobs.precompute.cli import main
from tests.reliability.snapshot import stored
from web.runs.scores import run_tables

RUN_STATE = ("progress_run", "progress_activerun", "progress_shardprogress", "recommender_popularmovie")


@contextmanager
def _captured(fd: int) -> Iterator[list[str]]:
    """Whatever is written to file descriptor ``fd`` inside the block, as the one string of the yielded list after it."""
    text: list[str] = []
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(fd)
        os.dup2(captured.fileno(), fd)
        try:
            yield text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            text.append(captured.read().decode(errors="replace"))


def _call(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)``'s exit code and what it wrote to fd 1 and fd 2 (an escaped exception's traceback included)."""
    sys.stdout.flush()
    sys.stderr.flush()
    with _captured(1) as out, _captured(2) as err:
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's refusals
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:  # noqa: BLE001 - the test asserts no traceback: report it rather than die
            traceback.print_exc()
            code = -1
    return code, out[0], err[0]


def refuse_each(argvs: list[list[str]]) -> list[dict]:
    """Per argument list: ``code``, ``stdout``, ``stderr`` and ``unchanged`` (the run state and score tables as before)."""
    results = []
    for argv in argvs:
        before = (stored(RUN_STATE), run_tables())
        code, stdout, stderr = _call(argv)
        results.append({"code": code, "stdout": stdout, "stderr": stderr, "unchanged": (stored(RUN_STATE), run_tables()) == before})
    return results


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    os.environ["DATABASE_ROLE"] = "owner"  # as the job's main sets it before its own setup
    django.setup()
    json.dump(refuse_each(json.load(sys.stdin)), sys.stdout)
