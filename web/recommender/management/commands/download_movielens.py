"""``manage.py download_movielens NAME``: fetch a MovieLens zip over https, verify its SHA-256, extract it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from web.recommender.ingest import KNOWN_SETS, DownloadError, download_movielens
from web.recommender.ingest.download import ALLOW_INSECURE_HTTP_ENV, BASE_URL_ENV, PINNED_SHA256, base_url_default
from web.recommender.ingest.progress import for_output


class Command(BaseCommand):
    help = (
        "Download a MovieLens set from GroupLens over https, verify it against the SHA-256 pinned for the set "
        "(or --sha256) and extract it to DEST/NAME. Prints the extracted folder, ready for load_movielens."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help=f"one of: {', '.join(KNOWN_SETS)}")
        parser.add_argument(
            "--dest",
            type=Path,
            default=Path(settings.BASE_DIR) / ".local" / "data",
            help="folder to extract into (default: %(default)s)",
        )
        parser.add_argument(
            "--base-url", default=None, help=f"where the zips are (default: ${BASE_URL_ENV} or {base_url_default()})"
        )
        parser.add_argument(
            "--sha256",
            default=None,
            help=f"require this SHA-256 of the zip; needed for sets without a pinned one "
            f"(pinned: {', '.join(PINNED_SHA256)})",
        )
        parser.add_argument(
            "--allow-insecure-http",
            action="store_true",
            default=None,
            help=f"also fetch a plain http:// base URL (a local mirror; as ${ALLOW_INSECURE_HTTP_ENV}=1). "
            "The SHA-256 is checked all the same",
        )
        parser.add_argument("--force", action="store_true", help="download again even if DEST/NAME exists")

    def handle(self, *args, name: str, dest: Path, verbosity: int, **options):
        progress = for_output(self.stderr, verbosity)
        try:
            folder = download_movielens(
                name,
                dest,
                base_url=options["base_url"],
                sha256=options["sha256"],
                force=options["force"],
                allow_insecure_http=options["allow_insecure_http"],
                progress=progress,
            )
        except DownloadError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if progress is not None:
                progress.close()
        self.stdout.write(str(folder))
