"""Stored product embeddings read back as one matrix (offline evaluation and ranker training)."""

from __future__ import annotations

import numpy as np

from catalog.public import ProductEmbedding


def embeddings_load(*, product_pks: np.ndarray) -> np.ndarray | None:
    """Stored product embeddings as items × dims aligned with `product_pks` (zero rows where none)."""
    rows = list(ProductEmbedding.objects.values_list("product_id", "vector"))
    if not rows:
        return None
    pks = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=len(rows))
    vectors = np.stack([np.asarray(vector, dtype=np.float32) for _, vector in rows])
    embeddings = np.zeros((len(product_pks), vectors.shape[1]), dtype=np.float32)
    positions = np.searchsorted(product_pks, pks)
    embeddings[positions] = vectors
    return embeddings
