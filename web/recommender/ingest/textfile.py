"""Read one delimited MovieLens file into a DataFrame, refusing it with file, line and reason.

The fast path is one ``pandas.read_csv`` with the final dtypes. Only when it
fails (or a cheap separator count disagrees) does :func:`read_table` take the
slower diagnostic path that finds the first offending record and says what is
wrong with it, so a clean 25M-row file costs one C parse.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np
import pandas as pd

from web.recommender.ingest.errors import IngestError
from web.recommender.ingest.lines import NEWLINE, RecordLines

Kind = Literal["int", "float", "str", "int?"]
"""``int``: required integer; ``int?``: integer or empty; ``float``: number; ``str``: text kept verbatim."""

_DTYPES: dict[str, object] = {"int": "int64", "float": "float64", "str": str, "int?": "Int64"}
_UTF8_BOM = b"\xef\xbb\xbf"
_ONE_BYTE_SEP = "\x1f"
"""Stand-in for a multi-byte separator ("::" in ml-1m) so the C parser can be used."""
_DIAGNOSE_ROWS = 1_000_000
"""Rows per chunk when a file that failed to parse is re-read to find its first bad value."""
_INTEGER = r"\s*[+-]?\d+(?:\.0*)?\s*"
_MAX_INT_DIGITS = 18
MAX_LINE_BYTES = 1 << 20
"""Longest line accepted (1 MiB). MovieLens records are well under 2 KB; a longer line is a wrong or damaged
file, refused while streaming, before the file is read into memory."""
_LINE_SCAN_BYTES = 1 << 24
"""Bytes read per step of that scan (bounds its memory at 16 MB)."""
_SHOWN_CHARS = 40
"""A bad value longer than this is cut short in the error message (a runaway field would flood the terminal)."""


@dataclass(frozen=True)
class Column:
    """One column of a file: its name (the header's, or ours for headerless files) and kind."""

    name: str
    kind: Kind


@dataclass(frozen=True)
class FileSpec:
    """How one MovieLens file is laid out."""

    name: str
    """File name, as error messages show it."""
    columns: tuple[Column, ...]
    sep: str = ","
    header: bool = True
    """The first line names the columns (CSV layout); ml-100k/ml-1m files have no header."""
    encoding: Literal["utf-8", "latin-1"] = "utf-8"
    """``latin-1`` files are read as UTF-8 when their bytes happen to be valid UTF-8 (a re-encoded copy)."""
    quoted: bool = True
    """Double quotes follow CSV rules; False where they are literal characters (ml-100k/ml-1m)."""
    needs_rows: bool = True
    """A file with no records is refused (ratings, movies); tags and links may be empty."""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass
class Table:
    """A parsed file: ``frame`` has one row per record, ``lines`` maps rows to editor lines."""

    spec: FileSpec
    frame: pd.DataFrame
    lines: RecordLines

    def fail(self, row: int, reason: str) -> NoReturn:
        """Refuse the file at pandas row ``row``."""
        raise IngestError(self.spec.name, self.lines.line_of(row), reason)

    def refuse_first(self, bad: np.ndarray | pd.Series, reason: Callable[[int], str]) -> None:
        """If any row of the boolean mask ``bad`` (n_rows,) is set, refuse the first with ``reason(row)``."""
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            row = int(np.argmax(bad))
            self.fail(row, reason(row))


def read_table(folder: Path, spec: FileSpec) -> Table:
    """Parse ``folder / spec.name`` with dtypes from ``spec``; raise :class:`IngestError` on any defect.

    Checks: the file exists and is not empty, the encoding, the header (exact
    names), the field count of every record, and that every numeric field
    parses. Range and cross-file checks are the callers' (:mod:`checks`).
    """
    path = folder / spec.name
    try:
        _refuse_overlong_lines(path, spec)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IngestError(spec.name, None, f"file not found in {folder}") from None
    except OSError as exc:
        raise IngestError(spec.name, None, f"cannot be read: {exc.strerror or exc}") from exc
    if spec.encoding == "utf-8" and raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM):]
    if not raw or raw.isspace():  # isspace() stops at the first character; strip() would copy 700 MB
        raise IngestError(spec.name, 1, f"file is empty; expected {_expectation(spec)}")
    encoding = _check_encoding(raw, spec)
    data = _without_trailing_blank_lines(raw)
    sep = spec.sep
    if len(sep) > 1:
        if _ONE_BYTE_SEP.encode() in data:
            line = _line_at(data, data.index(_ONE_BYTE_SEP.encode()))
            raise IngestError(spec.name, line, "contains a control character (0x1F)")
        data, sep = data.replace(sep.encode(), _ONE_BYTE_SEP.encode()), _ONE_BYTE_SEP
    if spec.header:
        _check_header(data, spec, sep, encoding)
    lines = RecordLines(data, ord(sep), quoted=spec.quoted, header=spec.header, ends_with_newline=raw.endswith(b"\n"))

    frame = _parse(data, spec, sep, encoding, lines)
    if spec.needs_rows and frame.empty:
        raise IngestError(spec.name, 2 if spec.header else 1, f"no records; expected {_expectation(spec)}")
    table = Table(spec, frame, lines)
    for column in spec.columns:
        if column.kind == "str":
            has_nul = frame[column.name].str.contains("\x00", regex=False)
            table.refuse_first(has_nul, lambda _: f"{column.name} contains a NUL character")
    return table


def _refuse_overlong_lines(path: Path, spec: FileSpec) -> None:
    """Refuse the first line longer than :data:`MAX_LINE_BYTES`, reading the file in fixed-size steps.

    A file that is no bigger than the limit cannot hold such a line and is
    not scanned. Otherwise each step is checked with vectorised passes and the
    scan stops at the first overlong line, so a 1 GB line costs one step past
    the limit, not 1 GB of memory. Cheap first: when every half-limit block of
    the step holds a newline, no line inside it can be too long, and only the
    lines crossing the step's edges are measured (about 0.13 s per 100 MB
    here, the read included; the file is then read from the page cache).
    """
    if path.stat().st_size <= MAX_LINE_BYTES:
        return
    buffer = np.empty(_LINE_SCAN_BYTES, dtype=np.uint8)
    block = MAX_LINE_BYTES // 2
    offset = line_start = lines_done = 0  # file offset of the step, of the current line's first byte, lines ended
    with path.open("rb") as file:
        while size := file.readinto(buffer):
            newline = buffer[:size] == NEWLINE
            count = np.count_nonzero(newline)
            if count:
                full = size // block * block
                if not newline[:full].reshape(-1, block).any(axis=1).all():
                    ends = np.flatnonzero(newline) + offset  # the rare path: measure every line of the step
                    too_long = np.diff(ends, prepend=line_start - 1) - 1 > MAX_LINE_BYTES
                    if too_long.any():
                        _refuse_overlong_line(spec, lines_done + int(np.argmax(too_long)) + 1)
                elif offset + int(np.argmax(newline)) - line_start > MAX_LINE_BYTES:
                    _refuse_overlong_line(spec, lines_done + 1)  # the line that began in an earlier step
                line_start = offset + size - int(np.argmax(newline[::-1]))
                lines_done += count
            offset += size
            if offset - line_start > MAX_LINE_BYTES:
                _refuse_overlong_line(spec, lines_done + 1)


def _refuse_overlong_line(spec: FileSpec, line: int) -> NoReturn:
    raise IngestError(
        spec.name, line, f"line is longer than {MAX_LINE_BYTES:,} bytes; expected {_expectation(spec)} (a damaged file?)"
    )


def _parse(data: bytes, spec: FileSpec, sep: str, encoding: str, lines: RecordLines) -> pd.DataFrame:
    """The fast path: one C parse with the final dtypes, then a cheap check of the field counts."""
    options = _read_options(spec, sep, encoding)
    try:
        frame = _read_typed(data, spec, options)
    except _PARSE_ERRORS as exc:
        _diagnose(data, spec, options, lines)
        raise IngestError(spec.name, None, f"cannot be parsed: {exc}") from exc
    ncols = len(spec.columns)
    # Too many fields raise above; a short record leaves an empty string in a
    # text column, which only the separator count reveals.
    if lines.quoted or data.count(sep.encode()) != (ncols - 1) * (len(frame) + int(spec.header)):
        _refuse_bad_field_count(data, spec, lines)
    return frame


_PARSE_ERRORS = (ValueError, OverflowError, pd.errors.ParserWarning)  # ParserError is a ValueError


def _read_typed(data: bytes, spec: FileSpec, options: dict, **extra):
    """``read_csv`` with the spec's dtypes (a DataFrame, or a chunk reader when ``chunksize`` is passed)."""
    with warnings.catch_warnings():
        # pandas only *warns* (and drops data) when the first record has an extra field.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return pd.read_csv(
            io.BytesIO(data),
            dtype={c.name: _DTYPES[c.kind] for c in spec.columns},
            na_values={c.name: [""] for c in spec.columns if c.kind == "int?"},
            **options,
            **extra,
        )


def _read_options(spec: FileSpec, sep: str, encoding: str) -> dict:
    return {
        "sep": sep,
        "header": 0 if spec.header else None,
        "names": spec.names,
        "index_col": False,
        "keep_default_na": False,  # a tag or title "NA"/"null" is text, not missing
        "skip_blank_lines": False,  # keeps row numbers aligned with records
        "quoting": csv.QUOTE_MINIMAL if spec.quoted else csv.QUOTE_NONE,
        "encoding": encoding,
        "engine": "c",
    }


def _diagnose(data: bytes, spec: FileSpec, options: dict, lines: RecordLines) -> None:
    """Find the first record the fast parse choked on and raise for it (error path only).

    Field counts first. Then the typed parse is repeated chunk by chunk to find
    the chunk that fails, and only that chunk is re-read as text to find the
    value: reading a 25M-row file as Python strings would take half a minute.
    """
    _refuse_bad_field_count(data, spec, lines)
    if lines.quoted:  # small files (movies, tags, links): records may span lines, read them all as text
        chunks = pd.read_csv(io.BytesIO(data), dtype=str, chunksize=_DIAGNOSE_ROWS, **options)
        _refuse_first_bad_number(chunks, spec, lines)
        return
    offset = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            for chunk in _read_typed(data, spec, options, chunksize=_DIAGNOSE_ROWS):
                offset += len(chunk)
    except _PARSE_ERRORS:
        # The field counts are right, so here every record is one line.
        text = pd.read_csv(
            io.BytesIO(data),
            dtype=str,
            **{**options, "header": None},
            skiprows=offset + int(spec.header),
            nrows=_DIAGNOSE_ROWS,
        )
        _refuse_first_bad_number([text], spec, lines, offset)


def _refuse_first_bad_number(chunks, spec: FileSpec, lines: RecordLines, offset: int = 0) -> None:
    """Raise for the first numeric field in the text ``chunks`` (consecutive rows from ``offset``) that is bad."""
    numeric = [c for c in spec.columns if c.kind != "str"]
    for chunk in chunks:
        problems = [found for c in numeric if (found := _first_bad_number(chunk[c.name], c)) is not None]
        if problems:
            row, reason = min(problems)
            raise IngestError(spec.name, lines.line_of(offset + row), reason)
        offset += len(chunk)


def _first_bad_number(text: pd.Series, column: Column) -> tuple[int, str] | None:
    """``(row within text, reason)`` for the first value of ``text`` that is not a ``column.kind``."""
    stripped = text.str.strip()
    empty = (stripped == "").to_numpy()
    if column.kind == "float":
        bad = pd.to_numeric(text, errors="coerce").isna().to_numpy()
    else:
        bad = ~text.str.fullmatch(_INTEGER).to_numpy(dtype=bool)
        bad |= (stripped.str.len() > _MAX_INT_DIGITS).to_numpy()
        if column.kind == "int?":
            bad &= ~empty
    if not bad.any():
        return None
    row = int(np.argmax(bad))
    value = stripped.iloc[row]
    if empty[row]:
        return row, f"{column.name} is empty"
    shown = value if len(value) <= _SHOWN_CHARS else f"{value[:_SHOWN_CHARS]}... ({len(value):,} characters)"
    if column.kind == "float":
        return row, f"{column.name} {shown!r} is not a number"
    if len(value) > _MAX_INT_DIGITS and value.lstrip("+-").isdigit():
        return row, f"{column.name} {shown} is too large"
    return row, f"{column.name} {shown!r} is not an integer"


def _refuse_bad_field_count(data: bytes, spec: FileSpec, lines: RecordLines) -> None:
    problem = lines.first_bad_field_count(len(spec.columns))
    if problem is None:
        return
    line = lines.line_of(problem.row)
    if problem.blank:
        raise IngestError(spec.name, line, "empty line")
    sep = "'::'" if spec.sep == "::" else repr(spec.sep)
    reason = f"expected {len(spec.columns)} fields separated by {sep}, got {problem.fields}"
    if problem.fields < len(spec.columns) and line == _last_line(data) and not lines.ends_with_newline:
        reason += " (the file ends in the middle of a record: truncated?)"
    raise IngestError(spec.name, line, reason)


def _check_encoding(raw: bytes, spec: FileSpec) -> str:
    """The codec to parse ``raw`` with; refuses bytes that are not valid UTF-8 in a UTF-8 file."""
    if np.frombuffer(raw, dtype=np.uint8).max() < 0x80:
        return "utf-8"  # plain ASCII, like every ratings file: nothing to check
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if spec.encoding == "latin-1":
            return "latin-1"  # the original ml-100k/ml-1m encoding: every byte is a character
        line = _line_at(raw, exc.start)
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise IngestError(
            spec.name,
            line,
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02X} at column {column}); the CSV layout is UTF-8",
        ) from None
    return "utf-8"


def _check_header(data: bytes, spec: FileSpec, sep: str, encoding: str) -> None:
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].rstrip(b"\r").decode(encoding)
    if first.split(sep) != spec.names:
        got = first.replace(_ONE_BYTE_SEP, spec.sep)
        raise IngestError(spec.name, 1, f"expected the header {spec.sep.join(spec.names)!r}, got {got!r}")


def _expectation(spec: FileSpec) -> str:
    if spec.header:
        return f"the header {spec.sep.join(spec.names)!r} and one record per line"
    return f"records of {len(spec.columns)} fields separated by {spec.sep!r}"


def _without_trailing_blank_lines(raw: bytes) -> bytes:
    """``raw`` minus blank lines after the last record (harmless, but pandas would make rows of them).

    Only the tail is inspected, and the usual single final newline is kept:
    the ratings file may be 700 MB and is not copied for this.
    """
    tail = raw[-64:]
    blank = len(tail) - len(tail.rstrip(b"\r\n"))
    if tail[len(tail) - blank :] in (b"", b"\n", b"\r\n"):
        return raw
    body = raw.rstrip(b"\r\n")  # rare: blank lines at the end; a copy is fine
    return body + b"\n"


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _last_line(data: bytes) -> int:
    return data.count(b"\n", 0, len(data) - 1) + 1  # a final newline ends the last line, it starts none
