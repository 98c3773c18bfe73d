"""Content-based scoring: a user's taste as the mean of what they rated, matched against every movie's metadata."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from scoring.base import Scorer, require_number, require_whole_number
from scoring.content import content_matrix
from scoring.matrix import RatingsMatrix
from scoring.similarity import Mapper, serial_map
from scoring.svd import truncated_svd


class ContentScorer(Scorer):
    """Scores every catalogue movie, rated by anyone or not, by how much it resembles what the user rated.

    A movie is its TF-IDF row of genres, tags, release years and title words
    (:func:`scoring.content.content_matrix`), reduced to ``factors``
    dimensions by a truncated SVD (so scoring is one dense product per
    chunk of users, whatever the number of tags). A user is the
    rating-weighted sum of the rows of the movies they rated, made unit
    length; a movie's score is its dot product with that: the match of the
    movie's genres, tags, years and title words with the user's taste, kind
    by kind, weighted (rows are not unit length, :func:`scoring.content.content_matrix`:
    a movie matching on more kinds scores higher; at most about 1.5 with the
    default weights). A user with no rated movie gets NaN everywhere (there
    is no taste to match).

    Needs the catalogue's metadata: fit it on a :class:`RatingsMatrix` built
    with ``content=`` (the job and ``bench/evaluate.py`` do).

    Parameters
    ----------
    genre_weight, tag_weight, year_weight, title_weight : float, defaults 1.0, 1.0, 0.5, 0.3
        How much each kind of term counts in the cosine (>= 0; 0 leaves the kind out).
    factors : int, default 64
        Dimensions kept by the truncated SVD (>= 1); with at most twice as
        many terms the TF-IDF rows are kept exact.
    liked_from : float, default 0.0
        A rated movie weighs ``rating - liked_from`` in the user's taste (>= 0):
        0 counts every rated movie in proportion to its stars; 2.5 makes
        movies rated below 2.5 stars count against what resembles them.

    Attributes
    ----------
    items_ : ndarray of shape (n_items, d), float32
        Each movie's reduced content row (d = ``factors``, or the number of terms).
    """

    name = "content"
    score_scale = "match"
    uses_content = True
    """The scorer needs ``RatingsMatrix.content``; callers that build the matrix attach it."""

    def __init__(
        self, *, genre_weight: float = 1.0, tag_weight: float = 1.0, year_weight: float = 0.5,
        title_weight: float = 0.3, factors: int = 64, liked_from: float = 0.0,
    ) -> None:
        self.genre_weight = genre_weight
        self.tag_weight = tag_weight
        self.year_weight = year_weight
        self.title_weight = title_weight
        self.factors = factors
        self.liked_from = liked_from

    def validate_params(self) -> None:
        for name in ("genre_weight", "tag_weight", "year_weight", "title_weight", "liked_from"):
            require_number(name, getattr(self, name), 0)
        require_whole_number("factors", self.factors, 1, wording="an integer")

    def _fit(self, ratings: RatingsMatrix, mapper: Mapper = serial_map) -> None:
        if ratings.content is None:
            raise ValueError(
                f"{self.name} scores movies from their metadata; fit it on a RatingsMatrix built with "
                "content= (the catalogue's MovieContent)"
            )
        features = content_matrix(
            ratings.content, ratings.movie_ids, genre_weight=self.genre_weight, tag_weight=self.tag_weight,
            year_weight=self.year_weight, title_weight=self.title_weight,
        )
        self.items_ = reduce_rows(features, int(self.factors))
        self._ratings = ratings.matrix

    def taste(self, rows: sp.csr_array) -> np.ndarray:
        """Unit taste vectors (b, d) float32 of rating rows (b, n_items); NaN rows for users who rated nothing."""
        weighted = sp.csr_array((rows.data - np.float32(self.liked_from), rows.indices, rows.indptr), shape=rows.shape)
        taste = np.asarray(weighted @ self.items_, dtype=np.float32)
        norms = np.linalg.norm(taste, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            taste /= norms
        taste[(np.diff(rows.indptr) == 0) | (norms[:, 0] == 0)] = np.nan
        return taste

    def scores_of(self, rows: sp.csr_array) -> np.ndarray:
        """Scores (b, n_items) float32 of every movie for rating rows (b, n_items)."""
        return self.taste(rows) @ self.items_.T

    def _score_users(self, user_index: np.ndarray) -> np.ndarray:
        return self.scores_of(self.fitted_rows(user_index))

    def fitted_rows(self, user_index: np.ndarray) -> sp.csr_array:
        """The fitted users' rating rows (b, n_items) (not after unpickling: the worker scores histories)."""
        if not hasattr(self, "_ratings"):
            raise ValueError(f"an unpickled {self.name} scores histories only (score_history); fit it to score users in bulk")
        return self._ratings[user_index]

    def _score_history(self, item_index: np.ndarray, ratings: np.ndarray, dismissed: np.ndarray) -> np.ndarray:
        return self.scores_of(history_row(item_index, ratings, self.n_items_))[0]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_ratings", None)  # only for scoring fitted users in bulk; the worker scores histories
        return state


def history_row(item_index: np.ndarray, ratings: np.ndarray, n_items: int) -> sp.csr_array:
    """One history as a (1, n_items) float32 CSR of its ratings, columns sorted like a fitted row."""
    order = np.argsort(item_index, kind="stable")
    columns = np.asarray(item_index, dtype=np.int32)[order]
    return sp.csr_array((np.asarray(ratings, dtype=np.float32)[order], columns, np.array([0, len(columns)])),
                        shape=(1, n_items))


def reduce_rows(features: sp.csr_array, factors: int) -> np.ndarray:
    """``features`` (n, f) as dense (n, d) float32 rows whose dot products approximate theirs (truncated SVD, seeded).

    ``d`` is ``factors``, or ``f`` when that is at most twice as large (then the rows are exact: an SVD would
    save little scoring time and lose information).
    """
    n, f = features.shape
    if f <= 2 * factors or min(n, f) <= factors + 1:
        return features.toarray().astype(np.float32)
    left, singular = truncated_svd(features, factors)
    return (left * singular).astype(np.float32)
