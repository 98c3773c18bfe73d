# The undo of a dismissal, "not_interested_remove": a type the check constraint event_type_known allows, and one
# longer than the column's 20 characters, so the column becomes varchar(30).
#
# Done by hand rather than by AlterField and AddConstraint: widening a varchar rewrites neither the table nor its
# indexes, but PostgreSQL re-checks every CHECK constraint on the column (a scan of the events table under an
# ACCESS EXCLUSIVE lock, which stops every event insert), and so would adding the new event_type_known. Both
# constraints are dropped and added back NOT VALID in one ALTER TABLE (instant), and the next migration validates
# them under a lock that lets inserts go on.

from django.db import migrations, models

TYPES = ('watched', 'watchlist_add', 'watchlist_remove', 'not_interested', 'not_interested_remove')
TYPES_SQL = ", ".join(f"'{t}'" for t in TYPES)
OLD_TYPES_SQL = ", ".join(f"'{t}'" for t in TYPES[:-1])
FRACTION_SQL = "fraction IS NULL OR (fraction >= 0 AND fraction <= 1 AND type = 'watched')"


def _alter(length: int, types: str) -> str:
    return f"""
        ALTER TABLE recommender_event
            DROP CONSTRAINT event_type_known,
            DROP CONSTRAINT event_fraction_0_to_1_of_a_watch,
            ALTER COLUMN type TYPE varchar({length}),
            ADD CONSTRAINT event_type_known CHECK (type IN ({types})) NOT VALID,
            ADD CONSTRAINT event_fraction_0_to_1_of_a_watch CHECK ({FRACTION_SQL}) NOT VALID"""


class Migration(migrations.Migration):

    dependencies = [
        ('recommender', '0013_event_id_bytewise_collation'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(_alter(30, TYPES_SQL), reverse_sql=_alter(20, OLD_TYPES_SQL))],
            state_operations=[
                migrations.AlterField(
                    model_name='event',
                    name='type',
                    field=models.CharField(choices=[(t, t) for t in TYPES], max_length=30),
                ),
                migrations.RemoveConstraint(model_name='event', name='event_type_known'),
                migrations.AddConstraint(
                    model_name='event',
                    constraint=models.CheckConstraint(condition=models.Q(('type__in', TYPES)), name='event_type_known'),
                ),
            ],
        ),
    ]
