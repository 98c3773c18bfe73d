"""Synthetic MovieLens sets in the ml-latest-small CSV layout, for benchmarks at any scale.

The shape follows what makes real MovieLens data hard for recommenders:
Zipf-like movie popularity (a few movies hold a large share of the
ratings), Zipf-like user activity with at least :data:`MIN_PER_USER` ratings
per user (as GroupLens guarantees), no user rating a movie twice, and
half-star ratings drawn from movie quality + user bias + noise, with some
users rating in whole stars only.

Everything is vectorised: each user's movies are drawn *with* replacement
from the popularity distribution (analytic inverse CDF), deduplicated with
one sort of packed (user, movie) keys, topped up where a user came short and
trimmed to the exact count with a random cyclic window. Users who rate a
large fraction of the catalogue are sampled exactly with Gumbel-top-k
instead, where drawing with replacement would take forever. The ml-25m shape
(25M ratings) takes seconds, not minutes; ``np.unique`` is avoided on
purpose: it is far slower than a sort on 20M+ keys with NumPy 2.4.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from web.recommender.ingest.fastcsv import write_rows
from web.recommender.ingest.progress import ProgressCallback, report


@dataclass(frozen=True)
class Shape:
    users: int
    movies: int
    ratings: int


SHAPES = {"small": Shape(610, 9742, 100_836), "25m": Shape(162_541, 59_047, 25_000_000)}
"""The shapes of ml-latest-small and ml-25m."""

GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
"""The MovieLens genres, in the alphabetical order MovieLens lists them in."""
TAG_WORDS = (
    "atmospheric", "based on a book", "classic", "dark comedy", "funny", "twist ending", "visually appealing",
    "thought-provoking", "quirky", "sci-fi", "superhero", "romance", "surreal", "great soundtrack",
    "slow, but worth it", '"artsy"', "NA", "Oscar (Best Picture)", "Scarlett Johansson", "Amélie-like",
)  # fmt: skip
"""Tag vocabulary; it includes a comma, quotes, "NA" and an accent so readers are exercised on them."""

MIN_PER_USER = 20
"""Ratings every user gets when ratings/users allows it (GroupLens keeps only users with 20+)."""
POPULARITY_OFFSET = 10.0
"""Zipf-Mandelbrot offset q of movie popularity, weight 1/(rank + q): flattens the very top a little."""
ACTIVITY_OFFSET_FRACTION = 0.01
"""User activity weight 1/(rank + q) - 1/(users + q), q = this x users: the most active rate ~50x the median."""
DENSE_FRACTION = 0.25
"""Users who rate more than this share of the catalogue are sampled exactly (Gumbel-top-k)."""
WHOLE_STAR_USERS = 0.35
"""Share of users who only give whole stars (as many MovieLens users did)."""
TAG_SHARE = 1 / 30
"""Tags per rating (ml-latest-small has about 1 in 27)."""
FIRST_TIME, LAST_TIME = 820_454_400, 1_574_294_400
"""1996-01-01 and 2019-11-21 in Unix seconds: the span of ml-25m."""
_DENSE_CELLS = 1 << 24
_MAX_TOP_UPS = 8


@dataclass(frozen=True)
class SyntheticSet:
    """What :func:`generate_movielens` wrote."""

    path: Path
    users: int
    movies: int
    ratings: int
    tags: int
    seconds: float


def generate_movielens(
    dest_dir: Path | str,
    users: int,
    movies: int,
    ratings: int,
    seed: int = 0,
    *,
    progress: ProgressCallback | None = None,
) -> SyntheticSet:
    """Write movies.csv, ratings.csv, links.csv and tags.csv (CRLF, UTF-8) into ``dest_dir``.

    Exactly ``ratings`` ratings by exactly ``users`` users (ids 1..users) of
    movies 1..``movies``; the same ``seed`` gives byte-identical files. Each
    file is written under a temporary name and renamed when complete.
    """
    _check_shape(users, movies, ratings)
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)

    report(progress, "sample ratings", 0, ratings)
    popularity = _Popularity(movies)
    movie_of_rank = rng.permutation(movies)  # rank 0 is the most popular movie
    counts = _user_counts(rng, users, movies, ratings)
    keys = _sample_pairs(rng, counts, popularity, movie_of_rank)
    user_idx, movie_idx = np.divmod(keys, movies)
    del keys
    report(progress, "sample ratings", ratings, ratings)

    rank_of_movie = np.empty(movies, dtype=np.int64)
    rank_of_movie[movie_of_rank] = np.arange(movies)
    values = _rating_values(rng, users, movies, rank_of_movie, user_idx, movie_idx)
    seconds = _timestamps(rng, users, user_idx)

    report(progress, "write files", 0, 4, "files")
    _write_movies(rng, dest, movies)
    _write_links(rng, dest, movies)
    report(progress, "write files", 2, 4, "files")
    n_tags = _write_tags(rng, dest, user_idx, movie_idx, seconds)
    with _replacing(dest / "ratings.csv") as out:
        out.write(b"userId,movieId,rating,timestamp\r\n")
        write_rows(out, [user_idx + 1, movie_idx + 1, values, seconds], ["int", "int", "half", "int"])
    report(progress, "write files", 4, 4, "files")
    return SyntheticSet(dest, users, movies, ratings, n_tags, time.monotonic() - started)


def _check_shape(users: int, movies: int, ratings: int) -> None:
    if users < 1 or movies < 1:
        raise ValueError(f"users and movies must be at least 1; got users={users}, movies={movies}")
    if ratings < users:
        raise ValueError(f"every user needs a rating: ratings must be at least users={users}; got {ratings}")
    if ratings > users * movies:
        raise ValueError(
            f"{users} users can rate at most {users * movies} (users x movies) movies; got ratings={ratings}"
        )


# -- who rates what -----------------------------------------------------------
class _Popularity:
    """Zipf-Mandelbrot popularity over movie ranks 0..n-1, weight ~ 1/(rank + q).

    Sampling uses the continuous inverse CDF ``q * expm1(u * log1p(n / q))``,
    so a draw costs one ``expm1`` and no search.
    """

    def __init__(self, n: int, offset: float = POPULARITY_OFFSET) -> None:
        self.n, self.q = n, offset
        self.log_span = np.log1p(n / offset)

    def sample_ranks(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` ranks drawn with replacement (size,) int64."""
        x = self.q * np.expm1(rng.random(size, dtype=np.float32) * np.float32(self.log_span))
        return np.minimum(x.astype(np.int64), self.n - 1)

    def probabilities(self) -> np.ndarray:
        """Probability of each rank (n,) float64, consistent with :meth:`sample_ranks`."""
        cdf = np.log1p(np.arange(self.n + 1) / self.q) / self.log_span
        return np.diff(cdf)

    def draws_for_distinct(self, targets: np.ndarray) -> np.ndarray:
        """Draws with replacement expected to give ``targets`` distinct ranks (float64, same shape).

        Expected distinct ranks after k draws is D(k) = sum(1 - (1 - p)^k);
        D is tabulated on a geometric grid of k and inverted by interpolation.
        """
        log_miss = np.log1p(-np.minimum(self.probabilities(), 1 - 1e-12))
        grid = np.unique(np.geomspace(1, 64 * self.n + 64, 256).astype(np.int64)).astype(np.float64)
        distinct = np.array([self.n - np.exp(k * log_miss).sum() for k in grid])
        return np.interp(targets, distinct, grid)


def _user_counts(rng: np.random.Generator, users: int, movies: int, ratings: int) -> np.ndarray:
    """Ratings per user (users,) int64: sum ``ratings``, each in [floor, movies], Zipf-like over a random order."""
    floor = min(MIN_PER_USER, ratings // users, movies)
    rank = rng.permutation(users)
    q = max(1.0, ACTIVITY_OFFSET_FRACTION * users)
    # Minus the last rank's weight: the least active users get (close to) the floor, as in MovieLens.
    weights = 1.0 / (rank + q) - 1.0 / (users + q)
    return floor + _apportion(ratings - floor * users, weights, movies - floor)


def _apportion(total: int, weights: np.ndarray, cap: int) -> np.ndarray:
    """Integers (n,) summing to ``total``, proportional to ``weights``, none above ``cap`` (water-filling)."""
    capped = np.zeros(len(weights), dtype=bool)
    share = np.zeros(len(weights))
    while total and not capped.all():
        free = np.where(capped, 0.0, weights)
        share = np.where(capped, cap, (total - cap * capped.sum()) * free / free.sum())
        over = ~capped & (share > cap)
        if not over.any():
            break
        capped |= over
    share = np.where(capped, cap, share)
    counts = np.floor(share).astype(np.int64)
    short = total - int(counts.sum())
    # The units lost to flooring go to the largest fractional parts.
    fraction = np.where(capped, -1.0, share - counts)
    counts[np.argsort(-fraction, kind="stable")[:short]] += 1
    return counts


def _sample_pairs(
    rng: np.random.Generator, counts: np.ndarray, popularity: _Popularity, movie_of_rank: np.ndarray
) -> np.ndarray:
    """Sorted unique keys ``user * n_movies + movie`` (sum(counts),) int64; user u gets counts[u] movies."""
    n_movies = popularity.n
    dense = counts > DENSE_FRACTION * n_movies
    sparse_users = np.flatnonzero(~dense)
    keys, short = _draw_sparse(rng, sparse_users, counts, popularity, movie_of_rank)
    dense |= short  # users who stayed short after the top-ups: sampled exactly
    if short.any():
        keys = keys[~short[keys // n_movies]]
    if dense.any():
        exact = _draw_dense(rng, np.flatnonzero(dense), counts, popularity, movie_of_rank)
        keys = np.sort(np.concatenate([keys, exact]))
    return keys


def _draw_sparse(
    rng: np.random.Generator,
    users: np.ndarray,
    counts: np.ndarray,
    popularity: _Popularity,
    movie_of_rank: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Keys for ``users`` drawn with replacement, deduplicated, topped up, trimmed to counts.

    Returns the sorted keys and a mask (n_users,) of users still short after
    :data:`_MAX_TOP_UPS` rounds (their keys are dropped by the caller).
    """
    n_movies = popularity.n
    target = counts[users]
    # A little over the expected need, so that most users end with a surplus to trim.
    draws = np.ceil(popularity.draws_for_distinct(target * 1.02 + 2)).astype(np.int64)
    keys = _unique_sorted(_draw(rng, users, draws, popularity, movie_of_rank, n_movies))
    short = np.zeros(len(counts), dtype=bool)
    for _ in range(_MAX_TOP_UPS):
        have = np.bincount(keys // n_movies, minlength=len(counts))
        short = np.zeros(len(counts), dtype=bool)
        short[users] = have[users] < counts[users]
        if not short.any():
            break
        needy = np.flatnonzero(short)
        more = popularity.draws_for_distinct(counts[needy] * 1.05 + 4) - popularity.draws_for_distinct(have[needy])
        extra = _draw(rng, needy, np.maximum(np.ceil(more), 8).astype(np.int64), popularity, movie_of_rank, n_movies)
        keys = _unique_sorted(np.concatenate([keys, extra]))
    else:
        have = np.bincount(keys // n_movies, minlength=len(counts))
        short = np.zeros(len(counts), dtype=bool)
        short[users] = have[users] < counts[users]
    return _trim(rng, keys, counts, n_movies), short


def _draw(rng, users, draws, popularity, movie_of_rank, n_movies) -> np.ndarray:
    """Unsorted keys: ``draws[i]`` movies for ``users[i]``, with replacement."""
    movie = movie_of_rank[popularity.sample_ranks(rng, int(draws.sum()))]
    return np.repeat(users.astype(np.int64) * n_movies, draws) + movie


def _unique_sorted(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    keep = np.ones(len(keys), dtype=bool)
    keep[1:] = keys[1:] != keys[:-1]
    return keys[keep]


def _trim(rng: np.random.Generator, keys: np.ndarray, counts: np.ndarray, n_movies: int) -> np.ndarray:
    """Keep ``counts[u]`` of each user's sorted keys: a cyclic window at a random start.

    Every key of a user with d keys survives with probability counts/d,
    whatever its movie id, so trimming does not bias popularity or ids.
    """
    user = keys // n_movies
    have = np.bincount(user, minlength=len(counts))
    start = np.concatenate(([0], np.cumsum(have)[:-1]))
    offset = np.floor(rng.random(len(counts)) * np.maximum(have, 1)).astype(np.int64)
    position = np.arange(len(keys)) - start[user]
    keep = (position - offset[user]) % np.maximum(have[user], 1) < counts[user]
    return keys[keep]


def _draw_dense(
    rng: np.random.Generator, users: np.ndarray, counts: np.ndarray, popularity: _Popularity, movie_of_rank: np.ndarray
) -> np.ndarray:
    """Exact weighted sampling without replacement (Gumbel-top-k) for heavy users; unsorted keys."""
    n_movies = popularity.n
    log_weight = np.empty(n_movies)
    log_weight[movie_of_rank] = np.log(popularity.probabilities())
    rows = max(1, _DENSE_CELLS // n_movies)
    out = []
    for first in range(0, len(users), rows):
        chunk = users[first : first + rows]
        gumbel = -np.log(-np.log(rng.random((len(chunk), n_movies))))
        order = np.argsort(-(log_weight[None, :] + gumbel), axis=1)
        take = np.arange(n_movies)[None, :] < counts[chunk][:, None]
        out.append(np.repeat(chunk.astype(np.int64) * n_movies, counts[chunk]) + order[take])
    return np.concatenate(out)


# -- what they rated and when --------------------------------------------------
def _rating_values(rng, users, movies, rank_of_movie, user_idx, movie_idx) -> np.ndarray:
    """Half stars (n_ratings,) float32: movie quality + user bias + noise, some users in whole stars."""
    # Popular movies are rated a little higher, as in MovieLens.
    quality = 3.2 + 0.4 * (1 - rank_of_movie / movies) + rng.normal(0, 0.4, movies)
    bias = rng.normal(0, 0.45, users)
    whole = rng.random(users) < WHOLE_STAR_USERS
    score = (quality[movie_idx] + bias[user_idx]).astype(np.float32)
    score += rng.normal(0, 0.75, len(user_idx)).astype(np.float32)
    halves = np.clip(np.rint(score * 2), 1, 10)
    whole_stars = np.clip(np.rint(score), 1, 5) * 2
    return (np.where(whole[user_idx], whole_stars, halves) / 2).astype(np.float32)


def _timestamps(rng, users, user_idx) -> np.ndarray:
    """Unix seconds (n_ratings,) int64: each user rates within an active span of their own."""
    span = np.minimum(rng.exponential(180 * 86_400, users), LAST_TIME - FIRST_TIME - 1).astype(np.int64) + 1
    start = FIRST_TIME + np.floor(rng.random(users) * (LAST_TIME - FIRST_TIME - span)).astype(np.int64)
    return start[user_idx] + np.floor(rng.random(len(user_idx)) * span[user_idx]).astype(np.int64)


# -- the small files ---------------------------------------------------------------
def _write_movies(rng, dest: Path, movies: int) -> None:
    ids = np.arange(1, movies + 1)
    year = np.maximum(2019 - np.floor(rng.exponential(15, movies)).astype(np.int64), 1902)
    n_genres = rng.choice([0, 1, 2, 3], size=movies, p=[0.004, 0.35, 0.4, 0.246])
    # The n_genres[i] genres with the smallest random keys, listed alphabetically.
    keys = rng.random((movies, len(GENRES)))
    chosen = np.argsort(np.argsort(keys, axis=1), axis=1) < n_genres[:, None]
    joined = np.full(movies, "", dtype=object)
    for j, genre in enumerate(GENRES):
        joined = np.where(chosen[:, j], joined + "|" + genre, joined)
    genres = pd.Series(joined, dtype=str).str.lstrip("|").replace("", "(no genres listed)")
    titles = "Synthetic Movie " + pd.Series(ids).astype(str) + " (" + pd.Series(year).astype(str) + ")"
    frame = pd.DataFrame({"movieId": ids, "title": titles, "genres": genres})
    _write_frame(frame, dest / "movies.csv")


def _write_links(rng, dest: Path, movies: int) -> None:
    ids = np.arange(1, movies + 1)
    imdb = pd.Series(100_000 + ids * 7).astype(str).str.zfill(7)
    tmdb = pd.array(1_000 + ids, dtype="Int64")
    tmdb[rng.random(movies) < 0.001] = pd.NA  # as in MovieLens, a few movies have no TMDB id
    _write_frame(pd.DataFrame({"movieId": ids, "imdbId": imdb, "tmdbId": tmdb}), dest / "links.csv")


def _write_tags(rng, dest: Path, user_idx, movie_idx, seconds) -> int:
    """Tags on a random subset of the rated (user, movie) pairs, a little after the rating."""
    n = max(1, int(len(user_idx) * TAG_SHARE))
    pick = np.sort(rng.choice(len(user_idx), size=n, replace=False))
    words = np.array(TAG_WORDS, dtype=object)[rng.integers(0, len(TAG_WORDS), n)]
    frame = pd.DataFrame(
        {
            "userId": user_idx[pick] + 1,
            "movieId": movie_idx[pick] + 1,
            "tag": pd.Series(words, dtype=str),
            "timestamp": seconds[pick] + rng.integers(0, 3_600, n),
        }
    )
    _write_frame(frame, dest / "tags.csv")
    return n


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    with _replacing(path) as out:
        frame.to_csv(out, index=False, lineterminator="\r\n", encoding="utf-8")


class _replacing:
    """Open ``path + '.part'`` for binary writing; rename it to ``path`` only when the block succeeds."""

    def __init__(self, path: Path) -> None:
        self.path, self.part = path, path.with_name(path.name + ".part")

    def __enter__(self):
        self.file = open(self.part, "wb")  # noqa: SIM115 - closed in __exit__
        return self.file

    def __exit__(self, exc_type, exc, tb) -> None:
        self.file.close()
        if exc_type is None:
            os.replace(self.part, self.path)
        else:
            self.part.unlink(missing_ok=True)
