"""Fixtures of the evaluation tests: a small synthetic rating set with timestamps (no database)."""

from __future__ import annotations

import pytest

from scoring.evaluation import Interactions
from tests.scoring.evaluation.synthetic import synthetic_interactions


@pytest.fixture
def interactions() -> Interactions:
    """30 users × 50 movies, about 35 % rated."""
    return synthetic_interactions()
