"""Daily CTR and bad-case rate per placement, from exposures, attributed clicks and bad cases."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from catalog.models import EventType
from experiments.models import Exposure
from monitoring.models import PlacementDailyQuality
from monitoring.quality import placement_quality_build
from monitoring.selectors import placement_quality_latest
from recommendations.badcases.cases import badcase_create
from recommendations.badcases.models import BadCase
from tests.factories import EventFactory, make_experiment

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)
NOON = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def exposure(experiment, *, placement: str, at: dt.datetime) -> uuid.UUID:
    recommendation_id = uuid.uuid4()
    Exposure.objects.create(
        recommendation_id=recommendation_id,
        experiment=experiment,
        variant=experiment.variants.first(),
        customer_external_id="C1",
        placement=placement,
        items=[],
        created_at=at,
    )
    return recommendation_id


def test_a_day_counts_exposures_clicks_and_bad_cases_per_placement():
    # given on DAY: 4 home-feed lists (2 clicks on the first, 1 on the second, a view on the third)
    # and 2 search lists; a home-feed list the day before, clicked; 1 home-feed bad case on DAY
    feed = make_experiment(key="feed", placement="home_feed")
    search = make_experiment(key="search", placement="search")
    feed_lists = [exposure(feed, placement="home_feed", at=NOON + dt.timedelta(minutes=i)) for i in range(4)]
    for _ in range(2):
        exposure(search, placement="search", at=NOON)
    earlier = exposure(feed, placement="home_feed", at=NOON - dt.timedelta(days=1))
    for recommendation_id, event_type in [
        (feed_lists[0], EventType.CLICK),
        (feed_lists[0], EventType.CLICK),
        (feed_lists[1], EventType.CLICK),
        (feed_lists[2], EventType.VIEW),
        (earlier, EventType.CLICK),
    ]:
        EventFactory(type=event_type, recommendation_id=recommendation_id, timestamp=NOON + dt.timedelta(hours=1))
    badcase_create(source="feedback", placement="home_feed", reason_code="irrelevant")
    BadCase.objects.update(created_at=NOON)
    # when
    placement_quality_build(day=DAY)
    placement_quality_build(day=DAY)  # a rebuild replaces the day, it does not add to it
    # then
    rows = {r.placement: (r.exposures, r.clicks, r.bad_cases) for r in PlacementDailyQuality.objects.filter(day=DAY)}
    assert rows == {"home_feed": (4, 3, 1), "search": (2, 0, 0)}
    feed_row = PlacementDailyQuality.objects.get(day=DAY, placement="home_feed")
    assert (feed_row.ctr, feed_row.bad_case_rate) == (0.75, 0.25)


def test_the_latest_day_per_placement_is_what_metrics_read():
    PlacementDailyQuality.objects.create(day=DAY, placement="home_feed", exposures=10, clicks=1, bad_cases=0)
    PlacementDailyQuality.objects.create(
        day=DAY + dt.timedelta(days=1), placement="home_feed", exposures=10, clicks=2, bad_cases=1
    )
    PlacementDailyQuality.objects.create(day=DAY, placement="search", exposures=0, clicks=0, bad_cases=0)

    latest = {(r.placement, r.day, r.ctr, r.bad_case_rate) for r in placement_quality_latest()}

    assert latest == {("home_feed", DAY + dt.timedelta(days=1), 0.2, 0.1), ("search", DAY, 0.0, 0.0)}


def test_the_periodic_task_builds_yesterday_and_today():
    from monitoring.tasks import build_placement_quality

    feed = make_experiment(key="feed", placement="home_feed")
    exposure(feed, placement="home_feed", at=timezone.now() - dt.timedelta(days=1))
    exposure(feed, placement="home_feed", at=timezone.now())

    # one home-feed row for yesterday, one for today
    assert build_placement_quality() == 2
    assert sum(PlacementDailyQuality.objects.values_list("exposures", flat=True)) == 2
