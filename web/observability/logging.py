"""Log records as JSON lines (``LOG_FORMAT=json``) and the request id on every record.

Django's ``LOGGING`` setting (web/settings.py) names these classes, so the web
server, the RQ worker and the precompute job, which all call
``django.setup()``, log the same way without code of their own.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

from web.observability import requestid

FORMATTERS = {
    "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    "json": {"()": "web.observability.logging.JsonFormatter"},
}
"""The two ``LOG_FORMAT`` values as ``logging.config`` formatters: Django's ``LOGGING`` (web/settings.py) and the web
server's own lines (web/serve.py) both use them."""

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id (``None`` outside a request or a job a request queued)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = requestid.current()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``process`` (its pid), ``message``, ``request_id``, the ``extra=`` fields, ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra field that JSON cannot hold (a datetime, a Decimal) is written as text, never dropped.
        return json.dumps(entry, default=str, ensure_ascii=False)


class LogLines(io.TextIOBase):
    """A text stream that logs each line written to it as one record of ``logger``: a management command's output
    (``call_command(..., stdout=LogLines(...))``) in the process's ``LOG_FORMAT``, for a container whose log a
    collector reads. A line written in pieces (migrate's ``Applying x...`` then `` OK``) is one record; ``close()``
    logs an unfinished last line."""

    def __init__(self, logger: logging.Logger, level: int = logging.INFO) -> None:
        super().__init__()
        self.logger, self.level, self._pending = logger, level, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            if line.strip():
                self.logger.log(self.level, line.rstrip())
        return len(text)

    def flush(self) -> None:
        """Nothing until the line is complete: migrate flushes after ``Applying x...`` so that a terminal shows it."""

    def close(self) -> None:
        if not self.closed and self._pending.strip():
            self.logger.log(self.level, self._pending.rstrip())
        self._pending = ""
        super().close()
