"""Popularity: the time-decayed sum of event weights per item.

Decay is measured from the latest event in the data, not the wall clock, so a historical data set
(or a quiet shop) still has a meaningful ranking. Built in batches into `catalog.ItemPopularity`;
serving reads the top of it, cached per process for a short time (it is derived data).
"""

from __future__ import annotations

import time

import numpy as np

from recommendations.contracts import Candidate
from recommendations.recall.events import decay

ROUTE = "popularity"
HALF_LIFE_DAYS = 14.0
# The unfiltered top list each process keeps, and for how long.
CACHE_SIZE = 1000
CACHE_TTL_SECONDS = 60.0

_cache: dict[str, tuple[float, list[tuple[int, float]]]] = {}


def popularity_scores(
    *,
    items: np.ndarray,
    weights: np.ndarray,
    timestamps: np.ndarray,
    n_items: int,
    reference_time: float,
    half_life_days: float = HALF_LIFE_DAYS,
) -> np.ndarray:
    """Σ event weight × decay(reference_time − event time) per item index (0 for no events)."""
    age = np.maximum(reference_time - np.asarray(timestamps, dtype=np.float64), 0.0)
    decayed = np.asarray(weights, dtype=np.float64) * decay(age_seconds=age, half_life_days=half_life_days)
    return np.bincount(np.asarray(items, dtype=np.int64), weights=decayed, minlength=n_items)


def popularity_rebuild(*, half_life_days: float = HALF_LIFE_DAYS) -> int:
    """Recompute `catalog.ItemPopularity` from all stored events; returns the rows written.

    Replaces the table in one transaction (readers see the old or the new table, never half).
    """
    from django.db import transaction
    from django.utils import timezone

    from catalog.models import ItemPopularity
    from recommendations.recall.events import interactions_load

    interactions, product_pks = interactions_load()
    scores = (
        popularity_scores(
            items=interactions.items,
            weights=interactions.weights,
            timestamps=interactions.timestamps,
            n_items=interactions.n_items,
            reference_time=float(interactions.timestamps.max()),
            half_life_days=half_life_days,
        )
        if len(interactions.items)
        else np.zeros(len(product_pks))
    )
    now = timezone.now()
    rows = [
        ItemPopularity(product_id=int(product_pks[i]), score=float(scores[i]), computed_at=now)
        for i in np.flatnonzero(scores > 0)
    ]
    with transaction.atomic():
        ItemPopularity.objects.all().delete()
        ItemPopularity.objects.bulk_create(rows, batch_size=5000)
    _cache.clear()
    return len(rows)


def popularity_top(*, n: int = CACHE_SIZE) -> list[tuple[int, float]]:
    """The most popular (product pk, score) pairs, best first; cached per process."""
    from catalog.models import ItemPopularity

    cached = _cache.get("top")
    if cached is None or time.monotonic() - cached[0] > CACHE_TTL_SECONDS:
        top = list(
            ItemPopularity.objects.order_by("-score", "product_id").values_list("product_id", "score")[:CACHE_SIZE]
        )
        cached = (time.monotonic(), top)
        _cache["top"] = cached
    return cached[1][:n]


def popularity_candidates(*, n: int, category_path: str | None = None) -> list[Candidate]:
    """The `n` most popular items, within the category subtree `category_path` when given.

    Unfiltered, from the cached top list; with a category, one indexed query (the global top list
    may hold none of a small category's items).
    """
    from catalog.models import ItemPopularity
    from recommendations.recall.filters import category_subtree_q

    if category_path is None:
        top = popularity_top(n=n)
    else:
        top = list(
            ItemPopularity.objects.filter(category_subtree_q(category_path, prefix="product__"), product__in_stock=True)
            .order_by("-score", "product_id")
            .values_list("product_id", "score")[:n]
        )
    return [Candidate(product_pk=pk, route=ROUTE, score=score) for pk, score in top]
