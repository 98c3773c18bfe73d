"""A truncated SVD of a sparse matrix by random projection (Halko, Martinsson and Tropp, 2011, algorithms 4.4 and 5.1).

In NumPy rather than from scikit-learn: the randomized SVD is a dozen lines,
and importing scikit-learn cost every process that loads the models (each
web worker, the RQ worker, every management command) seconds of start-up.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def truncated_svd(
    matrix: sp.csr_array, rank: int, *, power_iterations: int = 4, oversample: int = 10, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``rank`` leading left singular vectors (n, rank) and singular values (rank,) of ``matrix`` (n, f).

    Seeded, so the same matrix gives the same vectors. The power iterations
    (each re-orthonormalised by a QR, for float accuracy) sharpen the
    sampled range where the spectrum decays slowly, as TF-IDF spectra do.
    """
    rng = np.random.default_rng(seed)
    width = min(rank + oversample, *matrix.shape)
    basis, _ = np.linalg.qr(matrix @ rng.standard_normal((matrix.shape[1], width)))
    for _ in range(power_iterations):
        basis, _ = np.linalg.qr(matrix.T @ basis)
        basis, _ = np.linalg.qr(matrix @ basis)
    # The SVD of the small (width, f) projection basisᵀ·matrix gives the large one's through the basis.
    left_small, singular, _ = np.linalg.svd(np.asarray((matrix.T @ basis).T), full_matrices=False)
    return (basis @ left_small)[:, :rank], singular[:rank]
