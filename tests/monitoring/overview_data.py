"""A small shop's last days for the overview tests: lists served on two placements, clicks and
purchases attributed to them, a running experiment, open bad cases and a drifting signal."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from catalog.models import EventType
from monitoring.models import DriftReference, DriftReport
from recommendations.badcases.models import BadCase
from recommendations.models import ServedList
from tests.factories import EventFactory, make_experiment

DAYS = 3
LISTS_PER_DAY = {"home_feed": 20, "similar": 10}


def overview_data() -> None:
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago in range(DAYS):
        at = today - dt.timedelta(days=days_ago)
        for placement, count in LISTS_PER_DAY.items():
            ids = [uuid.uuid4() for _ in range(count)]
            ServedList.objects.bulk_create(
                ServedList(recommendation_id=i, created_at=at, placement=placement, items=[]) for i in ids
            )
            # home feed: 5 clicks and 1 purchase a day on its 20 lists; similar: 1 click
            clicks = 5 if placement == "home_feed" else 1
            for i in ids[:clicks]:
                EventFactory(type=EventType.CLICK, recommendation_id=i, timestamp=at)
            if placement == "home_feed":
                EventFactory(type=EventType.PURCHASE, recommendation_id=ids[0], timestamp=at)
    make_experiment(key="fused-feed", hypothesis="fused recall beats popularity")
    for status in ("new", "new", "triaged", "resolved"):
        BadCase.objects.create(source="feedback", reason_code="irrelevant", placement="home_feed", status=status)
    reference = DriftReference.objects.create(window_end=today, model_name="all-MiniLM-L6-v2")
    DriftReport.objects.create(
        reference=reference,
        signal="customer_item_similarity",
        window_start=today - dt.timedelta(days=1),
        window_end=today,
        model_name="all-MiniLM-L6-v2",
        psi=0.31,
        ks_statistic=0.2,
        ks_p_value=0.0,
        n_reference=1000,
        n_current=1000,
        threshold=0.2,
        alert=True,
    )
