"""recommendations.erasure: every row naming a customer goes, aggregates stay, the log names no one."""

import logging
import uuid

import pytest
from django.utils import timezone

from catalog.models import Customer, Event, ItemPopularity
from catalog.public import session_link
from experiments.models import Exposure
from recommendations.badcases.models import BadCase
from recommendations.erasure import customer_erase, customer_hash
from recommendations.models import HiddenItem, ServedList
from recommendations.reasons.models import Generation, Purpose, ReasonServing
from tests.factories import CustomerFactory, EventFactory, ProductFactory, make_experiment
from tests.recommendations.reasons_fixtures import default_templates

pytestmark = pytest.mark.django_db


def _served(customer_id: str) -> uuid.UUID:
    recommendation_id = uuid.uuid4()
    ServedList.objects.create(
        recommendation_id=recommendation_id,
        created_at=timezone.now(),
        placement="home_feed",
        customer_external_id=customer_id,
    )
    return recommendation_id


def test_erasure_removes_every_personal_row_and_keeps_aggregates(caplog):
    product = ProductFactory(external_id="p1")
    ItemPopularity.objects.create(product=product, score=3.0, computed_at=timezone.now())
    alice = CustomerFactory(external_id="alice")
    EventFactory(customer=alice, product=product)
    EventFactory(customer=alice, product=product)
    bob_event = EventFactory(customer=CustomerFactory(external_id="bob"), product=product)
    experiment = make_experiment()
    variant = experiment.variants.first()
    for customer_id in ("alice", "bob"):
        Exposure.objects.create(
            recommendation_id=_served(customer_id),
            experiment=experiment,
            variant=variant,
            customer_external_id=customer_id,
            placement="home_feed",
            created_at=timezone.now(),
        )
    HiddenItem.objects.create(customer_external_id="alice", product_external_id="p1")
    case = BadCase.objects.create(
        source="feedback", customer_external_id="alice", product_external_id="p1", text="I hate it", snapshot={"a": 1}
    )

    with caplog.at_level(logging.INFO, logger="recommendations.erasure"):
        erasure = customer_erase(customer_id="alice")

    assert (erasure.customer, erasure.events, erasure.exposures, erasure.served_lists) == (1, 2, 1, 1)
    assert (erasure.hidden_items, erasure.bad_cases) == (1, 1)
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["bob"]
    assert list(Event.objects.all()) == [bob_event]
    assert list(Exposure.objects.values_list("customer_external_id", flat=True)) == ["bob"]
    assert list(ServedList.objects.values_list("customer_external_id", flat=True)) == ["bob"]
    assert not HiddenItem.objects.exists()
    case.refresh_from_db()
    assert (case.customer_external_id, case.text, case.snapshot, case.product_external_id) == ("", "", {}, "p1")
    assert ItemPopularity.objects.get(product=product).score == 3.0
    # the log line carries a keyed hash and the counts, never the id
    record = next(r for r in caplog.records if r.getMessage() == "customer erased")
    assert record.customer_hash == customer_hash("alice") != "alice"
    assert "alice" not in repr(record.__dict__)


def test_erasing_twice_or_an_unknown_id_finds_nothing_and_succeeds():
    CustomerFactory(external_id="alice")
    _served("ghost")

    assert customer_erase(customer_id="alice").found
    assert not customer_erase(customer_id="alice").found
    ghost = customer_erase(customer_id="ghost")
    assert (ghost.customer, ghost.served_lists) == (0, 1)


def test_erasure_removes_the_reason_servings_of_their_lists_and_keeps_item_keyed_reason_texts():
    # given alice's and bob's served lists, each with the pool template that wrote its reasons,
    # and a cached reason text (keyed by template version, item and seed item: it names no one)
    template = default_templates()[Purpose.REASON]
    product = ProductFactory(external_id="p1")
    for customer_id in ("alice", "bob"):
        ReasonServing.objects.create(recommendation_id=_served(customer_id), template=template)
    Generation.objects.create(
        key="k" * 64,
        purpose=Purpose.REASON,
        template_version=template.active_version,
        product=product,
        backend="openai",
        prompt="Product: Item",
        output="A fine item.",
        text="A fine item.",
        accepted=True,
    )

    erasure = customer_erase(customer_id="alice")

    # then alice's list and its serving are gone, bob's stay, and so does the item's text
    assert (erasure.served_lists, erasure.reason_servings) == (1, 1)
    bob_list = ServedList.objects.get(customer_external_id="bob").recommendation_id
    assert list(ReasonServing.objects.values_list("recommendation_id", flat=True)) == [bob_list]
    assert Generation.objects.count() == 1
    assert customer_erase(customer_id="alice").reason_servings == 0


def test_erasure_removes_the_served_lists_of_the_customers_linked_sessions():
    # given lists served to alice's session before and after she signed in, and another session's
    session_link(session_id="s1", customer_id="alice")
    for customer_id, session_id in (("", "s1"), ("alice", "s1"), ("", "s2")):
        ServedList.objects.create(
            recommendation_id=uuid.uuid4(),
            created_at=timezone.now(),
            placement="home_feed",
            customer_external_id=customer_id,
            session_id=session_id,
        )

    erasure = customer_erase(customer_id="alice")

    assert (erasure.sessions, erasure.served_lists) == (1, 2)
    assert list(ServedList.objects.values_list("session_id", flat=True)) == ["s2"]
