"""A MovieLens set in memory, the same shape whatever layout it came from."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class MovieLensData:
    """Everything a set holds, validated, ready to write.

    Attributes
    ----------
    layout : "csv" (ml-latest-small, ml-latest, ml-25m, ml-32m), "ml-100k" or "ml-1m".
    movies : DataFrame (n_movies,) with ``movie_id`` int32, ``title`` str
        (stripped), ``year`` Int16 (<NA> when the title has none), ``genres``
        str (pipe-joined, "" for none), ``imdb_id`` str (digits with leading
        zeros, "" when unknown), ``tmdb_id`` Int64 (<NA> when unknown).
    ratings : DataFrame (n_ratings,) with ``user_id`` int32, ``movie_id`` int32,
        ``rating`` float64 (0.5..5.0 in half stars), ``timestamp`` int64 (Unix seconds).
    tags : DataFrame (n_tags,) with ``user_id`` int32, ``movie_id`` int32,
        ``tag`` str, ``timestamp`` int64; empty when the set has no tags.
    users : number of distinct users in ``ratings``.
    """

    layout: str
    movies: pd.DataFrame
    ratings: pd.DataFrame
    tags: pd.DataFrame
    users: int
