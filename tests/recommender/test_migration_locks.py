"""Migrations never build or drop an index of the tables that grow with use while holding their writers off.

A plain ``CREATE INDEX`` locks out every insert of the table for the whole build (minutes for ml-25m's 25M
ratings), and the app role gives up on a lock after 5 s (``lock_timeout``): during an upgrade every rating or event
would be a 503. ``CREATE INDEX CONCURRENTLY`` (Django's ``AddIndexConcurrently``) lets them go on; the older
migrations, run on empty or small tables at install time, are left as they were.
"""

from __future__ import annotations

from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import AddIndex, RemoveIndex

GROWING = {"rating", "event", "userscore"}
"""Models whose tables grow with every rating, event and run (lower case, as the migrations name them)."""
FIRST_CHECKED = ("recommender", "0016_public_rating_figures")
"""Migrations from this one on are held to the rule: everything before ran when the tables were small."""


def test_indexes_of_growing_tables_are_built_and_dropped_concurrently():
    loader = MigrationLoader(None, ignore_no_migrations=True)  # the files alone: no database
    checked = [m for (app, name), m in loader.disk_migrations.items()
               if app == FIRST_CHECKED[0] and name >= FIRST_CHECKED[1]]
    assert checked, "the first migration held to the rule is missing"
    locking = [f"{m.app_label}.{m.name}: {type(op).__name__} on {op.model_name}"
               for m in checked for op in m.operations
               if type(op) in (AddIndex, RemoveIndex) and op.model_name.lower() in GROWING]
    assert not locking, f"use AddIndexConcurrently / RemoveIndexConcurrently (atomic = False): {locking}"
