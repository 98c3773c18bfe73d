from django.db import migrations

# The per-user score table is partitioned by run: the precompute job loads a
# run into a table of its own with COPY, indexes it, then attaches it as a
# partition; dropping an old run is dropping its partition. Django cannot
# declare a partitioned table, so the model is unmanaged and the DDL is here.
CREATE = """
CREATE TABLE recommender_userscore (
    run_id   bigint   NOT NULL,
    user_id  integer  NOT NULL,
    movie_id integer  NOT NULL,
    score    real     NOT NULL,
    rank     smallint NOT NULL,
    PRIMARY KEY (run_id, user_id, rank)
) PARTITION BY LIST (run_id);
"""

DROP = "DROP TABLE recommender_userscore;"


class Migration(migrations.Migration):
    dependencies = [("recommender", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
