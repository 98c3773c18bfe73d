"""The hostile values every entry point is swept with: shared by the API, form and page sweeps.

Each is a string, as it arrives in a path segment, a query string or a form field.
"""

from __future__ import annotations

import json

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


def hostile_events(now_iso: str, future_iso: str) -> list[tuple[str, bytes, int, str, list[str]]]:
    """Event bodies for ``POST /api/events``: (name, body, status, words in the error, event ids that must be stored).

    ``now_iso`` is a valid recent time, ``future_iso`` one past the allowed clock skew. Each row mixes a
    good event with the bad one where the format allows, so the test proves the good one is kept and
    the bad one is not stored.
    """
    def event(event_id: str, **changes) -> dict:
        return {"event_id": event_id, "user_id": 101, "movie_id": 10, "type": "watched", "time": now_iso, **changes}

    def array(*events: dict) -> bytes:
        return json.dumps(list(events)).encode()

    def ndjson(*lines: bytes) -> bytes:
        return b"\n".join(lines) + b"\n"

    good = event("good")
    rows = [
        ("broken-json", b'[{"event_id": ', 400, "JSON parse error", []),
        ("nan-in-json", b'[{"event_id": "a", "fraction": NaN}]', 400, "not JSON compliant", []),
        ("not-an-array", b'"watched"', 400, "must be a JSON array", []),
        ("oversized-batch", array(*[event(f"big-{i}") for i in range(1001)]), 413, "at most 1,000", []),
        ("not-an-object", array(good, 42), 422, "event 1: an event must be a JSON object", ["good"]),
        ("unknown-user", array(good, event("bad", user_id=7777)), 422, "event 1: unknown user 7777", ["good"]),
        ("unknown-movie", array(good, event("bad", movie_id=99999)), 422, "event 1: unknown movie 99999", ["good"]),
        ("future", array(good, event("bad", time=future_iso)), 422, "is in the future", ["good"]),
        ("before-1995", array(good, event("bad", time="1994-06-01T00:00:00Z")), 422, "before 1995", ["good"]),
        ("no-offset", array(good, event("bad", time="2020-01-01T00:00:00")), 422, "UTC offset", ["good"]),
        ("time-a-number", array(good, event("bad", time=1600000000)), 422, "ISO 8601", ["good"]),
        ("time-month-13", array(good, event("bad", time="2020-13-01T00:00:00Z")), 422, "ISO 8601", ["good"]),
        ("user-id-a-string", array(good, event("bad", user_id="101")), 422, "user_id: a whole number", ["good"]),
        ("movie-id-a-fraction", array(good, event("bad", movie_id=10.5)), 422, "movie_id: a whole number", ["good"]),
        ("user-id-true", array(good, event("bad", user_id=True)), 422, "user_id: a whole number", ["good"]),
        ("user-id-huge", array(good, event("bad", user_id=int(HUGE))), 422, "user_id: ensure", ["good"]),
        ("type-unknown", array(good, event("bad", type="liked")), 422, "not a valid choice", ["good"]),
        ("fraction-over-1", array(good, event("bad", fraction=1.5)), 422, "from 0 to 1", ["good"]),
        ("fraction-a-string", array(good, event("bad", fraction="half")), 422, "from 0 to 1", ["good"]),
        ("fraction-true", array(good, event("bad", fraction=True)), 422, "from 0 to 1", ["good"]),
        ("fraction-not-a-watch", array(good, event("bad", type="not_interested", fraction=0.5)), 422,
         "only a 'watched' event", ["good"]),
        ("event-id-missing", array(good, {k: v for k, v in event("x").items() if k != "event_id"}), 422,
         "event_id: this field is required", ["good"]),
        ("event-id-nul", array(good, event(HOSTILE_TEXT["nul-inside"])), 422, "null characters", ["good"]),
        ("event-id-long", array(good, event(HOSTILE_TEXT["long"])), 422, "no more than 100", ["good"]),
        ("event-id-an-object", array(good, event({"id": 1})), 422, "not a valid string", ["good"]),
        ("ndjson-broken-line", ndjson(json.dumps(good).encode(), b"{broken"), 422, "line 2: malformed JSON", ["good"]),
        ("ndjson-not-utf8", ndjson(b"\xff\xfe garbage", json.dumps(good).encode()), 422, "line 1: malformed, not UTF-8",
         ["good"]),
        ("ndjson-array-line", ndjson(json.dumps(good).encode(), b"[1, 2]"), 422, "line 2: an event must be a JSON object",
         ["good"]),
        ("ndjson-long-line", ndjson(json.dumps(event("bad", pad="x" * 20_000)).encode(), json.dumps(good).encode()), 422,
         "line 1: malformed, longer than", ["good"]),
        ("ndjson-unknown-movie", ndjson(json.dumps(event("bad", movie_id=99999)).encode(), json.dumps(good).encode()), 422,
         "line 1: unknown movie 99999", ["good"]),
    ]
    return [(name, body, status, words, accepted) for name, body, status, words, accepted in rows]
