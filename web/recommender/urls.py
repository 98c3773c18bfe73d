from django.urls import path

from web.recommender import views

urlpatterns = [
    path("", views.home, name="home"),
    path("users/", views.user_redirect, name="user-picker"),
    path("users/<int:user_id>/", views.user, name="user"),
    path("movies/<int:movie_id>/", views.movie, name="movie"),
    path("movies/<int:movie_id>/rate", views.rate, name="rate"),
]
