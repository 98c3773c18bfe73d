"""Reading ``POST /api/events`` bodies: a JSON array, or NDJSON streamed line by line, into validated batches.

Each event is validated on its own (:func:`~web.recommender.ingest.events.check_event`, and
:class:`EventInputSerializer` for the words of a refusal), so a bad
one is refused with its place and reason while the good ones around it go on
to :meth:`web.recommender.models.Event.objects.record`, which stores them all
in one transaction. NDJSON is never read whole: lines are read from the
request stream and handed over :data:`CHUNK` at a time.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser

from web.recommender.api.serializers import EventInputSerializer
from web.recommender.ingest.events import check_event, is_unicode_text
from web.recommender.models import EventBatch, EventOutcome

MAX_JSON_EVENTS = 1_000
"""The most events a JSON array may hold; a longer one is refused whole (413) and nothing is stored."""
MAX_NDJSON_EVENTS = 100_000
"""The most lines an NDJSON body may hold: one request is one transaction, and its answer lists every event."""
MAX_LINE_BYTES = 10_000
"""An NDJSON line longer than this (its newline included) is refused as malformed without being parsed or held whole
(an event is a few hundred bytes)."""
READ_BLOCK = 1 << 16
"""Bytes read from an NDJSON body at a time."""
CHUNK = 1_000
"""Events validated and inserted together: one lookup of users and movies and one INSERT per chunk."""


class TooManyEvents(ValidationError):
    status_code = 413


class NDJSONParser(BaseParser):
    """``application/x-ndjson``: one JSON event per line. The parse is lazy: it yields ``(line number, bytes)``."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None) -> Iterator[tuple[int, bytes]]:
        # DRF takes whatever parse returns as request.data: a generator keeps the body unread until consumed.
        return numbered_lines(stream)


class _RawBody(io.RawIOBase):
    """A request body as a raw stream, for :class:`io.BufferedReader`: it only needs ``read(n)``, which the request and
    the WSGI server's own body stream (a chunked body) both honour; their ``readline`` need not take a size."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def numbered_lines(stream) -> Iterator[tuple[int, bytes]]:
    """``(line number from 1, bytes)`` of each line of ``stream``, none held beyond :data:`MAX_LINE_BYTES`.

    A longer line is cut there (so :func:`_parsed_line` refuses it) and the rest of it is read past in blocks:
    read whole, one line of a body could take the web process's memory (the NDJSON body is not held to
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``, being read a line at a time).
    """
    if stream is None:
        return
    body = io.BufferedReader(_RawBody(stream), READ_BLOCK)
    number = 0
    while line := body.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := body.readline(READ_BLOCK)) and not rest.endswith(b"\n"):
                pass
        yield number, line


def _validated(position: int, raw: object) -> tuple[int, dict] | EventOutcome:
    """One event validated, or its refusal naming the field at fault."""
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    event_id = event_id if isinstance(event_id, str) and is_unicode_text(event_id) else None  # the answer is UTF-8
    if not isinstance(raw, dict):
        return EventOutcome(position, None, "refused", f"an event must be a JSON object, not {type(raw).__name__}")
    try:  # the same rules in plain Python, far cheaper; the serializer only words a refusal
        event_id, user_id, movie_id, type_, fraction, time = check_event(raw)
    except ValueError:
        pass
    else:
        return position, {"event_id": event_id, "user_id": user_id, "movie_id": movie_id, "type": type_,
                          "fraction": fraction, "time": time}
    serializer = EventInputSerializer(data=raw)
    if not serializer.is_valid():
        field, messages = next(iter(serializer.errors.items()))
        message = messages[0] if isinstance(messages, list) else messages
        where = "" if field == "non_field_errors" else f"{field}: "
        return EventOutcome(position, event_id, "refused", f"{where}{message}")
    return position, dict(serializer.validated_data)


def _batch(items: list[tuple[int, dict] | EventOutcome]) -> EventBatch:
    return EventBatch(
        valid=[item for item in items if not isinstance(item, EventOutcome)],
        refused=[item for item in items if isinstance(item, EventOutcome)],
    )


def json_batches(data: object) -> list[EventBatch]:
    """The events of a JSON body (an array of events, or one event object), checked against :data:`MAX_JSON_EVENTS`."""
    events = [data] if isinstance(data, dict) else data
    if not isinstance(events, list):
        raise ParseError("The body must be a JSON array of events (or one event object).")
    if len(events) > MAX_JSON_EVENTS:
        raise TooManyEvents(f"Too many events: {len(events):,} in one JSON array, at most {MAX_JSON_EVENTS:,}; "
                            "split the batch or send NDJSON.")
    items = [_validated(index, raw) for index, raw in enumerate(events)]
    return [_batch(items[start:start + CHUNK]) for start in range(0, len(items), CHUNK)]


def ndjson_batches(lines: Iterable[tuple[int, bytes]]) -> Iterator[EventBatch]:
    """The events of an NDJSON body, :data:`CHUNK` lines at a time; blank lines are skipped.

    Raises :class:`TooManyEvents` past :data:`MAX_NDJSON_EVENTS` lines; as the
    batches are consumed inside one transaction, nothing of that request stays stored.
    """
    items: list[tuple[int, dict] | EventOutcome] = []
    for number, line in lines:
        if number > MAX_NDJSON_EVENTS:
            raise TooManyEvents(f"Too many lines: more than {MAX_NDJSON_EVENTS:,} in one NDJSON body; split it.")
        if not line.strip():
            continue
        items.append(_parsed_line(number, line))
        if len(items) == CHUNK:
            yield _batch(items)
            items = []
    if items:
        yield _batch(items)


def _parsed_line(number: int, line: bytes) -> tuple[int, dict] | EventOutcome:
    if len(line) > MAX_LINE_BYTES:
        return EventOutcome(number, None, "refused", f"malformed, longer than {MAX_LINE_BYTES:,} bytes")
    try:
        raw = json.loads(line)
    except UnicodeDecodeError:
        return EventOutcome(number, None, "refused", "malformed, not UTF-8")
    except ValueError as error:
        return EventOutcome(number, None, "refused", f"malformed JSON ({error.msg} at column {error.colno})")
    except RecursionError:  # json recurses per level of nesting: a few kB of "[[[..." is not a ValueError
        return EventOutcome(number, None, "refused", "malformed JSON (nested too deeply)")
    return _validated(number, raw)


def answer(outcomes: list[EventOutcome], key: str) -> tuple[dict, int]:
    """The response body and status: 200 when nothing was refused, else 422 naming the first refused event.

    ``key`` names the place of an event: ``index`` (JSON array) or ``line`` (NDJSON).
    """
    counts = {status: 0 for status in ("accepted", "duplicate", "refused")}
    results = []
    for outcome in outcomes:
        counts[outcome.status] += 1
        result = {key: outcome.position, "event_id": outcome.event_id, "status": outcome.status}
        if outcome.reason:
            result["reason"] = outcome.reason
        results.append(result)
    refused = next((o for o in outcomes if o.status == "refused"), None)
    code = 200 if refused is None else 422
    body = {"status": code, **counts, "results": results}
    if refused is not None:
        more = f" ({counts['refused'] - 1} more refused)" if counts["refused"] > 1 else ""
        place = f"event {refused.position}" if key == "index" else f"line {refused.position}"
        body = {"error": f"Refused {place}: {refused.reason}{more}; the {counts['accepted']} accepted events are stored.", **body}
    return body, code
