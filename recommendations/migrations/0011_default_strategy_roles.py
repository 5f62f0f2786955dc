"""Operators keep each placement's default strategy (new versions, rollbacks); merchandisers read it."""

import importlib

from django.db import migrations

DEFAULT_STRATEGY_ROLES = {
    "Operators": {"placements": {"defaultstrategy": ("view", "add")}},
    "Merchandisers": {"placements": {"defaultstrategy": ("view",)}},
}


def grant(apps, schema_editor):
    roles = importlib.import_module("recommendations.migrations.0004_roles_merchandisers_operators")
    roles.roles_grant(apps, DEFAULT_STRATEGY_ROLES)


class Migration(migrations.Migration):
    dependencies = [
        ("placements", "0001_initial"),
        ("recommendations", "0010_badcase_from_experiments"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
