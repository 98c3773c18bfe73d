"""Where a run's data ends: the highest rating id and event id stored when the run starts reading.

The tables are the recommender app's (``Rating``, ``Event``); like the score
tables (:mod:`web.runs.scores`) they are named here by constants, so the runs
stay below the apps (docs/decisions.md, "Layout").
"""

from __future__ import annotations

from django.db import connection

RATING_TABLE = "recommender_rating"
"""The ``Rating`` model's table."""
EVENT_TABLE = "recommender_event"
"""The ``Event`` model's table."""


def data_watermark() -> tuple[int, int]:
    """The highest rating id and event id stored now (0 for an empty table): what a run starting now will read."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT coalesce(max(id), 0) FROM {RATING_TABLE}), "
                       f"(SELECT coalesce(max(id), 0) FROM {EVENT_TABLE})")
        ratings, events = cursor.fetchone()
    return int(ratings), int(events)
