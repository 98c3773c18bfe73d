# event_id compared bytewise (collation "C"): its unique index is probed and extended by every event stored, and
# under a locale collation (the cluster image's en_US.utf8) each comparison is a strcoll. ALTER COLUMN ... COLLATE
# rebuilds that index (about 10 s for 10M events, under a lock on the table); the rows are not rewritten.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('recommender', '0012_fitted_model_uncompressed'),
    ]

    operations = [
        migrations.AlterField(
            model_name='event',
            name='event_id',
            field=models.CharField(db_collation='C', help_text='Chosen by the sender; a retry with the same id is ignored.', max_length=100),
        ),
    ]
