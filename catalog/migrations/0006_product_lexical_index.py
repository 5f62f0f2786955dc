"""The full-text index hybrid search's lexical route reads (recommendations.recall.lexical):
external id, brand and title, in the `simple` configuration (SKUs and brand names are not words
of a language). An expression index, which Django's model state does not describe."""

from django.db import migrations

INDEX = "catalog_product_lexical_idx"


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_event_sessions")]
    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON catalog_product"
            " USING gin (to_tsvector('simple', external_id || ' ' || brand || ' ' || title))",
            f"DROP INDEX IF EXISTS {INDEX}",
        )
    ]
