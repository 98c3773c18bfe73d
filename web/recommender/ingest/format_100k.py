"""The ml-100k layout: ``u.data`` and ``u.item``; no header, no tags, no quoting.

``u.data`` is tab-separated user, item, rating (integer 1..5), timestamp.
``u.item`` is latin-1, ``|``-separated: id, title, release date, video release
date, IMDb URL, then 19 genre flags in the order of ``u.genre``. The IMDb URL
is a title search, not an id, so ``imdb_id`` stays empty unless it holds a
``tt1234567`` id. Other files (u.user, u1.base, ...) are ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from web.recommender.ingest import frames, titles
from web.recommender.ingest.dataset import MovieLensData
from web.recommender.ingest.progress import ProgressCallback, report
from web.recommender.ingest.textfile import Column, FileSpec, read_table

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
"""The genre flags of ``u.item``, in the order of ``u.genre``; "unknown" means no genre."""

ITEMS = FileSpec(
    "u.item",
    (
        Column("movie id", "int"),
        Column("movie title", "str"),
        Column("release date", "str"),
        Column("video release date", "str"),
        Column("IMDb URL", "str"),
        *(Column(genre, "int") for genre in GENRES),
    ),
    sep="|",
    header=False,
    encoding="latin-1",
    quoted=False,
)
DATA = FileSpec(
    "u.data",
    (Column("user id", "int"), Column("item id", "int"), Column("rating", "float"), Column("timestamp", "int")),
    sep="\t",
    header=False,
    encoding="latin-1",
    quoted=False,
)


def read(folder: Path, progress: ProgressCallback | None = None) -> MovieLensData:
    """Read and validate an ml-100k folder."""
    report(progress, "read", 0, 2, "files")
    table = read_table(folder, ITEMS)
    flags = table.frame[list(GENRES)].to_numpy()
    bad = ~np.isin(flags, (0, 1))
    table.refuse_first(bad.any(axis=1), lambda i: f"genre flag {GENRES[int(np.argmax(bad[i]))]!r} is not 0 or 1")
    release = table.frame["release date"].str.extract(r"(\d{4})\s*$", expand=False)
    movies = frames.movies(
        table,
        movie_id="movie id",
        title="movie title",
        genres=_genres_from_flags(flags),
        imdb_id=table.frame["IMDb URL"].str.extract(r"tt(\d+)", expand=False).fillna(""),
        fallback_year=pd.to_numeric(release, errors="coerce").astype("Int16"),
    )
    report(progress, "read", 1, 2, "files")
    table = read_table(folder, DATA)
    known = frames.sorted_ids(movies)
    ratings, users = frames.ratings(
        table, known, ITEMS.name, user="user id", movie="item id", rating="rating", timestamp="timestamp"
    )
    report(progress, "read", 2, 2, "files")
    return MovieLensData("ml-100k", movies, ratings, frames.no_tags(), users)


def _genres_from_flags(flags: np.ndarray) -> pd.Series:
    """Pipe-joined genre names (n_movies,) from the 0/1 flags (n_movies, 19); one pass per genre, not per movie."""
    joined = np.full(len(flags), "", dtype=object)
    for j, genre in enumerate(GENRES[1:], start=1):
        joined = np.where(flags[:, j] == 1, joined + "|" + titles.RENAMED_GENRES.get(genre, genre), joined)
    return pd.Series(joined, dtype=str).str.lstrip("|")
