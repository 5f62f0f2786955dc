"""Search's GIN index keeps at most 256 kB of pending entries (PostgreSQL's default is 4 MB): every
lexical match reads the whole pending list, and writes that trickle in between merges
(`catalog.search_index`) would otherwise leave up to 512 pages for each search to scan."""

from django.db import migrations

INDEX = "catalog_product_search_document_idx"


class Migration(migrations.Migration):
    dependencies = [("catalog", "0013_neighbor_foreign_keys_unchecked")]
    operations = [
        migrations.RunSQL(
            f"ALTER INDEX {INDEX} SET (gin_pending_list_limit = 256)",
            f"ALTER INDEX {INDEX} RESET (gin_pending_list_limit)",
        )
    ]
