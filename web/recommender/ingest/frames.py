"""Build the normalised movie, rating and tag frames of :class:`MovieLensData` from parsed tables.

Every layout funnels through here, so the rules (positive ids, half stars,
no duplicate pair, no unknown movie, sizes that fit the database columns) are
written once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from web.recommender.ingest import checks, titles
from web.recommender.ingest.textfile import Table

TITLE_MAX, GENRE_MAX, IMDB_MAX, TAG_MAX = 500, 40, 16, 1000
"""Column sizes of :mod:`web.recommender.models` (Movie.title, a genre, Movie.imdb_id, Tag.tag)."""


def movies(
    table: Table,
    *,
    movie_id: str,
    title: str,
    genres: pd.Series,
    imdb_id: pd.Series | None = None,
    fallback_year: pd.Series | None = None,
) -> pd.DataFrame:
    """The movies frame (n_movies,) from ``table``; ``genres`` is pipe-joined (n_movies,) str.

    ``tmdb_id``/``imdb_id`` are filled by :func:`add_links` for the CSV layout;
    ``fallback_year`` (Int16) is used where the title has no "(1995)".
    """
    ids = checks.positive_ids(table, movie_id)
    checks.unique_values(table, movie_id, ids)
    names = table.frame[title].str.strip()
    checks.not_blank(table, title)
    checks.max_length(table, title, TITLE_MAX, names)
    genres = titles.genres(genres)
    too_long = genres.str.contains(f"[^|]{{{GENRE_MAX + 1},}}", regex=True)
    table.refuse_first(too_long.to_numpy(dtype=bool), lambda _: f"a genre is longer than {GENRE_MAX} characters")
    year = titles.years(names)
    if fallback_year is not None:
        year = year.fillna(fallback_year)
    return pd.DataFrame(
        {
            "movie_id": ids,
            "title": names.to_numpy(dtype=object),
            "year": year.to_numpy(),
            "genres": genres.to_numpy(dtype=object),
            "imdb_id": (imdb_id if imdb_id is not None else pd.Series("", index=names.index)).to_numpy(dtype=object),
            "tmdb_id": pd.array([pd.NA] * len(ids), dtype="Int64"),
        }
    ).astype({"year": "Int16", "title": str, "genres": str, "imdb_id": str})


def add_links(movies: pd.DataFrame, table: Table, known: np.ndarray, movies_file: str) -> pd.DataFrame:
    """``movies`` with ``imdb_id``/``tmdb_id`` from a links.csv ``table`` (movieId, imdbId, tmdbId)."""
    ids = checks.positive_ids(table, "movieId")
    checks.unique_values(table, "movieId", ids)
    checks.known_ids(table, "movieId", ids, known, movies_file)
    imdb = table.frame["imdbId"].str.strip()
    not_digits = ~imdb.str.fullmatch(r"\d*").to_numpy(dtype=bool)
    table.refuse_first(not_digits, lambda i: f"imdbId {imdb.iloc[i]!r} is not a number")
    checks.max_length(table, "imdbId", IMDB_MAX, imdb)
    tmdb = table.frame["tmdbId"]
    present = tmdb.notna().to_numpy()
    values = tmdb.fillna(1).to_numpy(dtype=np.int64)
    bad = present & ((values <= 0) | (values > checks.INT32_MAX))
    table.refuse_first(bad, lambda i: f"tmdbId {values[i]} is not a positive integer")
    links = pd.DataFrame({"movie_id": ids, "imdb_id": imdb.to_numpy(dtype=object), "tmdb_id": tmdb.array})
    merged = movies.drop(columns=["imdb_id", "tmdb_id"]).merge(links, on="movie_id", how="left", sort=False)
    merged["imdb_id"] = merged["imdb_id"].fillna("").astype(str)
    merged["tmdb_id"] = merged["tmdb_id"].astype("Int64")
    return merged


def ratings(
    table: Table, known: np.ndarray, movies_file: str, *, user: str, movie: str, rating: str, timestamp: str
) -> tuple[pd.DataFrame, int]:
    """The ratings frame (n_ratings,) and the number of distinct users, after every check."""
    users = checks.positive_ids(table, user)
    movie_ids = checks.positive_ids(table, movie)
    values = checks.half_stars(table, rating)
    seconds = checks.unix_seconds(table, timestamp)
    checks.known_ids(table, movie, movie_ids, known, movies_file)
    n_users = checks.unique_ratings(table, users, movie_ids)
    frame = pd.DataFrame({"user_id": users, "movie_id": movie_ids, "rating": values, "timestamp": seconds}, copy=False)
    return frame, n_users


def tags(table: Table, known: np.ndarray, movies_file: str) -> pd.DataFrame:
    """The tags frame (n_tags,) from a tags table (userId, movieId, tag, timestamp)."""
    users = checks.positive_ids(table, "userId")
    movie_ids = checks.positive_ids(table, "movieId")
    seconds = checks.unix_seconds(table, "timestamp")
    checks.known_ids(table, "movieId", movie_ids, known, movies_file)
    checks.max_length(table, "tag", TAG_MAX)
    text = table.frame["tag"].to_numpy(dtype=object)
    frame = pd.DataFrame({"user_id": users, "movie_id": movie_ids, "tag": text, "timestamp": seconds})
    return frame.astype({"tag": str})


def no_tags() -> pd.DataFrame:
    """An empty tags frame with the right columns and dtypes."""
    return pd.DataFrame(
        {
            "user_id": np.empty(0, np.int32),
            "movie_id": np.empty(0, np.int32),
            "tag": pd.Series([], dtype=str),
            "timestamp": np.empty(0, np.int64),
        }
    )


def sorted_ids(movies: pd.DataFrame) -> np.ndarray:
    """The movies' ids sorted (n_movies,) int64, for :func:`checks.known_ids`."""
    return np.sort(movies["movie_id"].to_numpy(dtype=np.int64))
