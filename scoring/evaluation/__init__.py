"""Offline evaluation of the scorers: seeded splits, ranking and rating metrics, a runner and tuning.

No Django import: ``python manage.py evaluate``, ``bench/evaluate.py`` and the
precompute job all call in here with plain arrays (docs/evaluation.md).

* :mod:`scoring.evaluation.data` - :class:`Interactions`, the ratings as four arrays, and the MovieLens CSV loader.
* :mod:`scoring.evaluation.splits` - the stratified and temporal protocols and the validation split.
* :mod:`scoring.evaluation.metrics` - precision/recall/nDCG/MAP@k, coverage, RMSE/MAE.
* :mod:`scoring.evaluation.runner` - fit on the train part, rank top-k without training movies, score.
* :mod:`scoring.evaluation.tuning` - grid search on the validation split only.
"""

from scoring.evaluation.data import Interactions, load_movielens
from scoring.evaluation.runner import evaluate_scorer, evaluate_split
from scoring.evaluation.splits import PROTOCOLS, Split, split, stratified_split, temporal_split, validation_split
from scoring.evaluation.tuning import tune

__all__ = [
    "PROTOCOLS",
    "Interactions",
    "Split",
    "evaluate_scorer",
    "evaluate_split",
    "load_movielens",
    "split",
    "stratified_split",
    "temporal_split",
    "tune",
    "validation_split",
]
