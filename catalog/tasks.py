"""Celery tasks of the catalog: each calls a service."""

from __future__ import annotations

from catalog.partitions import event_partitions_maintain
from catalog.search_index import search_index_merge_pending
from catalog.vocabulary import search_vocabulary_refresh
from recsite.tasks import transient_task


@transient_task(acks_late=True, ignore_result=True)
def maintain_event_partitions() -> None:
    """Create the coming months' event partitions and drain the DEFAULT one (idempotent: a second
    run finds both done)."""
    event_partitions_maintain()


@transient_task(acks_late=True, ignore_result=True)
def refresh_search_vocabulary() -> None:
    """Recount the words search corrects typos against (the catalog changed since, or not)."""
    search_vocabulary_refresh()


@transient_task(acks_late=True, ignore_result=True)
def merge_search_index_pending() -> None:
    """Merge what product writes left in search's pending index entries (every search reads them)."""
    search_index_merge_pending()
