"""The templates a fresh install serves: one reason template for the home feed, one rerank template."""

from django.db import migrations

from recommendations.reasons.templates import DEFAULT_GROUNDED, DEFAULT_REASON_BODY, DEFAULT_RERANK_BODY

DEFAULTS = (
    ("default-reason", "reason", DEFAULT_REASON_BODY, DEFAULT_GROUNDED),
    ("default-rerank", "rerank", DEFAULT_RERANK_BODY, ""),
)


def create(apps, schema_editor):
    template_model = apps.get_model("recommendations", "PromptTemplate")
    version_model = apps.get_model("recommendations", "PromptTemplateVersion")
    for name, purpose, body, grounded in DEFAULTS:
        if template_model.objects.filter(name=name).exists():
            continue
        template = template_model.objects.create(name=name, purpose=purpose, placement="home_feed")
        version = version_model.objects.create(template=template, version=1, body=body, grounded=grounded, note="default")
        template.active_version = version
        template.save(update_fields=["active_version"])


def remove(apps, schema_editor):
    apps.get_model("recommendations", "PromptTemplate").objects.filter(name__in=[d[0] for d in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0005_reason_templates_and_generations")]
    operations = [migrations.RunPython(create, remove)]
