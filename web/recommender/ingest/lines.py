"""Records of a delimited text file and the line numbers an editor shows for them.

pandas numbers rows, not lines. Error messages must name the line a person
finds in a text editor (header = line 1), so this module maps a pandas row
back to its first physical line. For files without quotes that is plain
arithmetic; in quoted CSV a field may hold a newline, so the record starts are
found with one vectorised pass over the bytes (quote parity), and only when a
line number or a field count is actually needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

NEWLINE, CARRIAGE_RETURN, QUOTE = 0x0A, 0x0D, 0x22
SCAN_CHUNK_BYTES = 1 << 26
"""Bytes scanned per step when counting fields of unquoted files (bounds memory on 25M-line files)."""


@dataclass(frozen=True)
class FieldCountProblem:
    """The first record whose field count is wrong."""

    row: int
    """Row index as pandas numbers it (0 = first record after the header)."""
    fields: int
    """How many fields the record has (1 for a blank line)."""
    blank: bool
    """True when the record is an empty line."""


class RecordLines:
    """Maps the rows of one file's bytes to line numbers and counts their fields.

    ``data`` is the file's bytes with trailing newlines stripped and any
    multi-byte separator already replaced by the one byte ``sep``. ``quoted``
    says whether double quotes follow CSV rules in this file (False for the
    ml-100k/ml-1m layouts, where quotes are literal); ``ends_with_newline``
    whether the file as stored ended with one (a missing one hints at a
    truncated copy).
    """

    def __init__(self, data: bytes, sep: int, *, quoted: bool, header: bool, ends_with_newline: bool = True) -> None:
        self._data = data
        self.ends_with_newline = ends_with_newline
        self._sep = sep
        self.quoted = quoted and b'"' in data
        self._header_records = 1 if header else 0

    def line_of(self, row: int) -> int:
        """The 1-based line on which pandas row ``row`` starts."""
        record = row + self._header_records
        if not self.quoted:
            return record + 1  # one record per line
        start = int(self._quoted_records[0][record])
        return int(np.searchsorted(self._all_newlines, start)) + 1

    def first_bad_field_count(self, expected: int) -> FieldCountProblem | None:
        """The first data record that does not have ``expected`` fields, or None."""
        for first_record, counts, blank in self._scan():
            bad = (counts != expected) | blank
            if self._header_records and first_record == 0:
                bad[0] = False  # the header was checked by name already
            if bad.any():
                i = int(np.argmax(bad))
                return FieldCountProblem(first_record + i - self._header_records, int(counts[i]), bool(blank[i]))
        return None

    # -- scanning -----------------------------------------------------------
    @cached_property
    def _all_newlines(self) -> np.ndarray:
        return np.flatnonzero(np.frombuffer(self._data, dtype=np.uint8) == NEWLINE)

    @cached_property
    def _quoted_records(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arr = np.frombuffer(self._data, dtype=np.uint8)
        # A byte is inside quotes when an odd number of quotes precede it; an
        # escaped quote ("") adds two and leaves the parity alone.
        outside = ~np.logical_xor.accumulate(arr == QUOTE)
        return _records(arr, self._sep, outside)

    def _scan(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(first record index, field counts, blank flags)`` for consecutive runs of records."""
        if self.quoted:
            starts, counts, blank = self._quoted_records
            yield 0, counts, blank
            return
        data, record, pos = self._data, 0, 0
        while pos < len(data):
            end = len(data)
            if pos + SCAN_CHUNK_BYTES < end:
                cut = data.rfind(b"\n", pos, pos + SCAN_CHUNK_BYTES)
                end = cut + 1 if cut >= 0 else (data.find(b"\n", pos + SCAN_CHUNK_BYTES) + 1 or end)
            arr = np.frombuffer(data, dtype=np.uint8, count=end - pos, offset=pos)
            starts, counts, blank = _records(arr, self._sep, None)
            yield record, counts, blank
            record += len(starts)
            pos = end


def _records(arr: np.ndarray, sep: int, outside: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Record starts, field counts and blank flags of ``arr``, a run of whole records.

    ``arr`` either ends with a newline (a chunk) or at the end of the data
    (whose trailing newlines were stripped). ``outside`` masks the bytes that
    are not inside quotes (None: every byte).
    """
    is_newline = arr == NEWLINE
    is_sep = arr == sep
    if outside is not None:
        is_newline &= outside
        is_sep &= outside
    ends = np.flatnonzero(is_newline)
    if len(arr) and arr[-1] != NEWLINE:
        ends = np.append(ends, len(arr))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    counts = np.bincount(np.searchsorted(ends, np.flatnonzero(is_sep)), minlength=len(ends)) + 1
    lengths = ends - starts
    has_cr = np.zeros(len(ends), dtype=bool)
    nonempty = lengths > 0
    has_cr[nonempty] = arr[ends[nonempty] - 1] == CARRIAGE_RETURN
    blank = (lengths - has_cr) == 0
    return starts, counts, blank
