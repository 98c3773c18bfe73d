"""Read ``COPY (query) TO STDOUT (FORMAT binary)`` into NumPy columns: the reverse of :mod:`web.pgcopy`.

Every row of a fixed-width, non-null result has the same byte layout, so the
whole payload is one structured array view and each column one conversion to
native byte order - no per-row Python.
"""

from __future__ import annotations

import io

import numpy as np

from web.pgcopy import WIRE_TYPES

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def read_columns(cursor, query: str, types: list[str]) -> list[np.ndarray]:
    """Run ``query`` through binary COPY on a psycopg2 ``cursor``; one native array per column of ``types``.

    ``types`` are PostgreSQL type names from :data:`web.pgcopy.WIRE_TYPES`,
    one per selected column, in order. NULLs are refused.
    """
    buffer = io.BytesIO()
    cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT binary)", buffer)
    return parse_columns(buffer.getbuffer(), types)


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
