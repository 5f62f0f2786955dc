"""A customer's vector: the weighted mean embedding of their most recent items.

One definition for the semantic route (recommendations.recall.semantic), the ranker's features
and the offline evaluation, so the three always agree on what "close to this customer" means.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# The customer vector is built from this many of their most recent items.
HISTORY_ITEMS = 20


def user_vectors(*, history: sp.csr_matrix, embeddings: np.ndarray) -> np.ndarray:
    """Users × dims: each user's history-weighted mean embedding, L2-normalised (0 when none)."""
    vectors = np.asarray(history @ embeddings, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
