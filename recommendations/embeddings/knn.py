"""The serving HNSW index and the nearest-neighbour order that uses it.

The index is an expression index on the vectors cast to `halfvec` (2 bytes a dimension instead of
4): at 1M products it takes 1,170 MB instead of 2,048 MB and built in 304 s, and at the same
`hnsw.ef_search` it found the same share of the exact top 10 (recall@10 0.858 at 200 for both)
in half the time (p50 4.5 ms against 9.0; `bench/vector_index.py --vector`, docs/scale.md).
A query asks the index through the same expression (`knn_order_sql`); the distances it returns
are computed again in full precision, so only which rows the graph visits depends on the halves.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from recsite.db_router import read_connection
from recsite.snapshot import CachedSnapshot

TABLE = "catalog_productembedding"
OPCLASS = "halfvec_cosine_ops"
# How long a process trusts the column's dimension it read (a model of another dimension re-types
# the column and empties it; `knn_dimension_forget` after doing so in this process).
DIMENSION_MAX_AGE = 60.0


def index_expression(dim: int) -> str:
    """The indexed expression over the `vector` column, for `dim` dimensions."""
    return f"(vector::halfvec({int(dim)}))"


def knn_order_sql(*, column: str, query_sql: str, dim: int) -> str:
    """`column <=> query` as the index computes it: what an ORDER BY must say for it to serve."""
    return f"({column})::halfvec({int(dim)}) <=> ({query_sql})::halfvec({int(dim)})"


def column_dimension(connection: BaseDatabaseWrapper) -> int | None:
    """The dimension the `vector` column is declared with (pgvector keeps it as the column's
    typmod), None when it has none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'vector'"
            " AND NOT attisdropped",
            [TABLE],
        )
        (typmod,) = cursor.fetchone()
    return int(typmod) if typmod > 0 else None


def required_dimension(connection: BaseDatabaseWrapper) -> int:
    """`column_dimension`, which the index and its queries cannot do without."""
    dim = column_dimension(connection)
    if dim is None:
        raise ValueError("the embeddings column has no dimension: the HNSW index needs one (run `manage.py embed`)")
    return dim


def _dimension_load() -> int:
    return required_dimension(read_connection())


_dimension: CachedSnapshot[int] = CachedSnapshot(_dimension_load, max_age=lambda: DIMENSION_MAX_AGE)


def knn_dimension() -> int:
    """`required_dimension` as this process last read it (at most DIMENSION_MAX_AGE ago)."""
    return _dimension.get()


def knn_dimension_forget() -> None:
    _dimension.forget()
