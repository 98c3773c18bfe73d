"""Title search: word prefixes, through the GIN index on the title's words."""

from __future__ import annotations

from django.db import connection

from web.recommender.models import Movie


def test_search_matches_word_prefixes_in_any_order(db):
    """Each query word must start a word of the title; case and punctuation do not matter."""
    Movie.objects.bulk_create([
        Movie(movie_id=1, title="Star Wars: Episode IV - A New Hope (1977)"),
        Movie(movie_id=2, title="Stardust (2007)"),
        Movie(movie_id=3, title="Lone Star (1996)"),
        Movie(movie_id=4, title="Matrix, The (1999)"),
    ])
    found = lambda text: sorted(Movie.objects.search(text).values_list("movie_id", flat=True))  # noqa: E731
    assert found("star") == [1, 2, 3]
    assert found("WARS star") == [1]
    assert found("the matrix") == [4]
    assert found("episode iv!") == [1]
    assert found("  ") == [] and found("tar") == []


def test_search_uses_the_title_index(db):
    """The planner answers a title search from movie_title_words_gin, not a scan (checked with seq scans off)."""
    Movie.objects.bulk_create(Movie(movie_id=i, title=f"Film number {i} ({1950 + i % 70})") for i in range(1, 2001))
    sql, params = Movie.objects.search("number 19").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE recommender_movie")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test runs in a transaction: only for this test
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "movie_title_words_gin" in plan, plan
