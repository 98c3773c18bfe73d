"""Back-filling events from a file (CSV or NDJSON) with COPY: every line checked, then all stored in one transaction.

The file is read line by line and each line checked as the API checks an
event (the same types, time bounds and fraction rule). A malformed line
refuses the whole file, with the line number and the reason of each (up to
:data:`MAX_REPORTED`): a back-fill is re-run after a fix, so storing part of
it would only make the retry harder to reason about. The checked rows are
copied into a temporary table, checked for unknown users and movies there
(one query each), and inserted with ``ON CONFLICT (event_id) DO NOTHING``,
so loading the same file twice stores its events once.

CSV: a header row naming ``event_id,user_id,movie_id,type,time`` and
optionally ``fraction`` (empty for none). NDJSON: one event object a line, as the API takes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from web.recommender.models import EVENT_TYPES, Event, Movie, Rating, ServiceUser
from web.recommender.models.events import CLOCK_SKEW, EARLIEST_EVENT_TIME
from web.recommender.models.profiles import Profile

MAX_REPORTED = 20
"""Malformed lines named in one refusal (the count says how many there were in all)."""
CSV_COLUMNS = ("event_id", "user_id", "movie_id", "type", "time")
MAX_INT = 2**31 - 1


class EventFileError(ValueError):
    """The file was refused: the message names the file, and the lines and reasons."""


@dataclass
class EventLoadSummary:
    path: str
    lines: int
    inserted: int

    @property
    def duplicates(self) -> int:
        return self.lines - self.inserted

    def __str__(self) -> str:
        return f"{self.path}: {self.lines:,} events read, {self.inserted:,} stored, {self.duplicates:,} already stored"


def _check(raw: dict) -> tuple[str, int, int, str, float | None, dt.datetime]:
    """One event's values, or ValueError saying what is wrong (the same rules as the API's serializer)."""
    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100 or "\x00" in event_id:
        raise ValueError(f"event_id must be 1-100 characters; got {event_id!r}")
    ids = []
    for name in ("user_id", "movie_id"):
        value = raw.get(name)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
            raise ValueError(f"{name} must be a whole number from 1; got {raw.get(name)!r}")
        ids.append(value)
    type_ = raw.get("type")
    if type_ not in EVENT_TYPES:
        raise ValueError(f"type must be one of {', '.join(EVENT_TYPES)}; got {type_!r}")
    fraction = raw.get("fraction")
    if fraction in ("", None):
        fraction = None
    else:
        try:
            if isinstance(fraction, bool):
                raise ValueError
            fraction = float(fraction)
        except (TypeError, ValueError):
            raise ValueError(f"fraction must be a number from 0 to 1; got {raw.get('fraction')!r}") from None
        if math.isnan(fraction) or not 0 <= fraction <= 1:
            raise ValueError(f"fraction must be from 0 to 1; got {raw.get('fraction')!r}")
        if type_ != "watched":
            raise ValueError(f"only a 'watched' event has a fraction, not {type_!r}")
    text = raw.get("time")
    try:
        time = dt.datetime.fromisoformat(text) if isinstance(text, str) and len(text) <= 40 else None
    except ValueError:
        time = None
    if time is None:
        raise ValueError(f"time must be ISO 8601, e.g. 2026-12-01T18:30:00Z; got {text!r}")
    if time.tzinfo is None:
        raise ValueError(f"time needs its UTC offset (Z or +hh:mm); got {text!r}")
    if time < EARLIEST_EVENT_TIME:
        raise ValueError(f"time {text} is before 1995")
    if time > timezone.now() + CLOCK_SKEW:
        raise ValueError(f"time {text} is in the future")
    return event_id, ids[0], ids[1], type_, fraction, time


def _csv_records(handle) -> Iterator[tuple[int, dict | str]]:
    reader = csv.DictReader(handle)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise EventFileError(f"line 1: the header must name {', '.join(CSV_COLUMNS)} (and optionally fraction); "
                             f"missing {', '.join(missing)}")
    for record in reader:
        if None in record or None in record.values():  # more or fewer fields than the header
            yield reader.line_num, "the line has a different number of fields than the header"
        else:
            yield reader.line_num, record


def _ndjson_records(handle) -> Iterator[tuple[int, dict | str]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as error:
            yield number, f"malformed JSON ({error.msg} at column {error.colno})"
            continue
        yield number, raw if isinstance(raw, dict) else f"an event must be a JSON object, not {type(raw).__name__}"


def load_events(path: str | Path) -> EventLoadSummary:
    """Check every line of the file at ``path`` and store its events in one transaction; EventFileError if refused."""
    path = Path(path)
    if not path.is_file():
        raise EventFileError(f"{path}: no such file")
    records = _csv_records if path.suffix.lower() == ".csv" else _ndjson_records
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    errors: list[str] = []
    n_errors = lines = 0
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for number, record in records(handle):
                try:
                    if isinstance(record, str):
                        raise ValueError(record)
                    event_id, user_id, movie_id, type_, fraction, time = _check(record)
                except ValueError as error:
                    n_errors += 1
                    if len(errors) < MAX_REPORTED:
                        errors.append(f"line {number}: {error}")
                    continue
                lines += 1
                writer.writerow([number, event_id, user_id, movie_id, type_, "" if fraction is None else fraction,
                                 time.isoformat()])
    except UnicodeDecodeError as error:
        raise EventFileError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except EventFileError as error:
        raise EventFileError(f"{path}: {error}") from None
    if n_errors:
        raise EventFileError(f"{path}: {n_errors:,} malformed lines; " + "; ".join(errors))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE event_load (line integer, event_id varchar(100), user_id integer, movie_id integer, "
            "type varchar(20), fraction double precision, time timestamptz) ON COMMIT DROP"
        )
        buffer.seek(0)
        cursor.cursor.copy_expert("COPY event_load FROM STDIN WITH (FORMAT csv)", buffer)
        _refuse_unknown(cursor, path)
        cursor.execute(f"""
            INSERT INTO {Event._meta.db_table} (event_id, user_id, movie_id, type, fraction, time, received_at)
            SELECT event_id, user_id, movie_id, type, fraction, time, now() FROM event_load ORDER BY line
            ON CONFLICT (event_id) DO NOTHING""")
        inserted = cursor.rowcount
    return EventLoadSummary(str(path), lines, inserted)


def _refuse_unknown(cursor, path: Path) -> None:
    """EventFileError naming the lines whose user or movie is unknown (users: service users, profiles, or with ratings)."""
    cursor.execute(f"""
        SELECT l.line, 'unknown movie ' || l.movie_id FROM event_load l
        WHERE NOT EXISTS (SELECT 1 FROM {Movie._meta.db_table} m WHERE m.movie_id = l.movie_id)
        UNION ALL
        SELECT l.line, 'unknown user ' || l.user_id FROM event_load l
        WHERE NOT EXISTS (SELECT 1 FROM {ServiceUser._meta.db_table} s WHERE s.user_id = l.user_id)
          AND NOT EXISTS (SELECT 1 FROM {Profile._meta.db_table} p WHERE p.user_id = l.user_id)
          AND NOT EXISTS (SELECT 1 FROM {Rating._meta.db_table} r WHERE r.user_id = l.user_id)
        ORDER BY 1""")
    unknown = cursor.fetchall()
    if unknown:
        named = "; ".join(f"line {line}: {reason}" for line, reason in unknown[:MAX_REPORTED])
        raise EventFileError(f"{path}: {len(unknown):,} lines name unknown users or movies; {named}")
