"""Periodic monitoring tasks (queue `default`): thin wrappers around the services."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(acks_late=True, ignore_result=True, autoretry_for=TRANSIENT_DB_ERRORS, retry_backoff=True, max_retries=3)
def check_drift() -> int:
    """Compare the recent window with the drift reference; returns how many signals alerted."""
    from monitoring.services import drift_check_recent

    return sum(report.alert for report in drift_check_recent())


@shared_task(acks_late=True, ignore_result=True, autoretry_for=TRANSIENT_DB_ERRORS, retry_backoff=True, max_retries=3)
def build_placement_quality() -> int:
    """Yesterday's (now complete) and today's quality per placement; idempotent (rows replaced)."""
    from monitoring.quality import placement_quality_build

    today = timezone.now().date()
    return sum(len(placement_quality_build(day=day)) for day in (today - dt.timedelta(days=1), today))
