"""Operators edit, version and activate the prompt templates (issue #6's models, which landed
after the roles migration); everyone else only reads them."""

import importlib

from django.db import migrations

TEMPLATE_ROLES = {
    "Operators": {
        "recommendations": {
            "prompttemplate": ("view", "add", "change"),
            "prompttemplateversion": ("view", "add", "change"),
            "generation": ("view",),
        }
    },
    "Merchandisers": {"recommendations": {"prompttemplate": ("view",), "generation": ("view",)}},
}


def grant(apps, schema_editor):
    roles = importlib.import_module("recommendations.migrations.0004_roles_merchandisers_operators")
    roles.roles_grant(apps, TEMPLATE_ROLES)


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0006_default_prompt_templates")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
