"""Write a run's similar-movie rows the way the precompute job stores them: a partition per run."""

from __future__ import annotations

from django.db import connection

from web.recommender.models import SimilarMovie

TABLE = SimilarMovie._meta.db_table


def add_similar(run_id: int, rows: list[tuple[int, int, float]]) -> None:
    """Attach run ``run_id``'s partition (if missing) and insert ``(movie, neighbour, score)`` rows, ranked per movie."""
    ranks: dict[int, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE}_r{int(run_id)} PARTITION OF {TABLE} FOR VALUES IN ({int(run_id)})")
        for movie, neighbour, score in rows:
            ranks[movie] = ranks.get(movie, 0) + 1
            cursor.execute(
                f"INSERT INTO {TABLE} (run_id, movie_id, neighbour_id, score, rank) VALUES (%s, %s, %s, %s, %s)",
                [run_id, movie, neighbour, score, ranks[movie]],
            )


def drop_similar_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [TABLE],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
