"""catalog.sessions and the event ingest: anonymous events, linking a session to a customer."""

import datetime as dt

import pytest
from django.utils import timezone

from catalog.importing.events import events_ingest
from catalog.models import Customer, Event, SessionLink
from catalog.sessions import SessionClaimed, session_link
from recommendations.erasure import customer_erase
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

# Fixed, so a re-sent row is the same event.
START = timezone.now() - dt.timedelta(hours=1)


def _row(n: int, *, session: str | None = None, customer: str | None = None, product: str = "p1") -> dict:
    row = {"event_id": f"e{n}", "product": product, "type": "view"}
    row["timestamp"] = (START + dt.timedelta(minutes=n)).isoformat()
    if session:
        row["session"] = session
    if customer:
        row["customer"] = customer
    return row


def _customers_of(session: str) -> set:
    return set(Event.objects.filter(session_id=session).values_list("customer__external_id", flat=True))


def test_events_of_a_session_are_stored_without_a_customer_then_merged_once_linked():
    ProductFactory(external_id="p1")

    report = events_ingest(rows=[_row(1, session="s1"), _row(2, session="s1")])
    assert (report.created, report.errors) == (2, [])
    assert _customers_of("s1") == {None}

    # An event with both links them: the earlier events become alice's, and so do later ones.
    events_ingest(rows=[_row(3, session="s1", customer="alice")])
    events_ingest(rows=[_row(4, session="s1")])
    assert _customers_of("s1") == {"alice"}
    assert Event.objects.filter(customer__external_id="alice").count() == 4

    # Re-sending every event (and re-linking) changes nothing: no conflicts, nothing new.
    again = events_ingest(rows=[_row(n, session="s1") for n in (1, 2, 4)] + [_row(3, session="s1", customer="alice")])
    assert (again.created, again.unchanged, again.conflicts) == (0, 4, [])
    session_link(session_id="s1", customer_id="alice")
    assert SessionLink.objects.count() == 1
    assert Event.objects.count() == 4


def test_a_session_linked_to_one_customer_cannot_be_claimed_by_another():
    ProductFactory(external_id="p1")
    session_link(session_id="s1", customer_id="alice")

    with pytest.raises(SessionClaimed):
        session_link(session_id="s1", customer_id="bob")
    report = events_ingest(rows=[_row(1, session="s1", customer="bob")])

    assert report.created == 0
    assert [(c.field, c.line) for c in report.conflicts] == [("session", 1)]
    assert SessionLink.objects.get().customer.external_id == "alice"


def test_an_event_needs_a_customer_or_a_session():
    ProductFactory(external_id="p1")

    report = events_ingest(rows=[_row(1)])

    assert [(e.field, e.line) for e in report.errors] == [("customer", 1)]


def test_erasing_a_customer_erases_their_linked_sessions_events():
    ProductFactory(external_id="p1")
    events_ingest(rows=[_row(1, session="s1"), _row(2, session="s2"), _row(3, session="other")])
    session_link(session_id="s1", customer_id="alice")
    session_link(session_id="s2", customer_id="alice")
    # Stored anonymously after the link (a race the ingest cannot see): still the session's.
    Event.objects.filter(session_id="s2").update(customer=None)

    erasure = customer_erase(customer_id="alice")

    assert (erasure.customer, erasure.events, erasure.sessions) == (1, 2, 2)
    assert list(Event.objects.values_list("session_id", flat=True)) == ["other"]
    assert not SessionLink.objects.exists()
    assert not Customer.objects.filter(external_id="alice").exists()
    assert customer_erase(customer_id="alice").found is False
