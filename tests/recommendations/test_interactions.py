"""Interaction weights and the history rule shared by every route."""

import datetime as dt

import numpy as np
import pytest

from catalog.models import EventType
from recommendations.history import customer_history, history_aggregate
from recommendations.interactions import event_weight, event_weights, positive_mask
from tests.factories import CustomerFactory, EventFactory, ProductFactory

DAY = 86_400.0


@pytest.mark.parametrize(
    ("type", "value", "weight"),
    [
        ("view", None, 1.0),
        ("click", None, 2.0),
        ("add_to_cart", None, 3.0),
        ("purchase", 7.0, 4.0),
        ("rating", 5.0, 4.0),
        ("rating", 1.0, 0.8),
        ("rating", None, 2.4),
        ("rating", 9.0, 4.0),
        ("other", None, 0.0),
    ],
)
def test_event_weight(type, value, weight):
    assert event_weight(type=type, value=value) == pytest.approx(weight)


def test_vectorised_weights_and_positives_agree_with_the_rule():
    types = np.array(["view", "click", "rating", "rating", "purchase"])
    values = np.array([np.nan, np.nan, 4.0, 3.0, np.nan])

    assert event_weights(types=types, values=values).tolist() == pytest.approx([1.0, 2.0, 3.2, 2.4, 4.0])
    assert positive_mask(types=types, values=values).tolist() == [False, True, True, False, True]


def test_history_keeps_recent_distinct_items_with_decayed_weights():
    # given: user 0 bought item 7 now, viewed item 3 thirty days ago and item 5 sixty days ago;
    # user 1 clicked item 3
    history = history_aggregate(
        users=np.array([0, 0, 0, 0, 1]),
        items=np.array([7, 3, 5, 7, 3]),
        weights=np.array([4.0, 1.0, 1.0, 2.0, 2.0]),
        timestamps=np.array([90 * DAY, 60 * DAY, 30 * DAY, 30 * DAY, 10 * DAY]),
        max_items=2,
        half_life_days=30.0,
    )

    # then: item 7 = 4 + 2×¼; item 3 = ½; item 5 falls off (only 2 items kept)
    assert history.users.tolist() == [0, 0, 1]
    assert history.items.tolist() == [7, 3, 3]
    assert history.weights.tolist() == pytest.approx([4.5, 0.5, 2.0])


@pytest.mark.django_db
def test_customer_history_loads_recent_items_and_all_purchases():
    # given
    customer = CustomerFactory()
    bought, viewed = ProductFactory.create_batch(2)
    now = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    EventFactory(customer=customer, product=bought, type=EventType.PURCHASE, timestamp=now - dt.timedelta(days=30))
    EventFactory(customer=customer, product=viewed, type=EventType.VIEW, timestamp=now)

    # when
    history = customer_history(customer_id=customer.external_id)

    # then
    assert history.product_pks == (viewed.pk, bought.pk)
    assert history.weights == pytest.approx((1.0, 2.0))
    assert history.purchased_pks == frozenset({bought.pk})
    assert customer_history(customer_id="nobody").is_empty
