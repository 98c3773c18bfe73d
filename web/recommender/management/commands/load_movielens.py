"""``manage.py load_movielens PATH``: load a MovieLens folder in one transaction, idempotently."""

from __future__ import annotations

import psycopg2
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from web.recommender.ingest import IngestError, load_movielens
from web.recommender.ingest.progress import for_output


class Command(BaseCommand):
    help = (
        "Load the MovieLens set in PATH (the CSV layout of ml-latest-small/ml-latest/ml-25m/ml-32m, or ml-100k, "
        "or ml-1m) into the database with COPY, in one transaction. Loading the same folder again changes "
        "nothing; a malformed file is refused with its file, line and reason, and nothing is loaded."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path", help="folder holding ratings.csv + movies.csv, u.data + u.item, or ratings.dat + movies.dat"
        )
        parser.add_argument("--quiet", action="store_true", help="print nothing but errors (same as --verbosity 0)")
        parser.add_argument(
            "--database", default=DEFAULT_DB_ALIAS, help="database alias to load into (default: %(default)s)"
        )

    def handle(self, *args, path: str, quiet: bool, database: str, verbosity: int, **options):
        progress = for_output(self.stderr, 0 if quiet else verbosity)
        try:
            summary = load_movielens(path, progress=progress, using=database)
        except IngestError as exc:
            raise CommandError(f"{exc}. Nothing was loaded.") from exc
        # The loader writes through the raw psycopg2 cursor (COPY is not in the DB-API), whose errors Django
        # does not wrap: a missing table (never migrated) arrives as psycopg2's own error.
        except (DatabaseError, psycopg2.Error) as exc:
            raise CommandError(
                f"the database refused the load: {exc}. Nothing was loaded. "
                "Is the database reachable and migrated (manage.py migrate)?"
            ) from exc
        finally:
            if progress is not None:
                progress.close()
        if not quiet and verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(str(summary)) if summary.changed else f"{summary} (nothing changed)")
