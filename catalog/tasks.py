"""Celery tasks of the catalog: each calls a service."""

from __future__ import annotations

from catalog.partitions import event_partitions_maintain
from recsite.tasks import transient_task


@transient_task(acks_late=True, ignore_result=True)
def maintain_event_partitions() -> None:
    """Create the coming months' event partitions and drain the DEFAULT one (idempotent: a second
    run finds both done)."""
    event_partitions_maintain()
