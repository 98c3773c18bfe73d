"""The recommender app's models, one module per concern; importing them here registers them with Django.

* :mod:`~web.recommender.models.catalogue` - movies and tags, title search, a movie's rating summary.
* :mod:`~web.recommender.models.ratings` - ratings, and the refresh a rating queues.
* :mod:`~web.recommender.models.scores` - reading a run's scores, similar movies and popular list.
* :mod:`~web.recommender.models.profiles` - site profiles and their user ids.
"""

from __future__ import annotations

from web.recommender.models.catalogue import CATALOGUE_SORTS, Movie, RatingSummary, Tag
from web.recommender.models.profiles import PROFILE_USER_ID_START, Profile, is_profile_id, next_profile_user_id
from web.recommender.models.ratings import RATING_ORDER, RATING_VALUES, Rating
from web.recommender.models.scores import (
    FittedModel, PopularMovie, Recommendations, ScoredMovie, SimilarMovie, UserScore,
)

__all__ = [
    "CATALOGUE_SORTS", "PROFILE_USER_ID_START", "RATING_ORDER", "RATING_VALUES", "FittedModel", "Movie", "PopularMovie", "Profile",
    "Rating", "RatingSummary", "Recommendations", "ScoredMovie", "SimilarMovie", "Tag", "UserScore",
    "is_profile_id", "next_profile_user_id",
]
