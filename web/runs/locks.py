"""The runs' transaction-scoped PostgreSQL advisory locks: shards of one run serialise on them.

(The job's session-level lock, one run at a time, is ``jobs.precompute.runlock``'s, in namespaces of its own.)
"""

from __future__ import annotations

import zlib

NAMESPACE = 0x5043  # "PC": first key of every lock taken here


def advisory_xact_lock(cursor, key: int) -> None:
    """Take the lock ``key`` until the transaction ends (commit or rollback) on a DB-API ``cursor``."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [NAMESPACE, int(key) & 0x7FFFFFFF])


def name_key(text: str) -> int:
    """A stable 31-bit lock key for a run name (Python's ``hash`` differs between processes)."""
    return zlib.crc32(text.encode()) & 0x7FFFFFFF
