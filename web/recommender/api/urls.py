from django.urls import path

from web.recommender.api import views

urlpatterns = [
    path("users/<int:user_id>/recommendations", views.UserRecommendationsView.as_view(), name="api-user-recommendations"),
    path("users/<int:user_id>/ratings", views.UserRatingsView.as_view(), name="api-user-ratings"),
]
