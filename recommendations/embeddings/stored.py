"""Stored product embeddings read back as one matrix (offline evaluation and ranker training)."""

from __future__ import annotations

import itertools

import numpy as np

from catalog.public import ProductEmbedding

# Rows fetched (and converted) at a time: a 1M-product catalog's vectors are never held as a
# million arrays beside the matrix they are copied into.
CHUNK_ROWS = 10_000


def embeddings_load(*, product_pks: np.ndarray) -> np.ndarray | None:
    """Stored product embeddings as items × dims aligned with `product_pks` (zero rows where none)."""
    rows = ProductEmbedding.objects.values_list("product_id", "vector").iterator(chunk_size=CHUNK_ROWS)
    embeddings = None
    while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
        pks = np.fromiter((pk for pk, _ in chunk), dtype=np.int64, count=len(chunk))
        vectors = np.stack([np.asarray(vector, dtype=np.float32) for _, vector in chunk])
        if embeddings is None:
            embeddings = np.zeros((len(product_pks), vectors.shape[1]), dtype=np.float32)
        embeddings[np.searchsorted(product_pks, pks)] = vectors
    return embeddings
