"""Recommendation algorithms behind one estimator interface, plus the shared maths.

No Django import: the precompute job (``jobs.precompute``) and the RQ
worker's one-user refresh both use this package, the job on the whole
ratings matrix and the worker on one user's history.

* :mod:`scoring.matrix` - :class:`RatingsMatrix`, the users × movies CSR and its id maps.
* :mod:`scoring.base` - :class:`Scorer`, the interface every algorithm follows.
* :mod:`scoring.topn` - :func:`top_n`, the one place that drops rated movies and ranks.
* :mod:`scoring.registry` - algorithm name -> class, for ``--algorithm``.
* :mod:`scoring.content` - the catalogue's metadata (:class:`~scoring.content.MovieContent`) and its TF-IDF
  item matrix; :mod:`scoring.content_scorer` and :mod:`scoring.hybrid` score from it.
"""

from scoring.base import NotFittedError, Scorer
from scoring.matrix import RatingsMatrix
from scoring.popularity import Popularity
from scoring.registry import ALGORITHMS, make_scorer
from scoring.topn import rated_matrix, top_n

__all__ = [
    "ALGORITHMS",
    "NotFittedError",
    "Popularity",
    "RatingsMatrix",
    "Scorer",
    "make_scorer",
    "rated_matrix",
    "top_n",
]
