"""Popularity: time decay from the latest event, the stored table, filtered candidates."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from catalog.models import EventType, ItemPopularity
from recommendations.recall import popularity
from recommendations.recall.popularity import popularity_candidates, popularity_rebuild, popularity_scores
from tests.factories import CategoryFactory, EventFactory, ProductFactory

DAY = 86_400.0
LATEST = dt.datetime(2011, 12, 9, tzinfo=dt.UTC)


def test_scores_halve_every_half_life_before_the_reference_time():
    # given: item 0 bought now (4) and clicked 14 days ago (2); item 1 viewed 28 days ago (1)
    scores = popularity_scores(
        items=np.array([0, 0, 1]),
        weights=np.array([4.0, 2.0, 1.0]),
        timestamps=np.array([100 * DAY, 86 * DAY, 72 * DAY]),
        n_items=3,
        reference_time=100 * DAY,
        half_life_days=14.0,
    )

    # then
    assert scores.tolist() == pytest.approx([5.0, 0.25, 0.0])


@pytest.fixture
def clear_cache():
    popularity._cache.clear()
    yield
    popularity._cache.clear()


@pytest.mark.django_db
def test_rebuild_decays_from_the_latest_event_not_the_wall_clock(clear_cache):
    # given: a 2011 data set
    hot, old = ProductFactory.create_batch(2)
    EventFactory(product=hot, type=EventType.PURCHASE, timestamp=LATEST)
    EventFactory(product=old, type=EventType.ADD_TO_CART, timestamp=LATEST - dt.timedelta(days=14))

    # when
    written = popularity_rebuild()

    # then
    assert written == 2
    assert dict(ItemPopularity.objects.values_list("product_id", "score")) == pytest.approx({hot.pk: 4.0, old.pk: 1.5})
    assert [c.product_pk for c in popularity_candidates(n=10)] == [hot.pk, old.pk]


@pytest.mark.django_db
def test_rebuild_until_a_time_counts_only_the_events_before_it(clear_cache):
    # given: one item bought a day before the cut, another at the cut
    before, after = ProductFactory.create_batch(2)
    EventFactory(product=before, type=EventType.PURCHASE, timestamp=LATEST - dt.timedelta(days=1))
    EventFactory(product=after, type=EventType.PURCHASE, timestamp=LATEST)

    # when
    written = popularity_rebuild(until=LATEST)

    # then: decayed from the latest event before the cut
    assert written == 1
    assert dict(ItemPopularity.objects.values_list("product_id", "score")) == pytest.approx({before.pk: 4.0})


@pytest.mark.django_db
def test_candidates_within_a_category_subtree_reach_past_the_global_top(clear_cache):
    # given: the top item is in Garden, the rest in Home and Home > Kitchen, one out of stock
    garden, home, kitchen = (
        CategoryFactory(name=n, path=p)
        for n, p in [("Garden", "Garden"), ("Home", "Home"), ("Kitchen", "Home > Kitchen")]
    )
    top = ProductFactory(category=garden)
    mug = ProductFactory(category=kitchen)
    lamp = ProductFactory(category=home)
    gone = ProductFactory(category=home, in_stock=False)
    for product, score in [(top, 9.0), (mug, 3.0), (lamp, 2.0), (gone, 5.0)]:
        ItemPopularity.objects.create(product=product, score=score, computed_at=LATEST)

    # when
    found = popularity_candidates(n=10, category_path="Home")

    # then
    assert [(c.product_pk, c.score) for c in found] == [(mug.pk, 3.0), (lamp.pk, 2.0)]


def test_popularity_as_of_counts_only_events_before_each_clock():
    from recommendations.recall.popularity import popularity_as_of

    # given item 0 bought on day 1 and item 1 bought twice on day 10
    day = 86_400.0
    as_of = popularity_as_of(
        items=np.array([0, 1, 1]),
        weights=np.array([4.0, 4.0, 4.0]),
        timestamps=np.array([1.0, 10.0, 10.0]) * day,
        n_items=2,
        clocks=np.array([5.0 * day, 10.0 * day, 24.0 * day, np.nan]),
        half_life_days=14.0,
    )

    # then on day 5 only item 0 counts (decayed 4 days); on day 10 item 1's events are not yet
    # "before"; on day 24 item 1 has decayed one half-life; a NaN clock reads the latest time
    scores = as_of.at(np.array([5.0, 10.0, 24.0, np.nan]) * day)
    assert scores[0] == pytest.approx([4.0 * 0.5 ** (4 / 14), 0.0])
    assert scores[1] == pytest.approx([4.0 * 0.5 ** (9 / 14), 0.0])
    assert scores[2] == pytest.approx([4.0 * 0.5 ** (23 / 14), 8.0 * 0.5])
    assert scores[3] == pytest.approx(scores[2])


def test_popularity_as_of_merges_clocks_beyond_its_memory_bound_never_reading_later_events():
    from recommendations.recall.popularity import popularity_as_of

    day = 86_400.0
    clocks = np.arange(1.0, 101.0) * day
    as_of = popularity_as_of(
        items=np.arange(100) % 2,
        weights=np.ones(100),
        timestamps=np.arange(100) * day,
        n_items=2,
        clocks=clocks,
        max_bytes=8 * 10,
    )

    # then at most 10 times are kept, and each clock reads a time at or before it
    assert len(as_of.times) <= 10
    rows = np.searchsorted(as_of.times, clocks, side="right") - 1
    assert (as_of.times[rows] <= clocks).all()


@pytest.mark.django_db
def test_an_event_stamped_in_the_future_does_not_decay_the_others_away(clear_cache):
    # given: recent purchases, and one event dated 2999 stored before times were bounded
    products = ProductFactory.create_batch(5)
    now = timezone.now()
    for product in products:
        EventFactory(product=product, type=EventType.PURCHASE, timestamp=now - dt.timedelta(days=1))
    EventFactory(product=products[0], type=EventType.VIEW, timestamp=dt.datetime(2999, 1, 1, tzinfo=dt.UTC))

    # when
    written = popularity_rebuild()

    # then decay runs from the server's clock: every item keeps its score, a feed for k=5 fills
    assert written == 5
    assert len(popularity_candidates(n=5)) == 5
    assert ItemPopularity.objects.get(product=products[1]).score == pytest.approx(4.0 * 0.5 ** (1 / 14), rel=1e-3)
