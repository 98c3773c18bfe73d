"""``manage.py load_events PATH``: back-fill a browsing service's events from a CSV or NDJSON file, with COPY."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from web.recommender.ingest.events import EventFileError, load_events


class Command(BaseCommand):
    help = (
        "Back-fill events from PATH: CSV (header event_id,user_id,movie_id,type,time[,fraction]) or NDJSON "
        "(one event object a line, as POST /api/events takes; any name not ending in .csv). Every line is "
        "checked first; a malformed line or an unknown user or movie refuses the file with line numbers and "
        "nothing is stored. Events already stored (by event_id) are skipped, so a re-run is safe. "
        "No refresh is queued: the next batch run learns from them."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the events file (.csv, or NDJSON)")

    def handle(self, *args, path: str, verbosity: int, **options):
        try:
            summary = load_events(path)
        except EventFileError as exc:
            raise CommandError(f"{exc}. Nothing was loaded.") from exc
        except DatabaseError as exc:
            raise CommandError(f"the database refused the load: {exc}. Nothing was loaded.") from exc
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(str(summary)))
