"""The recommendation API: thin views over the model methods and serializers."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from web.recommender.api.serializers import (
    RatingInputSerializer,
    RatingSerializer,
    RecommendationQuerySerializer,
    RecommendationsSerializer,
)
from web.recommender.models import Movie, Rating, UserScore


def _known_user(user_id: int) -> int:
    if not UserScore.objects.knows_user(user_id):
        raise NotFound(f"No user with id {user_id}: they have no ratings and no precomputed scores.")
    return user_id


class UserRecommendationsView(APIView):
    """``GET /api/users/<id>/recommendations?n=``: the user's top-n from the active run."""

    def get(self, request, user_id: int):
        query = RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        _known_user(user_id)
        recommendations = UserScore.objects.recommend(user_id, query.validated_data["n"])
        return Response(RecommendationsSerializer(recommendations).data)


class UserRatingsView(APIView):
    """``GET`` the user's ratings; ``POST {"movie_id", "rating"}`` stores one and queues the refresh."""

    def get(self, request, user_id: int):
        _known_user(user_id)
        ratings = Rating.objects.filter(user_id=user_id).select_related("movie").order_by("-timestamp")[:500]
        return Response(RatingSerializer(ratings, many=True).data)

    def post(self, request, user_id: int):
        if user_id < 1:
            raise NotFound(f"User ids are positive integers; got {user_id}.")
        data = RatingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movie = get_object_or_404(Movie, movie_id=data.validated_data["movie_id"])
        rating = Rating.objects.rate(user_id, movie, data.validated_data["rating"])
        body = RatingSerializer(rating).data | {"refresh": "queued"}
        return Response(body, status=status.HTTP_201_CREATED)
