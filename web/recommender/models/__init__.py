"""The recommender app's models, one module per concern; importing them here registers them with Django.

* :mod:`~web.recommender.models.catalogue` - movies and tags, title search, a movie's rating summary.
* :mod:`~web.recommender.models.ratings` - ratings, and the refresh a rating queues.
* :mod:`~web.recommender.models.scores` - reading a run's scores, similar movies and popular list.
* :mod:`~web.recommender.models.profiles` - site profiles and their user ids.
* :mod:`~web.recommender.models.versions` - change counters that the API's ETags are made of.
* :mod:`~web.recommender.models.events` - a browsing service's users and events (watches, watchlist, not interested).
"""

from __future__ import annotations

from web.recommender.models.catalogue import CATALOGUE_SORTS, Movie, MovieStats, RatingSummary, Tag
from web.recommender.models.events import (
    EVENT_TYPES, HIDING_TYPES, SITE_EVENT_TYPES, WATCH_RATING, Event, EventBatch, EventOutcome, ServiceUser, known_user_ids,
)
from web.recommender.models.profiles import PROFILE_USER_ID_START, Profile, is_profile_id, next_profile_user_id
from web.recommender.models.ratings import RATING_ORDER, RATING_VALUES, Rating
from web.recommender.models.scores import (
    FittedModel, PopularMovie, Recommendations, ScoredMovie, SimilarMovie, UserScore,
)
from web.recommender.models.versions import DataVersion, user_data_changed

__all__ = [
    "EVENT_TYPES", "HIDING_TYPES", "SITE_EVENT_TYPES", "WATCH_RATING", "Event", "EventBatch", "EventOutcome", "ServiceUser", "known_user_ids",
    "CATALOGUE_SORTS", "PROFILE_USER_ID_START", "RATING_ORDER", "RATING_VALUES", "DataVersion", "FittedModel", "Movie", "MovieStats", "PopularMovie", "Profile",
    "Rating", "RatingSummary", "Recommendations", "ScoredMovie", "SimilarMovie", "Tag", "UserScore",
    "is_profile_id", "next_profile_user_id", "user_data_changed",
]
