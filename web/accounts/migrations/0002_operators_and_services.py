"""The groups "operators" and "services" with the permissions that replace ``is_staff``.

Django creates a model's permissions after all migrations (``post_migrate``),
too late for a group to be given them here on a fresh database, so this
migration creates the ones the groups hold itself (``get_or_create``: the
signal then finds them and adds nothing). Nobody is put in a group here: a
staff account of before was operator and service at once, and guessing which
it is would hand one of them the other's rights. After upgrading, re-run
``ensure_operator`` (``make k8s-operator``) and issue each service a token
with ``create_service_token`` (README, "Upgrading to groups").
"""

from django.db import migrations

GROUP_PERMISSIONS = {
    # (app label, model, codename, name); the same as the models' Meta and web/accounts/permissions.py.
    "operators": [
        ("progress", "run", "operate_runs", "Can watch, start, cancel and activate precompute runs"),
        ("progress", "run", "view_run", "Can view run"),
        ("progress", "shardprogress", "view_shardprogress", "Can view shard progress"),
    ],
    "services": [
        ("recommender", "profile", "write_any_user", "Can write ratings and events for any MovieLens user"),
    ],
}
UNGROUPED = [("recommender", "profile", "read_private_profiles", "Can read every site profile's ratings and recommendations")]


def create_groups(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    def permission(app_label, model, codename, name):
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        return Permission.objects.get_or_create(content_type=content_type, codename=codename, defaults={"name": name})[0]

    for group_name, permissions in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.add(*[permission(*p) for p in permissions])
    for p in UNGROUPED:
        permission(*p)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("progress", "0005_run_operate_runs_permission"),
        ("recommender", "0007_profile_permissions"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
