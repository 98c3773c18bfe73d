"""Algorithm name -> scorer class: what ``python -m jobs.precompute --algorithm NAME`` can run.

A new algorithm joins by being added to :data:`ALGORITHMS` (and, with that,
to the contract tests that run over this dict).
"""

from __future__ import annotations

from typing import Any

from scoring.base import Scorer
from scoring.popularity import Popularity

ALGORITHMS: dict[str, type[Scorer]] = {
    Popularity.name: Popularity,
}


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
