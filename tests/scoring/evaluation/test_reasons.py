"""The offline reason rules against a case worked out by hand."""

import numpy as np
import scipy.sparse as sp

from scoring.evaluation.reasons import named_movies, reason_quality


def test_best_rated_and_strongest_alike_name_different_movies():
    """Movie 0's predictors are 1, 2, 3 (best first); the user rated 1 at 4, 2 at 5, 3 at 4. Movie 2 shares no
    genre with movie 0: the old rule names it (best rated), the new one names movie 1 (strongest alike)."""
    ratings = sp.csr_array(np.array([[0, 4.0, 5.0, 4.0]], dtype=np.float32))
    neighbours = np.array([[1, 2, 3], [-1, -1, -1], [-1, -1, -1], [-1, -1, -1]])
    genres = sp.csr_array(np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32))
    recommended = np.array([[0]])
    users = np.array([0])
    old = named_movies(recommended, users, ratings, neighbours, genres, "best_rated")
    new = named_movies(recommended, users, ratings, neighbours, genres, "strongest_alike")
    assert old.tolist() == [[2]] and new.tolist() == [[1]]
    assert reason_quality(old, recommended, neighbours, genres, strong=1)["alike_share"] == 0.0
    assert reason_quality(new, recommended, neighbours, genres, strong=1) == {"named_share": 1.0, "alike_share": 1.0}
    low = sp.csr_array(np.array([[0, 3.0, 3.0, 3.0]], dtype=np.float32))  # nothing liked: nothing named
    assert named_movies(recommended, users, low, neighbours, genres, "strongest_alike").tolist() == [[-1]]
