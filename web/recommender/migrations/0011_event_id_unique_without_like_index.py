# event_id unique by a constraint instead of unique=True, which also made a varchar_pattern_ops index (for LIKE)
# as large as the unique one: no query uses it, and every insert of an event paid for it. The constraint comes
# first, so event_id is never without its unique index (the migration is one transaction all the same).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('recommender', '0010_movie_stats'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='event',
            constraint=models.UniqueConstraint(fields=('event_id',), name='event_event_id_unique'),
        ),
        migrations.AlterField(
            model_name='event',
            name='event_id',
            field=models.CharField(help_text='Chosen by the sender; a retry with the same id is ignored.', max_length=100),
        ),
    ]
