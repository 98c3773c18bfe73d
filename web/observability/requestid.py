"""The id of the request (or of the job a request queued) that this code runs for, for log lines and job metadata."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
"""The header a client or the ingress may send, and the response echoes."""
JOB_META_KEY = "request_id"
"""Key of the request id in an RQ job's ``meta`` (set where the job is enqueued, read by the worker)."""

_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""What a received id may look like: a token, never a log-injection vector (no spaces, quotes or newlines) and at most 128 chars."""

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def sane_or_new(received: str | None) -> str:
    """``received`` if it is a sane token, else a new random id (32 hex digits)."""
    if received and _SANE.fullmatch(received):
        return received
    return uuid.uuid4().hex


def current() -> str | None:
    """The request id of the work in hand in this thread or process, or None outside any request or job."""
    return _current.get()


def bind(request_id: str | None) -> object:
    """Make ``request_id`` current; returns the token that :func:`unbind` takes to restore the previous one."""
    return _current.set(request_id)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def job_meta() -> dict[str, str]:
    """RQ ``meta`` that carries the current request id to the job it queues (empty outside a request)."""
    request_id = current()
    return {JOB_META_KEY: request_id} if request_id else {}
