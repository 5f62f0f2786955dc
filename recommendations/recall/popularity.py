"""Popularity: the time-decayed sum of event weights per item.

Decay is measured from the latest event in the data, not the wall clock, so a historical data set
(or a quiet shop) still has a meaningful ranking; but never from later than the server's clock, a
time no client can move (an event stamped in the future would otherwise decay all others to 0).
Serving's ranking does not depend on that choice (decay from any later time scales every item
alike); offline, where customers' requests happen at different times, `popularity_as_of` scores
each request as of its own time from the events before it (a shop's popularity in 2003 is not its
popularity in 2014). Built in batches into `catalog.ItemPopularity`; serving reads the top of it,
cached per process for a short time (it is derived data).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from catalog.public import ItemPopularity, category_subtree_q
from recommendations.contracts import Candidate
from recommendations.interactions import decay, interactions_load

ROUTE = "popularity"
HALF_LIFE_DAYS = 14.0
# The unfiltered top list each process keeps, and for how long.
CACHE_SIZE = 1000
CACHE_TTL_SECONDS = 60.0

# `popularity_as_of` keeps at most this many bytes of per-time score vectors (times are merged
# into quantile buckets beyond it), and never more than MAX_AS_OF_TIMES of them.
AS_OF_BYTES = 256 * 2**20
MAX_AS_OF_TIMES = 512

_cache: dict[str, tuple[float, list[tuple[int, float]]]] = {}


@dataclass(frozen=True)
class PopularityAsOf:
    """Popularity at several times: `scores[b]` counts the events strictly before `times[b]`."""

    times: np.ndarray
    scores: np.ndarray

    def at(self, clocks: np.ndarray) -> np.ndarray:
        """len(clocks) × items: the scores as of each clock (the latest stored time not after it;
        NaN clocks read the latest)."""
        clocks = np.where(np.isnan(clocks), np.inf, clocks)
        rows = np.clip(np.searchsorted(self.times, clocks, side="right") - 1, 0, len(self.times) - 1)
        return self.scores[rows].astype(np.float64)


def popularity_as_of(
    *,
    items: np.ndarray,
    weights: np.ndarray,
    timestamps: np.ndarray,
    n_items: int,
    clocks: np.ndarray,
    half_life_days: float = HALF_LIFE_DAYS,
    max_bytes: int = AS_OF_BYTES,
) -> PopularityAsOf:
    """Time-decayed popularity as of each of `clocks` (POSIX seconds, NaN ignored).

    Distinct clocks beyond the memory bound (`max_bytes` of float32 vectors) are merged into
    quantile buckets, each scored as of its earliest clock (never from a later event). Peak memory
    is the bound plus one float64 vector of the catalog.
    """
    finite = np.unique(clocks[np.isfinite(clocks)])
    if not len(finite):
        finite = np.array([float(np.max(timestamps, initial=0.0)) + 1.0])
    limit = max(1, min(MAX_AS_OF_TIMES, max_bytes // max(4 * n_items, 1)))
    if len(finite) > limit:
        finite = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, limit), method="lower"))
    order = np.argsort(timestamps, kind="stable")
    times, items, weights = (
        np.asarray(timestamps, dtype=np.float64)[order],
        np.asarray(items, dtype=np.int64)[order],
        np.asarray(weights, dtype=np.float64)[order],
    )
    scores = np.zeros((len(finite), n_items), dtype=np.float32)
    current = np.zeros(n_items)
    previous_time, start = -np.inf, 0
    for row, at in enumerate(finite.tolist()):
        end = int(np.searchsorted(times, at, side="left"))
        if np.isfinite(previous_time):
            current *= decay(age_seconds=np.array(at - previous_time), half_life_days=half_life_days)
        new = slice(start, end)
        current += np.bincount(
            items[new],
            weights=weights[new] * decay(age_seconds=at - times[new], half_life_days=half_life_days),
            minlength=n_items,
        )
        scores[row] = current
        previous_time, start = at, end
    return PopularityAsOf(times=finite, scores=scores)


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


def popularity_rebuild(
    *, half_life_days: float = HALF_LIFE_DAYS, customer_share: float = 1.0, until: dt.datetime | None = None
) -> int:
    """Recompute `catalog.ItemPopularity` from all stored events (of `customer_share` of the
    customers: `neighbors_plan`; before `until` when given: an offline measurement's training
    events, decayed from the latest of them); returns the rows written.

    Replaces the table in one transaction (readers see the old or the new table, never half).
    """
    interactions, product_pks = interactions_load(until=until, customer_share=customer_share)
    scores = (
        popularity_scores(
            items=interactions.items,
            weights=interactions.weights,
            timestamps=interactions.timestamps,
            n_items=interactions.n_items,
            reference_time=min(float(interactions.timestamps.max()), timezone.now().timestamp()),
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
    if category_path is None:
        top = popularity_top(n=n)
    else:
        top = list(
            ItemPopularity.objects.filter(category_subtree_q(category_path, prefix="product__"), product__in_stock=True)
            .order_by("-score", "product_id")
            .values_list("product_id", "score")[:n]
        )
    return [Candidate(product_pk=pk, route=ROUTE, score=score) for pk, score in top]
