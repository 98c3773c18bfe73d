# Validates the two constraints 0014 added back NOT VALID: a scan of the events table under SHARE UPDATE EXCLUSIVE,
# which lets events be inserted meanwhile (new rows were checked from the moment 0014 committed). Its own migration,
# so its own transaction: in 0014's, the ALTER TABLE's exclusive lock would still be held during the scan.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('recommender', '0014_event_type_not_interested_remove'),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE recommender_event VALIDATE CONSTRAINT event_type_known;"
            " ALTER TABLE recommender_event VALIDATE CONSTRAINT event_fraction_0_to_1_of_a_watch",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
