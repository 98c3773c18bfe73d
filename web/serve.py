"""The web server: ``python -m web.serve --bind HOST:PORT`` serves web.wsgi's Django application.

The one command that the web Deployment, the image's default, ``make demo``,
the benchmarks and the end-to-end tests all run. It is granian (HTTP in
Rust, the application in worker processes with a few Python threads each),
started with what this app needs around it:

- the workers' start-up checks made once before any worker starts (web/startup.py), so a bad setting stops the
  start with its message rather than a respawn loop of failing workers;
- a fresh ``PROMETHEUS_MULTIPROC_DIR`` before any worker starts, so that
  every worker's counts add up in ``/metrics`` (web/observability/multiprocess.py);
- workers that die are started again; ``SIGTERM`` stops taking connections
  and lets requests in flight finish for ``--graceful-timeout`` seconds;
  ``SIGHUP`` starts fresh workers with the code on disk (what ``skaffold
  dev``'s sync hook sends) and then stops the old ones;
- idle connections kept open longer than a proxy in front keeps them;
- its own log lines in the app's format (``LOG_FORMAT``, ``LOG_LEVEL``).

Why granian and not gunicorn, and why 2 workers x 2 threads: docs/decisions.md ("API", the web server).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server

from web import startup
from web.observability import multiprocess
from web.observability.logging import FORMATTERS as LOG_FORMATTERS

APPLICATION = "web.wsgi:application"
CODE = [Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "scoring"]
"""What ``--reload`` watches: the site's code, never the embedded databases' files beside it."""
IDLE_KEEP_ALIVE_MS = 75_000
"""How long a kept-alive connection may wait for its next request's headers. Longer than an ingress keeps its idle
upstream connections (ingress-nginx: 60 s), so the proxy, not the server, closes them: never one the proxy is
about to reuse. (granian's own default, 30 s, is this same timer.)"""


def address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets) as ``(host, port)``."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"takes HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m web.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bind", type=address, default=("127.0.0.1", 8000), metavar="HOST:PORT",
                        help="address to listen on (default 127.0.0.1:8000; a container binds 0.0.0.0:8000)")
    parser.add_argument("--workers", type=at_least_one, default=2, help="worker processes (default 2: one a core)")
    parser.add_argument("--threads", type=at_least_one, default=2,
                        help="Python threads a worker runs requests on (default 2)")
    parser.add_argument("--graceful-timeout", type=at_least_one, default=20,
                        help="seconds a stopping worker may finish its requests before it is killed (default 20)")
    parser.add_argument("--reload", action="store_true",
                        help="start fresh workers when a Python file changes (development; needs watchfiles)")
    return parser


def log_config(log_format: str, level: str) -> dict[str, Any]:
    """The server's own loggers (granian's start-up, worker and error lines) in the app's format."""
    if log_format not in LOG_FORMATTERS:
        raise SystemExit(f"LOG_FORMAT must be 'plain' or 'json'; got {log_format!r}.")
    handler = {"class": "logging.StreamHandler", "formatter": log_format, "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {log_format: LOG_FORMATTERS[log_format]},
        "handlers": {"console": handler},
        "loggers": {"_granian": {"handlers": ["console"], "level": level, "propagate": False}},
    }


def build(args: argparse.Namespace, directory: str, made_here: bool) -> Server:
    level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    server = Server(
        APPLICATION,
        address=args.bind[0],
        port=args.bind[1],
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=IDLE_KEEP_ALIVE_MS),
        websockets=False,
        workers=args.workers,
        blocking_threads=args.threads,
        respawn_failed_workers=True,
        workers_kill_timeout=args.graceful_timeout,
        log_level=LogLevels(level.lower()),
        log_dictconfig=log_config(os.environ.get("LOG_FORMAT", "plain").strip().lower(), level),
        reload=args.reload,
        reload_paths=CODE,
    )
    server.on_shutdown(lambda: multiprocess.remove(directory, made_here))
    return server


def check_configuration() -> None:
    """The workers' start-up checks, once here: a bad setting stops the start with its message (web/startup.py)."""
    startup.set_environment_defaults()  # the workers inherit them
    try:
        startup.require_allowed_hosts()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"python -m web.serve: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    check_configuration()
    # Before any worker exists: each inherits the variable and imports prometheus_client with it set.
    directory, made_here = multiprocess.fresh_multiprocess_dir()
    os.environ[multiprocess.VARIABLE] = directory
    build(args, directory, made_here).serve()


if __name__ == "__main__":
    main()
