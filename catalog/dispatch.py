"""Ask the worker to embed changed products, by task name (catalog does not import
`recommendations`). Products stay dirty by their text hash until embedded, so a request that
cannot be sent loses nothing: the periodic embed task catches up."""

from __future__ import annotations

import logging

from django.db import transaction

from catalog.search_index import search_index_merge_pending
from catalog.vocabulary import search_vocabulary_refresh
from recsite.celery import app as celery_app

logger = logging.getLogger(__name__)

EMBED_TASK = "recommendations.tasks.embed_products"
# Seconds to wait for the broker; an absent Redis must not hang an import.
BROKER_TIMEOUT_S = 1.0


def request_embedding() -> bool:
    """Queue the embed task once the current transaction commits.

    Returns False (and logs a warning) when the broker cannot be reached now; True when the
    request is queued to be sent after commit.
    """
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_S)
    except Exception as exc:  # kombu raises transport-specific errors; any of them means "no broker"
        logger.warning("embedding not requested, broker unreachable (%s); the periodic task will embed", exc)
        return False
    transaction.on_commit(_send_embed_task)
    return True


def products_changed(*, request_embed: bool = True) -> str | None:
    """What an import that changed products does next: merge search's pending index entries and
    recount its vocabulary now and, unless `request_embed` is off, ask a worker to embed them.
    Returns the line to print about the embedding (None when it was not asked for)."""
    search_index_merge_pending()
    search_vocabulary_refresh()
    if not request_embed:
        return None
    if request_embedding():
        return "embedding requested"
    return "embedding not requested (broker unreachable); the periodic task will embed"


def _send_embed_task() -> None:
    try:
        celery_app.send_task(EMBED_TASK, retry=False)
    except Exception as exc:  # the broker went away between the check and the commit
        logger.warning("embedding not requested, sending failed (%s); the periodic task will embed", exc)
