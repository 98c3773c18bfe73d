"""Algorithm name -> scorer class: what ``python -m jobs.precompute --algorithm NAME`` can run.

A new algorithm joins by being added to :data:`ALGORITHMS` (and, with that,
to the contract tests that run over this dict).
"""

from __future__ import annotations

from typing import Any

from scoring.base import Scorer
from scoring.ease import EASE
from scoring.itemknn import ItemKNN
from scoring.popularity import Popularity
from scoring.userknn import UserKNN

ALGORITHMS: dict[str, type[Scorer]] = {
    EASE.name: EASE,
    ItemKNN.name: ItemKNN,
    Popularity.name: Popularity,
    UserKNN.name: UserKNN,
}

DEFAULT_ALGORITHM = ItemKNN.name
"""What the job runs when neither ``--algorithm`` nor a pending run names one.

Chosen by the quick check in docs/precompute.md ("Choosing the default"):
user-user Pearson ranked held-out ratings of ml-latest-small better
(precision@10 0.156 vs 0.109), but item-item is several times cheaper at
ml-25m scale, fits the default run's time budget and gives the similar
movies. The one place to change it (issue 7's evaluation may).
"""


def make_scorer(name: str, params: dict[str, Any] | None = None) -> Scorer:
    """An unfitted scorer ``name`` with hyperparameters ``params``.

    Raises ``ValueError`` naming the choices for an unknown name, and the
    accepted names for an unknown parameter (the values are checked by
    ``validate_params``/``fit``).
    """
    try:
        cls = ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; choose from: {', '.join(sorted(ALGORITHMS))}") from None
    params = dict(params or {})
    accepted = cls._param_names()
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"{name} does not take parameter(s) {', '.join(unknown)}; it accepts: {', '.join(accepted) or 'none'}"
        )
    return cls(**params)
