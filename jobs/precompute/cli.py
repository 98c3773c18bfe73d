"""``python -m jobs.precompute``: parse the options, set up Django, run, and exit 0 or non-zero.

Exit codes: 0 the run succeeded and is active; 1 the run failed or was
cancelled (the error is printed and stored in ``Run.error``); 2 the command
line or ``--run-id`` was refused before any run started.

SIGTERM (Kubernetes stopping the pod) and SIGINT become an exception in the
main thread, so the run is marked failed with a clear error and its table
dropped before the process exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import django
import psycopg2
from django.db import OperationalError

from jobs.precompute import options as defaults
from jobs.precompute.resources import WORKERS_ENV, default_workers
from scoring.registry import ALGORITHMS
from web.flags import env_flag
from web.runs import spec


class JobTerminated(Exception):
    """The process received SIGTERM or SIGINT while a run was in progress."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.precompute",
        description="Compute every user's top-N unrated movies into a new run and publish it atomically.",
        epilog="Docs: docs/precompute.md. The database comes from the Django settings (DATABASE_URL, "
        "else the embedded PostgreSQL).",
    )
    parser.add_argument("--algorithm", choices=sorted(ALGORITHMS),
                        help=f"scoring algorithm (default: the pending run's, else {spec.DEFAULT_ALGORITHM})")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", type=_param,
                        help="algorithm hyperparameter, e.g. damping=10 (JSON value); repeatable")
    parser.add_argument("--top-n", type=int, help=f"movies stored per user (default {spec.DEFAULT_TOP_N})")
    parser.add_argument("--popular", type=int,
                        help=f"length of the cold-start list (default {spec.DEFAULT_POPULAR})")
    parser.add_argument("--workers", type=int,
                        help=f"worker processes (default: ${WORKERS_ENV}, else the CPUs of the container's quota)")
    parser.add_argument("--chunk-size", type=int, default=defaults.DEFAULT_CHUNK_SIZE,
                        help=f"users per pool task (default {defaults.DEFAULT_CHUNK_SIZE})")
    parser.add_argument("--run-id", type=int, help="start this pending run (e.g. one created by the progress page)")
    parser.add_argument("--shard", type=int, default=_env_int("JOB_COMPLETION_INDEX", 0),
                        help="this process's shard, 0-based (default: $JOB_COMPLETION_INDEX, else 0)")
    parser.add_argument("--shards", type=int, default=_env_int("JOB_COMPLETIONS", 1),
                        help="how many shards score the run (default: $JOB_COMPLETIONS, else 1)")
    parser.add_argument("--run-name", default=os.environ.get(spec.RUN_NAME_ENV) or None,
                        help=f"the run's name, shared by its shards and restarts: joins and resumes that run "
                        f"(default: ${spec.RUN_NAME_ENV}; the k8s Job passes its own name)")
    parser.add_argument("--keep-runs", type=int, default=defaults.DEFAULT_KEEP_RUNS,
                        help=f"finished runs whose scores are kept, besides the active one "
                        f"(default {defaults.DEFAULT_KEEP_RUNS})")
    parser.add_argument("--evaluate", action="store_true", default=None,
                        help="also measure the algorithm offline (stratified 75/25 split, seed 0, top-10; a second "
                        f"fit on 75%% of the ratings) and record it with the run (default: ${EVALUATE_ENV}=1)")
    return parser


EVALUATE_ENV = "PRECOMPUTE_EVALUATE"


def _env_int(name: str, default: int) -> int | str:
    """An integer from the environment; a bad value is handed to argparse's int() and refused with the name."""
    value = os.environ.get(name, "").strip()
    return value if value else default


def _param(text: str) -> tuple[str, Any]:
    try:
        return spec.parse_param(text)
    except ValueError as exc:  # argparse words a ValueError as "invalid value"; this keeps the reason
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_options(argv: Sequence[str] | None = None) -> defaults.JobOptions:
    """Parse and check the command line; exits with status 2 and a message on a bad value."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        workers = args.workers if args.workers is not None else default_workers()
        options = defaults.JobOptions(
            algorithm=args.algorithm,
            params=dict(args.param),
            top_n=args.top_n,
            popular=args.popular,
            workers=workers,
            chunk_size=args.chunk_size,
            run_id=args.run_id,
            keep_runs=args.keep_runs,
            shard=args.shard,
            shards=args.shards,
            run_name=args.run_name,
            evaluate=args.evaluate or env_flag(EVALUATE_ENV, default=False),
        )
        if options.run_id is None:
            # Nothing is recorded yet: refuse a bad parameter before a run row exists for it.
            options.spec().make_model()
    except ValueError as exc:
        parser.error(str(exc))
    return options


def _raise_on_signal(signum: int, frame) -> None:
    # Cleanup must not be interrupted by a second signal; Kubernetes follows with SIGKILL if it takes too long.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    name = signal.Signals(signum).name
    reason = "the pod or process was stopped" if signum == signal.SIGTERM else "interrupted from the keyboard"
    raise JobTerminated(f"received {name} ({reason})")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job; returns the process exit code."""
    options = parse_options(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    # The job creates, attaches and drops its run tables: it is the owner's, even when the RQ worker (the app
    # role) starts it. Only the embedded default reads this; on the cluster DATABASE_URL is the owner's.
    os.environ["DATABASE_ROLE"] = "owner"
    django.setup()
    # After setup, not at the top: these import the Django models, which need the settings loaded.
    from jobs.precompute.run import JobFailed, run_job
    from jobs.precompute.runlock import AnotherRunRunning
    from web.runs.models import Run, RunNotPending, RunStatus

    signal.signal(signal.SIGTERM, _raise_on_signal)
    signal.signal(signal.SIGINT, _raise_on_signal)
    try:
        run_id = run_job(options)
    except (RunNotPending, AnotherRunRunning) as exc:
        print(f"precompute: {exc}", file=sys.stderr)
        return 2
    except JobFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except JobTerminated as exc:  # before the run existed
        print(f"precompute: {exc}", file=sys.stderr)
        return 1
    except (OperationalError, psycopg2.OperationalError) as exc:  # before a run row could be written: there is nothing to mark failed
        # psycopg2's message names host, port and user, never the password.
        print(f"precompute: cannot use the database ({str(exc).strip()}); check DATABASE_URL and that "
              "PostgreSQL is up, then start the job again", file=sys.stderr)
        return 1
    if Run.objects.filter(pk=run_id, status=RunStatus.SUCCEEDED).exists():
        print(f"precompute run {run_id} succeeded and is active")
    else:
        print(f"precompute run {run_id}: shard {options.shard} of {options.shards} is done; "
              "the last shard to finish publishes the run")
    return 0
