"""Events carrying a recommendation_id are attributed to the exposure, its variant and its items."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from catalog.models import EventType
from experiments import serving
from experiments.selectors import exposure_attribution
from tests.factories import CustomerFactory, EventFactory, ProductFactory, make_experiment

pytestmark = pytest.mark.django_db


def test_events_with_the_recommendation_id_are_attributed_with_item_positions():
    # given a list of two products served to C1 in an experiment
    make_experiment(key="feed")
    assignment = serving.experiment_assign(placement="home_feed", customer_id="C1")
    mug, lamp, other = ProductFactory(external_id="MUG"), ProductFactory(external_id="LAMP"), ProductFactory()
    rec_id = uuid.uuid4()
    serving.exposure_log(
        assignment=assignment,
        recommendation_id=rec_id,
        customer_id="C1",
        placement="home_feed",
        product_ids=["MUG", "LAMP"],
    )
    customer = CustomerFactory(external_id="C1")
    now = timezone.now()
    # and events: a click on the second item, a purchase of something else, one unrelated event
    EventFactory(customer=customer, product=lamp, type=EventType.CLICK, recommendation_id=rec_id, timestamp=now)
    EventFactory(
        customer=customer,
        product=other,
        type=EventType.PURCHASE,
        value=12.5,
        recommendation_id=rec_id,
        timestamp=now + dt.timedelta(minutes=1),
    )
    EventFactory(customer=customer, product=mug, type=EventType.CLICK, timestamp=now)
    # when the exposure's attribution is read
    attribution = exposure_attribution(recommendation_id=rec_id)
    # then it names the variant and the two events carrying the id, with the clicked item's position
    assert (attribution.experiment_key, attribution.variant_key) == ("feed", assignment.variant_key)
    assert [(e.type, e.product_id, e.position, e.value) for e in attribution.events] == [
        ("click", "LAMP", 2, None),
        ("purchase", other.external_id, None, 12.5),
    ]


def test_unknown_recommendation_id_has_no_attribution():
    assert exposure_attribution(recommendation_id=uuid.uuid4()) is None
