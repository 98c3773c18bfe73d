"""Ratings and events stored: ``movielens_table_rows`` follows each committed write, read from PostgreSQL's statistics."""

from __future__ import annotations

from django.db import connection

from tests.account_helpers import make_service
from tests.observability.conftest import value
from tests.recommender.ingest.movielens_files import write_set
from web.observability.collectors import TableRowsCollector
from web.recommender.ingest import load_movielens
from web.recommender.models import Event, Rating

USER = 101


def _flushed() -> None:
    """Have this connection hand its pending statistics to the server now, not within the next second or ten.

    The requests of the test client run on the test's own connection, whose
    inserts PostgreSQL counts when the connection next goes idle, at most
    once a second; the next statement makes it idle after forcing the flush.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT 1")


def _stored(scrape) -> tuple[float, float]:
    _flushed()
    text = scrape()
    return value(text, "movielens_table_rows", table="ratings"), value(text, "movielens_table_rows", table="events")


def test_a_rating_and_an_event_move_the_rows_stored(catalogue, client, scrape, django_capture_on_commit_callbacks):
    """Each committed write adds one to its table's series and leaves the other alone; both match the tables."""
    auth = {"HTTP_AUTHORIZATION": f"Token {make_service('rows-service')[1]}"}
    ratings, events = _stored(scrape)
    assert (ratings, events) == (Rating.objects.count(), Event.objects.count())
    unrated = [m for m in catalogue["movie_ids"] if not Rating.objects.filter(user_id=USER, movie_id=m).exists()]

    with django_capture_on_commit_callbacks(execute=False):  # the refresh it queues is not what is measured here
        response = client.post(f"/api/users/{USER}/ratings", {"movie_id": int(unrated[0]), "rating": 4.0},
                               content_type="application/json", **auth)
    assert response.status_code == 201, response.content
    assert _stored(scrape) == (ratings + 1, events)

    event = {"event_id": "rows-1", "user_id": USER, "movie_id": int(unrated[1]), "type": "watched",
             "time": "2026-01-01T00:00:00+00:00"}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/events", [event], content_type="application/json", **auth)
    assert response.status_code == 200, response.content
    assert _stored(scrape) == (ratings + 1, events + 1) == (Rating.objects.count(), Event.objects.count())


def test_a_load_into_the_empty_table_counts_its_ratings_once(transactional_db, tmp_path):
    """A MovieLens load (ANALYZE in its transaction, VACUUM after the commit) reads as the rows it stored, not twice
    as many: the VACUUM's exact count must not be followed by the load's own inserts counted again."""
    assert not Rating.objects.exists()
    load_movielens(write_set(tmp_path / "set"))
    _flushed()
    collector = TableRowsCollector({"ratings": Rating._meta.db_table})
    assert _collected(collector) == Rating.objects.count() == 5


def test_a_table_indexed_but_never_analyzed_is_counted_once(transactional_db):
    """Rows both in the index build's count and in the statistics' (no analyze yet): counted once, then each new one."""
    collector = TableRowsCollector({"scratch": "observability_rows_scratch"})
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE observability_rows_scratch (id integer)")
        try:
            cursor.execute("INSERT INTO observability_rows_scratch SELECT generate_series(1, 50)")
            cursor.execute("CREATE INDEX ON observability_rows_scratch (id)")  # sets reltuples to 50, no analyze
            _flushed()
            assert _collected(collector) == 50
            cursor.execute("INSERT INTO observability_rows_scratch VALUES (51)")
            _flushed()
            assert _collected(collector) == 51
        finally:
            cursor.execute("DROP TABLE observability_rows_scratch")


def _collected(collector: TableRowsCollector) -> float:
    families = {family.name: family for family in collector.collect()}
    assert families["movielens_tables_scrape_ok"].samples[0].value == 1
    return families["movielens_table_rows"].samples[0].value
