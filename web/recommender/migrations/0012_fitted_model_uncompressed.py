"""Store the pickled fitted models uncompressed.

PostgreSQL compresses a large bytea value with pglz by default, which cost
each publish far more time than the disk it saved, and each read by the
worker a decompression (docs/decisions.md, "The worker scores one user").
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("recommender", "0011_event_id_unique_without_like_index")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE recommender_fittedmodel ALTER COLUMN data SET STORAGE EXTERNAL",
            reverse_sql="ALTER TABLE recommender_fittedmodel ALTER COLUMN data SET STORAGE EXTENDED",
        ),
    ]
