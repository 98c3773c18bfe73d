"""The browser pages: thin views that find the objects and hand them to a template.

``users`` (pickers, recommendations, rating history), ``catalogue`` (search
and the movie page), ``accounts`` (sign-up and onboarding), ``rating`` (the
star widget's endpoint), ``watchlist`` (watchlist and "not interested").
"""

from web.recommender.views.accounts import SignInView, SignOutView, me, my_ratings, my_status, onboarding, signup
from web.recommender.views.catalogue import movie, movies
from web.recommender.views.home import home
from web.recommender.views.rating import rate
from web.recommender.views.users import refresh_status, user, user_picker, user_ratings
from web.recommender.views.watchlist import movie_event, my_watchlist

__all__ = [
    "SignInView", "SignOutView", "home", "me", "movie", "movie_event", "my_watchlist", "my_ratings", "my_status", "movies", "onboarding", "rate", "refresh_status", "signup", "user", "user_picker",
    "user_ratings",
]
