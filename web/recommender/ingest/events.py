"""Back-filling events from a file (CSV or NDJSON) with COPY: every line checked, then all stored in one transaction.

Every line is checked as the API checks an event (the same types, time
bounds and fraction rule): a CSV file column by column (pandas), an NDJSON
file line by line. A malformed line
refuses the whole file, with the line number and the reason of each (up to
:data:`MAX_REPORTED`): a back-fill is re-run after a fix, so storing part of
it would only make the retry harder to reason about. Unknown users and movies
are looked up once per distinct id; the checked rows are copied into a
temporary table and inserted with one ``INSERT ... ON CONFLICT (event_id) DO
NOTHING``, so loading the same file twice stores its events once.

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

import numpy as np
import pandas as pd

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from web.recommender.models import EVENT_TYPES, Event, Movie, Rating, ServiceUser
from web.recommender.models.events import CLOCK_SKEW, EARLIEST_EVENT_TIME
from web.recommender.models.profiles import Profile
from web.runs.retrain import request_check

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


ISO_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
"""The time format the vectorised CSV check takes (what services write); any other goes through :func:`check_event`."""
FRACTION = r"[0-9]*\.?[0-9]+"
STAGED = ["line", "event_id", "user_id", "movie_id", "type", "fraction", "time"]
"""The staging table's columns, in the order of the COPY."""


def _csv_rows(handle) -> tuple[list[str], list[list[str]], list[int], list[str]]:
    """The header, the rows with as many fields as it and their line numbers, and the other lines' refusals."""
    reader = csv.reader(handle)
    header = next(reader, None) or []
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise EventFileError(f"line 1: the header must name {', '.join(CSV_COLUMNS)} (and optionally fraction); "
                             f"missing {', '.join(missing)}")
    rows, lines, refused = [], [], []
    width = len(header)
    for row in reader:
        if len(row) == width:
            rows.append(row)
            lines.append(reader.line_num)
        elif row:  # a blank line is skipped, as csv.DictReader does
            refused.append(f"line {reader.line_num}: the line has a different number of fields than the header")
    return header, rows, lines, refused


def _csv_frame(handle) -> tuple[pd.DataFrame, int, list[str]]:
    """The checked events of a CSV file, as :data:`STAGED` columns; the count of refused lines and the first reasons.

    The checks run on whole columns (pandas): ids of digits in range, a known
    type, a fraction from 0 to 1 only on a watch, a time in :data:`ISO_TIME`
    form within the bounds, an event_id of 1-100 characters. A row any of them
    refuses goes through :func:`check_event`, which either words the refusal
    or accepts a form the column checks do not know (another ISO 8601 layout):
    the column checks accept nothing that :func:`check_event` would refuse.
    """
    header, rows, lines, refused = _csv_rows(handle)
    columns = dict(zip(header, zip(*rows, strict=True), strict=True)) if rows else {name: () for name in header}
    text = {name: pd.Series(columns.get(name, [""] * len(rows)), dtype=object) for name in (*CSV_COLUMNS, "fraction")}
    frame = pd.DataFrame({"line": np.array(lines, dtype=np.int64), "event_id": text["event_id"], "type": text["type"],
                          "time": text["time"]})
    ok = text["event_id"].str.len().between(1, 100) & ~text["event_id"].str.contains("\x00", regex=False)
    ok &= text["event_id"] == text["event_id"].str.strip()
    for name in ("user_id", "movie_id"):
        digits = text[name].str.fullmatch(r"[0-9]{1,10}")
        values = pd.to_numeric(text[name].where(digits, "0"), errors="coerce").fillna(0).astype(np.int64)
        ok &= digits & values.between(1, MAX_INT)
        frame[name] = values.to_numpy()
    ok &= text["type"].isin(EVENT_TYPES)
    fraction_text = text["fraction"]
    fraction = pd.to_numeric(fraction_text.where(fraction_text.str.fullmatch(FRACTION), None), errors="coerce")
    ok &= (fraction_text == "") | (fraction.between(0, 1) & (text["type"] == "watched"))
    frame["fraction"] = fraction.to_numpy(dtype=np.float64)
    times = pd.to_datetime(text["time"].where(text["time"].str.fullmatch(ISO_TIME), None), format="ISO8601", utc=True,
                           errors="coerce")
    ok &= times.between(pd.Timestamp(EARLIEST_EVENT_TIME), pd.Timestamp(timezone.now() + CLOCK_SKEW))
    n_refused = len(refused)
    for index in np.flatnonzero(~ok.to_numpy()):
        raw = {name: column[index] for name, column in columns.items()}
        try:
            event_id, user_id, movie_id, type_, value, time = check_event(raw, text=True)
        except ValueError as error:
            n_refused += 1
            if len(refused) < MAX_REPORTED:
                refused.append(f"line {lines[index]}: {error}")
            continue
        frame.loc[index, ["event_id", "user_id", "movie_id", "type", "fraction", "time"]] = [
            event_id, user_id, movie_id, type_, np.nan if value is None else value, time.isoformat()]
    refused.sort(key=lambda reason: int(reason.split(":", 1)[0].removeprefix("line ")))
    return frame[STAGED], n_refused, refused[:MAX_REPORTED]


def _ndjson_frame(handle) -> tuple[pd.DataFrame, int, list[str]]:
    """The checked events of an NDJSON file (:func:`check_event` on each line), like :func:`_csv_frame`."""
    checked, refused = [], []
    n_refused = 0
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            try:
                raw = json.loads(line)
            except ValueError as error:
                raise ValueError(f"malformed JSON ({error.msg} at column {error.colno})") from None
            if not isinstance(raw, dict):
                raise ValueError(f"an event must be a JSON object, not {type(raw).__name__}")
            event_id, user_id, movie_id, type_, fraction, time = check_event(raw)
        except ValueError as error:
            n_refused += 1
            if len(refused) < MAX_REPORTED:
                refused.append(f"line {number}: {error}")
            continue
        checked.append((number, event_id, user_id, movie_id, type_, np.nan if fraction is None else fraction,
                        time.isoformat()))
    return pd.DataFrame(checked, columns=STAGED), n_refused, refused


def load_events(path: str | Path) -> EventLoadSummary:
    """Check every line of the file at ``path`` and store its events in one transaction; EventFileError if refused."""
    path = Path(path)
    if not path.is_file():
        raise EventFileError(f"{path}: no such file")
    read = _csv_frame if path.suffix.lower() == ".csv" else _ndjson_frame
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            frame, n_refused, refused = read(handle)
    except UnicodeDecodeError as error:
        raise EventFileError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except EventFileError as error:
        raise EventFileError(f"{path}: {error}") from None
    if n_refused:
        raise EventFileError(f"{path}: {n_refused:,} malformed lines; " + "; ".join(refused))
    _refuse_unknown(frame, path)
    lines = len(frame)
    # A repeated event_id: the first line wins (the others are duplicates, as a retry's would be).
    frame = frame[~frame["event_id"].duplicated(keep="first")]
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False)
    buffer.seek(0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE event_load (line integer, event_id varchar(100), user_id integer, movie_id integer, "
            "type varchar(20), fraction double precision, time timestamptz) ON COMMIT DROP"
        )
        cursor.cursor.copy_expert("COPY event_load FROM STDIN WITH (FORMAT csv)", buffer)
        cursor.execute(f"""
            INSERT INTO {Event._meta.db_table} (event_id, user_id, movie_id, type, fraction, time, received_at)
            SELECT event_id, user_id, movie_id, type, fraction, time, now() FROM event_load
            ON CONFLICT (event_id) DO NOTHING""")
        inserted = cursor.rowcount
        request_check()  # back-filled events count towards the next run too (RETRAIN_THRESHOLD)
    return EventLoadSummary(str(path), lines, inserted)


def _refuse_unknown(frame: pd.DataFrame, path: Path) -> None:
    """EventFileError naming the lines whose user or movie is unknown (users: service users, profiles, or with ratings).

    Each distinct id is looked up once (an index probe), not each line.
    """
    users = np.unique(frame["user_id"].to_numpy(np.int64)).tolist()
    movies = np.unique(frame["movie_id"].to_numpy(np.int64)).tolist()
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT m FROM unnest(%s::integer[]) m
            WHERE NOT EXISTS (SELECT 1 FROM {Movie._meta.db_table} x WHERE x.movie_id = m)""", [movies])
        unknown_movies = [m for (m,) in cursor.fetchall()]
        cursor.execute(f"""
            SELECT u FROM unnest(%s::integer[]) u
            WHERE NOT EXISTS (SELECT 1 FROM {ServiceUser._meta.db_table} s WHERE s.user_id = u)
              AND NOT EXISTS (SELECT 1 FROM {Profile._meta.db_table} p WHERE p.user_id = u)
              AND NOT EXISTS (SELECT 1 FROM {Rating._meta.db_table} r WHERE r.user_id = u)""", [users])
        unknown_users = [u for (u,) in cursor.fetchall()]
    if not unknown_movies and not unknown_users:
        return
    bad_movie = frame["movie_id"].isin(unknown_movies)
    bad_user = frame["user_id"].isin(unknown_users)
    unknown = sorted(
        [(line, f"unknown movie {movie}") for line, movie in frame.loc[bad_movie, ["line", "movie_id"]].itertuples(index=False)]
        + [(line, f"unknown user {user}") for line, user in frame.loc[bad_user, ["line", "user_id"]].itertuples(index=False)]
    )
    named = "; ".join(f"line {line}: {reason}" for line, reason in unknown[:MAX_REPORTED])
    raise EventFileError(f"{path}: {len(unknown):,} lines name unknown users or movies; {named}")
