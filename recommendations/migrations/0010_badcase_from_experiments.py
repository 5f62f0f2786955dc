"""Bad cases live with the rest of their logic: the model moves here from experiments.

The table is taken over as it is, then renamed; its content type moves too, so the groups'
permissions and the admin history stay attached to the same rows. On a fresh database the roles
migration may have run after experiments let go of the model: the roles get their bad-case
permissions here then.
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_type_move(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType").objects
    if not content_types.filter(app_label="recommendations", model="badcase").exists():
        content_types.filter(app_label="experiments", model="badcase").update(app_label="recommendations")


BADCASE_ROLES = {
    "Merchandisers": {"recommendations": {"badcase": ("view", "change")}},
    "Operators": {"recommendations": {"badcase": ("view", "change")}},
}


def roles_grant(apps, schema_editor):
    roles = importlib.import_module("recommendations.migrations.0004_roles_merchandisers_operators")
    roles.roles_grant(apps, BADCASE_ROLES)


def content_type_back(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType").objects
    if not content_types.filter(app_label="experiments", model="badcase").exists():
        content_types.filter(app_label="recommendations", model="badcase").update(app_label="experiments")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("experiments", "0006_badcase_to_recommendations"),
        ("recommendations", "0009_embedding_adaptation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="BadCase",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("feedback", "customer feedback"),
                                    ("out_of_stock_served", "out-of-stock item served"),
                                    ("purchased_served", "already-bought item served in the home feed"),
                                    ("reason_guardrail", "generated reason failed a guardrail"),
                                    ("low_relevance", "top item below the relevance threshold"),
                                ],
                                max_length=32,
                            ),
                        ),
                        ("reason_code", models.CharField(blank=True, default="", max_length=32)),
                        ("text", models.TextField(blank=True, default="")),
                        ("recommendation_id", models.UUIDField(blank=True, db_index=True, null=True)),
                        ("customer_external_id", models.CharField(blank=True, default="", max_length=128)),
                        ("product_external_id", models.CharField(blank=True, default="", max_length=128)),
                        ("placement", models.CharField(blank=True, default="", max_length=20)),
                        ("snapshot", models.JSONField(blank=True, default=dict)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("new", "New"),
                                    ("triaged", "Triaged"),
                                    ("resolved", "Resolved"),
                                    ("wont_fix", "won't fix"),
                                ],
                                default="new",
                                max_length=12,
                            ),
                        ),
                        ("notes", models.TextField(blank=True, default="")),
                        (
                            "resolution",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("", "-"),
                                    ("hidden_for_customer", "item hidden for that customer"),
                                    ("exclude_rule", "exclude rule created"),
                                    ("template", "prompt template edited"),
                                    ("other", "other (see notes)"),
                                ],
                                default="",
                                max_length=32,
                            ),
                        ),
                        ("resolution_ref", models.CharField(blank=True, default="", max_length=100)),
                        ("resolved_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "assignee",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="bad_cases",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at"],
                        "db_table": "experiments_badcase",
                        "indexes": [models.Index(fields=["status", "created_at"], name="badcase_status_time_idx")],
                    },
                ),
            ]
        ),
        migrations.RunPython(content_type_move, content_type_back),
        migrations.AlterModelTable(name="badcase", table=None),
        migrations.RunPython(roles_grant, migrations.RunPython.noop),
    ]
