"""Item-item and user-user kNN against slow, obviously-correct references written with plain loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.itemknn import ItemKNN
from scoring.matrix import RatingsMatrix
from scoring.topn import top_n
from scoring.userknn import UserKNN


def continuous_ratings(seed: int, n_users: int = 30, n_movies: int = 40, density: float = 0.3) -> RatingsMatrix:
    """A small random matrix with non-round ratings, so that no two similarities tie by accident."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_movies)) < density
    mask[:, 0] = True
    mask[np.arange(n_users), rng.integers(1, n_movies, n_users)] = True  # at least two ratings each
    rows, cols = np.nonzero(mask)
    values = rng.uniform(0.5, 5.0, len(rows))
    return RatingsMatrix.from_arrays(rows * 3 + 1, cols * 7 + 2, values)


def as_dict(ratings: RatingsMatrix) -> list[dict[int, float]]:
    """Each user's ratings as {column: rating}: the reference's only data structure."""
    dense = ratings.matrix.toarray()
    return [{j: float(dense[u, j]) for j in range(ratings.n_items) if ratings.matrix[u, j] != 0} for u in range(ratings.n_users)]


def best_k(sims: dict[int, float], k: int) -> list[tuple[int, float]]:
    """The k largest positive similarities, ties to the lower index."""
    positive = [(j, s) for j, s in sims.items() if s > 0 and not math.isnan(s)]
    return sorted(positive, key=lambda pair: (-pair[1], pair[0]))[:k]


def reference_item_knn(ratings: RatingsMatrix, k: int, damping: float) -> np.ndarray:
    users = as_dict(ratings)
    mean = [sum(r.values()) / len(r) for r in users]
    n = ratings.n_items
    column = [{u: r[i] - mean[u] for u, r in enumerate(users) if i in r} for i in range(n)]
    norm = [math.sqrt(sum(v * v for v in c.values())) for c in column]

    def sim(i: int, j: int) -> float:
        if norm[i] == 0 or norm[j] == 0:
            return 0.0
        return sum(v * column[j][u] for u, v in column[i].items() if u in column[j]) / (norm[i] * norm[j])

    neighbours = [best_k({j: sim(i, j) for j in range(n) if j != i}, k) for i in range(n)]
    scores = np.full((len(users), n), np.nan)
    for u, rated in enumerate(users):
        for i in range(n):
            used = [(s, rated[j] - mean[u]) for j, s in neighbours[i] if j in rated]
            if used:
                scores[u, i] = mean[u] + sum(s * d for s, d in used) / (sum(s for s, _ in used) + damping)
    return scores


def reference_user_knn(ratings: RatingsMatrix, k: int, significance: int, candidates: int, damping: float) -> np.ndarray:
    users = as_dict(ratings)
    mean = [sum(r.values()) / len(r) for r in users]
    centred = [{j: v - mean[u] for j, v in r.items()} for u, r in enumerate(users)]
    norm = [math.sqrt(sum(v * v for v in c.values())) for c in centred]
    scores = np.full((len(users), ratings.n_items), np.nan)
    for u in range(len(users)):
        corr = {}
        for v in range(len(users)):
            if norm[u] > 0 and norm[v] > 0:
                common = set(users[u]) & set(users[v])
                corr[v] = sum(centred[u][j] * centred[v][j] for j in common) / (norm[u] * norm[v])
        weights = {}
        for v, c in best_k(corr, candidates):  # the best-correlated candidates, then weighted
            common = set(users[u]) & set(users[v])
            if len(common) < len(users[v]):  # skip v who rated nothing u has not (u itself included)
                weights[v] = c * min(len(common), significance) / significance
        neighbours = best_k(weights, k)
        for i in range(ratings.n_items):
            used = [(w, centred[v][i]) for v, w in neighbours if i in users[v]]
            if used:
                scores[u, i] = mean[u] + sum(w * d for w, d in used) / (sum(w for w, _ in used) + damping)
    return scores


@pytest.mark.parametrize("seed", [0, 1])
def test_item_knn_equals_the_loop_reference(seed):
    """Adjusted-cosine item-item scores equal the loop reference to 1e-6, chunked over items."""
    ratings = continuous_ratings(seed)
    model = ItemKNN(k=5, damping=1.0, chunk_items=7).fit(ratings)
    expected = reference_item_knn(ratings, k=5, damping=1.0)
    np.testing.assert_allclose(model.score_users(np.arange(ratings.n_users)), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("seed", "dense_items", "n_users"), [(0, 0, 30), (1, 12, 90), (2, 1000, 90)])
def test_user_knn_equals_the_loop_reference(seed, dense_items, n_users):
    """Significance-weighted Pearson user-user scores equal the loop reference to 1e-6 (sparse/dense, candidate/full paths)."""
    ratings = continuous_ratings(seed, n_users=n_users)
    model = UserKNN(k=3, significance=6, candidates=8, damping=0.5, dense_items=dense_items, block_users=7).fit(ratings)
    expected = reference_user_knn(ratings, k=3, significance=6, candidates=8, damping=0.5)
    np.testing.assert_allclose(model.score_users(np.arange(ratings.n_users)), expected, rtol=1e-6, atol=1e-6)


def test_item_knn_neighbours_are_the_similar_movies():
    """neighbours_ lists each movie's most similar movies best first, never the movie itself."""
    ratings = continuous_ratings(3)
    model = ItemKNN(k=4).fit(ratings)
    own = np.arange(ratings.n_items)[:, None]
    assert not (model.neighbours_ == own).any()
    sims = np.where(np.isnan(model.similarities_), -np.inf, model.similarities_)
    assert (np.diff(sims, axis=1) <= 0).all()
    assert (model.similarities_[model.neighbours_ >= 0] > 0).all()


@pytest.mark.parametrize("model", [ItemKNN(k=5), UserKNN(k=5)], ids=["item_knn", "user_knn"])
def test_top_n_never_contains_a_rated_movie(model):
    """After top_n with the rated matrix, no user's list holds a movie they rated."""
    ratings = continuous_ratings(4)
    model.fit(ratings)
    items, _ = top_n(model.score_users(np.arange(ratings.n_users)), ratings.matrix, 10)
    for user in range(ratings.n_users):
        rated = set(ratings.history(user)[0].tolist())
        assert not rated & set(items[user][items[user] >= 0].tolist())


@pytest.mark.parametrize("name", ["k", "damping"])
def test_bad_hyperparameters_are_refused(name):
    """A negative k or damping is a ValueError naming the parameter."""
    for cls in (ItemKNN, UserKNN):
        with pytest.raises(ValueError, match=name):
            cls(**{name: -1}).validate_params()


def test_top_candidates_equals_a_full_partition():
    """The sampled-threshold candidate search returns the same column sets as a full argpartition."""
    from scoring.similarity import top_candidates

    rng = np.random.default_rng(7)
    block = rng.standard_normal((50, 5000)).astype(np.float32)
    block[:5, 100:] = -np.inf  # rows with fewer finite values than usual take the fallback
    found = top_candidates(block, 40)
    expected = np.argpartition(-block, 39, axis=1)[:, :40]
    assert [set(row) for row in found.tolist()] == [set(row) for row in expected.tolist()]
