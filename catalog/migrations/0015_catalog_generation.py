"""The catalog's generation: a sequence that every statement writing products, their embeddings,
categories or item neighbours moves on (`catalog.generation`). Statement-level triggers, so that a
bulk import of a million rows moves it once a statement, not once a row; a sequence, so that
writers never wait on each other for it (a counter row would be locked until each commits)."""

from django.db import migrations

SEQUENCE = "catalog_generation"
FUNCTION = "catalog_generation_advance"
TABLES = ("catalog_product", "catalog_productembedding", "catalog_category", "catalog_itemneighbor")

FORWARD = [
    f"CREATE SEQUENCE {SEQUENCE}",
    f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS"
    f" $$ BEGIN PERFORM nextval('{SEQUENCE}'); RETURN NULL; END $$",
    *(
        f"CREATE TRIGGER {table}_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        for table in TABLES
    ),
]
BACKWARD = [
    *(f"DROP TRIGGER {table}_generation ON {table}" for table in TABLES),
    f"DROP FUNCTION {FUNCTION}()",
    f"DROP SEQUENCE {SEQUENCE}",
]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0014_search_index_pending_limit")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
