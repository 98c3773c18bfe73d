"""What a movie is, from its own metadata: the catalogue's content and its TF-IDF item matrix.

A movie with no rating still has a title, genres, a release year and maybe
tags, and that is enough to place it next to movies a user liked. This
module turns that metadata into one sparse row per movie, with no Django:

* **genres** (one term each, ``(no genres listed)`` dropped);
* **tags**, cleaned: lower case, runs of blanks collapsed, counted once per
  user and movie (one person tagging a movie "funny" ten times is one vote),
  weighted ``1 + log(people who gave it)``, and kept only when at least
  ``min_df`` movies carry the tag (a one-off tag links a movie to nothing);
* **release year**, binned twice, by 5 years and by decade, so 1994 and
  1996 share a term and 1994 and 2019 share none;
* **title words** (lower case, three letters or more, common English words
  and the year left out), kept when ``min_df`` movies share them: they tie
  sequels and franchises together ("star", "trek").

Each kind is TF-IDF weighted (``idf = log((1 + n) / (1 + df)) + 1``, as
scikit-learn's smooth idf), each row of a kind scaled to unit length and
multiplied by that kind's weight. The whole row is *not* scaled again: a
dot product of two rows is the weighted sum of their cosines kind by kind,
so a movie that matches a taste on its tags as well as its genres scores
higher than one that matches on genres alone. (Scaling the whole row made
a movie with only genres and a year - most of the catalogue - score as if
its two kinds were the whole story, above a tagged movie of the same
genres; on the validation splits of the cold-item protocol that cost about
a third of the content model's nDCG@10: docs/decisions.md.) Everything is
vectorised with pandas' ``factorize`` and one sparse matrix per kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from scoring.matrix import index_of
from scoring.similarity import unit_rows

if TYPE_CHECKING:
    import pandas as pd


def _pandas() -> ModuleType:
    """pandas, imported when features are first built rather than with this module.

    The registry of algorithms imports this module, so every process that
    loads the models (each web worker, every management command) would pay
    pandas' import at start-up, and only fitting and evaluating use it.
    """
    import pandas  # here, not at the top: a start-up cost, not an import cycle (see the docstring)

    return pandas


NO_GENRE = "(no genres listed)"
"""MovieLens's genre for a movie without any; not a genre two movies should share."""
TITLE_YEAR = re.compile(r"\s*\(\d{4}(?:[-–]\d{0,4})?\)\s*$")
"""The ``(1995)`` suffix of a MovieLens title (the year is its own feature)."""
STOP_WORDS = frozenset(
    "the and for with from that this into over under about are was were its it's his her their our your you "
    "les des der die das una uno los las el la le de del du of in on at to an a".split()
)
"""Title words that say nothing about a movie (articles and prepositions in the catalogue's main languages)."""


@dataclass(frozen=True, eq=False)
class MovieContent:
    """The catalogue's metadata, by movie id (the rows of the content model).

    Attributes
    ----------
    movie_ids : ndarray of shape (n,), int32
        Every catalogue movie, rated or not, ascending.
    titles : ndarray of shape (n,), object (str)
    genres : ndarray of shape (n,), object (str)
        MovieLens's ``Action|Sci-Fi`` form.
    years : ndarray of shape (n,), float32
        Release year, NaN when unknown.
    tag_movie_ids, tag_user_ids : ndarray of shape (t,), int32
        Who tagged which movie, one entry per tag given.
    tags : ndarray of shape (t,), object (str)
        The tag as typed (cleaned by :func:`content_matrix`).
    """

    movie_ids: np.ndarray
    titles: np.ndarray
    genres: np.ndarray
    years: np.ndarray
    tag_movie_ids: np.ndarray
    tag_user_ids: np.ndarray
    tags: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.movie_ids)
        for name in ("titles", "genres", "years"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"MovieContent.{name} must have one entry per movie ({n}); got {len(getattr(self, name))}")
        t = len(self.tags)
        if len(self.tag_movie_ids) != t or len(self.tag_user_ids) != t:
            raise ValueError(f"tag_movie_ids, tag_user_ids and tags must be of equal length; got "
                             f"{len(self.tag_movie_ids)}, {len(self.tag_user_ids)} and {t}")
        if n > 1 and not (np.diff(self.movie_ids) > 0).all():
            raise ValueError("MovieContent.movie_ids must be ascending and distinct")

    @classmethod
    def from_frames(cls, movies: pd.DataFrame, tags: pd.DataFrame | None = None) -> MovieContent:
        """From a ``movieId, title, genres[, year]`` frame and a ``userId, movieId, tag`` frame (MovieLens CSV columns).

        Without a ``year`` column the year is parsed from the title's ``(1995)`` suffix.
        """
        pd = _pandas()
        movies = movies.sort_values("movieId").drop_duplicates("movieId")
        titles = movies["title"].fillna("").astype(str)
        if "year" in movies:
            years = pd.to_numeric(movies["year"], errors="coerce")
        else:
            years = pd.to_numeric(titles.str.extract(r"\((\d{4})[-–]?\d{0,4}\)\s*$")[0], errors="coerce")
        tags = tags if tags is not None else pd.DataFrame({"userId": [], "movieId": [], "tag": []})
        return cls(
            movie_ids=movies["movieId"].to_numpy(np.int32),
            titles=titles.to_numpy(object),
            genres=movies["genres"].fillna("").astype(str).to_numpy(object),
            years=years.to_numpy(np.float32),
            tag_movie_ids=tags["movieId"].to_numpy(np.int32),
            tag_user_ids=tags["userId"].to_numpy(np.int32),
            tags=tags["tag"].fillna("").astype(str).to_numpy(object),
        )

    def genre_sets(self, movie_ids: np.ndarray) -> list[frozenset[str]]:
        """Each of ``movie_ids``'s genres as a set (empty for a movie not in the catalogue)."""
        position = index_of(self.movie_ids, np.asarray(movie_ids))
        return [frozenset(g for g in self.genres[p].split("|") if g and g != NO_GENRE) if p >= 0 else frozenset()
                for p in position]


def _kind_matrix(rows: np.ndarray, terms: pd.Series, counts: np.ndarray, n_rows: int, min_df: int) -> sp.csr_array:
    """TF-IDF of one kind of term, rows unit length: ``rows`` (e,) movie rows, ``terms`` (e,), ``counts`` (e,) >= 1."""
    pd = _pandas()
    if len(rows) == 0:
        return sp.csr_array((n_rows, 0), dtype=np.float32)
    codes, vocabulary = pd.factorize(terms.to_numpy(), sort=True)
    matrix = sp.csr_array((1.0 + np.log(counts.astype(np.float64)), (rows, codes)), shape=(n_rows, len(vocabulary)))
    matrix.sum_duplicates()
    df = np.bincount(matrix.indices, minlength=len(vocabulary))
    keep = np.flatnonzero(df >= min_df)
    matrix = matrix[:, keep]
    idf = np.log((1.0 + n_rows) / (1.0 + df[keep])) + 1.0
    matrix = sp.csr_array(matrix @ sp.diags_array(idf))
    return unit_rows(matrix)


def _genre_terms(content: MovieContent, rows: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    pd = _pandas()
    exploded = pd.Series(content.genres, index=rows).str.split("|").explode()
    exploded = exploded[(exploded.notna()) & (exploded != "") & (exploded != NO_GENRE)]
    return exploded.index.to_numpy(np.int64), "genre:" + exploded


def _year_terms(content: MovieContent, rows: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    pd = _pandas()
    known = ~np.isnan(content.years)
    years = content.years[known].astype(np.int64)
    five = pd.Series(years // 5 * 5).astype(str).radd("years:").to_numpy(object)
    decade = pd.Series(years // 10 * 10).astype(str).radd("decade:").to_numpy(object)
    return np.concatenate([rows[known], rows[known]]), pd.Series(np.concatenate([five, decade]))


def _title_terms(content: MovieContent, rows: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    pd = _pandas()
    titles = pd.Series(content.titles, index=rows).str.replace(TITLE_YEAR, "", regex=True).str.lower()
    words = titles.str.findall(r"[^\W\d_]{3,}").explode().dropna()
    words = words[~words.isin(STOP_WORDS)]
    frame = pd.DataFrame({"row": words.index.to_numpy(np.int64), "word": words.to_numpy(object)}).drop_duplicates()
    return frame["row"].to_numpy(), "title:" + frame["word"]


def clean_tags(tags: np.ndarray) -> pd.Series:
    """Tags as compared: lower case, surrounding blanks dropped, runs of blanks made one space."""
    pd = _pandas()
    return pd.Series(tags, dtype=object).astype(str).str.lower().str.strip().str.replace(r"\s+", " ", regex=True)


def _tag_terms(content: MovieContent, movie_ids: np.ndarray) -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """(row, tag, people who gave it) per distinct (movie, cleaned tag); a person counts once per movie and tag."""
    pd = _pandas()
    rows = index_of(movie_ids, content.tag_movie_ids)
    frame = pd.DataFrame({"row": rows, "user": content.tag_user_ids, "tag": clean_tags(content.tags).to_numpy(object)})
    frame = frame[(frame["row"] >= 0) & (frame["tag"] != "")].drop_duplicates()
    people = frame.groupby(["row", "tag"], sort=False).size()
    return (people.index.get_level_values(0).to_numpy(np.int64), "tag:" + pd.Series(people.index.get_level_values(1)),
            people.to_numpy(np.float64))


def content_matrix(
    content: MovieContent,
    movie_ids: np.ndarray,
    *,
    genre_weight: float = 1.0,
    tag_weight: float = 1.0,
    year_weight: float = 0.5,
    title_weight: float = 0.3,
    min_df: int = 2,
) -> sp.csr_array:
    """The TF-IDF item matrix of ``movie_ids`` (ascending): (n_items, n_terms) float32, each kind's part of a row
    of length that kind's weight (0 for a kind the movie lacks).

    A movie of ``movie_ids`` that ``content`` does not know gets an all-zero
    row (it resembles nothing). Weights scale each kind after its rows are
    made unit length, so they say how much a match on each kind counts in a
    dot product.
    """
    movie_ids = np.asarray(movie_ids)
    n = len(movie_ids)
    position = index_of(movie_ids, content.movie_ids)
    known = position >= 0
    sub = MovieContent(
        movie_ids=content.movie_ids[known], titles=content.titles[known], genres=content.genres[known],
        years=content.years[known], tag_movie_ids=content.tag_movie_ids, tag_user_ids=content.tag_user_ids,
        tags=content.tags,
    )
    rows = position[known]
    blocks = []
    for weight, (term_rows, terms, counts), floor in (
        (genre_weight, (*_genre_terms(sub, rows), None), 1),
        (year_weight, (*_year_terms(sub, rows), None), 1),
        (title_weight, (*_title_terms(sub, rows), None), min_df),
        (tag_weight, _tag_terms(sub, movie_ids), min_df),
    ):
        if weight <= 0:
            continue
        counts = np.ones(len(term_rows)) if counts is None else counts
        blocks.append(_kind_matrix(term_rows, terms, counts, n, floor) * np.float32(weight))
    if not blocks:
        return sp.csr_array((n, 0), dtype=np.float32)
    return sp.csr_array(sp.hstack(blocks, format="csr"), dtype=np.float32)


def genre_matrix(content: MovieContent, movie_ids: np.ndarray) -> sp.csr_array:
    """0/1 (n_items, n_genres) float32: which genres each of ``movie_ids`` has (none for a movie not in ``content``)."""
    pd = _pandas()
    movie_ids = np.asarray(movie_ids)
    position = index_of(movie_ids, content.movie_ids)
    known = position >= 0
    rows, terms = _genre_terms(MovieContent(
        movie_ids=content.movie_ids[known], titles=content.titles[known], genres=content.genres[known],
        years=content.years[known], tag_movie_ids=content.tag_movie_ids[:0], tag_user_ids=content.tag_user_ids[:0],
        tags=content.tags[:0]), position[known])
    codes, vocabulary = pd.factorize(terms.to_numpy(), sort=True)
    matrix = sp.csr_array((np.ones(len(rows), dtype=np.float32), (rows, codes)), shape=(len(movie_ids), len(vocabulary)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix
