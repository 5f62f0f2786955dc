"""The serving HNSW index on the vectors as halfvec (recommendations.embeddings.knn says why).

Django's state gets the new index definition; the database's index is built for the column's own
dimension (a model of another dimension may have re-typed it), beside the old one, under the
memory the service's builds use, then swapped in: search keeps an index until the new one is whole.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import pgvector.django.halfvec
import pgvector.django.indexes
from django.conf import settings
from django.db import migrations

TABLE = "catalog_productembedding"
NAME = "product_embedding_hnsw"
NEXT = "product_embedding_hnsw_next"


def _rebuild(schema_editor, index: str) -> None:
    """Build `index` ({dim} for the column's dimension) beside the serving one, then swap."""
    connection = schema_editor.connection
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'vector'"
            " AND NOT attisdropped",
            [TABLE],
        )
        (dim,) = cursor.fetchone()
        cursor.execute(f"DROP INDEX {concurrently} IF EXISTS {NEXT}")
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, false)", [f"{settings.EMBEDDING_INDEX_BUILD_MEMORY_MB}MB"]
        )
        cursor.execute(
            f"CREATE INDEX {concurrently} {NEXT} ON {TABLE} USING hnsw ({index.format(dim=int(dim))})"
            " WITH (m = 16, ef_construction = 64)"
        )
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute(f"DROP INDEX {concurrently} IF EXISTS {NAME}")
        cursor.execute(f"ALTER INDEX {NEXT} RENAME TO {NAME}")


def build_halfvec_index(apps, schema_editor):
    _rebuild(schema_editor, "(vector::halfvec({dim})) halfvec_cosine_ops")


def build_vector_index(apps, schema_editor):
    _rebuild(schema_editor, "vector vector_cosine_ops")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("catalog", "0010_search_vocabulary"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="productembedding", name=NAME),
                migrations.AddIndex(
                    model_name="productembedding",
                    index=pgvector.django.indexes.HnswIndex(
                        django.contrib.postgres.indexes.OpClass(
                            django.db.models.functions.comparison.Cast(
                                "vector", pgvector.django.halfvec.HalfVectorField(dimensions=384)
                            ),
                            name="halfvec_cosine_ops",
                        ),
                        ef_construction=64,
                        m=16,
                        name=NAME,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(build_halfvec_index, build_vector_index)],
        ),
    ]
