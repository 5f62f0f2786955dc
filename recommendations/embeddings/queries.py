"""A query's embedding, remembered by the process that encoded it.

A storefront's searches repeat (the same head queries all day), and encoding one is about half of
a search's floor at 1M products (docs/scale.md). Each process keeps the vectors of its last
`settings.QUERY_VECTORS_KEPT` distinct queries (1.5 KB each for MiniLM: 6 MB at 4,096), by the
model's name, the query precision and the text as encoded; the encoder a process serves with does
not change in its lifetime (`model.active_encoder`). The vectors are read-only: callers share them.
"""

from __future__ import annotations

import threading

import numpy as np
from django.conf import settings

from recommendations.embeddings.model import embedding_model_name, encode_texts
from recsite.lru import LRU
from recsite.metrics import query_vector_count

_vectors: LRU[tuple[str, str, str], np.ndarray] = LRU(lambda: settings.QUERY_VECTORS_KEPT)
_lock = threading.Lock()


def query_vector(text: str) -> np.ndarray:
    """The unit-length embedding of `text` stripped (raises as `encode_texts` does)."""
    key = (embedding_model_name(), settings.EMBEDDING_QUERY_PRECISION, text.strip())
    with _lock:
        vector = _vectors.get(key)
    query_vector_count(hit=vector is not None)
    if vector is None:
        vector = encode_texts([key[2]])[0]
        vector.setflags(write=False)
        with _lock:
            _vectors.put(key, vector)
    return vector


def query_vectors_forget() -> None:
    """Encode every query again (tests; a process never needs to)."""
    with _lock:
        _vectors.clear()
