"""Anonymous sessions and their link to a customer.

A storefront sends a `session` id with the events (and requests) of a shopper it does not know
yet. When an event or a request carries both a session and a customer, the session is linked to
that customer for good: its events so far are merged into the customer (their customer is set),
and each later event of the session is stored as the customer's. Linking again changes nothing;
another customer claiming a linked session is refused (`SessionClaimed`).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection, transaction

from catalog.importing.customers import customers_ensure
from catalog.models import SessionLink

SESSION_MAX_LENGTH = 128


class SessionClaimed(Exception):
    """The session is linked to another customer already."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} is linked to another customer")
        self.session_id = session_id


def sessions_link(*, links: Mapping[str, int]) -> tuple[dict[str, int], set[str]]:
    """Link each session id to its customer pk, merging the session's anonymous events into them.

    Returns (session -> customer pk of every session now linked as asked, including those linked
    before), and the sessions refused because another customer holds them. Idempotent: a link that
    exists changes nothing (its merge finds no anonymous events left).
    """
    if not links:
        return {}, set()
    with transaction.atomic():
        # Sorted: two requests creating the same links lock them in the same order.
        SessionLink.objects.bulk_create(
            [SessionLink(session_id=s, customer_id=links[s]) for s in sorted(links)], ignore_conflicts=True
        )
        stored = dict(SessionLink.objects.filter(session_id__in=list(links)).values_list("session_id", "customer_id"))
        linked = {s: pk for s, pk in links.items() if stored.get(s) == pk}
        refused = set(links) - linked.keys()
        if linked:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE catalog_event e SET customer_id = l.customer_id FROM catalog_sessionlink l"
                    " WHERE l.session_id = ANY(%s) AND e.session_id = l.session_id AND e.customer_id IS NULL",
                    [sorted(linked)],
                )
    return linked, refused


def session_link(*, session_id: str, customer_id: str) -> None:
    """Link one session to the customer with external id `customer_id` (created when unknown, as
    an event's customer is; see `sessions_link`); raises `SessionClaimed`."""
    customer_pk = customers_ensure(external_ids=[customer_id])[customer_id]
    _, refused = sessions_link(links={session_id: customer_pk})
    if refused:
        raise SessionClaimed(session_id)


def session_customers(*, session_ids: list[str]) -> dict[str, int]:
    """session id -> linked customer pk, for the linked ones among `session_ids`."""
    if not session_ids:
        return {}
    return dict(SessionLink.objects.filter(session_id__in=session_ids).values_list("session_id", "customer_id"))
