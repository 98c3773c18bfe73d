"""The CSV layout of ml-latest-small, ml-latest, ml-25m and ml-32m.

``movies.csv`` (movieId,title,genres) and ``ratings.csv``
(userId,movieId,rating,timestamp) are required; ``links.csv``
(movieId,imdbId,tmdbId) and ``tags.csv`` (userId,movieId,tag,timestamp) are
read when present. UTF-8, one header line, CRLF or LF, titles quoted when
they hold a comma. Other files of the set (genome-*, README) are ignored.
"""

from __future__ import annotations

from pathlib import Path

from web.recommender.ingest import frames
from web.recommender.ingest.dataset import MovieLensData
from web.recommender.ingest.progress import ProgressCallback, report
from web.recommender.ingest.textfile import Column, FileSpec, read_table

MOVIES = FileSpec("movies.csv", (Column("movieId", "int"), Column("title", "str"), Column("genres", "str")))
LINKS = FileSpec(
    "links.csv", (Column("movieId", "int"), Column("imdbId", "str"), Column("tmdbId", "int?")), needs_rows=False
)
RATINGS = FileSpec(
    "ratings.csv",
    (Column("userId", "int"), Column("movieId", "int"), Column("rating", "float"), Column("timestamp", "int")),
)
TAGS = FileSpec(
    "tags.csv",
    (Column("userId", "int"), Column("movieId", "int"), Column("tag", "str"), Column("timestamp", "int")),
    needs_rows=False,
)


def read(folder: Path, progress: ProgressCallback | None = None) -> MovieLensData:
    """Read and validate a CSV-layout folder."""
    optional = {LINKS, TAGS}
    steps = [spec for spec in (MOVIES, LINKS, RATINGS, TAGS) if spec not in optional or (folder / spec.name).is_file()]
    done = iter(range(1, len(steps) + 1))
    report(progress, "read", 0, len(steps), "files")

    table = read_table(folder, MOVIES)
    movies = frames.movies(table, movie_id="movieId", title="title", genres=table.frame["genres"])
    known = frames.sorted_ids(movies)
    report(progress, "read", next(done), len(steps), "files")

    if LINKS in steps:
        movies = frames.add_links(movies, read_table(folder, LINKS), known, MOVIES.name)
        report(progress, "read", next(done), len(steps), "files")

    table = read_table(folder, RATINGS)
    ratings, users = frames.ratings(
        table, known, MOVIES.name, user="userId", movie="movieId", rating="rating", timestamp="timestamp"
    )
    del table  # the parsed text of a 25M-row file is worth freeing before the tags
    report(progress, "read", next(done), len(steps), "files")

    tags = frames.no_tags()
    if TAGS in steps:
        tags = frames.tags(read_table(folder, TAGS), known, MOVIES.name)
        report(progress, "read", next(done), len(steps), "files")
    return MovieLensData("csv", movies, ratings, tags, users)
