"""The interface every recommendation algorithm follows, in the scikit-learn estimator shape.

* The constructor only stores keyword hyperparameters (no validation, no work),
  so ``get_params()`` returns exactly what was asked for and is recorded with
  the run.
* :meth:`Scorer.fit` validates them, then sets the learned state as attributes
  with a trailing underscore (``movie_ids_``, ...). Nothing in a scorer does
  I/O: the job and the RQ worker own the database.
* Scoring before fitting raises :class:`NotFittedError`.
* A scorer that cannot score a movie for a user returns NaN there; it never
  raises and never drops rated movies itself - that is :func:`scoring.topn.top_n`'s
  one job, so "never recommend a rated movie" lives in exactly one place.

A fitted scorer is pickled into the run's ``FittedModel`` row; the RQ worker
unpickles it and calls :meth:`Scorer.score_history` for one user whose
ratings may be newer than the fit.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, Self

import numpy as np

from scoring.matrix import RatingsMatrix, index_of
from scoring.similarity import Mapper, serial_map


def require_whole_number(
    name: str, value: Any, low: int, high: int | None = None, *, wording: str = "a whole number"
) -> None:
    """A setting that must be an int (not a bool) in ``[low, high]`` (no top if ``high`` is None); else a ValueError.

    The one whole-number check: hyperparameters here, the run's and the job's settings in ``web.runs.spec``.
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {wording} {bound}; got {value!r}")


def require_number(name: str, value: Any, low: float, *, above: bool = False, finite: bool = True) -> None:
    """A hyperparameter that must be a real number (not a bool) ``>= low`` (``> low`` with ``above``)."""
    is_number = not isinstance(value, bool) and isinstance(value, Real)
    ok = is_number and (not finite or math.isfinite(value)) and (value > low if above else value >= low)
    if not ok:
        kind = "a finite number" if finite else "a number"
        raise ValueError(f"{name} must be {kind} {'>' if above else '>='} {low:g}; got {value!r}")


class NotFittedError(ValueError, AttributeError):
    """A scorer was used before :meth:`Scorer.fit` (a ValueError and an AttributeError, as in scikit-learn)."""


class Scorer(ABC):
    """Base class of the algorithms: fit on a :class:`RatingsMatrix`, then score users.

    Learned attributes common to every scorer (set by :meth:`fit`):

    movie_ids_ : ndarray of shape (n_items,), int32
        The movie ids of the columns the scorer was fitted on, ascending;
        every score vector is indexed like this.
    user_ids_ : ndarray of shape (n_users,), int32
        The user ids of the rows it was fitted on, ascending; ``score_users``
        takes row indices into this.
    """

    name: str = ""
    """The registry name (``--algorithm``)."""

    score_scale: str = "stars"
    """What a score means, for display: ``"stars"``, a predicted rating (0.5-5), or ``"match"``, about how
    likely the user is to pick the movie (roughly 0-1; EASE's regression on who rated what)."""

    # -- parameters ---------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters as given to the constructor, JSON-friendly, to record with the run."""
        return {name: getattr(self, name) for name in self._param_names()}

    @abstractmethod
    def validate_params(self) -> None:
        """Raise ``ValueError`` naming the parameter and the value received if one is invalid.

        :meth:`fit` calls it first; the job also calls it before loading any
        data so a bad ``--param`` fails in a second, not after the load.
        """

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- fitting ------------------------------------------------------------
    def fit(self, ratings: RatingsMatrix, *, mapper: Mapper | None = None) -> Self:
        """Validate the hyperparameters and learn from ``ratings`` (users × movies); returns ``self``.

        ``mapper`` runs the fit's independent chunks (e.g. in the job's forked
        pool, :data:`scoring.similarity.Mapper`); without it they run here in turn.
        Only algorithms whose fit is chunked use it.
        """
        self.validate_params()
        if not isinstance(ratings, RatingsMatrix):
            raise TypeError(f"fit expects a scoring.RatingsMatrix; got {type(ratings).__name__}")
        if ratings.nnz == 0:
            raise ValueError(
                f"fit needs at least one rating; got an empty {ratings.n_users} × {ratings.n_items} matrix"
            )
        if mapper is None:
            self._fit(ratings)
        else:
            self._fit(ratings, mapper=mapper)
        # Set last: their presence is what "fitted" means (see check_fitted).
        self.user_ids_ = ratings.user_ids.copy()
        self.movie_ids_ = ratings.movie_ids.copy()
        return self

    @abstractmethod
    def _fit(self, ratings: RatingsMatrix, mapper: Mapper = serial_map) -> None:
        """Learn the algorithm's own state from the validated ``ratings``."""

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless :meth:`fit` has run."""
        if not hasattr(self, "movie_ids_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(ratings) before scoring"
            )

    @property
    def n_items_(self) -> int:
        self.check_fitted()
        return len(self.movie_ids_)

    # -- scoring ------------------------------------------------------------
    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """Scores of every movie for the fitted users ``user_index`` (b,) (row indices, not ids).

        Returns an ndarray of shape (b, n_items), float32; NaN where the
        scorer cannot score a movie for that user. Rated movies are not
        removed here (see :func:`scoring.topn.top_n`).
        """
        return self._score_users(self._check_users(user_index))

    def score_users_compact(self, user_index: np.ndarray, n: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`score_users` over only the columns that can be in some user's top ``n`` (any ``n`` if None).

        Returns ``(scores, columns)``: ``scores`` (b, c) float32 and
        ``columns`` (c,) the ascending column indices they are for, or None
        when they are for every column (the default). A column left out is
        NaN for every user in :meth:`score_users` (EASE), or scored below
        every user's ``n``-th best unrated movie (the hybrid). The job ranks
        the compact block: for EASE at ml-25m shape it is a sixth as wide.
        """
        return self.score_users(user_index), None

    def _check_users(self, user_index: np.ndarray) -> np.ndarray:
        self.check_fitted()
        user_index = np.asarray(user_index)
        if user_index.ndim != 1 or not np.issubdtype(user_index.dtype, np.integer):
            raise ValueError(f"user_index must be a 1-D integer array; got {user_index.dtype} of shape {user_index.shape}")
        n_users = len(self.user_ids_)
        if len(user_index) and (user_index.min() < 0 or user_index.max() >= n_users):
            bad = user_index[(user_index < 0) | (user_index >= n_users)]
            raise ValueError(f"user_index must be row indices in [0, {n_users}); got {bad[:5].tolist()}")
        return user_index

    @abstractmethod
    def _score_users(self, user_index: np.ndarray) -> np.ndarray:
        """:meth:`score_users` after the checks."""

    def score_history(self, item_index: np.ndarray, ratings: np.ndarray, dismissed: np.ndarray | None = None) -> np.ndarray:
        """Scores of every movie for one user known only by their history.

        ``item_index`` (k,) are column indices into ``movie_ids_`` of the
        movies they rated and ``ratings`` (k,) their ratings; the history may
        be newer than the fit (the RQ worker's one-user refresh) or empty.
        ``dismissed`` (d,) are the column indices of the movies they said they
        are not interested in (:attr:`RatingsMatrix.dismissed`); only the
        scorers that use negatives read them, and one also in ``item_index``
        is no dismissal. Returns (n_items,) float32, NaN where the movie
        cannot be scored. For a fitted user with their fitted history (and
        dismissals) it equals that user's row of :meth:`score_users`.
        """
        self.check_fitted()
        return self._score_history(*self._checked(item_index, ratings, dismissed))

    def score_histories(self, histories: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> np.ndarray:
        """:meth:`score_history` of several users at once, one ``(item_index, ratings, dismissed)`` each: (b, n_items)
        float32, row i equal to ``score_history(*histories[i])``. The worker refreshes a batch of users with it."""
        self.check_fitted()
        return self._score_histories([self._checked(*history) for history in histories])

    def _checked(self, item_index: np.ndarray, ratings: np.ndarray,
                 dismissed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        item_index, ratings = self._check_history(item_index, ratings)
        if dismissed is None:
            dismissed = np.empty(0, dtype=np.int64)
        dismissed, _ = self._check_history(dismissed, np.zeros(np.shape(dismissed), dtype=np.float32))
        return item_index, ratings, dismissed

    @abstractmethod
    def _score_history(self, item_index: np.ndarray, ratings: np.ndarray, dismissed: np.ndarray) -> np.ndarray:
        """:meth:`score_history` after the checks (``dismissed`` checked like ``item_index``)."""

    def _score_histories(self, histories: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
        """:meth:`score_histories` after the checks: one :meth:`_score_history` a user, unless a scorer does better."""
        scores = np.empty((len(histories), self.n_items_), dtype=np.float32)
        for row, history in enumerate(histories):
            scores[row] = self._score_history(*history)
        return scores

    # -- helpers for callers that hold movie ids ----------------------------
    def history_index(self, movie_ids: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Turn a history by movie id into (item_index, ratings), dropping movies the fit never saw."""
        self.check_fitted()
        movie_ids, ratings = np.asarray(movie_ids), np.asarray(ratings, dtype=np.float32)
        if movie_ids.shape != ratings.shape or movie_ids.ndim != 1:
            raise ValueError(f"movie_ids and ratings must be 1-D of equal length; got {movie_ids.shape} and {ratings.shape}")
        position = index_of(self.movie_ids_, movie_ids)
        known = position >= 0
        return position[known], ratings[known]

    def _check_history(self, item_index: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        item_index, ratings = np.asarray(item_index), np.asarray(ratings, dtype=np.float32)
        if item_index.ndim != 1 or item_index.shape != ratings.shape:
            raise ValueError(
                f"item_index and ratings must be 1-D of equal length; got shapes {item_index.shape} and {ratings.shape}"
            )
        if len(item_index) == 0:
            return item_index.astype(np.int64), ratings
        if not np.issubdtype(item_index.dtype, np.integer):
            raise ValueError(f"item_index must hold integer column indices; got dtype {item_index.dtype}")
        out_of_range = (item_index < 0) | (item_index >= self.n_items_)
        if out_of_range.any():
            raise ValueError(
                f"item_index must be column indices in [0, {self.n_items_}) (map ids with history_index); "
                f"got {item_index[out_of_range][:5].tolist()}"
            )
        return item_index, ratings
