"""The feeds' task, and what asks for it when events arrive (`catalog.signals.events_stored`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from recommendations.feeds.service import feeds_precompute, recently_active
from recsite.tasks import transient_task

logger = logging.getLogger(__name__)


@transient_task(acks_late=True, ignore_result=True)
def precompute_feeds(*, customer_ids: list[str]) -> int:
    """Compute these customers' home-feed candidates ahead of their next request (safe twice: the
    second run writes the same entries); returns the entries written."""
    return feeds_precompute(customer_ids=customer_ids).entries


def precompute_active_feeds() -> int:
    """After a rebuild of the routes' tables: the most recently active customers' candidates
    (RECALL_AHEAD_ACTIVE_CUSTOMERS of them) computed again; returns the entries written."""
    if settings.RECALL_AHEAD_SECONDS <= 0:
        return 0
    return feeds_precompute(customer_ids=recently_active(limit=settings.RECALL_AHEAD_ACTIVE_CUSTOMERS)).entries


def events_arrived(*, customer_ids: Sequence[str] | None) -> bool:
    """After new events of `customer_ids` are stored: a task computes their candidates once the
    events are committed, when they are few enough (an API batch; a bulk import, None or many,
    leaves it to `manage.py precompute_feeds`). Returns whether a task was asked for."""
    if settings.RECALL_AHEAD_SECONDS <= 0 or not customer_ids:
        return False
    if len(customer_ids) > settings.RECALL_AHEAD_EVENT_CUSTOMERS:
        return False

    def enqueue() -> None:
        try:
            # No publish retries: with the broker down the next request computes its own.
            precompute_feeds.apply_async(kwargs={"customer_ids": list(customer_ids)}, retry=False)
        except Exception:
            logger.warning("could not enqueue the feeds of %d customers (broker down?)", len(customer_ids))

    transaction.on_commit(enqueue)
    return True


def events_stored_receiver(sender: Any, *, customer_ids: Sequence[str] | None, **kwargs: Any) -> None:
    """`catalog.signals.events_stored` receiver."""
    events_arrived(customer_ids=customer_ids)
