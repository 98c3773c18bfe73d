"""The OpenAPI document: it validates, lists the issue's endpoints, and every operation answers as documented."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from openapi_schema_validator import OAS30Validator, validate
from django.utils import timezone
from openapi_spec_validator import validate as validate_spec

from tests.account_helpers import make_operator
from web.recommender.models import Rating

USER = 101
SUCCESS_BODIES = {"post": {"movie_id": None, "rating": 4.0}, "put": {"rating": 3.5}}
METHOD_ORDER = ["get", "post", "put", "patch", "delete"]


def _path_bodies() -> dict[tuple[str, str], object]:
    """Valid bodies of the operations whose body is not a rating's."""
    event = {"event_id": "openapi-1", "user_id": USER, "movie_id": 10, "type": "watchlist_add",
             "time": (timezone.now() - timedelta(minutes=1)).isoformat()}
    return {("/api/users", "post"): {"external_id": "openapi-service-user"}, ("/api/events", "post"): [event]}


@pytest.fixture
def spec(client, db):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_document_is_valid_openapi_3(spec):
    """/api/schema/ is a valid OpenAPI 3 document."""
    assert spec["openapi"].startswith("3.")
    validate_spec(spec)


def test_the_document_lists_every_endpoint_of_the_api(spec):
    """The issue's endpoints are all documented with their methods."""
    paths = {path: set(ops) for path, ops in spec["paths"].items()}
    assert paths["/api/users/{user_id}/recommendations"] >= {"get"}
    assert paths["/api/users/{user_id}/ratings"] >= {"get", "post"}
    assert paths["/api/users/{user_id}/ratings/{movie_id}"] >= {"get", "put", "delete"}
    assert paths["/api/movies"] >= {"get"}
    assert paths["/api/movies/{movie_id}"] >= {"get"}
    assert paths["/api/movies/{movie_id}/similar"] >= {"get"}
    assert paths["/api/runs"] >= {"get"} and paths["/api/runs/{run_id}"] >= {"get"}
    assert paths["/api/users"] >= {"post"} and paths["/api/events"] >= {"post"}
    assert paths["/api/users/{user_id}/watchlist"] >= {"get"}
    events = spec["paths"]["/api/events"]["post"]
    assert set(events["requestBody"]["content"]) >= {"application/json", "application/x-ndjson"}
    recommendations = spec["paths"]["/api/users/{user_id}/recommendations"]["get"]
    assert {p["name"] for p in recommendations["parameters"]} >= {"user_id", "n", "genre"}


def test_the_document_lists_every_event_type(spec):
    """The events' ``type`` names each type the API takes, the undo of a dismissal included."""
    body = spec["paths"]["/api/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    event = body["oneOf"][0]["items"]
    while "$ref" in event:
        event = spec["components"]["schemas"][event["$ref"].rsplit("/", 1)[1]]
    type_ = event["properties"]["type"]
    while "$ref" in type_ or "allOf" in type_:
        type_ = type_["allOf"][0] if "allOf" in type_ else spec["components"]["schemas"][type_["$ref"].rsplit("/", 1)[1]]
    assert set(type_["enum"]) == {"watched", "watchlist_add", "watchlist_remove", "not_interested",
                                  "not_interested_remove"}


def _resolve(spec: dict, schema: dict) -> dict:
    return {**schema, "components": spec.get("components", {})}


def test_every_operation_answers_as_documented(client, spec, published, service_token):
    """Each documented operation, called with valid input, answers a documented status and a body matching its schema."""
    rated = Rating.objects.filter(user_id=USER).order_by("movie_id").first().movie_id
    rated_set = set(Rating.objects.filter(user_id=USER).values_list("movie_id", flat=True))
    unrated = next(m for m in range(10, 260, 10) if m not in rated_set)
    values = {"user_id": USER, "movie_id": rated, "run_id": published.pk}
    auth = {"HTTP_AUTHORIZATION": f"Token {service_token}"}
    client.force_login(make_operator("op")[0])  # the operators' /api/runs take an operator's session first
    path_bodies = _path_bodies()
    checked = 0
    for path, operations in spec["paths"].items():
        for method in sorted((m for m in operations if m in METHOD_ORDER), key=METHOD_ORDER.index):
            if path.startswith("/api/runs") and method != "get":
                continue  # starting, cancelling and activating runs are the progress page's tests' business
            operation = operations[method]
            url = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)
            call = getattr(client, method)
            if (path, method) in path_bodies:
                response = call(url, path_bodies[path, method], content_type="application/json", **auth)
            elif method in SUCCESS_BODIES:
                body = dict(SUCCESS_BODIES[method])
                if "movie_id" in body:
                    body["movie_id"] = unrated
                response = call(url, body, content_type="application/json", **auth)
            else:
                response = call(url, **auth)
            documented = operation["responses"]
            assert str(response.status_code) in documented, f"{method.upper()} {url}: {response.status_code} not documented"
            assert 200 <= response.status_code < 300, f"{method.upper()} {url}: {response.status_code} {response.content[:300]}"
            content = documented[str(response.status_code)].get("content", {}).get("application/json")
            if content:
                validate(response.json(), _resolve(spec, content["schema"]), cls=OAS30Validator)
            checked += 1
    assert checked >= 9


def test_event_and_user_answers_match_their_documented_schemas(client, spec, published, service_token):
    """A partly refused batch (422), an NDJSON batch (200, by line), one event object and a repeated user creation
    (200) answer as the document says; the JSON body is an array of at most 1,000 events or one event."""
    auth = {"HTTP_AUTHORIZATION": f"Token {service_token}"}
    events = spec["paths"]["/api/events"]["post"]
    when = (timezone.now() - timedelta(minutes=1)).isoformat()
    good = {"event_id": "doc-good", "user_id": USER, "movie_id": 10, "type": "watched", "fraction": 0.5, "time": when}
    bad = {**good, "event_id": "doc-bad", "movie_id": 999999}
    answers = [
        (client.post("/api/events", [good, bad], content_type="application/json", **auth), "422"),
        (client.post("/api/events", {**good, "event_id": "doc-one"}, content_type="application/json", **auth), "200"),
        (client.post("/api/events", json.dumps({**good, "event_id": "doc-line"}) + "\n",
                     content_type="application/x-ndjson", **auth), "200"),
    ]
    for response, code in answers:
        assert str(response.status_code) == code, response.content[:300]
        schema = events["responses"][code]["content"]["application/json"]["schema"]
        validate(response.json(), _resolve(spec, schema), cls=OAS30Validator)
    assert answers[0][0].json()["results"][1]["reason"] == "unknown movie 999999"
    assert answers[2][0].json()["results"][0]["line"] == 1
    body = events["requestBody"]["content"]["application/json"]["schema"]
    validate([good] * 3, _resolve(spec, body), cls=OAS30Validator)
    validate(good, _resolve(spec, body), cls=OAS30Validator)
    assert body["oneOf"][0]["maxItems"] == 1000

    users = spec["paths"]["/api/users"]["post"]
    for code in ("201", "200"):
        response = client.post("/api/users", {"external_id": "doc-user"}, content_type="application/json", **auth)
        assert str(response.status_code) == code
        validate(response.json(), _resolve(spec, users["responses"][code]["content"]["application/json"]["schema"]),
                 cls=OAS30Validator)
    assert set(users["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1:]) == {
        "ServiceUserInputRequest"}


@pytest.mark.parametrize("path", ["/api/events", "/api/users"])
def test_the_service_calls_document_their_own_refusals(spec, path):
    """Their 403 is "not a service account" (there is no user to act for) and the events' 415 names NDJSON: the
    generic words of the user-data calls said "may not act for this user" and "not JSON"."""
    operation = spec["paths"][path]["post"]
    assert "service" in operation["responses"]["403"]["description"]
    if path == "/api/events":
        assert "application/x-ndjson" in operation["responses"]["415"]["description"]


def test_documented_errors_match_the_error_schema(client, spec, published):
    """A 400 and a 404 answer the documented error shape."""
    operation = spec["paths"]["/api/users/{user_id}/recommendations"]["get"]
    for url, code in [(f"/api/users/{USER}/recommendations?n=0", "400"), ("/api/users/999999/recommendations", "404")]:
        response = client.get(url)
        assert str(response.status_code) == code
        validate(response.json(), _resolve(spec, operation["responses"][code]["content"]["application/json"]["schema"]), cls=OAS30Validator)


def test_interactive_docs_are_served_without_a_cdn(client, db):
    """/api/docs/ is Swagger UI whose scripts and styles come from this site's static files."""
    html = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert client.get(next(s for s in sources if s.endswith(".js"))).status_code == 200


@pytest.mark.parametrize("path", ["/api/users/{user_id}/recommendations", "/api/movies", "/api/movies/{movie_id}",
                                  "/api/movies/{movie_id}/similar"])
def test_the_cached_reads_document_if_none_match_and_304(spec, path):
    """A client generated from the document knows that these reads take If-None-Match and may answer 304."""
    operation = spec["paths"][path]["get"]
    assert "304" in operation["responses"]
    assert {"in": "header", "name": "If-None-Match"}.items() <= next(
        p for p in operation["parameters"] if p["name"] == "If-None-Match").items()
