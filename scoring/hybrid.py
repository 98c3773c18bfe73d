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

import itertools

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
USER_BLOCK = 256
"""Users per block of :meth:`Hybrid.score_users_compact`'s pass over the unmodelled movies."""
ITEM_BLOCK = 2048
"""Unmodelled movies per block of that pass (at least: see :data:`BLAS_FLOOR`); with :data:`USER_BLOCK` users, a
block of content scores is 2 MB, which stays in the processor's cache while it is tested."""
BLAS_FLOOR = 1 << 20
"""Users × movies × content dimensions below which a product may take BLAS's small-matrix kernels (whose sums can
round differently from a large product's); no block of content scores is computed smaller."""


class Hybrid(Scorer):
    """EASE where it knows a movie, the content model where it does not, and a popularity penalty that widens the lists.

    The formula is in the module's docstring.

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
        best = np.fmax.reduce(ease, axis=1, keepdims=True)  # the best non-NaN score; NaN for a user with none
        scale = np.where(best > 0, best, np.float32(1.0)).astype(np.float32)
        ease /= scale
        ease[np.isnan(ease)] = 0.0
        return ease

    def explore_places(self) -> int:
        """How many of the first :data:`EXPLORE_LIST` places go to exploration picks."""
        return round(float(self.explore) * EXPLORE_LIST)

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
        or for ``unscored`` users (b,). In blocks of users, the pool being a copy of the unmodelled columns; a few
        arg-maxima, not a partition of every column per user (score_users_compact has its own pass, in blocks that
        stay in cache: :class:`_ContentBlocks`)."""
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
        """:meth:`score_users` over the movies that can reach some user's top ``n`` in this batch.

        Below each user's ``n``-th best unrated EASE-modelled score no movie enters their top ``n`` unless it is one
        of their exploration picks; the columns of a modelled movie below it for every user, and of an unmodelled
        one not above it for some user (nor a pick), are left out: at ml-25m shape the job ranks a small part of
        the catalogue. Without ``n``, or with an ``n`` shorter than :data:`EXPLORE_LIST` while exploring, every
        column is returned.
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
        # Neither part can score these users (_no_evidence; EASE's NaN are whole rows, so one column tells).
        unscored = np.isnan(ease[:, :1]).all(axis=1) & no_taste
        cold = self._cold_columns()
        content = _ContentBlocks(taste, self.content_.items_, self.modelled_, cold)
        weight, penalty = np.float32(self.content_weight), np.float32(self.cold_penalty)
        modelled, best, kept = self._modelled_scores(ease, rows, content, unscored, n)
        threshold = best.min(axis=1) if best.shape[1] else np.full(len(taste), -np.inf, dtype=np.float32)
        if weight > 0:
            # weight·c - penalty >= threshold, tested on c; the margin keeps every column rounding could put on either
            # side (an extra column costs nothing, a missing one would change a list).
            limit = (threshold + penalty) / weight - np.float32(1e-5)
            # |taste·item| <= |item| (a taste has unit length; 0.1 % more for the float sums): a user whose limit is
            # above that for every unmodelled movie needs no test (docs/benchmarks.md: at ml-25m shape, none does).
            reach = np.where(no_taste, np.float32(0.0), content.cold_norm_bound())
            needy = ~unscored & (limit <= reach)
        else:
            limit = np.full(len(taste), np.inf, dtype=np.float32)
            needy = np.zeros(len(taste), dtype=bool)
        explorers = ~no_taste if places else np.zeros(len(taste), dtype=bool)
        contenders, picks = content.cold_pass(rows, needy, limit, explorers, places)
        if weight == 0 and bool((-penalty >= threshold[~unscored]).any()):
            contenders[:] = True
        contenders[picks[picks >= 0]] = True  # a user's pick is in their list whatever its score (positions in cold)
        extra = cold[contenders]
        cold_scores = weight * content.columns(extra)
        cold_scores -= penalty
        columns = np.concatenate([self.modelled_[kept], extra])
        order = np.argsort(columns, kind="stable")
        # np.take, not [:, order]: that copy comes out in Fortran order, and every row-wise step after it (the
        # partition, the arg-maxima, top_n's) would then stride across memory, several times slower.
        scores = np.take(np.hstack([np.take(modelled, np.flatnonzero(kept), axis=1), cold_scores]), order, axis=1)
        scores[unscored] = np.nan
        columns = columns[order]
        if places:
            # The keep-th best unrated score over these columns is among each user's n best modelled and the extra
            # columns (n >= EXPLORE_LIST): ranked from those, not from a partition of every column again.
            extra_scores = _nan_to_minus_infinity(cold_scores)
            ranked = _nth_best(np.hstack([best, _without_rated(extra_scores, rows[:, extra])]), EXPLORE_LIST - places)
            ranked[unscored] = -np.inf
            picks = np.where(picks >= 0, cold[np.maximum(picks, 0)], -1)
            compact_picks = np.where(picks >= 0, np.searchsorted(columns, np.maximum(picks, 0)), -1)
            scores = _place_under(scores, compact_picks, ranked)
        return scores, columns

    def _modelled_scores(self, ease: np.ndarray, rows: sp.csr_array, content: _ContentBlocks, unscored: np.ndarray,
                         n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The scores (b, m) of the modelled columns, each user's ``n`` best unrated of them (b, min(n, m)) in no
        order, and which columns (m,) are at or above some scored user's ``n``-th best (the others are in nobody's
        top ``n``): a block of users at a time, each step reading it from the cache."""
        weight = np.float32(self.content_weight)
        modelled = np.empty((len(ease), len(self.modelled_)), dtype=np.float32)
        best = np.empty((len(ease), min(int(n), len(self.modelled_))), dtype=np.float32)
        kept = np.zeros(len(self.modelled_), dtype=bool)
        rated = rows[:, self.modelled_]
        for first, last in content.user_spans:
            here = modelled[first:last]
            np.multiply(weight, content.modelled(first, last), out=here)
            here += self._ease_part(ease[first:last])
            best[first:last] = _best_unrated(here, rated[first:last], best.shape[1])
            if best.shape[1]:
                threshold = np.where(unscored[first:last], np.inf, best[first:last].min(axis=1))
                kept |= (here >= threshold[:, np.newaxis]).any(axis=0)
        if unscored.all() or not best.shape[1]:
            kept[:] = True  # nobody to score: all NaN, but not no columns (the job maps its top n's -1 through them)
        return modelled, best, kept

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


class _ContentBlocks:
    """The content scores (``taste`` (b, d) · ``items`` (n_items, d)ᵀ) that :meth:`Hybrid.score_users_compact` reads,
    equal to the bit to those of :meth:`Hybrid.score_users`' one product.

    The unmodelled movies (``cold``) are read by :meth:`cold_pass` in blocks of :data:`USER_BLOCK` users ×
    :data:`ITEM_BLOCK` movies, each one product small enough to stay in the processor's cache while it is tested:
    a whole product of a chunk of users with a large catalogue costs more in memory traffic than in arithmetic.
    The modelled movies are read by :meth:`modelled`, a block of users at a time. A block's sums equal the whole product's because BLAS's large-matrix kernels add each dot product in the same
    order wherever it sits (OpenBLAS's do; tests/scoring/test_content.py checks it on the BLAS at hand); its
    small-matrix kernels (for a product below :data:`BLAS_FLOOR`) add in another, so no block is smaller than that,
    and a batch too small for such blocks reads columns of one whole product instead.
    """

    def __init__(self, taste: np.ndarray, items: np.ndarray, modelled: np.ndarray, cold: np.ndarray) -> None:
        self.taste, self.items, self.modelled_columns, self.cold = taste, items, modelled, cold
        users, dims = taste.shape
        self.user_spans = _spans(users, USER_BLOCK)
        smallest = min(users, USER_BLOCK)
        item_block = max(ITEM_BLOCK, -(-BLAS_FLOOR // max(smallest * dims, 1)))
        self.item_spans = _spans(len(cold), item_block)
        self.blocked = users >= 2 and dims > 0 and all(smallest * min(width, item_block) * dims >= BLAS_FLOOR
                                                       for width in (len(modelled), len(cold)) if width)
        self.whole = None if self.blocked else taste @ items.T
        self.modelled_items, self.cold_items = items[modelled], items[cold]

    def modelled(self, first: int, last: int) -> np.ndarray:
        """(last - first, m) content scores of users ``first..last-1`` (one of :attr:`user_spans`) for the modelled
        columns."""
        if self.whole is None:
            return self.taste[first:last] @ self.modelled_items.T
        return np.take(self.whole[first:last], self.modelled_columns, axis=1)

    def columns(self, columns: np.ndarray) -> np.ndarray:
        """(b, len(columns)) content scores of those columns, C order."""
        if self.whole is not None:
            return np.take(self.whole, columns, axis=1)
        users, dims = self.taste.shape
        # Pad a short list of columns (with copies of column 0) so that the product is not a small one.
        width = max(len(columns), 2, -(-BLAS_FLOOR // (users * dims)))
        padded = np.concatenate([columns, np.zeros(width - len(columns), dtype=np.int64)])
        return (self.taste @ self.items[padded].T)[:, : len(columns)]

    def cold_norm_bound(self) -> np.float32:
        """An upper bound of any user's content score of an unmodelled movie: its length (a taste has unit length),
        0.1 % more for the float sums."""
        if not len(self.cold):
            return np.float32(-np.inf)
        squares = np.einsum("ij,ij->i", self.cold_items, self.cold_items, dtype=np.float64)
        return np.float32(np.sqrt(np.max(squares)) * 1.001 + 1e-6)

    def cold_pass(self, rows: sp.csr_array, needy: np.ndarray, limit: np.ndarray, explorers: np.ndarray,
                  places: int) -> tuple[np.ndarray, np.ndarray]:
        """One pass over the unmodelled movies, block by block: ``contenders`` (len(cold),) bool, those whose score
        reaches the ``limit`` (b,) of a ``needy`` (b,) user; and ``picks`` (b, places), the positions in ``cold`` of
        each of the ``explorers``' (b,) best such movies they have not rated (``rows`` (b, n_items)), best first
        (ties: the lower column, as :func:`scoring.topn.top_n`); -1 where there are too few, or for other users."""
        users = len(self.taste)
        contenders = np.zeros(len(self.cold), dtype=bool)
        picks = np.full((users, places), -1, dtype=np.int64)
        if not len(self.cold) or not (needy.any() or (places and explorers.any())):
            return contenders, picks
        position = np.full(rows.shape[1], -1, dtype=np.int64)
        position[self.cold] = np.arange(len(self.cold))
        rated_user = np.repeat(np.arange(users), np.diff(rows.indptr))
        rated_cold = position[rows.indices]
        rated_user, rated_cold = rated_user[rated_cold >= 0], rated_cold[rated_cold >= 0]
        for first, last in self.user_spans:
            needy_here, exploring = needy[first:last], explorers[first:last] if places else np.zeros(0, bool)
            if not needy_here.any() and not exploring.any():
                continue
            in_span = (rated_user >= first) & (rated_user < last)
            span_user, span_cold = rated_user[in_span] - first, rated_cold[in_span]
            best = np.full((last - first, places * len(self.item_spans)), -np.inf, dtype=np.float32)
            best_at = np.full(best.shape, -1, dtype=np.int64)
            for block, (start, stop) in enumerate(self.item_spans):
                if self.whole is None:
                    values = self.taste[first:last] @ self.cold_items[start:stop].T
                else:
                    values = np.take(self.whole[first:last], self.cold[start:stop], axis=1)
                if needy_here.any():
                    reached = values[needy_here] >= limit[first:last][needy_here, np.newaxis]
                    contenders[start:stop] |= reached.any(axis=0)
                if not exploring.any():
                    continue
                here = (span_cold >= start) & (span_cold < stop)
                values[span_user[here], span_cold[here] - start] = -np.inf
                if not exploring.all():
                    values[~exploring] = -np.inf
                everyone = np.arange(last - first)
                for place in range(places):
                    top = np.argmax(values, axis=1)
                    best[:, block * places + place] = values[everyone, top]
                    best_at[:, block * places + place] = start + top
                    values[everyone, top] = -np.inf
            if places and exploring.any():
                # Blocks in column order, each best first: a stable sort by score keeps the lower column of a tie.
                order = np.argsort(-best, axis=1, kind="stable")[:, :places]
                chosen, scores = np.take_along_axis(best_at, order, axis=1), np.take_along_axis(best, order, axis=1)
                picks[first:last] = np.where(np.isfinite(scores), chosen, -1)
        return contenders, picks


def _spans(total: int, size: int) -> list[tuple[int, int]]:
    """``[0, total)`` cut into spans of ``size``, the last one taking the rest (so none is shorter than ``size``
    unless ``total`` is)."""
    cuts = list(range(0, total - size + 1, size))[1:] if total >= 2 * size else []
    bounds = [0, *cuts, total]
    return [(start, stop) for start, stop in itertools.pairwise(bounds) if stop > start]


def _best_unrated(scores: np.ndarray, rated: sp.csr_array, k: int) -> np.ndarray:
    """(b, k) each row's ``k`` (<= w) best scores of ``scores`` (b, w) outside ``rated`` (b, w), in no order; NaN and
    rated ones count as -inf."""
    masked = _without_rated(_nan_to_minus_infinity(scores), rated)
    if k:
        masked.partition(masked.shape[1] - k, axis=1)
    return masked[:, masked.shape[1] - k :]


def _place_picks(scores: np.ndarray, picks: np.ndarray, rated: sp.csr_array, keep: int) -> np.ndarray:
    """``scores`` (b, w) with the columns ``picks`` (b, places; -1: none) scored, in order, just under each user's
    ``keep``-th best unrated score (``rated`` (b, w) marks what to skip), so that they take the places after it."""
    if scores.shape[1] < keep:
        return scores  # fewer movies than the places in front: nothing to explore after
    return _place_under(scores, picks, _nth_best(_without_rated(_nan_to_minus_infinity(scores), rated), keep))


def _nth_best(values: np.ndarray, n: int) -> np.ndarray:
    """(b,) each row's ``n``-th largest of ``values`` (b, w) (a partition, not a sort); -inf when ``w`` < ``n``."""
    width = values.shape[1]
    if width < n:
        return np.full(len(values), -np.inf, dtype=np.float32)
    return np.partition(values, width - n, axis=1)[:, width - n]


def _without_rated(values: np.ndarray, rated: sp.csr_array) -> np.ndarray:
    """``values`` (b, w) with the entries of ``rated`` (b, w) set to -inf, in place."""
    values[np.repeat(np.arange(rated.shape[0]), np.diff(rated.indptr)), rated.indices] = -np.inf
    return values


def _place_under(scores: np.ndarray, picks: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """``scores`` (b, w) with the columns ``picks`` (b, places; -1: none) scored, in order, just under ``ranked``
    (b,) (where it is finite)."""
    step = np.float32(1e-4) * np.maximum(np.abs(ranked), np.float32(1e-3))
    for place in range(picks.shape[1]):
        chosen = picks[:, place]
        found = (chosen >= 0) & np.isfinite(ranked)
        users = np.flatnonzero(found)
        scores[users, chosen[found]] = ranked[found] - step[found] * (place + 1)
    return scores


def _nan_to_minus_infinity(values: np.ndarray) -> np.ndarray:
    """A copy of ``values`` with NaN as -inf (in one pass: ``np.nan_to_num`` also scans for infinities)."""
    return np.fmax(values, np.float32(-np.inf))


def _no_evidence(ease_compact: np.ndarray, content: np.ndarray) -> np.ndarray:
    """(b,) users neither part can score: no EASE-modelled movie rated, and no content taste (nothing rated has
    metadata). A movie's content score is NaN only when its user's taste is, so one column tells."""
    no_ease = np.isnan(ease_compact).all(axis=1) if ease_compact.shape[1] else np.ones(len(ease_compact), dtype=bool)
    no_content = np.isnan(content[:, 0]) if content.shape[1] else np.ones(len(content), dtype=bool)
    return no_ease & no_content
