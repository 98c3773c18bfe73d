"""DRF serializers: validation of API input and the shape of API output."""

from __future__ import annotations

import math

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from web.recommender.models import EVENT_TYPES, RATING_ORDER, RATING_VALUES, Movie, Rating, Recommendations, ServiceUser
from web.recommender.models.events import CLOCK_SKEW, EARLIEST_EVENT_TIME
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


def _without_surrounding_space(value: str) -> None:
    if value != value.strip():
        raise serializers.ValidationError(f"It may not begin or end with white space; got {value!r}.")


class ServiceUserInputSerializer(serializers.Serializer):
    """The body of ``POST /api/users``: the browsing service's own id of its user."""

    # Not trimmed: " a" is another id of the service than "a", and trimmed it would get a's user.
    external_id = serializers.CharField(max_length=200, trim_whitespace=False, validators=[_without_surrounding_space],
                                        help_text="The service's own id of its user (1-200 characters).")


class ServiceUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceUser
        fields = ["user_id", "external_id", "created_at"]


class StrictIntegerField(serializers.IntegerField):
    """An integer given as a JSON number: a string, a boolean or a fraction is a wrong type, not silently converted."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError(f"A whole number is required; got {data!r}.")
        return super().to_internal_value(data)


class EventTimeField(serializers.DateTimeField):
    """An ISO 8601 time with its UTC offset, from 1995 to a few minutes from now (the sender's clock may run ahead)."""

    def to_internal_value(self, value):
        if not isinstance(value, str):
            raise serializers.ValidationError(f"An ISO 8601 time is required, e.g. 2026-12-01T18:30:00Z; got {value!r}.")
        try:
            parsed = parse_datetime(value) if len(value) <= 40 else None
        except ValueError:  # well formed but no such time, e.g. month 13
            parsed = None
        if parsed is None:
            raise serializers.ValidationError(f"Not an ISO 8601 time (e.g. 2026-12-01T18:30:00Z): {value!r}.")
        if parsed.tzinfo is None:
            raise serializers.ValidationError(f"The time needs its UTC offset (Z or +hh:mm): {value!r}.")
        if parsed < EARLIEST_EVENT_TIME:
            raise serializers.ValidationError(f"The time {value} is before 1995, older than any MovieLens data.")
        if parsed > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError(f"The time {value} is in the future.")
        return parsed


class FractionField(serializers.FloatField):
    """How much of the movie was watched, 0 to 1; NaN, infinities, booleans and strings are refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise serializers.ValidationError(f"A number from 0 to 1 is required; got {data!r}.")
        if math.isnan(data) or not 0 <= data <= 1:
            raise serializers.ValidationError(f"A fraction must be from 0 to 1; got {data!r}.")
        return float(data)


class EventInputSerializer(serializers.Serializer):
    """One event of ``POST /api/events``. Whether the user and the movie exist is checked for the whole batch at once."""

    # Not trimmed: a trimmed id is not the one sent (the answer would name another, and " a" would be a duplicate of
    # "a"); refused instead, as check_event and load_events refuse it.
    event_id = serializers.CharField(max_length=100, trim_whitespace=False, validators=[_without_surrounding_space],
                                     help_text="Chosen by the sender, unique per event: a retry with the same id is ignored.")
    user_id = StrictIntegerField(min_value=1, max_value=2**31 - 1)
    movie_id = StrictIntegerField(min_value=1, max_value=2**31 - 1)
    type = serializers.ChoiceField(choices=list(EVENT_TYPES), help_text=(
        "`not_interested_remove` takes back a `not_interested` of the same user and movie, as `watchlist_remove` "
        "takes back an add: the latest of the two by `time` decides."))
    fraction = FractionField(required=False, allow_null=True, help_text="Only for `watched`: how much was watched, 0 to 1.")
    time = EventTimeField(help_text="When it happened: ISO 8601 with the UTC offset, from 1995 to now (5 minutes' clock skew allowed).")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("fraction") is not None and attrs["type"] != "watched":
            raise serializers.ValidationError({"fraction": f"Only a 'watched' event has a fraction, not {attrs['type']!r}."})
        attrs.setdefault("fraction", None)
        return attrs


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(required=False, help_text="The event's place in a JSON array, from 0.")
    line = serializers.IntegerField(required=False, help_text="The event's line in an NDJSON body, from 1.")
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "refused"])
    reason = serializers.CharField(required=False, help_text="Why it was refused, or why it is a duplicate.")


class EventsAnswerSerializer(serializers.Serializer):
    """The answer of ``POST /api/events``: the counts and every event's outcome, in the order sent."""

    error = serializers.CharField(required=False, help_text="With a 422: the first refused event and why.")
    status = serializers.IntegerField()
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = EventResultSerializer(many=True)


class WatchlistItemSerializer(serializers.Serializer):
    added_at = serializers.DateTimeField()
    movie = MovieSerializer()


class WatchlistSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    watchlist = WatchlistItemSerializer(many=True)
