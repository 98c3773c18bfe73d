from django.urls import path

from web.recommender import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("welcome/", views.onboarding, name="onboarding"),
    path("me/", views.me, name="me"),
    path("me/ratings/", views.my_ratings, name="my-ratings"),
    path("me/status", views.my_status, name="my-status"),
    path("me/watchlist/", views.my_watchlist, name="my-watchlist"),
    path("users/", views.user_picker, name="user-picker"),
    path("users/<int:user_id>/", views.user, name="user"),
    path("users/<int:user_id>/status", views.refresh_status, name="refresh-status"),
    path("users/<int:user_id>/ratings/", views.user_ratings, name="user-ratings"),
    path("movies/", views.movies, name="movies"),
    path("movies/<int:movie_id>/", views.movie, name="movie"),
    path("movies/<int:movie_id>/rate", views.rate, name="rate"),
    path("movies/<int:movie_id>/event", views.movie_event, name="movie-event"),
]
