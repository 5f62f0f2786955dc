"""Celery tasks of experiments: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from experiments.snapshots import experiments_snapshots_refresh


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def build_experiment_snapshots() -> dict[str, int]:
    """Daily per-variant snapshots of every experiment collecting data (idempotent: rows are keyed
    by variant and day and rewritten whole)."""
    return experiments_snapshots_refresh()
