"""POST /api/v1/events/."""

import json
import uuid

import pytest

from catalog.models import Customer, Event
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def _event(**overrides) -> dict:
    return {
        "customer": "c1",
        "product": "p1",
        "type": "purchase",
        "timestamp": "2025-01-02T03:04:05Z",
        "event_id": "e1",
        **overrides,
    }


def test_a_batch_is_stored_and_unknown_customers_are_created(storefront_client):
    # given: a known product and customer
    ProductFactory(external_id="p1")
    CustomerFactory(external_id="c1")
    recommendation_id = str(uuid.uuid4())
    rows = [
        _event(),
        _event(customer="new-customer", type="rating", value=4, event_id="e2", recommendation_id=recommendation_id),
    ]

    # when
    response = storefront_client.post(URL, rows, format="json")

    # then
    assert response.status_code == 201
    assert response.json() == {"received": 2, "created": 2, "duplicates": 0, "errors": [], "conflicts": []}
    rating = Event.objects.get(event_id="e2")
    assert (rating.customer.external_id, rating.type, rating.value, str(rating.recommendation_id)) == (
        "new-customer",
        "rating",
        4.0,
        recommendation_id,
    )
    assert Customer.objects.count() == 2


def test_resending_events_counts_duplicates_and_stores_nothing_twice(storefront_client):
    ProductFactory(external_id="p1")
    storefront_client.post(URL, [_event()], format="json")

    response = storefront_client.post(URL, [_event(), _event(event_id="e2")], format="json")

    assert response.status_code == 201
    assert response.json() == {"received": 2, "created": 1, "duplicates": 1, "errors": [], "conflicts": []}
    assert Event.objects.count() == 2


def test_bad_rows_are_reported_by_index_and_the_rest_is_stored(storefront_client):
    ProductFactory(external_id="p1")
    rows = [
        _event(product="unknown", event_id="x1"),
        _event(event_id="ok"),
        _event(type="like", event_id="x2"),
        _event(timestamp="yesterday", event_id="x3"),
        _event(type="rating", value=9, event_id="x4"),
        _event(customer={"nested": "object"}, event_id="x5"),
        ["a", "list"],
    ]

    response = storefront_client.post(URL, rows, format="json")

    assert response.status_code == 207
    body = response.json()
    assert (body["received"], body["created"], body["duplicates"]) == (7, 1, 0)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (0, "product"),
        (2, "type"),
        (3, "timestamp"),
        (4, "value"),
        (5, "customer"),
        (6, None),
    ]
    assert body["errors"][0]["message"] == "unknown product 'unknown'"
    assert body["errors"][3]["message"] == "a rating on the 1-5 scale must be between 1 and 5, got 9"
    assert list(Event.objects.values_list("event_id", flat=True)) == ["ok"]


def test_one_event_object_is_accepted(storefront_client):
    ProductFactory(external_id="p1")

    response = storefront_client.post(URL, _event(), format="json")

    assert response.status_code == 201
    assert response.json() == {"received": 1, "created": 1, "duplicates": 0, "errors": [], "conflicts": []}


def test_one_bad_event_object_is_a_400_naming_the_field(storefront_client):
    ProductFactory(external_id="p1")

    missing = storefront_client.post(URL, {"product": "p1", "type": "view", "timestamp": "2025-01-01"}, format="json")
    unknown = storefront_client.post(URL, _event(product="nope"), format="json")

    assert missing.status_code == 400
    assert missing.json()["error"]["fields"] == {"customer": ["Required unless the event has a `session`."]}
    assert unknown.status_code == 400
    assert unknown.json()["error"]["fields"] == {"product": ["unknown product 'nope'"]}
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[]", "Expected at least one event; the list is empty."),
        ("null", "Expected an object (one event) or a list of them, got null."),
        ("true", "Expected an object (one event) or a list of them, got a boolean."),
        (json.dumps([_event(event_id=str(i)) for i in range(1001)]), "At most 1000 events per request; got 1001."),
    ],
)
def test_a_body_that_is_not_events_is_a_400(storefront_client, body, message):
    response = storefront_client.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"Invalid input: {message}"


def test_nul_characters_are_rejected_before_they_reach_postgres(storefront_client):
    ProductFactory(external_id="p1")
    rows = [_event(customer="c\x00"), _event(event_id="e\x00"), _event(event_id="fine")]

    response = storefront_client.post(URL, rows, format="json")

    assert response.status_code == 207
    assert [(e["index"], e["field"], e["message"]) for e in response.json()["errors"]] == [
        (0, "customer", "Null characters are not allowed."),
        (1, "event_id", "Null characters are not allowed."),
    ]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["fine"]


def test_post_without_trailing_slash_is_routed_not_redirected(storefront_client):
    # given an event posted to the URL without its trailing slash
    product = ProductFactory(external_id="SLASH-1")
    body = {"customer": "c-slash", "product": product.external_id, "type": "view", "timestamp": "2011-01-01T00:00:00Z"}
    # when it is sent
    response = storefront_client.post("/api/v1/events", body, format="json")
    # then it is stored, not redirected (a redirect would drop the body)
    assert response.status_code == 201
    assert Event.objects.filter(product=product).count() == 1


def test_an_event_from_the_future_or_the_distant_past_is_refused_naming_the_time(storefront_client):
    ProductFactory(external_id="p1")

    single = storefront_client.post(URL, _event(timestamp="2999-01-01T00:00:00Z"), format="json")
    batch = storefront_client.post(
        URL,
        [_event(event_id="ok"), _event(event_id="old", timestamp="1900-01-01T00:00:00Z")],
        format="json",
    )

    assert single.status_code == 400
    assert list(single.json()["error"]["fields"]) == ["timestamp"]
    assert single.json()["error"]["fields"]["timestamp"][0].startswith("is in the future: 2999-01-01T00:00:00+00:00")
    assert batch.status_code == 207
    assert batch.json()["errors"] == [
        {
            "index": 1,
            "field": "timestamp",
            "message": "is too old: 1900-01-01T00:00:00+00:00 is before 1990-01-01T00:00:00+00:00"
            " (EVENT_TIMESTAMP_FLOOR)",
        }
    ]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["ok"]


def test_a_conflicting_resend_is_a_409_alone_and_a_per_row_conflict_in_a_batch(storefront_client):
    ProductFactory(external_id="p1")
    ProductFactory(external_id="p2")
    storefront_client.post(URL, _event(), format="json")

    same = storefront_client.post(URL, _event(), format="json")
    single = storefront_client.post(URL, _event(product="p2"), format="json")
    batch = storefront_client.post(URL, [_event(event_id="e2"), _event(type="view")], format="json")

    assert same.status_code == 201
    assert same.json() == {"received": 1, "created": 0, "duplicates": 1, "errors": [], "conflicts": []}
    assert single.status_code == 409
    assert single.json()["error"]["code"] == "conflict"
    assert single.json()["error"]["fields"] == {
        "event_id": [
            "'e1' was stored with other content (product); not stored. Re-send an event unchanged, or give a new"
            " event a new id"
        ]
    }
    assert batch.status_code == 207
    body = batch.json()
    assert (body["created"], body["duplicates"], body["errors"]) == (1, 0, [])
    assert [(c["index"], c["field"]) for c in body["conflicts"]] == [(1, "event_id")]
    assert "(type)" in body["conflicts"][0]["message"]
    assert Event.objects.get(event_id="e1").product.external_id == "p1"
