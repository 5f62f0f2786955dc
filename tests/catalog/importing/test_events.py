"""events_ingest: per-row errors with line and field, idempotency with and without event_id,
unknown customers created, CSV and JSONL."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.utils import timezone

from catalog.importing.events import event_id_derive, events_ingest
from catalog.importing.readers import read_rows
from catalog.importing.report import RowError
from catalog.models import Customer, Event
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

REC_ID = "0b6f4a5e-8d0c-4c8e-9a55-1f3e2d4c5b6a"


@pytest.fixture
def catalog():
    ProductFactory(external_id="P1")
    ProductFactory(external_id="P2")
    CustomerFactory(external_id="C1")


def test_bad_rows_are_reported_and_good_rows_stored(tmp_path, catalog):
    # given
    rows = [
        {"customer": "C1", "product": "P1", "type": "view", "timestamp": "2024-03-01T10:00:00Z"},
        {"customer": "C1", "product": "NOPE", "type": "view", "timestamp": "2024-03-01T10:00:00Z"},
        {"customer": "C1", "product": "P1", "type": "like", "timestamp": "2024-03-01T10:00:00Z"},
        {"customer": "C1", "product": "P1", "type": "view", "timestamp": "yesterday"},
        {"customer": "C1", "product": "P1", "type": "rating", "timestamp": "2024-03-01T10:00:00Z"},
        {"customer": "C1", "product": "P1", "type": "rating", "timestamp": "2024-03-01T10:00:00Z", "value": 6},
        {"customer": "C1", "product": "P1", "type": "click", "timestamp": "2024-03-01", "recommendation_id": "x1"},
        {"product": "P1", "type": "click", "timestamp": "2024-03-01T10:00:00Z"},
        {"customer": "C1", "product": "P2", "type": "rating", "timestamp": "2024-03-01T12:00:00+02:00", "value": 4},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")

    # when
    report = events_ingest(rows=read_rows(path))

    # then
    assert report.errors == [
        RowError(2, "product", "unknown product 'NOPE'"),
        RowError(3, "type", "must be one of view, click, add_to_cart, purchase, rating, got 'like'"),
        RowError(4, "timestamp", "is not an ISO 8601 time: 'yesterday'"),
        RowError(5, "value", "is required for a rating"),
        RowError(6, "value", "a rating on the 1-5 scale must be between 1 and 5, got 6"),
        RowError(7, "recommendation_id", "is not a UUID: 'x1'"),
        RowError(8, "customer", "is required unless the event has a `session`"),
        RowError(10, None, "invalid JSON: Expecting value (column 1)"),
    ]
    assert (report.received, report.created, report.updated, report.unchanged) == (10, 2, 0, 0)
    rating = Event.objects.get(type="rating")
    assert (rating.product.external_id, rating.value) == ("P2", 4.0)
    assert rating.timestamp == dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)


def test_resending_events_with_ids_never_double_counts(catalog):
    # given
    rows = [
        {"event_id": "e1", "customer": "C1", "product": "P1", "type": "click", "timestamp": "2024-03-01T10:00:00"},
        {"event_id": "e2", "customer": "C1", "product": "P2", "type": "purchase", "timestamp": "2024-03-01T10:05:00"},
    ]
    events_ingest(rows=rows)

    # when the same ids come again, one of them in the same batch twice
    report = events_ingest(rows=[*rows, rows[0]])

    # then
    assert (report.received, report.created, report.unchanged) == (3, 0, 3)
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["e1", "e2"]


def test_events_without_id_get_a_content_key_so_reimport_is_a_no_op(catalog):
    # given the same click written with two spellings of the same instant
    first = {"customer": "C1", "product": "P1", "type": "click", "timestamp": "2024-03-01T10:00:00Z"}
    same = {**first, "timestamp": "2024-03-01T11:00:00+01:00"}
    other_value = {**first, "type": "purchase", "value": "9.5"}

    # when
    created = events_ingest(rows=[first, other_value])
    again = events_ingest(rows=[same, {**other_value, "value": 9.5}])

    # then
    assert (created.created, again.created, again.unchanged) == (2, 0, 2)
    assert Event.objects.get(type="click").event_id == event_id_derive(
        customer="C1",
        product="P1",
        event_type="click",
        timestamp=dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC),
        value=None,
    )


def test_unknown_customers_are_created_once(catalog):
    # when
    report = events_ingest(
        rows=[
            {"customer": "NEW", "product": "P1", "type": "view", "timestamp": "2024-03-01T10:00:00Z"},
            {"customer": "NEW", "product": "P2", "type": "view", "timestamp": "2024-03-01T10:01:00Z"},
            {"customer": "GHOST", "product": "NOPE", "type": "view", "timestamp": "2024-03-01T10:01:00Z"},
        ]
    )

    # then the customer of a rejected row is not created
    assert report.created == 2
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["C1", "NEW"]
    assert Event.objects.filter(customer__external_id="NEW").count() == 2


def test_csv_events_with_recommendation_id_and_small_chunks(tmp_path, catalog):
    # given a CSV split over several chunks
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,customer,product,type,timestamp,value,recommendation_id\n"
        f"a,C1,P1,click,2024-03-01T10:00:00Z,,{REC_ID}\n"
        "b,C2,P2,purchase,2024-03-01T10:00:00Z,12.5,\n"
        "c,C2,P3,view,2024-03-01T10:00:00Z,,\n"
        "d,C3,P1,add_to_cart,2024-03-01T10:00:00Z,1,\n"
    )

    # when
    report = events_ingest(rows=read_rows(path), chunk_size=2)

    # then
    assert report.errors == [RowError(4, "product", "unknown product 'P3'")]
    assert (report.received, report.created) == (4, 3)
    assert Event.objects.get(event_id="a").recommendation_id == uuid.UUID(REC_ID)
    assert Event.objects.get(event_id="b").value == 12.5
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["C1", "C2", "C3"]


def test_times_beyond_the_skew_or_before_the_floor_are_row_errors(catalog, settings):
    # given a 5-minute skew and a 2000 floor
    settings.EVENT_FUTURE_SKEW = dt.timedelta(minutes=5)
    settings.EVENT_TIMESTAMP_FLOOR = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    now = timezone.now()
    soon = (now + dt.timedelta(minutes=4)).isoformat()
    late = (now + dt.timedelta(minutes=6)).isoformat()
    rows = [
        {"customer": "C1", "product": "P1", "type": "view", "timestamp": soon},
        {"customer": "C1", "product": "P1", "type": "view", "timestamp": late},
        {"customer": "C1", "product": "P1", "type": "view", "timestamp": "2999-01-01T00:00:00Z"},
        {"customer": "C1", "product": "P1", "type": "view", "timestamp": "1999-12-31T23:59:59Z"},
        {"customer": "C1", "product": "P2", "type": "view", "timestamp": "2000-01-01T00:00:00Z"},
    ]

    # when
    report = events_ingest(rows=rows)

    # then the two rows inside the bounds are stored, the others each name the time at fault
    assert [(e.line, e.field) for e in report.errors] == [(2, "timestamp"), (3, "timestamp"), (4, "timestamp")]
    assert report.errors[1].message == (
        "is in the future: 2999-01-01T00:00:00+00:00 is later than the server's clock plus 0:05:00"
        " (EVENT_FUTURE_SKEW_MINUTES)"
    )
    assert report.errors[2].message == (
        "is too old: 1999-12-31T23:59:59+00:00 is before 2000-01-01T00:00:00+00:00 (EVENT_TIMESTAMP_FLOOR)"
    )
    assert report.created == 2


def test_the_server_keeps_its_time_of_receipt_beside_the_clients(catalog):
    events_ingest(rows=[{"customer": "C1", "product": "P1", "type": "view", "timestamp": "2011-01-01T00:00:00Z"}])

    event = Event.objects.get()
    assert event.timestamp == dt.datetime(2011, 1, 1, tzinfo=dt.UTC)
    # the database's now(): the start of the (test's) transaction, so no tighter than this
    assert abs(event.received_at - timezone.now()) < dt.timedelta(minutes=5)


def test_an_id_resent_with_other_content_is_a_conflict_not_a_duplicate(catalog):
    # given e1 stored
    first = {"event_id": "e1", "customer": "C1", "product": "P1", "type": "click", "timestamp": "2024-03-01T10:00:00"}
    events_ingest(rows=[first])

    # when e1 comes again unchanged, with another product and time, and a new id twice with two contents
    report = events_ingest(
        rows=[
            first,
            {**first, "product": "P2", "timestamp": "2024-03-02T10:00:00"},
            {**first, "event_id": "e2"},
            {**first, "event_id": "e2", "type": "purchase"},
        ]
    )

    # then the identical re-send is a duplicate; the others are conflicts naming what differs
    assert (report.received, report.created, report.unchanged, report.errors) == (4, 1, 1, [])
    assert report.conflicts == [
        RowError(
            2,
            "event_id",
            "'e1' was stored with other content (product, timestamp); not stored."
            " Re-send an event unchanged, or give a new event a new id",
        ),
        RowError(
            4,
            "event_id",
            "'e2' was stored with other content (type); not stored. Re-send an event unchanged, or give a new"
            " event a new id",
        ),
    ]
    assert dict(Event.objects.values_list("event_id", "type")) == {"e1": "click", "e2": "click"}
    assert Event.objects.get(event_id="e1").product.external_id == "P1"


@pytest.fixture
def stored_signals():
    """Every `events_stored` a test's imports send (its customer ids)."""
    from catalog.signals import events_stored

    sent: list[list[str] | None] = []

    def receiver(sender, *, customer_ids, **kwargs):
        sent.append(customer_ids)

    events_stored.connect(receiver, dispatch_uid="tests.events_stored")
    yield sent
    events_stored.disconnect(dispatch_uid="tests.events_stored")


def _view(customer: str, product: str, minute: int) -> dict:
    return {"customer": customer, "product": product, "type": "view", "timestamp": f"2024-01-01T00:{minute:02d}:00Z"}


def test_a_call_names_the_customers_whose_events_it_stored_once(db, stored_signals):
    ProductFactory(external_id="p1")
    rows = [_view("bob", "p1", 1), _view("alice", "p1", 2), _view("bob", "p1", 3)]

    events_ingest(rows=rows, chunk_size=2)
    events_ingest(rows=rows, chunk_size=2)  # the same events again: nothing new, nothing sent

    assert stored_signals == [["alice", "bob"]]


def test_a_bulk_of_customers_is_named_as_none(db, stored_signals, monkeypatch):
    from catalog.importing import events

    ProductFactory(external_id="p1")
    monkeypatch.setattr(events, "STORED_CUSTOMERS_MAX", 2)

    events_ingest(rows=[_view(f"c{i}", "p1", i) for i in range(3)])

    assert stored_signals == [None]
