"""Back-filling events from a file (CSV or NDJSON) with COPY: every line checked, then all stored in one transaction.

Every line is checked as the API checks an event (the same types, time
bounds and fraction rule, :func:`check_event`). A CSV file is copied by
PostgreSQL into a temporary table of text columns as it is and checked there
set-based (:data:`ACCEPTED_AS_WRITTEN`); an NDJSON file is checked line by
line. A malformed line refuses the whole file, with the line number and the
reason of each (up to :data:`MAX_REPORTED`): a back-fill is re-run after a
fix, so storing part of it would only make the retry harder to reason about.
Unknown users and movies are looked up once per distinct id; the checked
lines whose ``event_id`` is not stored yet are inserted with one ``INSERT``
(with ``ON CONFLICT (event_id) DO NOTHING`` when another writer stored one
meanwhile), so loading the same file twice stores its events once. A load
that stored anything moves the load counter every HTTP validator names
(web/recommender/models/versions.py), so no client keeps a list with a
back-filled watch on a 304.

CSV: a header row naming ``event_id,user_id,movie_id,type,time`` and
optionally ``fraction`` (empty for none). NDJSON: one event object a line, as the API takes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.errors
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from web.recommender.models import EVENT_TYPES, Event, Movie, Rating, ServiceUser
from web.recommender.models.events import CLOCK_SKEW, EARLIEST_EVENT_TIME, EVENT_ID_UNIQUE
from web.recommender.models.profiles import Profile
from web.recommender.models.versions import LOAD, bump
from web.runs.retrain import request_check

MAX_REPORTED = 20
"""Malformed lines named in one refusal (the count says how many there were in all)."""
CSV_COLUMNS = ("event_id", "user_id", "movie_id", "type", "time")
MAX_INT = 2**31 - 1
COPY_BUFFER = 1 << 20
"""Bytes handed to PostgreSQL's COPY at a time."""
TEXT_ENCODING = "utf-8-sig"
"""UTF-8, and a byte order mark before the first line is skipped (spreadsheets and Windows tools write one; the API's
JSON parser skips it too). A whole CSV file copied by COPY needs no care: its first line, the header, is skipped."""
SORT_MEMORY = "256MB"
"""``work_mem`` of the load's transaction: its two sorts of the staged lines stay in memory instead of temporary files."""


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


def is_unicode_text(text: str) -> bool:
    """``text`` holds no lone UTF-16 surrogate (U+D800-U+DFFF), which JSON can spell (``"\\ud800"``) but no UTF-8 text,
    the database's included, can hold: the DRF serializer refuses one too."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_event(raw: dict, *, text: bool = False) -> tuple[str, int, int, str, float | None, dt.datetime]:
    """One event's values, or ValueError saying what is wrong: the API's rules, in plain Python.

    The API (:mod:`web.recommender.api.events`) runs it first on every event
    and asks its serializer only about the events it refuses, for the
    serializer's message: it is some 30 times cheaper than a DRF serializer,
    and accepts nothing the serializer would refuse (ids only as JSON
    numbers, an ``event_id`` with no surrounding spaces, the same time parser
    and bounds). ``text``: the values come from a CSV line, so ids and the
    fraction are digit strings (an empty fraction is none).
    """
    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100 or "\x00" in event_id or event_id != event_id.strip():
        raise ValueError(f"event_id must be 1-100 characters; got {event_id!r}")
    if not is_unicode_text(event_id):
        raise ValueError(f"event_id holds half of a UTF-16 surrogate pair, which is not text; got {event_id!r}")
    ids = []
    for name in ("user_id", "movie_id"):
        value = raw.get(name)
        if text and isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
            raise ValueError(f"{name} must be a whole number from 1; got {raw.get(name)!r}")
        ids.append(value)
    type_ = raw.get("type")
    if not isinstance(type_, str) or type_ not in EVENT_TYPES:
        raise ValueError(f"type must be one of {', '.join(EVENT_TYPES)}; got {type_!r}")
    fraction = raw.get("fraction")
    if fraction is None or (text and fraction == ""):
        fraction = None
    else:
        if text and isinstance(fraction, str):
            try:
                fraction = float(fraction)
            except ValueError:
                pass
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise ValueError(f"fraction must be a number from 0 to 1; got {raw.get('fraction')!r}")
        if math.isnan(fraction) or not 0 <= fraction <= 1:
            raise ValueError(f"fraction must be from 0 to 1; got {raw.get('fraction')!r}")
        if type_ != "watched":
            raise ValueError(f"only a 'watched' event has a fraction, not {type_!r}")
        fraction = float(fraction)
    value = raw.get("time")
    try:
        time = parse_datetime(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:  # well formed but no such time, e.g. month 13
        time = None
    if time is None:
        raise ValueError(f"time must be ISO 8601, e.g. 2026-12-01T18:30:00Z; got {value!r}")
    if time.tzinfo is None:
        raise ValueError(f"time needs its UTC offset (Z or +hh:mm); got {value!r}")
    if time < EARLIEST_EVENT_TIME:
        raise ValueError(f"time {value} is before 1995")
    if time > timezone.now() + CLOCK_SKEW:
        raise ValueError(f"time {value} is in the future")
    return event_id, ids[0], ids[1], type_, fraction, time


TIME_SHAPES = [f"9999-99-99T99:99:99{fraction}{zone}" for fraction in ["", *(("." + "9" * n) for n in range(1, 7))]
               for zone in ("Z", "+99:99", "-99:99")]
"""The time layouts the set-based check takes (what services write; a 9 stands for any ASCII digit): any other
layout goes through :func:`check_event`, which accepts it or words the refusal."""
STAGED = ("event_id", "user_id", "movie_id", "type", "fraction", "time")
"""The staging table's event columns, all text as the file has them (``line`` and any unused columns besides)."""


def _whole_number(column: str) -> str:
    """SQL: ``column`` is a whole number from 1 to :data:`MAX_INT` written plainly (digits, no sign, no leading zero).

    Each check is guarded by a CASE: PostgreSQL may evaluate ANDed conditions in any order, and a cast of text
    that is not a number would fail the statement instead of refusing the line.
    """
    return (f"CASE WHEN pg_input_is_valid({column}, 'integer') "
            f"THEN {column}::integer >= 1 AND {column}::integer::text = {column} ELSE false END")


ACCEPTED_AS_WRITTEN = f"""
    coalesce(length(event_id) BETWEEN 1 AND 100 AND ascii(event_id) BETWEEN 33 AND 126
             AND ascii(right(event_id, 1)) BETWEEN 33 AND 126, false)
    AND {_whole_number("user_id")} AND {_whole_number("movie_id")}
    AND coalesce(type IN ({", ".join(f"'{t}'" for t in EVENT_TYPES)}), false)
    AND CASE WHEN coalesce(fraction, '') = '' THEN true
             WHEN type = 'watched' AND translate(fraction, '0123456789', '') IN ('', '.')
                  AND pg_input_is_valid(fraction, 'double precision')
             THEN fraction::double precision BETWEEN 0 AND 1 ELSE false END
    AND CASE WHEN translate(time, '0123456789', '9999999999') = ANY(%(shapes)s)
                  AND substr(time, 12, 2)::integer < 24 AND substr(time, 15, 2)::integer < 60
                  AND substr(time, 18, 2)::integer < 60 AND (right(time, 1) = 'Z' OR right(time, 2)::integer < 60)
                  AND pg_input_is_valid(time, 'timestamptz')
             THEN time::timestamptz BETWEEN %(earliest)s AND %(latest)s ELSE false END"""
"""SQL, per staged line: the line is a valid event exactly as written, by :func:`check_event`'s rules.

It accepts nothing :func:`check_event` refuses (an event_id whose ends are printable ASCII cannot be changed by a
strip; ids only in the form their value prints as, fractions only of digits and a point, which Python's ``float``
reads as the same number; times only in :data:`TIME_SHAPES` with fields in range); a line it does not accept goes
to :func:`check_event`, which words the refusal or accepts another form.
"""


def load_events(path: str | Path) -> EventLoadSummary:
    """Check every line of the file at ``path`` and store its events in one transaction; EventFileError if refused.

    The file goes into a temporary table of text columns (a CSV file by one
    ``COPY`` of the file itself when PostgreSQL can read it as is; else, and
    for NDJSON, line by line in Python), the checks run set-based over that
    table, and one ``INSERT ... SELECT`` stores the events not stored yet
    (:func:`_insert_staged`) in the order of the table's (user, movie, type)
    index: no Python work per line on the way of a well-formed CSV file
    (docs/decisions.md, "Events").
    """
    path = Path(path)
    if not path.is_file():
        raise EventFileError(f"{path}: no such file")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            stage = _stage_csv if path.suffix.lower() == ".csv" else _stage_ndjson
            lines = _check_staged(cursor.cursor, refused=stage(cursor.cursor, path))
            _refuse_unknown(cursor.cursor)
            # A repeated event_id: the first line wins (the others are duplicates, as a retry's would be). The rows go
            # in the order of the (user, movie, type) index: inserted in the file's order, each would land on a
            # random page of that index, which outgrows shared_buffers long before the table is large (500,000
            # events into 4M: 261,000 pages read and 275,000 written by the insert, against 31,000 and 42,000).
            cursor.execute(f"SET LOCAL work_mem = '{SORT_MEMORY}'")
            inserted = _insert_staged(cursor.cursor)
            if inserted:
                # The read filter hides a back-filled watch at once; the lists' ETags (and the answers stored under
                # them) must move too. One counter every ETag names, as a MovieLens load does: a back-fill may touch
                # any number of users, and a counter per user would cost a sort of the whole file.
                bump([(LOAD, 0)])
            request_check()  # back-filled events count towards the next run too (RETRAIN_THRESHOLD)
    except UnicodeDecodeError as error:
        raise EventFileError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except EventFileError as error:
        raise EventFileError(f"{path}: {error}") from None
    return EventLoadSummary(str(path), lines, inserted)


INSERT_STAGED = f"""
    INSERT INTO {Event._meta.db_table} (event_id, user_id, movie_id, type, fraction, time, received_at)
    SELECT event_id, user_id::integer, movie_id::integer, type, nullif(fraction, '')::double precision,
           time::timestamptz, now()
    FROM (SELECT DISTINCT ON (event_id COLLATE "C") * FROM event_load
          ORDER BY event_id COLLATE "C", line) first_lines
    {{stored}}
    ORDER BY user_id::integer, movie_id::integer, type
    {{conflict}}"""
"""SQL: store the staged lines, each ``event_id`` once (its first line), in the order of the (user, movie, type)
index; ``stored`` and ``conflict`` say how events already stored are skipped (:func:`_insert_staged`)."""


def _insert_staged(cursor) -> int:
    """Insert the staged events not stored yet; how many were inserted.

    The events already stored are left out by an anti-join on the
    ``event_id`` index, and the rest go in with a plain ``INSERT``: ``ON
    CONFLICT DO NOTHING`` makes each row a speculative insertion (a probe, a
    token, a confirmation in the WAL), about a tenth of the insert's time
    (docs/decisions.md, "Events"). Only an event another transaction stored
    after the anti-join looked (the API, a second load, at the same time)
    can then collide: the plain insert is undone to its savepoint and done
    again with ``ON CONFLICT DO NOTHING``, so the outcome is the same either way.
    """
    cursor.execute("SAVEPOINT event_insert")
    try:
        cursor.execute(INSERT_STAGED.format(conflict="", stored=f"""
            WHERE NOT EXISTS (SELECT 1 FROM {Event._meta.db_table} stored
                              WHERE stored.event_id = first_lines.event_id)"""))
    except psycopg2.errors.UniqueViolation as error:
        if error.diag.constraint_name != EVENT_ID_UNIQUE:
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT event_insert")
        cursor.execute(INSERT_STAGED.format(conflict="ON CONFLICT (event_id) DO NOTHING", stored=""))
    inserted = cursor.rowcount
    cursor.execute("RELEASE SAVEPOINT event_insert")
    return inserted


def _create_staging(cursor, extra: int = 0) -> None:
    """The temporary table ``event_load``: ``line``, the :data:`STAGED` columns and ``extra`` unused ones, as text.

    ``line`` defaults to 2, 3, ...: a CSV line's number when the file is copied whole (:func:`_stage_csv`: a file
    without quotes has no field that spans lines).
    """
    columns = ", ".join(f"{name} text" for name in (*STAGED, *(f"unused_{i}" for i in range(extra))))
    cursor.execute(f"CREATE TEMP TABLE event_load (line bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 2), "
                   f"{columns}) ON COMMIT DROP")


def _stage_csv(cursor, path: Path) -> list[tuple[int, str]]:
    """Stage a CSV file; the lines refused while reading it, as ``(line, reason)``.

    First one ``COPY`` of the file as it is, the header's columns in their
    order, when the file has no quote character (PostgreSQL and Python's csv
    module read a quote inside a field differently; a file of ids, numbers and
    times needs none). PostgreSQL refuses what the csv module would read
    otherwise (a line with another number of fields, a blank line, mixed line
    ends, a NUL character, bytes that are not UTF-8); then, as for a file with
    quotes, it is read in Python instead, which names such lines
    (:func:`_stage_csv_lines`).
    """
    with path.open(encoding=TEXT_ENCODING, newline="") as handle:
        header = next(csv.reader(handle), None) or []
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise EventFileError(f"line 1: the header must name {', '.join(CSV_COLUMNS)} (and optionally fraction); "
                             f"missing {', '.join(missing)}")
    # A name the header repeats: its last column counts, as a csv.DictReader reads it.
    used = {name: index for index, name in enumerate(header) if name in STAGED}
    columns = [name if used.get(name) == index else f"unused_{index}" for index, name in enumerate(header)]
    with path.open("rb") as raw:
        quoted = any(b'"' in chunk for chunk in iter(lambda: raw.read(COPY_BUFFER), b""))
    if quoted:
        _create_staging(cursor)
        return _stage_csv_lines(cursor, path, header)
    cursor.execute("SAVEPOINT event_copy")
    _create_staging(cursor, extra=len(header))
    try:
        with path.open("rb") as raw:
            cursor.copy_expert(f"COPY event_load ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, HEADER)", raw,
                               size=COPY_BUFFER)
    except psycopg2.DataError:  # a malformed line, a NUL character, bytes that are not UTF-8
        cursor.execute("ROLLBACK TO SAVEPOINT event_copy")
        _create_staging(cursor)
        return _stage_csv_lines(cursor, path, header)
    cursor.execute("RELEASE SAVEPOINT event_copy")
    return []


def _stage_csv_lines(cursor, path: Path, header: list[str]) -> list[tuple[int, str]]:
    """Stage a CSV file PostgreSQL would not copy as it is, read line by line; the lines refused on the way."""
    refused, width = [], len(header)
    last = {name: index for index, name in enumerate(header)}  # a repeated name: its last column, as in _stage_csv
    positions = [last.get(name) for name in STAGED]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    with path.open(encoding=TEXT_ENCODING, newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            if not row:
                continue  # a blank line is skipped, as csv.DictReader does
            if len(row) != width:
                refused.append((reader.line_num, "the line has a different number of fields than the header"))
            elif any("\x00" in field for field in row):
                refused.append((reader.line_num, "the line holds a NUL character"))
            else:
                writer.writerow([reader.line_num, *("" if i is None else row[i] for i in positions)])
    out.seek(0)
    cursor.copy_expert(f"COPY event_load (line, {', '.join(STAGED)}) FROM STDIN WITH (FORMAT csv)", out)
    return refused


def _stage_ndjson(cursor, path: Path) -> list[tuple[int, str]]:
    """Stage an NDJSON file: each line checked in Python (:func:`check_event`, as the API does); the refused lines."""
    refused = []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    with path.open(encoding=TEXT_ENCODING, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as error:
                refused.append((number, f"malformed JSON ({error.msg} at column {error.colno})"))
                continue
            except RecursionError:  # json recurses per level of nesting: a few kB of "[[[..." is not a ValueError
                refused.append((number, "malformed JSON (nested too deeply)"))
                continue
            if not isinstance(raw, dict):
                refused.append((number, f"an event must be a JSON object, not {type(raw).__name__}"))
                continue
            try:
                writer.writerow([number, *_staged_text(check_event(raw))])
            except ValueError as error:
                refused.append((number, str(error)))
    _create_staging(cursor)
    out.seek(0)
    cursor.copy_expert(f"COPY event_load (line, {', '.join(STAGED)}) FROM STDIN WITH (FORMAT csv)", out)
    return refused


def _staged_text(event: tuple[str, int, int, str, float | None, dt.datetime]) -> list[str]:
    """An event :func:`check_event` accepted, as the staging table's text in the form :data:`ACCEPTED_AS_WRITTEN` takes."""
    event_id, user_id, movie_id, type_, fraction, time = event
    return [event_id, str(user_id), str(movie_id), type_, "" if fraction is None else repr(fraction),
            time.astimezone(dt.UTC).isoformat()]


def _check_staged(cursor, refused: list[tuple[int, str]]) -> int:
    """The staged lines' count, once each is checked; EventFileError naming the refused lines (``refused`` too).

    One scan accepts the lines valid as written (:data:`ACCEPTED_AS_WRITTEN`);
    the others, normally none, go through :func:`check_event`: a line it
    accepts is rewritten in the staging table in the form the insert reads.
    """
    params = {"shapes": TIME_SHAPES, "earliest": EARLIEST_EVENT_TIME, "latest": timezone.now() + CLOCK_SKEW}
    cursor.execute(f"SELECT count(*), count(*) FILTER (WHERE NOT ({ACCEPTED_AS_WRITTEN})) FROM event_load", params)
    lines, unchecked = cursor.fetchone()
    if unchecked:
        cursor.execute(f"SELECT line, {', '.join(STAGED)} FROM event_load WHERE NOT ({ACCEPTED_AS_WRITTEN})", params)
        rewritten = []
        for line, *values in cursor.fetchall():
            try:
                event = check_event({name: value or "" for name, value in zip(STAGED, values, strict=True)}, text=True)
            except ValueError as error:
                refused.append((line, str(error)))
                continue
            rewritten.append([line, *_staged_text(event)])
        if rewritten and not refused:  # one statement, whatever their number
            cursor.execute(f"""
                UPDATE event_load e SET ({', '.join(STAGED)}) = ({', '.join(f"r.{name}" for name in STAGED)})
                FROM unnest(%s::bigint[], {', '.join(['%s::text[]'] * len(STAGED))}) AS r(line, {', '.join(STAGED)})
                WHERE e.line = r.line""", [list(column) for column in zip(*rewritten, strict=True)])
    if refused:
        raise EventFileError(f"{len(refused):,} malformed lines; " + _named(refused))
    return lines


def _named(refused: list[tuple[int, str]]) -> str:
    """The first :data:`MAX_REPORTED` of the refused ``(line, reason)``, by line: "line N: reason; ..."."""
    return "; ".join(f"line {line}: {reason}" for line, reason in sorted(refused)[:MAX_REPORTED])


def _refuse_unknown(cursor) -> None:
    """EventFileError naming the lines whose user or movie is unknown (users: service users, profiles, or with ratings).

    Set-based over the staged lines: each distinct id is one index probe.
    """
    cursor.execute(f"""
        SELECT ARRAY(SELECT u FROM (SELECT DISTINCT user_id::integer AS u FROM event_load) users
                     WHERE NOT EXISTS (SELECT 1 FROM {ServiceUser._meta.db_table} s WHERE s.user_id = u)
                       AND NOT EXISTS (SELECT 1 FROM {Profile._meta.db_table} p WHERE p.user_id = u)
                       AND NOT EXISTS (SELECT 1 FROM {Rating._meta.db_table} r WHERE r.user_id = u)),
               ARRAY(SELECT m FROM (SELECT DISTINCT movie_id::integer AS m FROM event_load) movies
                     WHERE NOT EXISTS (SELECT 1 FROM {Movie._meta.db_table} x WHERE x.movie_id = m))""")
    unknown_users, unknown_movies = cursor.fetchone()
    if not unknown_users and not unknown_movies:
        return
    cursor.execute("""
        SELECT line, 'unknown movie ' || movie_id FROM event_load WHERE movie_id::integer = ANY(%s)
        UNION ALL
        SELECT line, 'unknown user ' || user_id FROM event_load WHERE user_id::integer = ANY(%s)""",
                   [unknown_movies, unknown_users])
    unknown = cursor.fetchall()
    raise EventFileError(f"{len(unknown):,} lines name unknown users or movies; " + _named(unknown))
