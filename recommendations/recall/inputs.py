"""The version of what the personal recall routes read besides a customer's history: item-CF's
neighbour table, the served collaborative version and the product embeddings.

Each writer of those calls `recall_inputs_changed` once its write is committed; the counter lives
in the shared cache, so every web process sees it, each through a snapshot at most
`VERSION_SECONDS` old (no round trip per request). Candidates computed ahead of a request
(`recall.ahead`) carry the version they were computed at: a rebuild makes them unused.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import transaction

from recsite.snapshot import CachedSnapshot

logger = logging.getLogger(__name__)

VERSION_KEY = "recall:inputs-version"
# How long a web process keeps serving candidates computed before a rebuild, at most.
VERSION_SECONDS = 5.0


def recall_inputs_version() -> int | None:
    """The routes' inputs' version as this process last read it; None while the cache is out of
    reach (nothing computed ahead is used or stored then)."""
    return _version.get()


def recall_inputs_changed() -> None:
    """Count one change of the routes' inputs, after the current transaction commits (at once
    outside one)."""
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        cache.add(VERSION_KEY, 0, timeout=None)
        cache.incr(VERSION_KEY)
    except Exception:
        # The cache is out of reach: nothing ahead can be served from it either (the version
        # reads as None until it is back), and entries there carry the old version.
        logger.warning("could not count a change of the recall routes' inputs", exc_info=True)
    _version.forget()


def _load() -> int | None:
    try:
        return int(cache.get(VERSION_KEY, 0))
    except Exception:
        logger.warning("the recall inputs' version is out of reach (cache down?)", exc_info=True)
        return None


_version: CachedSnapshot[int | None] = CachedSnapshot(_load, max_age=VERSION_SECONDS)
