"""The ml-1m layout: ``movies.dat`` and ``ratings.dat``, ``::``-separated latin-1, no header.

``movies.dat`` is MovieID::Title::Genres (pipe-separated genres);
``ratings.dat`` is UserID::MovieID::Rating::Timestamp. ``users.dat`` is
ignored. There are no links and no tags.
"""

from __future__ import annotations

from pathlib import Path

from web.recommender.ingest import frames
from web.recommender.ingest.dataset import MovieLensData
from web.recommender.ingest.progress import ProgressCallback, report
from web.recommender.ingest.textfile import Column, FileSpec, read_table

MOVIES = FileSpec(
    "movies.dat",
    (Column("MovieID", "int"), Column("Title", "str"), Column("Genres", "str")),
    sep="::",
    header=False,
    encoding="latin-1",
    quoted=False,
)
RATINGS = FileSpec(
    "ratings.dat",
    (Column("UserID", "int"), Column("MovieID", "int"), Column("Rating", "float"), Column("Timestamp", "int")),
    sep="::",
    header=False,
    encoding="latin-1",
    quoted=False,
)


def read(folder: Path, progress: ProgressCallback | None = None) -> MovieLensData:
    """Read and validate an ml-1m folder."""
    report(progress, "read", 0, 2, "files")
    table = read_table(folder, MOVIES)
    movies = frames.movies(table, movie_id="MovieID", title="Title", genres=table.frame["Genres"])
    report(progress, "read", 1, 2, "files")
    table = read_table(folder, RATINGS)
    known = frames.sorted_ids(movies)
    ratings, users = frames.ratings(
        table, known, MOVIES.name, user="UserID", movie="MovieID", rating="Rating", timestamp="Timestamp"
    )
    report(progress, "read", 2, 2, "files")
    return MovieLensData("ml-1m", movies, ratings, frames.no_tags(), users)
