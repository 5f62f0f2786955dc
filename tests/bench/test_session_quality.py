"""bench/session_quality.py: the feeds are made from models of the events before the cutoff only,
and the database's own models are left as they were."""

import datetime as dt

import pytest
from django.utils import timezone

from bench.session_quality import default_cutoff, session_quality
from catalog.models import EventType, ItemNeighbor, ItemPopularity
from recommendations.recall import collaborative, popularity
from tests.factories import CustomerFactory, EventFactory, ProductFactory

pytestmark = pytest.mark.django_db

CUTOFF = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
BEFORE = CUTOFF - dt.timedelta(days=1)
AFTER = CUTOFF + dt.timedelta(days=1)


@pytest.fixture
def shop():
    """Before the cutoff: two customers view a and buy b, ten fillers are each bought three times
    (popularity's top ten). Two replayed customers view a before it; after it one buys b (found
    through a → b) and one buys c, which only after the cutoff others bought with a."""
    popularity._cache.clear()
    collaborative.reset()
    a, b, c = (ProductFactory(external_id=name) for name in "abc")
    for _ in range(2):
        customer = CustomerFactory()
        EventFactory(customer=customer, product=a, type=EventType.VIEW, timestamp=BEFORE)
        EventFactory(customer=customer, product=b, timestamp=BEFORE)
    for i in range(10):
        filler = ProductFactory(external_id=f"f{i}")
        for _ in range(3):
            EventFactory(product=filler, timestamp=BEFORE)
    for target in (b, c):
        replayed = CustomerFactory(external_id=f"replayed-{target.external_id}")
        EventFactory(customer=replayed, product=a, type=EventType.VIEW, timestamp=BEFORE)
        EventFactory(customer=replayed, product=target, timestamp=AFTER)
    for _ in range(2):
        customer = CustomerFactory()
        EventFactory(customer=customer, product=a, type=EventType.VIEW, timestamp=AFTER)
        EventFactory(customer=customer, product=c, timestamp=AFTER)
    # the stored models, as a build on every event makes them: a → c, c popular
    ItemNeighbor.objects.create(product=a, neighbor=c, score=1.0, rank=1)
    ItemPopularity.objects.create(product=c, score=99.0, computed_at=timezone.now())
    yield {"a": a, "c": c}
    popularity._cache.clear()
    collaborative.reset()


def test_targets_after_the_cutoff_are_found_only_through_what_came_before(shop):
    rows, meta = session_quality(cutoff=CUTOFF, n=1, customers=10, seed=7)

    # the b buyer's session feed finds b through a → b; nothing before the cutoff leads to c, and
    # popularity's top ten are the fillers
    assert {row["feed"]: (row["sessions"], row["hit@10"]) for row in rows} == {
        "session feed": (2, 0.5),
        "popularity": (2, 0.0),
    }
    assert meta["cutoff"] == CUTOFF.isoformat()
    assert meta["routes"].keys() == {"itemcf", "cf", "semantic", "popularity"}
    # the database's models are as they were
    assert list(ItemNeighbor.objects.values_list("product_id", "neighbor_id")) == [(shop["a"].pk, shop["c"].pk)]
    assert list(ItemPopularity.objects.values_list("product_id", "score")) == [(shop["c"].pk, 99.0)]


def test_the_default_cutoff_leaves_the_latest_tenth_of_the_customers_events_after_it():
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for day in range(20):
        EventFactory(timestamp=start + dt.timedelta(days=day))

    assert default_cutoff() == start + dt.timedelta(days=18)


def test_without_events_there_is_no_cutoff():
    assert default_cutoff() is None
