"""NumPy columns into and out of PostgreSQL with binary ``COPY``: both halves of the format.

The binary format is built with one structured NumPy array (a fixed-width
record per row), so millions of rows cost a few array assignments instead of
a Python loop or a CSV round trip (see PERFORMANCE.md: binary COPY of 8M rows
is about 5 s, a CSV built by pandas four times that). Only fixed-width,
non-null columns are supported: that is every bulk table of this project.

Reading (:func:`read_columns`) is the reverse: every row of a fixed-width,
non-null result has the same byte layout, so the whole payload is one
structured array view and each column one conversion to native byte order -
no per-row Python.

No Django import: the precompute job, the ingest and the evaluation all use
it with a raw DB-API cursor.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping, Sequence

import numpy as np

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = _SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)

# PostgreSQL type name -> big-endian wire dtype.
WIRE_TYPES: dict[str, str] = {
    "smallint": ">i2",
    "integer": ">i4",
    "bigint": ">i8",
    "real": ">f4",
    "double precision": ">f8",
    "timestamptz": ">i8",  # microseconds since 2000-01-01 UTC
}

_POSTGRES_EPOCH_UNIX_SECONDS = 946_684_800
"""2000-01-01T00:00:00Z as Unix time: PostgreSQL's timestamp zero."""


def unix_seconds_to_timestamptz(seconds: np.ndarray) -> np.ndarray:
    """Unix seconds to the microseconds since 2000-01-01 that binary COPY expects for ``timestamptz``."""
    return (np.asarray(seconds, dtype=np.int64) - _POSTGRES_EPOCH_UNIX_SECONDS) * 1_000_000


def binary_copy_buffer(columns: Mapping[str, np.ndarray], types: Mapping[str, str]) -> bytes:
    """The binary COPY payload for ``columns`` (equal-length 1-D arrays), in their order.

    ``types`` maps each column to a key of :data:`WIRE_TYPES`.
    """
    names = list(columns)
    if not names:
        raise ValueError("binary_copy_buffer needs at least one column; got none")
    lengths = {name: len(columns[name]) for name in names}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"columns must have equal lengths; got {lengths}")
    unknown = {name: types.get(name) for name in names if types.get(name) not in WIRE_TYPES}
    if unknown:
        raise ValueError(f"unsupported column types {unknown}; supported: {sorted(WIRE_TYPES)}")

    fields: list[tuple[str, str]] = [("nfields", ">i2")]
    for i, name in enumerate(names):
        fields += [(f"len{i}", ">i4"), (f"val{i}", WIRE_TYPES[types[name]])]
    records = np.empty(lengths[names[0]], dtype=np.dtype(fields))
    records["nfields"] = len(names)
    for i, name in enumerate(names):
        wire = np.dtype(WIRE_TYPES[types[name]])
        records[f"len{i}"] = wire.itemsize
        records[f"val{i}"] = columns[name]
    return _HEADER + records.tobytes() + _TRAILER


def copy_columns(cursor, table: str, columns: Mapping[str, np.ndarray], types: Mapping[str, str]) -> int:
    """``COPY table (columns...) FROM STDIN BINARY`` through a psycopg2 cursor; returns the row count."""
    payload = binary_copy_buffer(columns, types)
    column_list = ", ".join(f'"{name}"' for name in columns)
    cursor.copy_expert(f"COPY {table} ({column_list}) FROM STDIN WITH (FORMAT binary)", io.BytesIO(payload))
    return len(next(iter(columns.values())))


def copy_text_rows(cursor, table: str, column_names: Sequence[str], csv_text: str) -> None:
    """``COPY`` CSV text (no header) for the small tables with strings and NULLs (movies, tags)."""
    column_list = ", ".join(f'"{name}"' for name in column_names)
    cursor.copy_expert(f"COPY {table} ({column_list}) FROM STDIN WITH (FORMAT csv)", io.StringIO(csv_text))


def read_columns(cursor, query: str, types: list[str]) -> list[np.ndarray]:
    """Run ``query`` through binary COPY on a psycopg2 ``cursor``; one native array per column of ``types``.

    ``types`` are PostgreSQL type names from :data:`WIRE_TYPES`,
    one per selected column, in order. NULLs are refused.
    """
    buffer = io.BytesIO()
    cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT binary)", buffer)
    return parse_columns(buffer.getbuffer(), types)


def in_ids_sql(ids: Collection[int]) -> str:
    """SQL ``= ANY('{1,2,3}'::integer[])``, to filter a :func:`read_columns` query by ids: ``COPY`` takes no
    parameters, so the ids are written into the statement, each through ``int()`` so that no text reaches the SQL."""
    return "= ANY('{" + ",".join(str(int(i)) for i in ids) + "}'::integer[])"


def parse_columns(payload: memoryview | bytes, types: list[str]) -> list[np.ndarray]:
    """Split a binary COPY payload of fixed-width columns ``types`` into native NumPy arrays."""
    payload = memoryview(payload)
    if bytes(payload[: len(_SIGNATURE)]) != _SIGNATURE:
        raise ValueError("not a PostgreSQL binary COPY payload: the signature is missing")
    extension = int.from_bytes(payload[15:19], "big")
    start = 19 + extension
    fields: list[tuple[str, str]] = [("nfields", ">i2")]
    for i, name in enumerate(types):
        fields += [(f"len{i}", ">i4"), (f"val{i}", WIRE_TYPES[name])]
    row = np.dtype(fields)
    body = len(payload) - start - 2  # the trailer is one int16 (-1)
    if body % row.itemsize:
        raise ValueError(
            f"binary COPY body of {body} bytes is not a whole number of {row.itemsize}-byte rows of {types}; "
            "a column is NULL or of another type"
        )
    records = np.frombuffer(payload, dtype=row, count=body // row.itemsize, offset=start)
    if len(records) and (records["nfields"] != len(types)).any():
        raise ValueError(f"binary COPY rows must have {len(types)} columns")
    columns = []
    for i, name in enumerate(types):
        if len(records) and (records[f"len{i}"] != np.dtype(WIRE_TYPES[name]).itemsize).any():
            raise ValueError(f"column {i} ({name}) holds NULLs or values of another width")
        columns.append(records[f"val{i}"].astype(np.dtype(WIRE_TYPES[name]).newbyteorder("=")))
    return columns
