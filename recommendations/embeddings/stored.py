"""Stored product embeddings read back as one matrix (offline evaluation and ranker training)."""

from __future__ import annotations

import numpy as np
from django.db import connection

from catalog.public import ProductEmbedding
from recsite.batching import batched

# Rows fetched (and converted) at a time: a 1M-product catalog's vectors are never held as a
# million arrays beside the matrix they are copied into.
CHUNK_ROWS = 10_000


def embeddings_load(*, product_pks: np.ndarray) -> np.ndarray | None:
    """Stored product embeddings as items × dims aligned with `product_pks` (zero rows where none)."""
    rows = ProductEmbedding.objects.values_list("product_id", "vector").iterator(chunk_size=CHUNK_ROWS)
    embeddings = None
    for chunk in batched(rows, CHUNK_ROWS):
        pks = np.fromiter((pk for pk, _ in chunk), dtype=np.int64, count=len(chunk))
        vectors = np.stack([np.asarray(vector, dtype=np.float32) for _, vector in chunk])
        if embeddings is None:
            embeddings = np.zeros((len(product_pks), vectors.shape[1]), dtype=np.float32)
        embeddings[np.searchsorted(product_pks, pks)] = vectors
    return embeddings


def stored_dimension() -> int:
    """The stored embeddings' dimension (0 without any). One row tells: the column is `vector(n)`
    for every row (a model of another dimension re-types it, its old rows dropped), and max() over
    a million rows took seconds."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT vector_dims(vector) FROM {ProductEmbedding._meta.db_table} LIMIT 1")
        row = cursor.fetchone()
    return row[0] if row else 0
