"""Drop DRF's ``authtoken_token`` table, where keys were stored in clear.

``rest_framework.authtoken`` is no longer installed (web.accounts stores
SHA-256 digests), so the table would only keep usable keys for anyone who
reads the database. Its keys are not carried over: they belonged to staff
accounts, which no longer carry rights (0002), so each service is issued a
new key with ``manage.py create_service_token NAME``.
"""

from django.db import migrations


def drop_clear_text_tokens(apps, schema_editor):
    if "authtoken_token" in schema_editor.connection.introspection.table_names():
        schema_editor.execute("DROP TABLE authtoken_token")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_operators_and_services")]

    operations = [migrations.RunPython(drop_clear_text_tokens, migrations.RunPython.noop)]
