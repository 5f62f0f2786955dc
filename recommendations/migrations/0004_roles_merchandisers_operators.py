"""The back-office roles: groups with the permissions their work needs. Re-running it (or a
later migration adding models) only adds what is missing."""

from django.db import migrations

# app label → model → actions, per group.
ROLES = {
    "Merchandisers": {
        "catalog": {
            "category": ("view", "add", "change"),
            "product": ("view", "add", "change"),
            "customer": ("view",),
            "event": ("view",),
            "productembedding": ("view",),
        },
        "recommendations": {
            "merchrule": ("view", "add", "change", "delete"),
            "hiddenitem": ("view", "add", "delete"),
            "servedlist": ("view",),
        },
        "experiments": {"badcase": ("view", "change")},
    },
    "Operators": {
        "catalog": {"product": ("view",), "customer": ("view",), "event": ("view",)},
        "experiments": {
            "experiment": ("view", "add", "change"),
            "variant": ("view", "add", "change", "delete"),
            "exposure": ("view",),
            "variantdailysnapshot": ("view",),
            "badcase": ("view", "change"),
        },
        "recommendations": {
            "rankermodel": ("view", "change"),
            "evaluationrun": ("view",),
            "merchrule": ("view",),
            "hiddenitem": ("view", "add", "delete"),
            "servedlist": ("view",),
        },
    },
}


def roles_create(apps, schema_editor):
    roles_grant(apps, ROLES)


def roles_grant(apps, roles):
    """Give each group (created when missing) the permissions `roles` lists for it."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; this one needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, by_app in roles.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, models in by_app.items():
            for model, actions in models.items():
                codenames = [f"{action}_{model}" for action in actions]
                permissions = Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
                group.permissions.add(*permissions)


def roles_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0003_event_indexes"),
        ("experiments", "0005_badcase_review"),
        ("recommendations", "0003_merch_rules_hidden_items_served_lists"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
