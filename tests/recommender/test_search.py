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


def test_search_lists_the_active_runs_popular_movies_first_then_shorter_titles(db):
    """Popular-list rank first (of the active run only), then title length, then id: the best known match on top."""
    from web.runs.models import ActiveRun, Run
    from web.recommender.models import PopularMovie

    Movie.objects.bulk_create([
        Movie(movie_id=1, title="Star Trek: The Motion Picture (1979)"),
        Movie(movie_id=2, title="Star Wars (1977)"),
        Movie(movie_id=3, title="Lone Star (1996)"),
        Movie(movie_id=4, title="Star 80 (1983)"),
        Movie(movie_id=5, title="Dark Star (1974)"),
    ])
    active, old = Run.objects.create(algorithm="popularity"), Run.objects.create(algorithm="popularity")
    PopularMovie.objects.bulk_create([
        PopularMovie(run=active, movie_id=1, score=9, rank=1),
        PopularMovie(run=active, movie_id=3, score=8, rank=2),
        PopularMovie(run=old, movie_id=5, score=9, rank=1),  # another run's list does not count
    ])
    ActiveRun.objects.update_or_create(id=ActiveRun.SINGLETON_ID, defaults={"run": active})

    found = list(Movie.objects.search("star").best_known_first().values_list("movie_id", flat=True))

    assert found == [1, 3, 4, 2, 5]  # popular 1, 3; then "Star 80 (1983)" (14), "Star Wars (1977)" (16), "Dark Star (1974)" (16)
