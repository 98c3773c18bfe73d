"""The hybrid: EASE where it knows a movie, the content model where it does not, one calibrated score.

Per user, with ``e`` EASE's score of a movie divided by ``raters **
popularity_exponent`` and then by the user's best such value (so 1 is
"as strong as this user's top EASE pick", NaN for a movie EASE does not
model) and ``c`` the content model's match (:class:`scoring.content_scorer.ContentScorer`):

    score = e + content_weight · c                   (a movie EASE models)
    score =     content_weight · c - cold_penalty    (any other movie)

The popularity exponent is what widens the shelf: EASE's strongest scores
go to the most-watched movies, and dividing by a small power of the number
of raters lets an almost-as-likely less-known movie take the place of the
tenth blockbuster. The content term
breaks EASE's near-ties by taste and is the only thing that can bring a
movie with no (or fewer than ``min_ratings``) ratings into a list;
``cold_penalty`` says how much more sure of a movie the content model must
be than EASE. The defaults were chosen on the validation splits of
ml-latest-small's stratified protocol, by the rule "the widest lists whose
nDCG@10 is within 1 % of EASE's" (docs/evaluation.md, docs/decisions.md);
``min_ratings`` is lower than EASE's own default for the same reason: a
movie with 3 ratings is modelled, and can be found, without costing
accuracy.

**Exploration** (``explore``, 0.1 by default): a share of each user's first
:data:`EXPLORE_LIST` places (the site's first page) for the movies the model
is least sure of, those EASE does not model (fewer than ``min_ratings``
ratings, or none). With ``explore=0.1`` the last two places of the first
twenty go to the user's two best such movies by content: their scores are
set just under the score of the user's eighteenth unrated pick, so the
first ten - what the offline evaluation measures - are never displaced. A
movie added to the catalogue today reaches the lists of the users whose
taste it fits best this way. The site labels these picks ("something new to
try", web/recommender/reasons.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from scoring.base import Scorer, require_number
from scoring.content_scorer import ContentScorer, history_row
from scoring.ease import EASE
from scoring.feedback import DISMISSED_WEIGHT
from scoring.matrix import RatingsMatrix
from scoring.similarity import Mapper, serial_map

EXPLORE_LIST = 20
"""The list length that ``explore`` is a share of: the first page of a user's recommendations on the site
(web/recommender/views/users.py's ``PAGE_SIZE``), twice the top-10 the offline evaluation measures."""
_EASE_PARAMS = ("l2", "keep_weights", "similar", "min_ratings", "max_items", "dismissed")
_CONTENT_PARAMS = ("genre_weight", "tag_weight", "year_weight", "title_weight", "factors", "liked_from")


class Hybrid(Scorer):
    """EASE plus the content model plus a popularity penalty (the module docstring has the formula).

    Parameters
    ----------
    l2, keep_weights, similar, max_items, dismissed
        EASE's (:class:`scoring.ease.EASE`), same defaults.
    min_ratings : int, default 3
        EASE's, lower than EASE's own default of 10 (chosen on the validation splits).
    genre_weight, tag_weight, year_weight, title_weight, factors, liked_from
        The content model's (:class:`scoring.content_scorer.ContentScorer`), same defaults.
    content_weight : float, default 0.5
        Weight of the content match (>= 0).
    popularity_exponent : float, default 0.3
        EASE's scores are divided by the number of raters to this power (>= 0; 0 leaves them).
    cold_penalty : float, default 0.1
        Subtracted from a movie EASE does not model (>= 0).
    explore : float, default 0.1
        Share of the first :data:`EXPLORE_LIST` places given to the best
        movies EASE does not model (0 to 0.5; 0.1 is two places in twenty; 0 turns it off).

    Attributes
    ----------
    ease_ : EASE
    content_ : ContentScorer
        The two fitted parts.
    damping_ : ndarray of shape (m,), float32
        ``raters ** -popularity_exponent`` of EASE's modelled movies.
    modelled_ : ndarray of shape (m,), int64
        EASE's modelled columns (its similar movies are the run's similar movies).
    neighbours_, similarities_
        EASE's, for the run's similar movies.
    """

    name = "hybrid"
    score_scale = "match"
    uses_content = True

    def __init__(
        self, *, l2: float = 400.0, keep_weights: int = 300, similar: int = 20, min_ratings: int = 3,
        max_items: int = 10000, dismissed: float = DISMISSED_WEIGHT, genre_weight: float = 1.0, tag_weight: float = 1.0,
        year_weight: float = 0.5, title_weight: float = 0.3, factors: int = 64, liked_from: float = 0.0,
        content_weight: float = 0.5, popularity_exponent: float = 0.3, cold_penalty: float = 0.1, explore: float = 0.1,
    ) -> None:
        self.l2 = l2
        self.keep_weights = keep_weights
        self.similar = similar
        self.min_ratings = min_ratings
        self.max_items = max_items
        self.dismissed = dismissed
        self.genre_weight = genre_weight
        self.tag_weight = tag_weight
        self.year_weight = year_weight
        self.title_weight = title_weight
        self.factors = factors
        self.liked_from = liked_from
        self.content_weight = content_weight
        self.popularity_exponent = popularity_exponent
        self.cold_penalty = cold_penalty
        self.explore = explore

    def _parts(self) -> tuple[EASE, ContentScorer]:
        return (EASE(**{name: getattr(self, name) for name in _EASE_PARAMS}),
                ContentScorer(**{name: getattr(self, name) for name in _CONTENT_PARAMS}))

    def validate_params(self) -> None:
        for part in self._parts():
            part.validate_params()
        for name in ("content_weight", "popularity_exponent", "cold_penalty"):
            require_number(name, getattr(self, name), 0)
        require_number("explore", self.explore, 0)
        if self.explore > 0.5:
            raise ValueError(f"explore must be a share in [0, 0.5] (half of a list at most); got {self.explore!r}")

    def _fit(self, ratings: RatingsMatrix, mapper: Mapper = serial_map) -> None:
        ease, content = self._parts()
        content.fit(ratings)  # first: a matrix without content fails here, before EASE's minute of work
        ease.fit(ratings, mapper=mapper)
        raters = np.bincount(ratings.matrix.indices, minlength=ratings.n_items)[ease.modelled_]
        self.damping_ = np.power(raters.astype(np.float32), -np.float32(self.popularity_exponent))
        self.ease_, self.content_ = ease, content
        self.modelled_ = ease.modelled_
        self.neighbours_, self.similarities_ = ease.neighbours_, ease.similarities_

    def blend(self, ease_compact: np.ndarray, content: np.ndarray) -> np.ndarray:
        """Scores (b, n_items) from EASE's (b, m) over ``modelled_`` and the content model's (b, n_items)."""
        scores = np.float32(self.content_weight) * np.nan_to_num(content, nan=0.0)
        scores[:, self._cold_columns()] -= np.float32(self.cold_penalty)
        scores[:, self.modelled_] += self._ease_part(ease_compact)
        scores[_no_evidence(ease_compact, content)] = np.nan
        return scores

    def _ease_part(self, ease_compact: np.ndarray) -> np.ndarray:
        """EASE's (b, m) scores damped by popularity and divided by each user's best; 0 for a user EASE has nothing on
        (no modelled movie rated: scored by content alone)."""
        ease = ease_compact * self.damping_
        best = np.max(ease, axis=1, keepdims=True, initial=-np.inf, where=~np.isnan(ease))
        scale = np.where(best > 0, best, np.float32(1.0)).astype(np.float32)
        ease /= scale
        ease[np.isnan(ease)] = 0.0
        return ease

    def explore_places(self) -> int:
        """How many of the first :data:`EXPLORE_LIST` places go to exploration picks."""
        return int(round(float(self.explore) * EXPLORE_LIST))

    def with_exploration(self, scores: np.ndarray, content: np.ndarray, rated: sp.csr_array) -> np.ndarray:
        """``scores`` (b, n_items) with each user's best unmodelled, unrated movies by ``content`` moved to the last
        :meth:`explore_places` of their first :data:`EXPLORE_LIST` (``rated`` (b, n_items) marks what to skip)."""
        if self.explore_places() == 0:
            return scores
        picks = self._exploration_picks(content, rated, np.isnan(scores).all(axis=1))
        return _place_picks(scores, picks, rated, EXPLORE_LIST - self.explore_places())

    def _exploration_picks(self, content: np.ndarray, rated: sp.csr_array, unscored: np.ndarray,
                           block: int = 256) -> np.ndarray:
        """(b, places) columns: each user's best movies EASE does not model and they have not rated, by ``content``
        (b, n_items), best first (ties: the lower column, as :func:`scoring.topn.top_n`); -1 where there are too few,
        or for ``unscored`` users (b,). In blocks of users, the pool being a copy of the unmodelled columns (200 MB
        for a 1,000-user chunk at ml-25m shape); a few arg-maxima, not a partition of 49k columns per user."""
        places = self.explore_places()
        cold = self._cold_columns()
        picks = np.full((len(content), places), -1, dtype=np.int64)
        for start in range(0, len(content), block):
            stop = min(start + block, len(content))
            pool = np.take(content[start:stop], cold, axis=1)  # C order (a fancy index gives F: slow rows)
            taken = rated[start:stop][:, cold]
            users = np.arange(stop - start)
            pool[np.repeat(users, np.diff(taken.indptr)), taken.indices] = -np.inf
            if pool.shape[1]:
                pool[np.isnan(pool[:, 0])] = -np.inf  # a user with no taste has NaN content everywhere
            pool[unscored[start:stop]] = -np.inf
            for place in range(places):
                best = np.argmax(pool, axis=1)
                found = np.isfinite(pool[users, best])
                picks[start:stop, place] = np.where(found, cold[best], -1)
                pool[users, best] = -np.inf
        return picks

    def _score_users(self, user_index: np.ndarray) -> np.ndarray:
        ease, _ = self.ease_.score_users_compact(user_index)
        content = self.content_.score_users(user_index)
        scores = self.blend(ease, content)
        return self.with_exploration(scores, content, self.content_.fitted_rows(user_index))

    def score_users_compact(self, user_index: np.ndarray, n: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`score_users` over EASE's movies plus the others that can reach some user's top ``n`` in this batch.

        A movie EASE does not model enters a top ``n`` only if its score beats the user's ``n``-th best unrated
        EASE-modelled score, or if it is one of a user's exploration picks; the columns of no such movie (most of
        the catalogue at ml-25m shape) are left out, so the job ranks about a sixth of the width. Without ``n``, or
        with an ``n`` shorter than :data:`EXPLORE_LIST` while exploring, every column is returned.
        """
        places = self.explore_places()
        if n is None or (places and n < EXPLORE_LIST):
            return self.score_users(user_index), None
        user_index = self._check_users(user_index)
        ease, _ = self.ease_.score_users_compact(user_index)
        rows = self.content_.fitted_rows(user_index)
        taste = self.content_.taste(rows)
        no_taste = np.isnan(taste[:, 0]) if taste.shape[1] else np.ones(len(taste), dtype=bool)
        taste[no_taste] = 0.0  # their content scores are 0, as nan_to_num makes them in blend
        # One product over every movie, then columns: the same float32 sums as score_users (a product over a subset
        # of the rows of items_ may round differently and reorder near-ties).
        content = taste @ self.content_.items_.T
        weight, penalty = np.float32(self.content_weight), np.float32(self.cold_penalty)
        # np.take, not content[:, columns]: that copy comes out in Fortran order, and every row-wise step after it
        # (the partition, the arg-maxima) would then stride across memory, several times slower at 59k columns.
        modelled = weight * np.take(content, self.modelled_, axis=1)
        modelled += self._ease_part(ease)
        rated = rows[:, self.modelled_]
        masked = _nan_to_minus_infinity(modelled)
        masked[np.repeat(np.arange(rated.shape[0]), np.diff(rated.indptr)), rated.indices] = -np.inf
        k = min(int(n), masked.shape[1])
        threshold = np.partition(masked, masked.shape[1] - k, axis=1)[:, masked.shape[1] - k : masked.shape[1] - k + 1]
        cold = np.ones(content.shape[1], dtype=bool)
        cold[self.modelled_] = False
        if weight > 0:
            # weight·c - penalty >= threshold, tested on c without a 49k-wide copy; the margin keeps every column
            # rounding could put on either side (an extra column costs nothing, a missing one would change a list).
            limit = (threshold + penalty) / weight - np.float32(1e-5)
            contenders = cold & (content >= limit).any(axis=0)
        else:
            contenders = cold & bool((-penalty >= threshold).any())
        unscored = np.isnan(ease).all(axis=1) & no_taste  # neither part can score these users (_no_evidence)
        picks = self._exploration_picks(content, rows, no_taste | unscored) if places else np.empty((rows.shape[0], 0), int)
        contenders[picks[picks >= 0]] = True  # a user's pick is in their list whatever its score
        extra = np.flatnonzero(contenders)
        cold_scores = weight * np.take(content, extra, axis=1)
        cold_scores -= penalty
        columns = np.concatenate([self.modelled_, extra])
        order = np.argsort(columns, kind="stable")
        scores = np.hstack([modelled, cold_scores])[:, order]
        scores[unscored] = np.nan
        columns = columns[order]
        if places:
            # The keep-th best unrated score is among these columns (it is in the top n, n >= EXPLORE_LIST).
            compact_picks = np.where(picks >= 0, np.searchsorted(columns, np.maximum(picks, 0)), -1)
            scores = _place_picks(scores, compact_picks, rows[:, columns], EXPLORE_LIST - places)
        return scores, columns

    def _cold_columns(self) -> np.ndarray:
        """The columns EASE does not model, ascending."""
        cold = np.ones(len(self.movie_ids_), dtype=bool)
        cold[self.modelled_] = False
        return np.flatnonzero(cold)

    def _score_history(self, item_index: np.ndarray, ratings: np.ndarray, dismissed: np.ndarray) -> np.ndarray:
        ease = self.ease_.score_history(item_index, ratings, dismissed)[self.modelled_]
        rows = history_row(item_index, ratings, self.n_items_)
        content = self.content_.scores_of(rows)
        return self.with_exploration(self.blend(ease[np.newaxis, :], content), content, rows)[0]


def _place_picks(scores: np.ndarray, picks: np.ndarray, rated: sp.csr_array, keep: int) -> np.ndarray:
    """``scores`` (b, w) with the columns ``picks`` (b, places; -1: none) scored, in order, just under each user's
    ``keep``-th best unrated score (``rated`` (b, w) marks what to skip), so that they take the places after it."""
    masked = _nan_to_minus_infinity(scores)
    masked[np.repeat(np.arange(rated.shape[0]), np.diff(rated.indptr)), rated.indices] = -np.inf
    width = masked.shape[1]
    if width < keep:
        return scores  # fewer movies than the places in front: nothing to explore after
    # Each user's keep-th best score (a partition, not a sort of every column).
    ranked = np.partition(masked, width - keep, axis=1)[:, width - keep]
    step = np.float32(1e-4) * np.maximum(np.abs(ranked), np.float32(1e-3))
    for place in range(picks.shape[1]):
        chosen = picks[:, place]
        found = (chosen >= 0) & np.isfinite(ranked)
        users = np.flatnonzero(found)
        scores[users, chosen[found]] = ranked[found] - step[found] * (place + 1)
    return scores


def _nan_to_minus_infinity(values: np.ndarray) -> np.ndarray:
    """A copy of ``values`` with NaN as -inf (``np.nan_to_num`` also scans for infinities: several times slower)."""
    return np.where(np.isnan(values), np.float32(-np.inf), values)


def _no_evidence(ease_compact: np.ndarray, content: np.ndarray) -> np.ndarray:
    """(b,) users neither part can score: no EASE-modelled movie rated, and no content taste (nothing rated has
    metadata). A movie's content score is NaN only when its user's taste is, so one column tells."""
    no_ease = np.isnan(ease_compact).all(axis=1) if ease_compact.shape[1] else np.ones(len(ease_compact), dtype=bool)
    no_content = np.isnan(content[:, 0]) if content.shape[1] else np.ones(len(content), dtype=bool)
    return no_ease & no_content
