"""Write a MovieLens set into PostgreSQL with COPY, in one transaction, idempotently.

What a load does to each table (a second load of the same folder changes nothing):

* movies: upserted by ``movie_id``; a row is rewritten only when a value
  differs. Movies that are not in the set stay.
* ratings: into an empty table, binary COPY straight in (for large sets with
  the indexes and foreign key dropped and rebuilt after). Otherwise binary
  COPY into a temporary staging table, then ``INSERT ... ON CONFLICT
  (user_id, movie_id) DO UPDATE`` only where the value or time differs *and*
  the file's rating is not older than the stored one, so a rating a user made
  in the app after the set was published survives a reload. Ratings that are
  not in the set (other users', the app's) stay.
* tags: a tag has no key, so the set's tags are inserted unless the very same
  (user, movie, tag, timestamp) row is already there (an anti-join); tags
  added in the app stay.

Everything runs inside ``transaction.atomic``: any error (a constraint, a
dropped connection, an exception from the progress callback) leaves the
database exactly as it was. Only the VACUUM that follows the commit runs
outside it, and its failure is a warning: the load itself is done.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from web.pgcopy import copy_columns, unix_seconds_to_timestamptz
from web.recommender.ingest.dataset import MovieLensData
from web.recommender.ingest.detect import read_movielens
from web.recommender.ingest.progress import ProgressCallback, report
from web.recommender.models import Movie, MovieStats, Rating, Tag
from web.recommender.models.versions import LOAD, bump

COPY_CHUNK_ROWS = 1_000_000
"""Ratings per binary COPY call: bounds the payload in memory (~40 MB) and paces the progress reports."""
REBUILD_MIN_ROWS = 50_000
"""From this many ratings on, a load into an empty table builds the indexes after the COPY, not row by row."""
INDEX_BUILD_MEMORY = "256MB"
"""``maintenance_work_mem`` for those index builds (transaction-local): sorts in memory instead of on disk."""
FORCE_NEXT_FLUSH_VERSION = 150000
"""PostgreSQL 15, which has ``pg_stat_force_next_flush()`` (:func:`_mark_ratings_visible`)."""

logger = logging.getLogger(__name__)

MOVIE, RATING, TAG = Movie._meta.db_table, Rating._meta.db_table, Tag._meta.db_table


@dataclass(frozen=True)
class LoadSummary:
    """What a load found in the files and what it changed in the database."""

    path: str
    layout: str
    movies: int
    """Movies in the set."""
    ratings: int
    tags: int
    users: int
    """Distinct users with ratings in the set."""
    movies_inserted: int
    movies_updated: int
    ratings_inserted: int
    ratings_updated: int
    tags_inserted: int
    seconds: float

    @property
    def changed(self) -> bool:
        """Whether the load changed any row (False for a repeat load of the same folder)."""
        changes = (self.movies_inserted, self.movies_updated, self.ratings_inserted, self.ratings_updated)
        return any(changes) or bool(self.tags_inserted)

    def __str__(self) -> str:
        return (
            f"{self.layout} set {self.path}: {self.movies:,} movies, {self.ratings:,} ratings by {self.users:,} users, "
            f"{self.tags:,} tags; inserted {self.movies_inserted:,} movies, {self.ratings_inserted:,} ratings, "
            f"{self.tags_inserted:,} tags; updated {self.movies_updated:,} movies, {self.ratings_updated:,} ratings "
            f"in {self.seconds:.1f} s"
        )


def load_movielens(
    path: Path | str, *, progress: ProgressCallback | None = None, using: str = DEFAULT_DB_ALIAS
) -> LoadSummary:
    """Read, validate and write the MovieLens set in folder ``path``; see the module docstring.

    Raises :class:`~web.recommender.ingest.errors.IngestError` (file, line,
    reason) before touching the database when a file is malformed.
    """
    started = time.monotonic()
    data = read_movielens(path, progress=progress)
    return write_movielens(data, path=str(path), progress=progress, using=using, started=started)


def write_movielens(
    data: MovieLensData,
    *,
    path: str = "",
    progress: ProgressCallback | None = None,
    using: str = DEFAULT_DB_ALIAS,
    started: float | None = None,
) -> LoadSummary:
    """Write an already read set in one transaction (the database half of :func:`load_movielens`)."""
    started = time.monotonic() if started is None else started
    with transaction.atomic(using=using), connections[using].cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg2 cursor: COPY is not part of the DB-API
        movies_inserted, movies_updated = _write_movies(cursor, data.movies, progress)
        ratings_inserted, ratings_updated = _write_ratings(cursor, data.ratings, progress)
        tags_inserted = _write_tags(cursor, data.tags, progress)
        if movies_inserted or movies_updated or ratings_inserted or ratings_updated or tags_inserted:
            bump([(LOAD, 0)], using=using)  # every ETag of the API names this counter: a load can change any answer
        # Fresh planner statistics: the precompute and the site query these tables next.
        cursor.execute(f"ANALYZE {MOVIE}, {RATING}, {TAG}")
        MovieStats.refresh(using)  # the catalogue's "most rated" and "highest rated" count the loaded ratings
    if ratings_inserted and not connections[using].in_atomic_block:
        _mark_ratings_visible(using)
    return LoadSummary(
        path=path,
        layout=data.layout,
        movies=len(data.movies),
        ratings=len(data.ratings),
        tags=len(data.tags),
        users=data.users,
        movies_inserted=movies_inserted,
        movies_updated=movies_updated,
        ratings_inserted=ratings_inserted,
        ratings_updated=ratings_updated,
        tags_inserted=tags_inserted,
        seconds=time.monotonic() - started,
    )


def _mark_ratings_visible(using: str) -> None:
    """VACUUM the ratings just committed, so their pages are marked all-visible in the visibility map.

    Until then an index-only scan (a movie page's rating distribution, on
    the (movie, rating) index) still reads every table page it points to,
    many times slower (figures in docs/decisions.md and docs/data.md).
    Autovacuum would get there, minutes later. It
    cannot run inside a transaction, so a load inside one leaves it to autovacuum.

    The VACUUM also sets the table's live-row statistics to its exact count.
    The load's own inserts are still this session's pending statistics then
    (a session hands them over when idle, at most once a second): handed over
    after the VACUUM, they would be added to that exact count, and the rows
    stored (``movielens_table_rows``, docs/operations.md) would read twice the
    ratings loaded until the next analyze. So they are handed over first.
    """
    try:
        with connections[using].cursor() as cursor:
            if connections[using].pg_version >= FORCE_NEXT_FLUSH_VERSION:
                cursor.execute("SELECT pg_stat_force_next_flush()")  # done as this statement ends, before the VACUUM
            cursor.execute(f"VACUUM {RATING}")
    except DatabaseError as error:  # the load is committed: say so, and let autovacuum do it later
        logger.warning("the load is committed, but VACUUM of the ratings failed (autovacuum will redo it): %s", error)


def _write_movies(cursor, movies: pd.DataFrame, progress: ProgressCallback | None) -> tuple[int, int]:
    """Upsert the movies; returns (inserted, updated)."""
    report(progress, "write movies", 0, len(movies))
    columns = "movie_id integer, title text, year smallint, genres text, imdb_id text, tmdb_id integer"
    _staging(cursor, "ingest_movie", columns)
    _copy_csv(cursor, "ingest_movie", movies[["movie_id", "title", "year", "genres", "imdb_id", "tmdb_id"]])
    # COPY's CSV reads an unquoted empty field as NULL: coalesce() turns the
    # empty genres and imdb_id back into "" (the columns are NOT NULL).
    cursor.execute(
        f"""
        WITH up AS (
            INSERT INTO {MOVIE} AS m (movie_id, title, year, genres, imdb_id, tmdb_id)
            SELECT movie_id, title, year, string_to_array(coalesce(genres, ''), '|')::varchar(40)[],
                   coalesce(imdb_id, ''), tmdb_id
            FROM ingest_movie
            ON CONFLICT (movie_id) DO UPDATE
                SET title = EXCLUDED.title, year = EXCLUDED.year, genres = EXCLUDED.genres,
                    imdb_id = EXCLUDED.imdb_id, tmdb_id = EXCLUDED.tmdb_id
                WHERE (m.title, m.year, m.genres, m.imdb_id, m.tmdb_id) IS DISTINCT FROM
                      (EXCLUDED.title, EXCLUDED.year, EXCLUDED.genres, EXCLUDED.imdb_id, EXCLUDED.tmdb_id)
            RETURNING xmax = 0 AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
        """
    )
    inserted, updated = cursor.fetchone()
    cursor.execute("DROP TABLE ingest_movie")
    report(progress, "write movies", len(movies), len(movies))
    return inserted, updated


def _write_ratings(cursor, ratings: pd.DataFrame, progress: ProgressCallback | None) -> tuple[int, int]:
    """Insert or update the ratings; returns (inserted, updated)."""
    rebuild = len(ratings) >= REBUILD_MIN_ROWS
    if _ratings_empty(cursor):
        # The lock keeps the app from adding a rating between the check and
        # the COPY (the COPY would then fail on the unique pair); dropping
        # indexes needs the exclusive one. A table that is not empty is never
        # locked.
        cursor.execute(f"LOCK TABLE {RATING} IN {'ACCESS EXCLUSIVE' if rebuild else 'SHARE ROW EXCLUSIVE'} MODE")
    if _ratings_empty(cursor):
        if rebuild:
            with _indexes_rebuilt_after(cursor, RATING, progress):
                _copy_ratings(cursor, RATING, ratings, progress)
        else:
            _copy_ratings(cursor, RATING, ratings, progress)
        return len(ratings), 0
    _staging(
        cursor, "ingest_rating", 'user_id integer, movie_id integer, rating double precision, "timestamp" timestamptz'
    )
    _copy_ratings(cursor, "ingest_rating", ratings, progress)
    report(progress, "merge ratings", 0, None)
    cursor.execute(
        f"""
        WITH up AS (
            INSERT INTO {RATING} AS r (user_id, movie_id, rating, "timestamp")
            SELECT user_id, movie_id, rating, "timestamp" FROM ingest_rating
            ON CONFLICT (user_id, movie_id) DO UPDATE
                SET rating = EXCLUDED.rating, "timestamp" = EXCLUDED."timestamp"
                WHERE (r.rating, r."timestamp") IS DISTINCT FROM (EXCLUDED.rating, EXCLUDED."timestamp")
                  AND r."timestamp" <= EXCLUDED."timestamp"
            RETURNING xmax = 0 AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
        """
    )
    inserted, updated = cursor.fetchone()
    cursor.execute("DROP TABLE ingest_rating")
    report(progress, "merge ratings", inserted + updated, inserted + updated)
    return inserted, updated


@contextmanager
def _indexes_rebuilt_after(cursor, table: str, progress: ProgressCallback | None) -> Iterator[None]:
    """Drop ``table``'s secondary indexes, unique and foreign-key constraints; recreate them verbatim after the block.

    Into an empty table, building each index once and checking each foreign
    key with one join is several times faster than maintaining three B-trees
    and queueing a deferred foreign-key check per row (25M ratings: 307 s
    before). The definitions are read back from the catalog, so they stay
    whatever the migrations made them, and it all happens inside the load's
    transaction: a failure restores them with everything else. The primary
    key and CHECK constraints stay in place.
    """
    cursor.execute(
        """
        SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname),
               format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname, pg_get_constraintdef(oid))
        FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('u', 'f')
        UNION ALL
        SELECT format('DROP INDEX %%s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
        """,
        [table, table],
    )
    statements = cursor.fetchall()
    for drop, _ in statements:
        cursor.execute(drop)
    yield
    report(progress, "index ratings", 0, len(statements), "indexes")
    cursor.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
    for done, (_, create) in enumerate(statements, start=1):
        cursor.execute(create)
        report(progress, "index ratings", done, len(statements), "indexes")


def _ratings_empty(cursor) -> bool:
    cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {RATING})")
    return bool(cursor.fetchone()[0])


def _copy_ratings(cursor, table: str, ratings: pd.DataFrame, progress: ProgressCallback | None) -> None:
    columns = {
        "user_id": ratings["user_id"].to_numpy(),
        "movie_id": ratings["movie_id"].to_numpy(),
        "rating": ratings["rating"].to_numpy(),
        "timestamp": unix_seconds_to_timestamptz(ratings["timestamp"].to_numpy()),
    }
    types = {"user_id": "integer", "movie_id": "integer", "rating": "double precision", "timestamp": "timestamptz"}
    total = len(ratings)
    report(progress, "copy ratings", 0, total)
    for start in range(0, total, COPY_CHUNK_ROWS):
        chunk = {name: values[start : start + COPY_CHUNK_ROWS] for name, values in columns.items()}
        copy_columns(cursor, table, chunk, types)
        report(progress, "copy ratings", min(start + COPY_CHUNK_ROWS, total), total)


def _write_tags(cursor, tags: pd.DataFrame, progress: ProgressCallback | None) -> int:
    """Insert the tags not already present; returns how many were inserted."""
    report(progress, "write tags", 0, len(tags))
    if tags.empty:
        return 0
    _staging(cursor, "ingest_tag", "user_id integer, movie_id integer, tag text, seconds bigint")
    _copy_csv(cursor, "ingest_tag", tags[["user_id", "movie_id", "tag", "timestamp"]])
    cursor.execute(
        f"""
        INSERT INTO {TAG} (user_id, movie_id, tag, "timestamp")
        SELECT s.user_id, s.movie_id, coalesce(s.tag, ''), to_timestamp(s.seconds)
        FROM ingest_tag s
        WHERE NOT EXISTS (
            SELECT 1 FROM {TAG} t
            WHERE t.user_id = s.user_id AND t.movie_id = s.movie_id
              AND t.tag = coalesce(s.tag, '') AND t."timestamp" = to_timestamp(s.seconds)
        )
        """
    )
    inserted = cursor.rowcount
    cursor.execute("DROP TABLE ingest_tag")
    report(progress, "write tags", len(tags), len(tags))
    return inserted


def _staging(cursor, name: str, columns: str) -> None:
    # DROP first: a load nested in an outer transaction (tests, scripts) may
    # run twice before ON COMMIT DROP fires.
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP")


def _copy_csv(cursor, table: str, frame: pd.DataFrame) -> None:
    """COPY a small frame with text columns as CSV (NA -> empty unquoted field -> NULL)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False, lineterminator="\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", buffer)

