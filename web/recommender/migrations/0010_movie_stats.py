"""MovieStats: each movie's number of ratings and average, a materialized view for the catalogue's sorts.

Every movie has a row (0 ratings, no average), so the catalogue joins it as an inner join and a
sort reads the first page from an index instead of sorting every movie. ``trusted``: at least 10
ratings (``TRUSTED_AVERAGE_RATINGS``), what "highest rated" puts first.

Why a view and not columns on the movie: a rating written on the site would then update its movie's
row in the same transaction, and every rating of a popular film would queue on that one row. The
view is counted again by a load and by each precompute run (``MovieStats.refresh``, CONCURRENTLY:
readers keep the old counts meanwhile, which needs the unique index).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('recommender', '0009_service_users_and_events'),
    ]

    operations = [
        migrations.CreateModel(
            name='MovieStats',
            fields=[
                ('movie', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='stats', serialize=False, to='recommender.movie')),
                ('ratings', models.IntegerField()),
                ('average', models.FloatField(null=True)),
                ('trusted', models.BooleanField()),
            ],
            options={
                'db_table': 'recommender_moviestats',
                'managed': False,
            },
        ),
        migrations.RunSQL(
            sql="""
CREATE MATERIALIZED VIEW recommender_moviestats AS
    SELECT m.movie_id, count(r.movie_id)::integer AS ratings, avg(r.rating)::double precision AS average,
           count(r.movie_id) >= 10 AS trusted
    FROM recommender_movie m LEFT JOIN recommender_rating r ON r.movie_id = m.movie_id GROUP BY m.movie_id;
CREATE UNIQUE INDEX moviestats_movie ON recommender_moviestats (movie_id);
CREATE INDEX moviestats_most_rated ON recommender_moviestats (ratings DESC, movie_id);
CREATE INDEX moviestats_highest_rated ON recommender_moviestats (trusted DESC, average DESC NULLS LAST, ratings DESC, movie_id);
""",
            reverse_sql="DROP MATERIALIZED VIEW recommender_moviestats;",
        ),
    ]
