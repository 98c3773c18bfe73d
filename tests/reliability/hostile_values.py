"""The hostile values every entry point is swept with: shared by the API, form and page sweeps.

Each is a string, as it arrives in a path segment, a query string or a form field.
"""

from __future__ import annotations

HUGE = "9" * 30
"""An id far beyond PostgreSQL's integer and bigint."""

HOSTILE_IDS = {
    "negative": "-1",
    "negative-large": "-10",
    "zero": "0",
    "int32-overflow": str(2**31),
    "int64-overflow": str(2**63),
    "huge": HUGE,
    "not-a-number": "abc",
    "fraction": "1.5",
    "exponent": "1e400",
    "nan": "NaN",
    "padded": " 7 ",
    "plus": "+7",
    "hex": "0x10",
    "empty": "",
}
"""Ids that are negative, zero, huge or not numbers (name -> value)."""

HOSTILE_TEXT = {
    "nul": "\x00",
    "nul-inside": "Drama\x00",
    "long": "a" * 5000,
    "quotes-and-tags": "'\"><script>x</script>",
    "percent": "%%s%n",
    "path-traversal": "../../etc/passwd",
    "unicode": "ｏｐｅｒａｔｏｒ\u202e\ufeff",
    "newline": "a\r\nSet-Cookie: x=1",
}
"""Text that is NUL, very long, markup, format strings or control characters (name -> value)."""

HOSTILE_VALUES = HOSTILE_IDS | HOSTILE_TEXT
"""Every hostile value, for a field that should be an id and a field that should be text alike."""
