"""What is stored, as row counts and checksums, so a hostile-input test can prove that nothing changed."""

from __future__ import annotations

import pytest
from django.db import connection

STORED_TABLES = (
    "recommender_movie",
    "recommender_rating",
    "recommender_tag",
    "recommender_profile",
    "recommender_serviceuser",
    "recommender_event",
    "recommender_popularmovie",
    "auth_user",
    "accounts_apitoken",
    "progress_run",
    "progress_activerun",
)
"""The tables a bad request, file or command could write: catalogue, ratings, events, accounts, runs."""


def stored(tables: tuple[str, ...] = STORED_TABLES) -> dict[str, tuple[int, str]]:
    """``{table: (row count, md5 of every row's text in a fixed order)}`` for ``tables``."""
    state = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"
            )
            state[table] = cursor.fetchone()
    return state


@pytest.fixture
def published(published_once, db):
    """The hostile tables' catalogue and run, committed once per module (``published_once``); what a row writes
    is rolled back at its end, and :func:`stored` shows it wrote nothing."""
    return published_once
