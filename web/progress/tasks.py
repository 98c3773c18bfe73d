"""The RQ job that runs a pending precompute run: the same ``python -m jobs.precompute`` entry point, as a subprocess.

A subprocess rather than an in-process call: the job forks its own pool,
installs signal handlers and may use gigabytes; the RQ work horse only
supervises it. The job's log lines go to the worker's stderr (a non-TTY, so
they are the bounded log lines, not a bar).
"""

from __future__ import annotations

import collections
import subprocess
import sys

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from web.runs.models import UNFINISHED, Run, RunStatus, ShardProgress
from web.runs.spec import job_command

STDERR_LINES_KEPT = 20
"""Lines of the job's stderr kept to explain an exit that left the run unfinished."""


def run_precompute(run_id: int, extra_args: list[str] | None = None) -> int:
    """Run ``python -m jobs.precompute --run-id RUN_ID [EXTRA_ARGS]``; returns its exit code.

    If the process ends while the run is still pending or running (refused,
    killed by a signal, crashed before it could record a failure), the run
    is marked failed with the exit code and the last lines of its stderr, so
    the page never shows it running forever.
    """
    argv = job_command(run_id, *(extra_args or []))
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
    process = subprocess.Popen(argv, cwd=settings.BASE_DIR, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            sys.stderr.write(line)
            tail.append(line.rstrip())
        code = process.wait()
    finally:
        if process.poll() is None:  # the work horse is being stopped (RQ job timeout): stop the job cleanly
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    mark_unfinished_run_failed(run_id, code, list(tail))
    return code


def mark_unfinished_run_failed(run_id: int, code: int, stderr_tail: list[str]) -> bool:
    """Fail run ``run_id`` if the job process exited while it was still pending or running; True if it did."""
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    last = next((line for line in reversed(stderr_tail) if line.strip()), "no output")
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id, status__in=UNFINISHED).first()
        if run is None:
            return False
        error = f"{run.stage}: JobExited: the job process ended ({how}) without finishing the run; last line: {last}"
        Run.objects.filter(pk=run_id).update(status=RunStatus.FAILED, error=error, finished_at=now)
        ShardProgress.objects.filter(run_id=run_id, status__in=UNFINISHED).update(
            status=RunStatus.FAILED, finished_at=now
        )
    return True
