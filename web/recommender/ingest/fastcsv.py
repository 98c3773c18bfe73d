"""Write integer and half-star columns as CSV text at NumPy speed.

``DataFrame.to_csv`` formats 25M rows in about a minute; here each block of
rows becomes one ``uint8`` matrix of right-aligned ASCII digits padded with
NUL bytes, and dropping the NULs leaves the CSV text. No Python per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

BLOCK_ROWS = 1_000_000
"""Rows formatted per step: bounds the scratch matrix to a few dozen MB."""

_ZERO, _COMMA, _DOT, _CR, _LF, _PAD = 48, 44, 46, 13, 10, 0


def write_rows(
    out: BinaryIO, columns: Sequence[np.ndarray], kinds: Sequence[str], *, line_end: bytes = b"\r\n"
) -> None:
    """Append rows to the binary file ``out``: column ``i`` of each row is ``columns[i]``, comma-separated.

    ``columns`` are equal-length 1-D arrays; ``kinds[i]`` is ``"int"`` (a
    non-negative integer, written in decimal) or ``"half"`` (0.5..5.0 in half
    steps, written "4.5", "3.0").
    """
    n = len(columns[0])
    widths = [_width(col) if kind == "int" else 3 for col, kind in zip(columns, kinds, strict=True)]
    for start in range(0, n, BLOCK_ROWS):
        parts: list[np.ndarray] = []
        for i, (col, kind) in enumerate(zip(columns, kinds, strict=True)):
            block = col[start : start + BLOCK_ROWS]
            if i:
                parts.append(np.full((len(block), 1), _COMMA, dtype=np.uint8))
            parts.append(_digits(block, widths[i]) if kind == "int" else _half_stars(block))
        rows = len(parts[0])
        parts.append(np.tile(np.frombuffer(line_end, dtype=np.uint8), (rows, 1)))
        text = np.hstack(parts).ravel()
        out.write(text[text != _PAD].tobytes())


def _width(values: np.ndarray) -> int:
    if len(values) and values.min() < 0:
        raise ValueError(f"write_rows writes non-negative integers; got {values.min()}")
    return len(str(int(values.max()))) if len(values) else 1


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digits of ``values`` right-aligned, leading positions set to the pad byte."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.astype(np.int64 if values.max(initial=0) > np.iinfo(np.int32).max else np.int32)
    for j in range(width - 1, -1, -1):
        out[:, j] = rest % 10
        rest = rest // 10
    out += _ZERO
    # A position left of the value's first digit is a pad: 10**(width-j-1) > value.
    powers = 10 ** np.arange(width - 1, 0, -1, dtype=np.int64)  # for columns 0 .. width-2
    out[:, : width - 1][values[:, None] < powers[None, :]] = _PAD
    return out


def _half_stars(values: np.ndarray) -> np.ndarray:
    """(n, 3) ASCII of half-star ratings: "4.5", "3.0"."""
    doubled = np.rint(np.asarray(values, dtype=np.float64) * 2).astype(np.int16)
    out = np.empty((len(values), 3), dtype=np.uint8)
    out[:, 0] = _ZERO + doubled // 2
    out[:, 1] = _DOT
    out[:, 2] = _ZERO + 5 * (doubled % 2)
    return out
