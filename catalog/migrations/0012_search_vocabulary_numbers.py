"""The search vocabulary counts short numbers too (`4` in `set of 4`: at most two digits, a
hundred words at most), so that search's lexical route can tell how selective they are. Longer
tokens with digits (SKUs, one a product) stay out: a vocabulary row each would be the catalog's
size. The view is made again (a materialized view's query cannot be altered) and counted at once."""

from django.db import migrations

VIEW = "catalog_searchvocabulary"
BEFORE = "u.lexeme !~ '[0-9]'"
AFTER = "(u.lexeme !~ '[0-9]' OR u.lexeme ~ '^[0-9]{1,2}$')"


def view_sql(where: str) -> list[str]:
    return [
        f"DROP MATERIALIZED VIEW IF EXISTS {VIEW}",
        f"CREATE MATERIALIZED VIEW {VIEW} AS SELECT u.lexeme AS word, count(*) AS products"
        f" FROM catalog_product p, unnest(p.search_document) u WHERE {where} GROUP BY u.lexeme",
        # A unique index: what REFRESH … CONCURRENTLY (readers never wait) requires.
        f"CREATE UNIQUE INDEX {VIEW}_word ON {VIEW} (word)",
    ]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0011_embedding_index_halfvec")]
    operations = [migrations.RunSQL(view_sql(AFTER), view_sql(BEFORE))]
