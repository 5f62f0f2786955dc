"""Per-customer outcomes from exposures ⨝ events, daily snapshots, and the beat task."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from catalog.models import EventType
from experiments import serving
from experiments.models import Experiment, VariantDailySnapshot
from experiments.selectors import experiment_outcomes
from experiments.snapshots import (
    experiment_live_arms,
    experiment_metric_series,
    experiment_snapshot_arms,
    experiment_snapshots_build,
)
from experiments.tasks import build_experiment_snapshots
from tests.factories import CustomerFactory, EventFactory, ProductFactory, make_experiment

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 8, 9, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def serve(customer: str, at: dt.datetime) -> tuple[uuid.UUID, str]:
    assignment = serving.experiment_assign(placement="home_feed", customer_id=customer)
    rec_id = uuid.uuid4()
    serving.exposure_log(
        assignment=assignment,
        recommendation_id=rec_id,
        customer_id=customer,
        placement="home_feed",
        product_ids=["P1"],
        served_at=at,
    )
    return rec_id, assignment.variant_key


@pytest.fixture
def experiment() -> Experiment:
    """Three customers, each served twice (on 8 and 9 March); events attributed to some lists."""
    experiment = make_experiment(key="feed")
    Experiment.objects.filter(pk=experiment.pk).update(started_at=START)
    product = ProductFactory(external_id="P1", price="5.00")
    day1, day2 = START + dt.timedelta(hours=1), START + dt.timedelta(days=1, hours=1)
    for name in ("C1", "C2", "C3"):
        customer = CustomerFactory(external_id=name)
        first, _ = serve(name, day1)
        second, _ = serve(name, day2)
        if name == "C1":  # two clicks on day 1, a purchase of 30.0 on day 2
            EventFactory(
                customer=customer, product=product, type=EventType.CLICK, recommendation_id=first, timestamp=day1
            )
            EventFactory(
                customer=customer, product=product, type=EventType.CLICK, recommendation_id=first, timestamp=day1
            )
            EventFactory(
                customer=customer,
                product=product,
                type=EventType.PURCHASE,
                value=30.0,
                recommendation_id=second,
                timestamp=day2,
            )
        if name == "C2":  # add to cart, and a purchase without an amount (the price counts)
            EventFactory(
                customer=customer, product=product, type=EventType.ADD_TO_CART, recommendation_id=second, timestamp=day2
            )
            EventFactory(
                customer=customer, product=product, type=EventType.PURCHASE, recommendation_id=second, timestamp=day2
            )
        # never attributed: no recommendation id
        EventFactory(customer=customer, product=product, type=EventType.CLICK, timestamp=day2)
        if name == "C3":  # pre-period activity: two events in the 28 days before the start, one older
            for days_before in (1, 27, 40):
                EventFactory(
                    customer=customer,
                    product=product,
                    type=EventType.VIEW,
                    timestamp=START - dt.timedelta(days=days_before),
                )
    return experiment


def by_customer_order(outcomes) -> dict[str, list[tuple]]:
    return {
        o.key: sorted(zip(o.exposures, o.clicks, o.add_to_carts, o.purchases, o.revenue, o.pre_activity, strict=True))
        for o in outcomes
    }


def test_outcomes_are_per_exposed_customer_and_only_attributed_events_count(experiment, django_assert_num_queries):
    variants = {
        c: serving.experiment_assign(placement="home_feed", customer_id=c).variant_key for c in ("C1", "C2", "C3")
    }
    with django_assert_num_queries(2):
        outcomes = experiment_outcomes(experiment_id=experiment.pk, until=NOW)
    rows = {
        "C1": (2.0, 2.0, 0.0, 1.0, 30.0, 0.0),
        "C2": (2.0, 0.0, 1.0, 1.0, 5.0, 0.0),
        "C3": (2.0, 0.0, 0.0, 0.0, 0.0, 2.0),
    }
    expected = {key: sorted(rows[c] for c in rows if variants[c] == key) for key in ("control", "treatment")}
    assert by_customer_order(outcomes) == expected
    # and on day 1 only the day-1 exposures and events count
    day1 = experiment_outcomes(experiment_id=experiment.pk, until=START + dt.timedelta(days=1))
    assert sum(o.exposures.sum() for o in day1) == 3
    assert sum(o.clicks.sum() for o in day1) == 2
    assert sum(o.purchases.sum() for o in day1) == 0


def test_snapshots_are_built_per_day_and_recomputed_only_for_the_last_two(experiment):
    # when built on 10 March: 8, 9 and 10 March
    assert experiment_snapshots_build(experiment_id=experiment.pk, now=NOW) == 3
    assert VariantDailySnapshot.objects.count() == 6
    # then the latest day has the live sums
    day, arms = experiment_snapshot_arms(experiment_id=experiment.pk)
    assert day == dt.date(2026, 3, 10)
    assert arms == experiment_live_arms(experiment_id=experiment.pk, until=NOW)
    assert sum(arm.sums.revenue for arm in arms) == 35.0
    # and a second run recomputes only the last two days, leaving the same rows
    assert experiment_snapshots_build(experiment_id=experiment.pk, now=NOW) == 2
    assert VariantDailySnapshot.objects.count() == 6


def test_metric_series_is_cumulative_per_day(experiment):
    experiment_snapshots_build(experiment_id=experiment.pk, now=NOW)
    series = experiment_metric_series(experiment_id=experiment.pk, metric="ctr")
    c1_variant = serving.experiment_assign(placement="home_feed", customer_id="C1").variant_key
    days = [d for d, _ in series[c1_variant]]
    assert days == [dt.date(2026, 3, 8), dt.date(2026, 3, 9), dt.date(2026, 3, 10)]
    c1_arm_size = sum(
        serving.experiment_assign(placement="home_feed", customer_id=c).variant_key == c1_variant
        for c in ("C1", "C2", "C3")
    )
    # 2 clicks over that arm's exposures: one per customer on day 1, two from day 2 on
    assert [v for _, v in series[c1_variant]] == [2 / c1_arm_size, 2 / (2 * c1_arm_size), 2 / (2 * c1_arm_size)]


def test_beat_task_builds_snapshots_of_running_experiments(experiment, settings):
    # the schedule names the task, and running it builds today's snapshot
    assert settings.CELERY_BEAT_SCHEDULE["build-experiment-snapshots"]["task"] == build_experiment_snapshots.name
    result = build_experiment_snapshots.apply().get()
    assert set(result) == {"feed"} and result["feed"] >= 3
    assert VariantDailySnapshot.objects.filter(experiment=experiment).exists()
