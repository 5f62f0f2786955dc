"""The catalog's search vocabulary as a materialized view (`catalog_searchvocabulary`: each word of
the products' search documents without digits, with the number of products using it), refreshed
off the request path (`catalog.vocabulary.search_vocabulary_refresh`: the beat task and the
import commands). Counting it per web process from the products took 4.5 s at 1M products, past
the web's statement timeout; reading the view takes milliseconds. Django's model state does not
describe it."""

from django.db import migrations

VIEW = "catalog_searchvocabulary"


class Migration(migrations.Migration):
    dependencies = [("catalog", "0009_product_search_document")]
    operations = [
        migrations.RunSQL(
            [
                f"CREATE MATERIALIZED VIEW {VIEW} AS SELECT u.lexeme AS word, count(*) AS products"
                " FROM catalog_product p, unnest(p.search_document) u WHERE u.lexeme !~ '[0-9]'"
                " GROUP BY u.lexeme",
                # A unique index: what REFRESH … CONCURRENTLY (readers never wait) requires.
                f"CREATE UNIQUE INDEX {VIEW}_word ON {VIEW} (word)",
            ],
            f"DROP MATERIALIZED VIEW IF EXISTS {VIEW}",
        )
    ]
