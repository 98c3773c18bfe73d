"""``manage.py generate_movielens DEST``: write a synthetic MovieLens set (ml-latest-small CSV layout)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from web.recommender.ingest import SHAPES, generate_movielens
from web.recommender.ingest.progress import for_output


class Command(BaseCommand):
    help = (
        "Write a synthetic MovieLens set to DEST in the ml-latest-small CSV layout: Zipf-like popularity and "
        "activity, 20+ ratings per user, half stars. --shape picks the size of ml-latest-small (small) or "
        "ml-25m (25m); --users/--movies/--ratings override it."
    )

    def add_arguments(self, parser):
        parser.add_argument("dest", type=Path, help="folder to write movies.csv, ratings.csv, links.csv, tags.csv into")
        parser.add_argument(
            "--shape", choices=sorted(SHAPES), default="small", help="default sizes (default: %(default)s)"
        )
        parser.add_argument("--users", type=int, help="number of users")
        parser.add_argument("--movies", type=int, help="number of movies")
        parser.add_argument("--ratings", type=int, help="number of ratings")
        parser.add_argument(
            "--seed", type=int, default=0, help="random seed; the same seed writes the same files (default: 0)"
        )

    def handle(self, *args, dest: Path, shape: str, seed: int, verbosity: int, **options):
        base = SHAPES[shape]
        users = base.users if options["users"] is None else options["users"]
        movies = base.movies if options["movies"] is None else options["movies"]
        ratings = base.ratings if options["ratings"] is None else options["ratings"]
        progress = for_output(self.stderr, verbosity)
        try:
            made = generate_movielens(dest, users, movies, ratings, seed, progress=progress)
        except (ValueError, OSError) as exc:
            raise CommandError(f"cannot generate the set: {exc}") from exc
        finally:
            if progress is not None:
                progress.close()
        if verbosity >= 1:
            self.stderr.write(
                f"wrote {made.ratings:,} ratings by {made.users:,} users of {made.movies:,} movies "
                f"and {made.tags:,} tags in {made.seconds:.1f} s"
            )
        self.stdout.write(str(made.path))
