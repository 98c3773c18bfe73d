"""Vectorised checks on parsed tables; each refuses the first bad row with its line and a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd

from web.recommender.ingest.textfile import Table

INT32_MAX = 2**31 - 1
"""Ids are PostgreSQL ``integer`` columns."""
MAX_TIMESTAMP = 253_402_300_799
"""9999-12-31T23:59:59Z in Unix seconds: the last second a ``timestamptz`` shows with four year digits."""
_LOOKUP_TABLE_LIMIT = 50_000_000
"""Largest id for which membership is tested with a boolean table instead of a binary search."""


def positive_ids(table: Table, column: str) -> np.ndarray:
    """Refuse ids that are not in 1..2**31-1; return the column as int32 (n_rows,)."""
    values = table.frame[column].to_numpy(dtype=np.int64)
    table.refuse_first(values <= 0, lambda i: f"{column} {values[i]} is not a positive integer")
    table.refuse_first(values > INT32_MAX, lambda i: f"{column} {values[i]} is too large (at most {INT32_MAX})")
    return values.astype(np.int32)


def half_stars(table: Table, column: str) -> np.ndarray:
    """Refuse ratings other than 0.5, 1.0, ..., 5.0 (NaN included); return them as float64 (n_rows,)."""
    values = table.frame[column].to_numpy(dtype=np.float64)
    doubled = values * 2
    ok = (doubled == np.round(doubled)) & (doubled >= 1) & (doubled <= 10)  # NaN compares False
    table.refuse_first(~ok, lambda i: f"{column} {_number(values[i])} is not one of 0.5, 1.0, ..., 5.0")
    return values


def unix_seconds(table: Table, column: str) -> np.ndarray:
    """Refuse timestamps outside 1970..9999; return them as int64 Unix seconds (n_rows,)."""
    values = table.frame[column].to_numpy(dtype=np.int64)
    bad = (values < 0) | (values > MAX_TIMESTAMP)
    table.refuse_first(bad, lambda i: f"{column} {values[i]} is not a Unix time in seconds between 1970 and 9999")
    return values


def unique_values(table: Table, column: str, values: np.ndarray) -> None:
    """Refuse the first row that repeats an earlier row's ``values`` (n_rows,)."""
    first = _first_repeat(values.astype(np.int64))
    if first is not None:
        row, earlier = first
        table.fail(row, f"{column} {values[row]} already appears on line {table.lines.line_of(earlier)}")


def unique_ratings(table: Table, users: np.ndarray, movies: np.ndarray) -> int:
    """Refuse a second rating of the same (user, movie); return the number of distinct users.

    ``users`` and ``movies`` are positive int32 (n_rows,). One sort of the
    packed pair serves both jobs (``np.unique`` is far slower on 20M+ rows).
    """
    keys = (users.astype(np.int64) << 32) | movies.astype(np.int64)
    ordered = np.sort(keys)
    if (ordered[1:] == ordered[:-1]).any():
        row, earlier = _first_repeat(keys)
        table.fail(
            row, f"user {users[row]} rated movie {movies[row]} already on line {table.lines.line_of(earlier)}"
        )
    user_of = ordered >> 32
    return int(len(user_of) and 1 + np.count_nonzero(user_of[1:] != user_of[:-1]))


def known_ids(table: Table, column: str, values: np.ndarray, known: np.ndarray, where: str) -> None:
    """Refuse ids not in ``known`` (sorted, unique int64), naming the file that should list them."""
    if not len(values):
        return
    if len(known) and known[-1] <= _LOOKUP_TABLE_LIMIT:
        lookup = np.zeros(int(known[-1]) + 2, dtype=bool)
        lookup[known] = True
        ok = lookup[np.minimum(values, len(lookup) - 1)]  # the last slot is always False
    else:
        pos = np.minimum(np.searchsorted(known, values), max(len(known) - 1, 0))
        ok = known[pos] == values if len(known) else np.zeros(len(values), dtype=bool)
    table.refuse_first(~ok, lambda i: f"{column} {values[i]} is not in {where}")


def not_blank(table: Table, column: str) -> None:
    """Refuse empty (or all-space) text."""
    table.refuse_first(table.frame[column].str.strip() == "", lambda _: f"{column} is empty")


def max_length(table: Table, column: str, limit: int, text: pd.Series | None = None) -> None:
    """Refuse text longer than ``limit`` characters (the database column's size)."""
    lengths = (table.frame[column] if text is None else text).str.len().to_numpy()
    table.refuse_first(lengths > limit, lambda i: f"{column} is {lengths[i]} characters long; at most {limit} fit")


def _first_repeat(keys: np.ndarray) -> tuple[int, int] | None:
    """``(row, earlier row)`` for the first row whose key already occurred, or None (error path: argsort)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeat = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    if not len(repeat):
        return None
    rows = order[repeat]
    at = int(np.argmin(rows))
    row = int(rows[at])
    earlier = int(order[np.searchsorted(ordered, ordered[repeat[at]])])  # stable: leftmost = earliest
    return row, earlier


def _number(value: float) -> str:
    return "NaN" if np.isnan(value) else repr(float(value))
