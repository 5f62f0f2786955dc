"""Periodic monitoring tasks (queue `default`): thin wrappers around the services."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from monitoring.quality import placement_quality_build
from monitoring.services import drift_check_recent
from recsite.tasks import transient_task


@transient_task(acks_late=True, ignore_result=True)
def check_drift() -> int:
    """Compare the recent window with the drift reference; returns how many signals alerted."""
    return sum(report.alert for report in drift_check_recent())


@transient_task(acks_late=True, ignore_result=True)
def build_placement_quality() -> int:
    """Yesterday's (now complete) and today's quality per placement; idempotent (rows replaced)."""
    today = timezone.now().date()
    return sum(len(placement_quality_build(day=day)) for day in (today - dt.timedelta(days=1), today))
