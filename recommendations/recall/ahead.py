"""The personal routes' candidates kept in the shared cache, so that a home-feed request whose
candidates were computed ahead of it (when its customer's events arrived, or by `manage.py
precompute_feeds`) spends no time in item-CF, the collaborative route and the semantic kNN.

What those routes propose is a function of the customer's history, the routes asked, how many
candidates each proposes and the kNN's filter, and of the tables they read. The key is a digest of
all of them and of the tables' version (`recall.inputs`): a new event changes the history, so the
entry computed before it is never asked for again; a rebuild of a table changes the version.
Popularity, the context route, fusion and every later stage still run on the request, so what they
read (popularity rebuilt every few minutes, stock, rules, hidden items) is always current.

An entry holds each route's candidates as arrays (`fused.RouteArrays`, as fusion reads them):
about 8 KB at 1M products (docs/scale.md).
Entries expire after `RECALL_AHEAD_SECONDS` (settings; 0 turns all of this off).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.cache import cache

from recommendations.history import History
from recommendations.recall.fused import RouteArrays
from recommendations.recall.inputs import recall_inputs_version
from recommendations.recall.semantic import KnnFilter
from recsite.metrics import recall_ahead_count, stage_timer

logger = logging.getLogger(__name__)

KEY_PREFIX = "recall:ahead:"
HIT, MISS = "hit", "miss"

RouteCandidates = dict[str, RouteArrays]


def routes_ahead(*, key: str | None, compute: Callable[[], RouteCandidates], refresh: bool = False) -> RouteCandidates:
    """The routes' candidates under `key`: from the cache when computed ahead, else `compute()`d
    now and kept for the next request (`refresh`: always computed and kept; no key: computed)."""
    if key is None:
        return compute()
    if not refresh:
        with stage_timer("recall.ahead"):
            found = _get(key)
        if found is not None:
            recall_ahead_count(outcome=HIT)
            return found
        recall_ahead_count(outcome=MISS)
    candidates = compute()
    _put(key, candidates)
    return candidates


def ahead_key(*, routes: Sequence[str], n: int, knn_filter: KnnFilter, history: History) -> str | None:
    """The cache key of these routes' candidates; None when they are not kept (turned off, or the
    cache out of reach)."""
    if settings.RECALL_AHEAD_SECONDS <= 0:
        return None
    version = recall_inputs_version()
    if version is None:
        return None
    parts = (version, sorted(routes), n, knn_filter, history.product_pks, history.weights)
    return KEY_PREFIX + hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()


def _get(key: str) -> RouteCandidates | None:
    try:
        return cache.get(key)
    except Exception:
        logger.warning("candidates computed ahead are out of reach (cache down?)", exc_info=True)
        return None


def _put(key: str, candidates: RouteCandidates) -> None:
    try:
        cache.set(key, candidates, timeout=settings.RECALL_AHEAD_SECONDS)
    except Exception:
        logger.warning("could not keep candidates for the next request (cache down?)", exc_info=True)
