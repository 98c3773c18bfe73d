"""LOG_FORMAT=json: every record a JSON line with the request id; the request id follows a rating to its refresh job."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client import REGISTRY, generate_latest

from tests.observability.conftest import value
from tests.recommender.conftest import auth, published, service_token  # noqa: F401  (fixtures)
from web.observability.logging import JsonFormatter, RequestIdFilter
from web.queue import get_queue, new_redis_client
from web.recommender.models import Movie, Rating
from web.recommender.worker import ModelWarmWorker


@pytest.fixture
def json_lines():
    """The lines the root logger writes while the test runs, through the JSON formatter and request id filter of LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous)


def test_settings_send_every_record_through_the_json_formatter(settings):
    """The console handler of LOGGING stamps request ids, and json is one of its formatters."""
    console = settings.LOGGING["handlers"]["console"]
    assert console["filters"] == ["request_id"]
    assert settings.LOGGING["formatters"]["json"]["()"] == "web.observability.logging.JsonFormatter"
    assert console["formatter"] == settings.LOG_FORMAT


def test_a_request_logs_one_json_line_with_its_id(client, db, json_lines):
    """One access line per request, parseable JSON, with the id the client sent and the route, status and timings."""
    client.get("/api/movies?page=1", HTTP_X_REQUEST_ID="trace-1")
    access = [line for line in json_lines() if line["logger"] == "web.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "trace-1"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/movies", 200)
    assert line["route"] == "api/movies" and line["duration_ms"] >= line["db_ms"] >= 0 and line["db_queries"] >= 1


def test_an_exception_is_one_json_line_too(json_lines):
    """A traceback goes into the line's ``exception`` field, not onto lines of its own."""
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tests").exception("failed")
    (line,) = [line for line in json_lines() if line["logger"] == "tests"]
    assert line["message"] == "failed" and "ValueError: boom" in line["exception"] and line["request_id"] is None


def test_the_request_id_reaches_the_refresh_job_and_the_worker_logs_it(client, auth, published, json_lines):
    """A rating sent with an X-Request-ID queues the drain of due refreshes, whose job carries the id; the worker counts
    it and logs it with the id."""
    rated = set(Rating.objects.filter(user_id=101).values_list("movie_id", flat=True))
    movie = next(m for m in range(10, 260, 10) if m not in rated)
    response = client.put(f"/api/users/101/ratings/{movie}", {"rating": 4}, content_type="application/json",
                          HTTP_X_REQUEST_ID="rating-77", **auth)
    assert response.status_code == 201 and response["X-Request-ID"] == "rating-77"
    queue = get_queue(new_redis_client())
    (job,) = queue.jobs
    assert job.meta["request_id"] == "rating-77"
    before = generate_latest(REGISTRY).decode()
    ModelWarmWorker([queue], connection=queue.connection).work(burst=True)
    after = generate_latest(REGISTRY).decode()
    labels = {"function": "refresh_due", "status": "finished"}
    for name in ("movielens_worker_jobs_total", "movielens_worker_job_duration_seconds_count"):
        assert value(after, name, **labels) - value(before, name, **labels) == 1, name
    worker_lines = [line for line in json_lines() if line["logger"] == "web.observability.worker"]
    assert [(line["function"], line["status"], line["request_id"]) for line in worker_lines] == [("refresh_due", "finished", "rating-77")]


def test_a_job_queued_outside_a_request_has_no_request_id(published):
    """A rating stored by code outside any request queues its refresh without an id (none to make up)."""
    rated = set(Rating.objects.filter(user_id=102).values_list("movie_id", flat=True))
    Rating.objects.rate(102, Movie.objects.exclude(movie_id__in=rated).first(), 3.0)
    (job,) = get_queue().jobs
    assert "request_id" not in job.meta
