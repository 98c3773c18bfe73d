"""DRF serializers: validation of API input and the shape of API output."""

from __future__ import annotations

import math

from rest_framework import serializers

from web.recommender.models import RATING_VALUES, Movie, Rating

MAX_RECOMMENDATIONS = 100
"""The most recommendations one request may ask for (the job stores the top 100 per user)."""


class RecommendationQuerySerializer(serializers.Serializer):
    n = serializers.IntegerField(min_value=1, max_value=MAX_RECOMMENDATIONS, default=10)


class MovieSerializer(serializers.ModelSerializer):
    class Meta:
        model = Movie
        fields = ["movie_id", "title", "year", "genres", "imdb_id", "tmdb_id"]


class RecommendedMovieSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    movie = MovieSerializer()


class RecommendationsSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    run_id = serializers.IntegerField(source="run.pk", allow_null=True, default=None)
    source = serializers.ChoiceField(choices=["personal", "popular"])
    recommendations = RecommendedMovieSerializer(many=True, source="items")


class RatingValueField(serializers.FloatField):
    """A rating: 0.5 to 5.0 in half stars; NaN and infinities are refused."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if math.isnan(value) or value not in RATING_VALUES:
            raise serializers.ValidationError(f"A rating must be one of 0.5, 1.0, ..., 5.0 (half stars); got {data!r}.")
        return value


class RatingInputSerializer(serializers.Serializer):
    movie_id = serializers.IntegerField(min_value=1)
    rating = RatingValueField()

    def validate_movie_id(self, value: int) -> int:
        if not Movie.objects.filter(movie_id=value).exists():
            raise serializers.ValidationError(f"No movie with id {value}.")
        return value


class RatingSerializer(serializers.ModelSerializer):
    movie_id = serializers.IntegerField(source="movie.movie_id")
    title = serializers.CharField(source="movie.title")

    class Meta:
        model = Rating
        fields = ["user_id", "movie_id", "title", "rating", "timestamp"]
