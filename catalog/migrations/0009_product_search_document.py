"""Search's lexical document as a stored column (`search_document`, generated from external id,
brand and title in the `simple` configuration) with its GIN index, in place of the expression
index of 0006: ranking a match (`ts_rank`) then reads the stored vector instead of parsing the
product's text again, which at 100k products was most of a search's time (docs/scale.md). A
generated column, which Django's model state does not describe: nothing writes it but PostgreSQL.
Adding it rewrites the products table once."""

from django.db import migrations

OLD_INDEX = "catalog_product_lexical_idx"
INDEX = "catalog_product_search_document_idx"
DOCUMENT = "to_tsvector('simple', external_id || ' ' || brand || ' ' || title)"


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_product_sku_lower_index")]
    operations = [
        migrations.RunSQL(
            [
                f"ALTER TABLE catalog_product ADD COLUMN search_document tsvector"
                f" GENERATED ALWAYS AS ({DOCUMENT}) STORED",
                f"CREATE INDEX {INDEX} ON catalog_product USING gin (search_document)",
                f"DROP INDEX IF EXISTS {OLD_INDEX}",
            ],
            [
                f"CREATE INDEX IF NOT EXISTS {OLD_INDEX} ON catalog_product USING gin ({DOCUMENT})",
                "ALTER TABLE catalog_product DROP COLUMN search_document",
            ],
        )
    ]
