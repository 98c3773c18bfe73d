from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from web.recommender.api import views

urlpatterns = [
    path("users", views.ServiceUsersView.as_view(), name="api-users"),
    path("events", views.EventsView.as_view(), name="api-events"),
    path("users/<int:user_id>/watchlist", views.UserWatchlistView.as_view(), name="api-user-watchlist"),
    path("users/<int:user_id>/recommendations", views.UserRecommendationsView.as_view(), name="api-user-recommendations"),
    path("users/<int:user_id>/ratings", views.UserRatingsView.as_view(), name="api-user-ratings"),
    path("users/<int:user_id>/ratings/<int:movie_id>", views.UserRatingView.as_view(), name="api-user-rating"),
    path("movies", views.MovieListView.as_view(), name="api-movies"),
    path("movies/<int:movie_id>", views.MovieDetailView.as_view(), name="api-movie"),
    path("movies/<int:movie_id>/similar", views.MovieSimilarView.as_view(), name="api-movie-similar"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script from a URL, not inline, as the Content-Security-Policy requires.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
