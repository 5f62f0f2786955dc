"""Operators read drift and placement quality and set the drift reference (they got 403 on the
drift page although the README gives it to them); merchandisers read placement quality."""

from django.db import migrations

ROLES = {
    "Operators": {
        "monitoring": {
            "driftreport": ("view",),
            "driftreference": ("view", "add"),
            "placementdailyquality": ("view",),
        }
    },
    "Merchandisers": {"monitoring": {"placementdailyquality": ("view",)}},
}


def roles_grant(apps, schema_editor):
    """Give each group (created when missing) the permissions ROLES lists for it (as
    recommendations' 0004 does; a migration may not import another app's)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; this one needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, by_app in ROLES.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, models in by_app.items():
            for model, actions in models.items():
                codenames = [f"{action}_{model}" for action in actions]
                group.permissions.add(
                    *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
                )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("monitoring", "0001_drift_and_placement_quality"),
        ("recommendations", "0011_default_strategy_roles"),
    ]

    operations = [migrations.RunPython(roles_grant, migrations.RunPython.noop)]
