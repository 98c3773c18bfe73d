"""GET /metrics: Prometheus's text format, counts that follow requests by route template, and who may read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.conftest import value
from web.queue import REFRESH_DUE_KEY, get_queue

TOKEN = "t" * 40


def test_metrics_is_the_prometheus_text_format(scrape, db):
    """The exposition parses with the Prometheus client's parser and has the HTTP, queue and run series."""
    text = scrape()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"movielens_http_requests", "movielens_http_request_duration_seconds", "movielens_queue_jobs",
            "movielens_precompute_runs", "movielens_table_rows"} <= names


def test_a_request_moves_its_counter_and_histogram_by_route_template(client, scrape, catalogue):
    """Two requests of one movie page count 2 under the URL pattern, never under the raw path."""
    before = scrape()
    route = "api/movies/<int:movie_id>"
    for _ in range(2):
        assert client.get("/api/movies/10").status_code == 200
    after = scrape()
    labels = {"route": route, "method": "GET", "status": "200"}
    assert value(after, "movielens_http_requests_total", **labels) - value(before, "movielens_http_requests_total", **labels) == 2
    count = "movielens_http_request_duration_seconds_count"
    assert value(after, count, route=route, method="GET") - value(before, count, route=route, method="GET") == 2
    assert "/api/movies/10" not in after
    queries = "movielens_http_db_queries_total"
    assert value(after, queries, route=route) > value(before, queries, route=route)


def test_an_unknown_path_counts_as_unresolved(client, scrape, db):
    """A 404 of a made-up path does not create a series named after the path."""
    before = scrape()
    client.get("/no-such-page-4711")
    after = scrape()
    labels = {"route": "unresolved", "method": "GET", "status": "404"}
    assert value(after, "movielens_http_requests_total", **labels) == value(before, "movielens_http_requests_total", **labels) + 1
    assert "no-such-page-4711" not in after


def test_an_outsider_is_refused(client, settings, db):
    """A peer outside the allowed networks, or any request through a proxy, gets 403 and no series."""
    settings.ALLOWED_HOSTS = ["testserver"]
    outside = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    proxied = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert (outside.status_code, proxied.status_code) == (403, 403)
    assert b"movielens" not in outside.content + proxied.content


def test_configured_networks_replace_loopback(client, settings, db):
    """With METRICS_NETWORKS set, a peer in them may scrape and loopback no longer may."""
    import ipaddress

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.METRICS_NETWORKS = (ipaddress.ip_network("10.244.0.0/16"),)
    assert client.get("/metrics", REMOTE_ADDR="10.244.3.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.parametrize(("header", "status"), [(f"Bearer {TOKEN}", 200), ("Bearer wrong-token", 403), (f"Token {TOKEN}", 403), ("", 403)])
def test_the_token_admits_from_anywhere_and_nothing_else_does(client, settings, db, header, status):
    """Only the exact METRICS_TOKEN as a bearer token admits a peer from outside."""
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="203.0.113.9", **extra).status_code == status


def test_the_request_id_is_taken_when_sane_and_made_otherwise(client, db):
    """A token-like X-Request-ID is echoed; a hostile one is replaced by a fresh id."""
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="req-42.a:b")
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nforged log line")
    assert kept["X-Request-ID"] == "req-42.a:b"
    assert replaced["X-Request-ID"] not in ("", "bad id\nforged log line") and len(replaced["X-Request-ID"]) == 32


def test_the_queue_series_are_the_queue_in_redis(scrape, redis_conn, db):
    """Two waiting jobs count 2 queued, the oldest's age grows from its enqueue time; an id left without its job is skipped."""
    queue = get_queue()
    first = queue.enqueue(print, "one")
    queue.enqueue(print, "two")
    first.enqueued_at = datetime.now(UTC) - timedelta(seconds=90)
    first.save()
    text = scrape()
    assert value(text, "movielens_queue_jobs", queue=queue.name, state="queued") == 2
    assert value(text, "movielens_queue_oldest_job_age_seconds", queue=queue.name) == pytest.approx(90, abs=10)
    redis_conn.delete(first.key)  # the job's hash expired, its id is still first in the queue
    assert value(scrape(), "movielens_queue_oldest_job_age_seconds", queue=queue.name) == 0


def test_the_refresh_backlog_counts_users_due(scrape, redis_conn, db):
    """Users waiting for a drain job are the refresh backlog: none, then the three put on the due set."""
    assert value(scrape(), "movielens_refresh_due_users") == 0
    redis_conn.sadd(REFRESH_DUE_KEY, 7, 8, 9)
    assert value(scrape(), "movielens_refresh_due_users") == 3
