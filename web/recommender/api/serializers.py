"""DRF serializers: validation of API input and the shape of API output."""

from __future__ import annotations

import math

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from web.recommender.models import RATING_ORDER, RATING_VALUES, Movie, Rating, Recommendations
from web.runs.spec import DEFAULT_TOP_N

MAX_RECOMMENDATIONS = DEFAULT_TOP_N
"""The most recommendations one request may ask for: as many as a run stores per user by default."""


class GenreField(serializers.CharField):
    """A genre of the catalogue, e.g. ``Comedy``; an unknown one is refused with the list of known ones."""

    def run_validation(self, data=serializers.empty):
        # After CharField's own validators: a NUL character is refused by them, not sent to PostgreSQL.
        value = super().run_validation(data)
        if not Movie.objects.filter(genres__contains=[value]).exists():
            known = ", ".join(Movie.objects.genre_names())
            raise serializers.ValidationError(f"unknown genre {value!r}; choose from: {known}.")
        return value


class RecommendationQuerySerializer(serializers.Serializer):
    n = serializers.IntegerField(min_value=1, max_value=MAX_RECOMMENDATIONS, default=10, help_text=f"How many (1-{MAX_RECOMMENDATIONS}).")
    genre = GenreField(required=False, help_text="Only movies of this genre, e.g. Comedy.")


class SimilarQuerySerializer(serializers.Serializer):
    n = serializers.IntegerField(min_value=1, max_value=MAX_RECOMMENDATIONS, default=10, help_text=f"How many (1-{MAX_RECOMMENDATIONS}).")


class MovieQuerySerializer(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=200, help_text="Words the title starts words with.")
    genre = GenreField(required=False, help_text="Only movies of this genre, e.g. Comedy.")
    year = serializers.IntegerField(required=False, min_value=1800, max_value=2100, help_text="Release year.")


class RatingListQuerySerializer(serializers.Serializer):
    sort = serializers.ChoiceField(
        choices=list(RATING_ORDER), default="recent", help_text="Order of the list."
    )


class MovieSerializer(serializers.ModelSerializer):
    class Meta:
        model = Movie
        fields = ["movie_id", "title", "year", "genres", "imdb_id", "tmdb_id"]


class TagCountSerializer(serializers.Serializer):
    tag = serializers.CharField()
    count = serializers.IntegerField()


class MovieDetailSerializer(MovieSerializer):
    """A movie with its links, rating summary and most used tags."""

    imdb_url = serializers.CharField()
    tmdb_url = serializers.CharField()
    average_rating = serializers.FloatField(allow_null=True, source="summary.average")
    rating_count = serializers.IntegerField(source="summary.count")
    rating_histogram = serializers.DictField(
        child=serializers.IntegerField(), source="histogram", help_text="Number of ratings per value, '0.5' to '5.0'."
    )
    tags = serializers.SerializerMethodField()

    class Meta(MovieSerializer.Meta):
        fields = [*MovieSerializer.Meta.fields, "imdb_url", "tmdb_url", "average_rating", "rating_count",
                  "rating_histogram", "tags"]

    @extend_schema_field(TagCountSerializer(many=True))
    def get_tags(self, movie) -> list[dict]:
        return [{"tag": text, "count": n} for text, n in movie.top_tags()]


class SimilarMovieSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    movie = MovieSerializer(source="neighbour")


class SimilarMoviesSerializer(serializers.Serializer):
    movie_id = serializers.IntegerField()
    run_id = serializers.IntegerField(allow_null=True)
    similar = SimilarMovieSerializer(many=True)


class RecommendedMovieSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    reason = serializers.CharField(help_text="Why it is recommended.")
    movie = MovieSerializer()


class RecommendationsSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    run_id = serializers.IntegerField(source="run.pk", allow_null=True, default=None)
    source = serializers.ChoiceField(choices=["personal", "popular"])
    recommendations = RecommendedMovieSerializer(many=True, source="items")


def recommendations_data(recommendations: Recommendations) -> dict:
    """What :class:`RecommendationsSerializer` gives for ``recommendations``, built directly.

    The hottest read of the API: DRF's serializers rebuild their fields for
    every request, which cost more than the query (docs/decisions.md, "API"), so the
    output is built here by hand; :class:`RecommendationsSerializer` stays the
    documented schema, and a test keeps the two equal. The movie's fields are
    :class:`MovieSerializer`'s, so a field added there appears here too.
    """
    return {
        "user_id": recommendations.user_id,
        "run_id": recommendations.run.pk if recommendations.run is not None else None,
        "source": recommendations.source,
        "recommendations": [
            {
                "rank": item.rank,
                "score": float(item.score),
                "reason": item.reason,
                "movie": {name: getattr(item.movie, name) for name in MovieSerializer.Meta.fields},
            }
            for item in recommendations.items
        ],
    }


class RatingValueField(serializers.FloatField):
    """A rating: 0.5 to 5.0 in half stars; NaN, infinities and booleans are refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool):  # float(True) == 1.0: a JSON true must not become one star
            self.fail("invalid")
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


class RatingValueSerializer(serializers.Serializer):
    """The body of ``PUT /api/users/<id>/ratings/<movie>``."""

    rating = RatingValueField()


class RatingSerializer(serializers.ModelSerializer):
    movie_id = serializers.IntegerField(source="movie.movie_id")
    title = serializers.CharField(source="movie.title")

    class Meta:
        model = Rating
        fields = ["user_id", "movie_id", "title", "rating", "timestamp"]


class RatingWrittenSerializer(RatingSerializer):
    refresh = serializers.ChoiceField(
        choices=["queued", "unavailable"],
        help_text="'queued': the user's recommendations refresh in the background; "
        "'unavailable': the queue is down, the next batch run picks the rating up.",
    )

    class Meta(RatingSerializer.Meta):
        fields = [*RatingSerializer.Meta.fields, "refresh"]
