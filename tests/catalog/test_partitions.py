"""Events partitioned by month: partitions made on demand and ahead, the DEFAULT partition drained,
event ids unique across months through the ledger, retention dropping only whole old months."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from catalog.customers import customer_erase
from catalog.importing.events import events_ingest
from catalog.models import Event, EventId
from catalog.partitions import (
    DEFAULT_PARTITION,
    event_default_drain,
    event_partition_months,
    event_partitions,
    event_partitions_ahead,
    event_partitions_ensure,
    event_partitions_maintain,
    event_retention,
)
from tests.factories import CustomerFactory, EventFactory, ProductFactory

pytestmark = pytest.mark.django_db

# A fixed clock for retention, in the past (the importer refuses future times).
NOW = dt.datetime(2024, 6, 15, 12, tzinfo=dt.UTC)


@pytest.fixture
def catalog():
    ProductFactory(external_id="P1")
    ProductFactory(external_id="P2")


def row(event_id: str, when: str, *, product: str = "P1", customer: str = "C1", kind: str = "view") -> dict:
    return {"event_id": event_id, "customer": customer, "product": product, "type": kind, "timestamp": when}


def partition_of(event_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM catalog_event WHERE event_id = %s", [event_id])
        return cursor.fetchone()[0]


def test_an_import_into_several_months_creates_their_partitions_and_stores_each_event_in_its_month(catalog):
    # given events of three months no partition exists for (one at a month's first instant, UTC)
    assert {dt.date(2023, 1, 1), dt.date(2023, 2, 1), dt.date(2024, 7, 1)}.isdisjoint(event_partition_months())
    rows = [
        row("a", "2023-01-31T23:59:59Z"),
        row("b", "2023-02-01T01:00:00+02:00"),  # 2023-01-31 23:00 UTC
        row("c", "2023-02-01T00:00:00Z"),
        row("d", "2024-07-10T08:00:00Z"),
    ]

    # when
    report = events_ingest(rows=rows)

    # then
    assert (report.created, report.errors, report.conflicts) == (4, [], [])
    assert {dt.date(2023, 1, 1), dt.date(2023, 2, 1), dt.date(2024, 7, 1)} <= event_partition_months()
    assert [partition_of(e) for e in "abcd"] == [
        "catalog_event_p2023_01",
        "catalog_event_p2023_01",
        "catalog_event_p2023_02",
        "catalog_event_p2024_07",
    ]


def test_an_event_id_is_unique_across_months(catalog):
    # given an event stored in January
    events_ingest(rows=[row("same", "2023-01-10T10:00:00Z")])

    # when the same id comes again unchanged, then with a time in another month, then with another
    # product in the same month
    again = events_ingest(rows=[row("same", "2023-01-10T10:00:00Z")])
    moved = events_ingest(rows=[row("same", "2023-03-10T10:00:00Z")])
    other = events_ingest(rows=[row("same", "2023-01-10T10:00:00Z", product="P2")])

    # then one event is stored; the unchanged one is a duplicate, the others are conflicts naming the field
    assert (again.created, again.unchanged, again.conflicts) == (0, 1, [])
    assert (moved.created, moved.unchanged, len(moved.conflicts), other.created) == (0, 0, 1, 0)
    assert "'same' was stored with other content (timestamp)" in moved.conflicts[0].message
    assert "'same' was stored with other content (product)" in other.conflicts[0].message
    assert list(Event.objects.values_list("event_id", "timestamp")) == [
        ("same", dt.datetime(2023, 1, 10, 10, tzinfo=dt.UTC))
    ]
    assert EventId.objects.count() == 1


def test_two_rows_of_one_batch_sharing_an_id_in_different_months_store_the_first(catalog):
    # when
    report = events_ingest(rows=[row("twice", "2023-04-02T00:00:00Z"), row("twice", "2023-05-02T00:00:00Z")])

    # then
    assert (report.created, [c.line for c in report.conflicts]) == (1, [2])
    assert partition_of("twice") == "catalog_event_p2023_04"


def test_an_orm_insert_of_a_taken_id_raises_as_the_unique_constraint_did():
    # given
    EventFactory(event_id="taken", timestamp=dt.datetime(2023, 1, 5, tzinfo=dt.UTC))

    # when / then: in another month too
    with pytest.raises(IntegrityError, match="event_id_unique"), transaction.atomic():
        EventFactory(event_id="taken", timestamp=dt.datetime(2023, 8, 5, tzinfo=dt.UTC))
    assert Event.objects.filter(event_id="taken").count() == 1


def test_a_month_without_partition_goes_to_default_and_moves_out_with_its_ids(catalog):
    # given an ORM write (no partition made first) in a month without partition
    customer = CustomerFactory(external_id="C1")
    event = EventFactory(
        event_id="stray", customer=customer, product__external_id="P9", timestamp=dt.datetime(2022, 3, 3, tzinfo=dt.UTC)
    )
    assert partition_of("stray") == DEFAULT_PARTITION

    # when the DEFAULT partition is drained
    moved = event_default_drain()

    # then the event is in its month's partition, with its id still claimed
    assert moved == {dt.date(2022, 3, 1): 1}
    assert partition_of("stray") == "catalog_event_p2022_03"
    assert list(EventId.objects.values_list("event_id", "event_pk")) == [("stray", event.pk)]
    report = events_ingest(
        rows=[{"event_id": "stray", "customer": "C1", "product": "P9", "type": "purchase", "timestamp": "2022-03-03"}]
    )
    assert (report.created, report.unchanged) == (0, 1)
    assert event_default_drain() == {}


def test_deleting_events_frees_their_ids(catalog):
    # given
    events_ingest(rows=[row("gone", "2023-01-10T10:00:00Z", customer="erased"), row("kept", "2023-01-10T10:00:00Z")])

    # when the customer is erased, then their event is sent again
    assert customer_erase(customer_id="erased").events == 1
    report = events_ingest(rows=[row("gone", "2023-01-10T10:00:00Z", customer="erased")])

    # then it is stored anew
    assert report.created == 1
    assert sorted(EventId.objects.values_list("event_id", flat=True)) == ["gone", "kept"]


def test_changing_an_events_time_to_another_month_moves_it_with_its_id():
    # given
    event = EventFactory(event_id="edited", timestamp=dt.datetime(2023, 1, 5, tzinfo=dt.UTC))

    # when
    Event.objects.filter(pk=event.pk).update(timestamp=dt.datetime(2023, 9, 5, tzinfo=dt.UTC))

    # then the ledger follows (the row moved out of the DEFAULT partition's January into September's)
    assert list(EventId.objects.values_list("event_id", "event_pk", "timestamp")) == [
        ("edited", event.pk, dt.datetime(2023, 9, 5, tzinfo=dt.UTC))
    ]


def test_truncating_events_empties_the_ledger():
    # given
    EventFactory()

    # when
    checks_now()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE catalog_event")

    # then
    assert EventId.objects.count() == 0


def test_maintenance_creates_the_coming_months_and_drains_default():
    # given a stray event in a month without partition
    EventFactory(timestamp=dt.datetime(2021, 11, 30, tzinfo=dt.UTC))

    # when
    done = event_partitions_maintain(now=NOW)

    # then
    assert done.created == [dt.date(2024, 6, 1), dt.date(2024, 7, 1), dt.date(2024, 8, 1), dt.date(2024, 9, 1)]
    assert done.moved == {dt.date(2021, 11, 1): 1}
    assert event_partitions_ahead(now=NOW) == []
    assert event_partitions()[-1].rows == 0  # DEFAULT, last


def test_ensuring_partitions_that_exist_creates_nothing():
    months = event_partitions_ensure(moments=[NOW])
    assert months == [dt.date(2024, 6, 1)]
    assert event_partitions_ensure(moments=[NOW, NOW + dt.timedelta(days=1)]) == []


def retention_fixture(catalog) -> None:
    """Events in Jan, Feb, Apr and Jun 2024 (June is NOW's month), and one in DEFAULT from 2020."""
    events_ingest(
        rows=[
            row("jan-1", "2024-01-03T00:00:00Z"),
            row("jan-2", "2024-01-30T00:00:00Z"),
            row("feb", "2024-02-27T23:00:00Z"),
            row("apr", "2024-04-01T00:00:00Z"),
            row("jun", "2024-06-15T12:00:00Z"),
        ]
    )
    EventFactory(event_id="old-stray", timestamp=dt.datetime(2020, 5, 1, tzinfo=dt.UTC))
    checks_now()


def checks_now() -> None:
    """Run the foreign-key checks the test's transaction deferred: a partition with pending trigger
    events cannot be dropped (outside tests the events were committed long before)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_retention_drops_only_whole_months_before_the_cutoff(catalog):
    # given
    retention_fixture(catalog)

    # when the current month and the three before it (March–June) are kept
    report = event_retention(older_than_months=3, now=NOW)

    # then January and February are dropped with their ids, and the old stray event too
    assert report.cutoff == dt.date(2024, 3, 1)
    assert [(p.name, p.rows) for p in report.dropped] == [("catalog_event_p2024_01", 2), ("catalog_event_p2024_02", 1)]
    assert (report.default_rows, report.rows) == (1, 4)
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["apr", "jun"]
    assert sorted(EventId.objects.values_list("event_id", flat=True)) == ["apr", "jun"]
    assert {dt.date(2024, 1, 1), dt.date(2024, 2, 1)}.isdisjoint(event_partition_months())
    assert {dt.date(2024, 4, 1), dt.date(2024, 6, 1)} <= event_partition_months()
    # a dropped event sent again is stored again (its month's partition made anew)
    assert events_ingest(rows=[row("feb", "2024-02-27T23:00:00Z")]).created == 1


def test_retention_dry_run_changes_nothing(catalog):
    # given
    retention_fixture(catalog)

    # when
    report = event_retention(older_than_months=1, dry_run=True, now=NOW)

    # then
    assert [(p.name, p.rows) for p in report.dropped] == [
        ("catalog_event_p2024_01", 2),
        ("catalog_event_p2024_02", 1),
        ("catalog_event_p2024_04", 1),
    ]
    assert (report.cutoff, report.default_rows, report.dry_run) == (dt.date(2024, 5, 1), 1, True)
    assert Event.objects.count() == 6
    assert EventId.objects.count() == 6


def test_retention_never_drops_the_current_month():
    with pytest.raises(ValueError, match="current month is never dropped"):
        event_retention(older_than_months=0, now=NOW)


def test_the_retention_command_reports_what_it_drops(catalog):
    # given events of 1 January 2023 and of now (partitions of the current month exist)
    events_ingest(rows=[row("jan", "2023-01-01T00:00:00Z")])
    event_partitions_ahead()
    before = Event.objects.count()
    checks_now()
    out = io.StringIO()

    # when: everything before last month; then a dry run; then a refused 0
    call_command("events_retention", "--older-than-months", "1", stdout=out)
    call_command("events_retention", "--older-than-months", "1", "--dry-run", stdout=out)
    with pytest.raises(CommandError, match="at least 1"):
        call_command("events_retention", "--older-than-months", "0")

    # then (the real clock's last month is after January 2023)
    lines = out.getvalue().splitlines()
    assert "dropped catalog_event_p2023_01: 1 events" in lines
    assert lines[-1].endswith(": would drop 0 partitions, 0 events")
    assert Event.objects.count() == before - 1


def test_the_admin_refuses_an_event_with_a_taken_id(admin_client):
    # given
    event = EventFactory(event_id="taken")

    # when
    response = admin_client.post(
        reverse("admin:catalog_event_add"),
        {
            "event_id": "taken",
            "customer": event.customer_id,
            "product": event.product_id,
            "type": "view",
            "timestamp_0": "2023-01-01",
            "timestamp_1": "10:00:00",
        },
    )

    # then a form error, not a 500
    assert response.status_code == 200
    assert "An event with this event id exists already." in response.content.decode()
    assert Event.objects.count() == 1
