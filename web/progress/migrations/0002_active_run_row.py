from django.db import migrations


def create_active_run_row(apps, schema_editor):
    # The singleton always exists, so publishing a run is one UPDATE and never an upsert.
    ActiveRun = apps.get_model("progress", "ActiveRun")
    ActiveRun.objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("progress", "0001_initial")]

    operations = [migrations.RunPython(create_active_run_row, migrations.RunPython.noop)]
