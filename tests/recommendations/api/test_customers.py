"""GET and DELETE /api/v1/customers/{id}/, and an uploaded attribute putting a customer in a segment."""

import pytest

from catalog.models import Customer, Event
from recommendations.models import HiddenItem, ServedList
from recommendations.rules.active import rules_forget
from recsite.scopes import Scope
from tests.factories import CustomerFactory, EventFactory, MerchRuleFactory, make_api_key

pytestmark = pytest.mark.django_db


def test_read_one_customer(storefront_client):
    CustomerFactory(external_id="c1", attributes={"tier": "vip"})

    found = storefront_client.get("/api/v1/customers/c1/")
    missing = storefront_client.get("/api/v1/customers/nobody/")

    assert found.status_code == 200
    assert found.json()["id"] == "c1"
    assert found.json()["attributes"] == {"tier": "vip"}
    assert missing.status_code == 404


def test_delete_erases_the_customer_and_is_idempotent(storefront_client):
    customer = CustomerFactory(external_id="c1")
    EventFactory(customer=customer)
    HiddenItem.objects.create(customer_external_id="c1", product_external_id="p1")
    other = EventFactory()

    first = storefront_client.delete("/api/v1/customers/c1/")
    second = storefront_client.delete("/api/v1/customers/c1/")

    assert (first.status_code, second.status_code) == (204, 204)
    assert not Customer.objects.filter(external_id="c1").exists()
    assert list(Event.objects.all()) == [other]
    assert not HiddenItem.objects.exists()
    assert storefront_client.get("/api/v1/customers/c1/").status_code == 404


def test_erasing_needs_the_customers_scope_and_reading_the_read_scope(api_client):
    CustomerFactory(external_id="c1")
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key(scopes=[Scope.READ_RECOMMENDATIONS])}")

    assert api_client.get("/api/v1/customers/c1/").status_code == 200
    assert api_client.delete("/api/v1/customers/c1/").status_code == 403
    assert Customer.objects.filter(external_id="c1").exists()


def test_an_uploaded_attribute_puts_the_customer_in_a_segment(storefront_client, merch_shop):
    # given a rule that hides the Acme brand (odd products) from the `gold` tier
    MerchRuleFactory(kind="exclude", target_brand="Acme", segment_key="tier", segment_value="gold", multiplier=None)
    rules_forget()

    def feed() -> list[str]:
        response = storefront_client.get("/api/v1/recommendations/", {"customer": "carol", "k": 4, "reasons": "false"})
        return [item["id"] for item in response.json()["items"]]

    before = feed()
    # when the storefront uploads carol's tier
    upload = storefront_client.post(
        "/api/v1/customers/", {"id": "carol", "attributes": {"tier": "gold"}}, format="json"
    )

    # then the segment rule applies to her next list
    assert upload.status_code == 201
    assert before == ["p1", "p2", "p3", "p4"]
    assert feed() == ["p2", "p4", "p6"]
    assert ServedList.objects.filter(customer_external_id="carol").count() == 2
