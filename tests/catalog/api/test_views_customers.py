"""POST /api/v1/customers/: a batch upsert of customers and their attributes."""

import pytest

from catalog.models import Customer
from recsite.scopes import Scope
from tests.factories import CustomerFactory, make_api_key

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/v1/customers/"


def test_a_batch_creates_updates_and_reports_bad_rows_by_position(storefront_client):
    CustomerFactory(external_id="c1", attributes={"tier": "basic"})
    CustomerFactory(external_id="c2", attributes={"tier": "vip"})

    response = storefront_client.post(
        CUSTOMERS,
        [
            {"id": "c1", "attributes": {"tier": "vip"}},
            {"id": "c2", "attributes": {"tier": "vip"}},
            {"id": "c3"},
            {"attributes": {"tier": "vip"}},
            {"id": "c4", "attributes": ["not", "an", "object"]},
        ],
        format="json",
    )

    assert response.status_code == 207
    body = response.json()
    assert (body["received"], body["created"], body["updated"], body["unchanged"]) == (5, 1, 1, 1)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(3, "id"), (4, "attributes")]
    assert Customer.objects.get(external_id="c1").attributes == {"tier": "vip"}
    assert Customer.objects.get(external_id="c3").attributes == {}
    assert not Customer.objects.filter(external_id="c4").exists()


def test_one_object_is_stored_and_a_bad_one_is_a_400_naming_the_field(storefront_client):
    created = storefront_client.post(CUSTOMERS, {"id": "c1", "attributes": {"country": "FR"}}, format="json")
    refused = storefront_client.post(CUSTOMERS, {"id": "", "attributes": {}}, format="json")

    assert created.status_code == 201
    assert Customer.objects.get(external_id="c1").attributes == {"country": "FR"}
    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["id"]


def test_a_repeated_id_keeps_its_last_row(storefront_client):
    response = storefront_client.post(
        CUSTOMERS, [{"id": "c1", "attributes": {"n": 1}}, {"id": "c1", "attributes": {"n": 2}}], format="json"
    )

    assert response.status_code == 207
    assert response.json()["errors"][0]["index"] == 0
    assert Customer.objects.get(external_id="c1").attributes == {"n": 2}


def test_writing_customers_needs_the_customers_scope(api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key(scopes=[Scope.WRITE_CATALOG])}")

    response = api_client.post(CUSTOMERS, {"id": "c1"}, format="json")

    assert response.status_code == 403
    assert not Customer.objects.exists()
