"""The randomized truncated SVD against LAPACK's full SVD."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from scoring.svd import truncated_svd


def _sparse_with_decaying_spectrum(n: int = 300, f: int = 120, seed: int = 1) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n, f)) * (0.9 ** np.arange(f))  # column scales decay like a TF-IDF spectrum
    dense[rng.random((n, f)) < 0.7] = 0.0
    return sp.csr_array(dense)


def test_leading_singular_values_and_vectors_match_the_full_svd():
    matrix = _sparse_with_decaying_spectrum()
    exact_left, exact_singular, _ = np.linalg.svd(matrix.toarray(), full_matrices=False)
    left, singular = truncated_svd(matrix, 10)
    assert left.shape == (300, 10) and singular.shape == (10,)
    np.testing.assert_allclose(singular, exact_singular[:10], rtol=1e-6)
    # The same vectors up to sign: each one's cosine with its exact counterpart is ±1.
    np.testing.assert_allclose(np.abs(np.sum(left * exact_left[:, :10], axis=0)), 1.0, atol=1e-5)


def test_rows_scaled_by_the_singular_values_keep_the_dot_products_of_the_leading_subspace():
    matrix = _sparse_with_decaying_spectrum()
    left, singular = truncated_svd(matrix, 40)
    rows = left * singular
    exact_left, exact_singular, exact_right = np.linalg.svd(matrix.toarray(), full_matrices=False)
    best_rank_40 = (exact_left[:, :40] * exact_singular[:40]) @ exact_right[:40]
    np.testing.assert_allclose(rows @ rows.T, best_rank_40 @ best_rank_40.T, atol=1e-6 * exact_singular[0] ** 2)


def test_the_same_seed_gives_the_same_vectors_and_the_rank_is_capped_by_the_shape():
    matrix = _sparse_with_decaying_spectrum(n=30, f=8)
    first, second = truncated_svd(matrix, 5), truncated_svd(matrix, 5)
    np.testing.assert_array_equal(first[0], second[0])
    left, singular = truncated_svd(matrix, 8)
    assert left.shape == (30, 8)
    np.testing.assert_allclose(singular, np.linalg.svd(matrix.toarray(), compute_uv=False), rtol=1e-8)
