"""The recommendation API: thin views over the model methods and serializers.

Reads of public data need no authentication; writes take a token
(``Authorization: Token <key>``, for programs) or the site's session (with
its CSRF token). See :mod:`web.recommender.api.permissions` for who may do what.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from web.accounts.authentication import HashedTokenAuthentication
from web.recommender import caching
from web.recommender.api.events import (
    MAX_JSON_EVENTS, NDJSONParser, answer, json_batches, ndjson_batches, numbered_lines,
)
from web.recommender.api.pagination import Pages
from web.recommender.api.permissions import ServicePermission, UserDataPermission
from web.recommender.api.serializers import (
    EventInputSerializer,
    EventsAnswerSerializer,
    ServiceUserInputSerializer,
    ServiceUserSerializer,
    WatchlistSerializer,
    MovieDetailSerializer,
    MovieQuerySerializer,
    MovieSerializer,
    RatingInputSerializer,
    RatingListQuerySerializer,
    RatingSerializer,
    RatingValueSerializer,
    RatingWrittenSerializer,
    RecommendationQuerySerializer,
    RecommendationsSerializer,
    SimilarMoviesSerializer,
    SimilarQuerySerializer,
    recommendations_data,
)
from web.recommender.models import (
    PROFILE_USER_ID_START, RATING_VALUES, Event, Movie, Profile, Rating, ServiceUser, SimilarMovie, UserScore, is_profile_id,
)
from web.restapi import (
    IF_NONE_MATCH, NOT_MODIFIED, ErrorSerializer, JSONParser, LengthRequired, MethodsFirst, unframed_body,
)
from web.runs.models import Run
from web.security import RatingWriteThrottle

SERVICE_REFUSALS = {
    403: 'Not a service account (group "services": manage.py create_service_token).',
    415: "The body is neither JSON nor NDJSON (application/x-ndjson).",
}
"""The words of the service calls' refusals where the user-data calls' do not fit (there is no user to act for)."""


def _errors(*codes: int, words: dict[int, str] | None = None) -> dict:
    """The documented error answers of an operation: ``codes``, plus 503, which any of them may give; ``words``
    replaces the description of some."""
    described = {
        400: "A parameter or the body is invalid; `fields` says which and why.",
        401: "Writing needs authentication (a token or the site's session).",
        403: "The account may not act for this user.",
        404: "Unknown user, movie or rating.",
        411: "The body was sent chunked, without a Content-Length (only events stream a chunked body, as NDJSON).",
        413: "The body is larger than 2.5 MB (or, for events, holds more events than allowed).",
        415: "The body is not JSON.",
        503: "The database is unavailable; try again after `Retry-After` seconds.",
    }
    described |= words or {}
    return {code: OpenApiResponse(ErrorSerializer, description=described[code]) for code in (*codes, 503)}


def _known_user(user_id: int) -> int:
    if not UserScore.objects.knows_user(user_id):
        raise NotFound(f"No user with id {user_id}: they have no ratings, no profile and no precomputed scores.")
    return user_id


def _writable_user(user_id: int) -> int:
    """Ratings may be written for any positive MovieLens id (that is how a MovieLens-style user starts), an existing
    profile or a user a service created (who may rate for which: :class:`UserDataPermission`)."""
    if user_id < 1 or (is_profile_id(user_id) and not Profile.objects.filter(user_id=user_id).exists()
                       and not ServiceUser.objects.filter(user_id=user_id).exists()):
        raise NotFound(f"No user with id {user_id} can be rated for: ids are positive, and ids from "
                       f"{PROFILE_USER_ID_START:,} on belong to site profiles and the users services create.")
    return user_id


def _written(rating: Rating, ticket) -> dict:
    refresh = "unavailable" if ticket is not None and ticket.queued is False else "queued"
    return RatingSerializer(rating).data | {"refresh": refresh}




class PublicReadsSchema(AutoSchema):
    """The document says a read needs no credentials: an empty security requirement ``{}`` beside the schemes.

    A MovieLens user's data is public (:func:`~web.recommender.api.permissions.may_read`), so a client
    generated from the document must be able to read it without authenticating; a profile's data
    still answers 404 to anyone but its account (docs/api.md, "Who may do what").
    """

    def get_auth(self) -> list[dict]:
        auths = super().get_auth()
        return [*auths, {}] if self.method in SAFE_METHODS and {} not in auths else auths


class UserDataView(MethodsFirst, GenericAPIView):
    """A view of one user's data: token or session authentication, :class:`UserDataPermission`."""

    schema = PublicReadsSchema()
    authentication_classes = [HashedTokenAuthentication, SessionAuthentication]
    permission_classes = [UserDataPermission]
    throttle_classes = [RatingWriteThrottle]


class UserRecommendationsView(UserDataView):
    @extend_schema(
        parameters=[RecommendationQuerySerializer, IF_NONE_MATCH],
        responses={200: RecommendationsSerializer, **NOT_MODIFIED, **_errors(400, 401, 403, 404)},
        summary="A user's top recommendations from the active run, with a reason each",
    )
    @caching.conditional(caching.user_list_validator)
    def get(self, request, user_id: int):
        """The active run's top ``n`` for the user, minus movies rated since; the popular list if the run does not know them."""
        query = RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        recommendations = UserScore.objects.recommend(
            user_id, query.validated_data["n"], genre=query.validated_data.get("genre")
        )
        if recommendations.source != "personal":  # a personal list proves the user exists; else ask
            _known_user(user_id)
        return Response(recommendations_data(recommendations))


class UserRatingsView(UserDataView):
    serializer_class = RatingSerializer
    pagination_class = Pages

    def get_queryset(self):
        query = RatingListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return Rating.objects.history(self.kwargs["user_id"], query.validated_data["sort"])

    @extend_schema(
        parameters=[RatingListQuerySerializer],
        responses={200: RatingSerializer(many=True), **_errors(400, 401, 403, 404)},
        summary="A user's ratings, newest first (paginated)",
    )
    def get(self, request, user_id: int):
        _known_user(user_id)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RatingSerializer(page, many=True).data)

    @extend_schema(
        request=RatingInputSerializer,
        responses={201: RatingWrittenSerializer, **_errors(400, 401, 403, 404, 411, 413, 415)},
        summary="Rate a movie (or change the rating) and queue the refresh of the user's list",
    )
    def post(self, request, user_id: int):
        _writable_user(user_id)
        data = RatingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movie = get_object_or_404(Movie, movie_id=data.validated_data["movie_id"])
        rating = Rating.objects.rate(user_id, movie, data.validated_data["rating"])
        return Response(_written(rating, rating.refresh), status=status.HTTP_201_CREATED)


class UserRatingView(UserDataView):
    serializer_class = RatingSerializer

    def _movie(self, movie_id: int) -> Movie:
        try:
            return Movie.objects.get(movie_id=movie_id)
        except Movie.DoesNotExist:
            raise NotFound(f"No movie with id {movie_id}.") from None

    @extend_schema(responses={200: RatingSerializer, **_errors(401, 403, 404)}, summary="One rating")
    def get(self, request, user_id: int, movie_id: int):
        rating = Rating.objects.filter(user_id=user_id, movie_id=movie_id).select_related("movie").first()
        if rating is None:
            raise NotFound(f"User {user_id} has not rated movie {movie_id}.")
        return Response(RatingSerializer(rating).data)

    @extend_schema(
        request=RatingValueSerializer,
        responses={200: RatingWrittenSerializer, 201: RatingWrittenSerializer, **_errors(400, 401, 403, 404, 411, 413, 415)},
        summary="Set the rating of this movie (201 if new, 200 if changed)",
    )
    def put(self, request, user_id: int, movie_id: int):
        _writable_user(user_id)
        movie = self._movie(movie_id)
        data = RatingValueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        existed = Rating.objects.filter(user_id=user_id, movie=movie).exists()
        rating = Rating.objects.rate(user_id, movie, data.validated_data["rating"])
        return Response(_written(rating, rating.refresh), status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **_errors(401, 403, 404)}, summary="Remove the rating")
    def delete(self, request, user_id: int, movie_id: int):
        movie = self._movie(movie_id)
        if Rating.objects.unrate(user_id, movie) is None:
            raise NotFound(f"User {user_id} has not rated movie {movie_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MovieListView(GenericAPIView):
    serializer_class = MovieSerializer
    pagination_class = Pages

    def get_queryset(self):
        query = MovieQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return Movie.objects.catalogue(**query.validated_data)

    @extend_schema(
        parameters=[MovieQuerySerializer, IF_NONE_MATCH],
        responses={200: MovieSerializer(many=True), **NOT_MODIFIED, **_errors(400, 404)},
        summary="Search and filter the catalogue (paginated)",
    )
    @caching.conditional(caching.catalogue_validator)
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MovieSerializer(page, many=True).data)


class MovieDetailView(APIView):
    @extend_schema(parameters=[IF_NONE_MATCH], responses={200: MovieDetailSerializer, **NOT_MODIFIED, **_errors(404)},
                   summary="A movie with its rating summary and tags")
    @caching.conditional(caching.movie_validator)
    def get(self, request, movie_id: int):
        movie = get_object_or_404(Movie, movie_id=movie_id)
        movie.summary = movie.rating_summary()
        movie.histogram = {f"{v:.1f}": c for v, c in zip(RATING_VALUES, movie.summary.histogram, strict=True)}
        return Response(MovieDetailSerializer(movie).data)


class MovieSimilarView(APIView):
    @extend_schema(
        parameters=[SimilarQuerySerializer, IF_NONE_MATCH],
        responses={200: SimilarMoviesSerializer, **NOT_MODIFIED, **_errors(400, 404)},
        summary="Movies most similar to this one (item-item neighbours of the active run; empty if it has none)",
    )
    @caching.conditional(caching.similar_validator)
    def get(self, request, movie_id: int):
        query = SimilarQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        get_object_or_404(Movie, movie_id=movie_id)
        run = Run.objects.active()
        similar = SimilarMovie.objects.of(movie_id, query.validated_data["n"])
        body = {"movie_id": movie_id, "run_id": run.pk if run else None, "similar": similar}
        return Response(SimilarMoviesSerializer(body).data)



class ServiceView(MethodsFirst, APIView):
    """A view only a browsing service (group "services") may use."""

    authentication_classes = [HashedTokenAuthentication, SessionAuthentication]
    permission_classes = [ServicePermission]
    throttle_classes = [RatingWriteThrottle]
    limited_writes = "writes: ratings, event requests and new users count together"


class ServiceUsersView(ServiceView):
    @extend_schema(
        request=ServiceUserInputSerializer,
        responses={
            201: OpenApiResponse(ServiceUserSerializer, description="A new user for this external id."),
            200: OpenApiResponse(ServiceUserSerializer, description=(
                "The external id has a user already (a retry, or a concurrent request that won): the same user_id.")),
            **_errors(400, 401, 403, 411, 413, 415, words={403: SERVICE_REFUSALS[403]}),
        },
        summary="Create the user of an external id (201), or return the one it already has (200)",
    )
    def post(self, request):
        """Idempotent: the same ``external_id`` always gives the same ``user_id``, also under concurrent requests."""
        data = ServiceUserInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, created = ServiceUser.objects.for_external_id(data.validated_data["external_id"])
        return Response(ServiceUserSerializer(user).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class EventsView(ServiceView):
    parser_classes = [JSONParser, NDJSONParser]
    streams_unframed_bodies = True  # NDJSON, read line by line, may come chunked (a client streaming a generator)

    @extend_schema(
        request={
            # A JSON array of up to MAX_JSON_EVENTS events, or one event object; NDJSON: one event object a line.
            "application/json": {"oneOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/EventInputRequest"}, "minItems": 0,
                 "maxItems": MAX_JSON_EVENTS},
                {"$ref": "#/components/schemas/EventInputRequest"},
            ]},
            "application/x-ndjson": EventInputSerializer,
        },
        responses={
            200: OpenApiResponse(EventsAnswerSerializer, description=(
                "None refused: each event `accepted` (stored now) or `duplicate` (its event_id is stored already or "
                "came earlier in the request), in the order sent, by `index` (JSON) or `line` (NDJSON).")),
            422: OpenApiResponse(EventsAnswerSerializer, description=(
                "Some refused, each with its `reason` (unknown user or movie, bad time, wrong type, malformed line "
                "N); the accepted ones are stored all the same, and `error` names the first refused event.")),
            **_errors(400, 401, 403, 411, 413, 415, words=SERVICE_REFUSALS),
        },
        summary="Send events (a JSON array of up to 1,000, or NDJSON): each one accepted, duplicate or refused",
    )
    def post(self, request):
        """Store the valid events in one transaction; a bad event is refused with its place and reason, the others kept.

        200 when none was refused; 422 when some were (the accepted ones are
        stored all the same, and a retry of the whole request is safe: they come back as duplicates).
        """
        stream = unframed_body(request)
        if request.content_type.startswith(NDJSONParser.media_type):
            lines = request.data if stream is None else numbered_lines(stream)
            outcomes, key = Event.objects.record(ndjson_batches(lines)), "line"
        elif stream is not None:
            raise LengthRequired()
        else:
            outcomes, key = Event.objects.record(json_batches(request.data)), "index"
        body, code = answer(outcomes, key)
        return Response(body, status=code)


class UserWatchlistView(UserDataView):
    @extend_schema(responses={200: WatchlistSerializer, **_errors(401, 403, 404)}, summary="A user's watchlist, last added first")
    def get(self, request, user_id: int):
        _known_user(user_id)
        entries = Event.objects.watchlist(user_id)
        movies = Movie.objects.in_bulk([movie_id for movie_id, _ in entries])
        items = [{"added_at": added_at, "movie": movies[movie_id]} for movie_id, added_at in entries]
        return Response(WatchlistSerializer({"user_id": user_id, "watchlist": items}).data)
