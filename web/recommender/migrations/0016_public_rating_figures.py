"""Public rating figures count the MovieLens data's ratings only (``RatingQuerySet.public``, docs/decisions.md, "Site").

The catalogue's counts (``MovieStats``) are made again without members' and services' users' ratings (ids from
``PROFILE_USER_ID_START``, 1,000,000,000, on), and the (movie, rating) index carries the user id, so that the movie
page's summary, now filtered on it, is still read from the index alone. The new index is built, and the old one
dropped, concurrently (not atomic): a plain CREATE INDEX would hold every rating's insert off for the whole build,
minutes at ml-25m's size, and the app role gives up on a lock after 5 s (tests/recommender/test_migration_locks.py).
The view is replaced in one statement string, so in one transaction: readers see the old counts or the new.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

MOVIE_STATS = """
CREATE MATERIALIZED VIEW recommender_moviestats AS
    SELECT m.movie_id, count(r.movie_id)::integer AS ratings, avg(r.rating)::double precision AS average,
           count(r.movie_id) >= 10 AS trusted
    FROM recommender_movie m
    LEFT JOIN recommender_rating r ON r.movie_id = m.movie_id{public}
    GROUP BY m.movie_id;
CREATE UNIQUE INDEX moviestats_movie ON recommender_moviestats (movie_id);
CREATE INDEX moviestats_most_rated ON recommender_moviestats (ratings DESC, movie_id);
CREATE INDEX moviestats_highest_rated ON recommender_moviestats (trusted DESC, average DESC NULLS LAST, ratings DESC, movie_id);
"""


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('recommender', '0015_validate_event_type_constraints'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='rating',
            index=models.Index(fields=['movie', 'rating'], include=['user_id'], name='rating_movie_rating_user'),
        ),
        RemoveIndexConcurrently(model_name='rating', name='rating_movie_rating'),
        migrations.RunSQL(
            # The literal is PROFILE_USER_ID_START as migration 0005's sequence starts it (a migration keeps its own copy).
            sql="DROP MATERIALIZED VIEW recommender_moviestats;" + MOVIE_STATS.format(public=" AND r.user_id < 1000000000"),
            reverse_sql="DROP MATERIALIZED VIEW recommender_moviestats;" + MOVIE_STATS.format(public="")  # 0010's: every rating,
        ),
    ]
