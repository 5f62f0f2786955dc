"""Customers as the storefront sends them (an id and free-form attributes that segment rules
read), and the catalog's part of erasing one (their row and their events)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from catalog.importing import fields
from catalog.importing.report import ImportReport
from catalog.models import Customer
from recsite.db_router import read_connection

ID_MAX_LENGTH = 128


@dataclass(frozen=True)
class CustomerInput:
    external_id: str
    attributes: dict[str, Any]


def _customer_parse(row: Mapping[str, Any]) -> CustomerInput:
    attributes = row.get("attributes")
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise fields.FieldError("attributes", f"must be an object, not {type(attributes).__name__}")
    return CustomerInput(
        external_id=fields.text(row, "id", max_length=ID_MAX_LENGTH, required=True), attributes=attributes
    )


def customers_upsert(*, rows: Iterable[Mapping[str, Any]]) -> ImportReport:
    """Create customers or replace their attributes, matched by `id` (rows numbered from 1).

    The attributes sent replace the stored ones as a whole, as a product's do; a customer whose
    attributes are equal to what is stored is counted `unchanged` and not written. A repeated id
    keeps its last row; each earlier row is an error on its own line.
    """
    started = time.perf_counter()
    parsed = fields.parse_latest(rows, parse=_customer_parse, key=lambda item: item.external_id)
    items = [item for _, item in parsed.latest.values()]
    stored = {c.external_id: c for c in Customer.objects.filter(external_id__in=[item.external_id for item in items])}
    new = [Customer(external_id=i.external_id, attributes=i.attributes) for i in items if i.external_id not in stored]
    changed = []
    for item in items:
        customer = stored.get(item.external_id)
        if customer is not None and customer.attributes != item.attributes:
            customer.attributes = item.attributes
            changed.append(customer)
    with transaction.atomic():
        # A customer created meanwhile by an event ingest is left as it is; the next upsert sets it.
        Customer.objects.bulk_create(new, ignore_conflicts=True)
        Customer.objects.bulk_update(changed, ["attributes"])
    return ImportReport(
        received=parsed.received,
        created=len(new),
        updated=len(changed),
        unchanged=len(items) - len(new) - len(changed),
        errors=sorted(parsed.errors, key=lambda e: e.line),
        duration_s=time.perf_counter() - started,
    )


def customer_get(*, customer_id: str) -> Customer | None:
    return Customer.objects.filter(external_id=customer_id).first()


@dataclass(frozen=True)
class CatalogErasure:
    customer: int
    events: int
    # The anonymous sessions that were linked to the customer (their events are among `events`):
    # other apps' rows kept per session go with them.
    session_ids: tuple[str, ...] = ()

    @property
    def sessions(self) -> int:
        return len(self.session_ids)


def customer_erase(*, customer_id: str) -> CatalogErasure:
    """Delete the customer's row, every event of theirs and of the sessions linked to them (also
    those stored without the customer), and the links (one statement each), naming the sessions;
    nothing when there is no such customer. Popularity and item neighbours are aggregates that name no one:
    they stay until their next rebuild, which no longer sees these events."""
    pk = Customer.objects.filter(external_id=customer_id).values_list("pk", flat=True).first()
    if pk is None:
        return CatalogErasure(customer=0, events=0)
    with connection.cursor() as cursor:
        # Raw deletes: the ORM's cascade would load every event id into memory first.
        cursor.execute(
            "DELETE FROM catalog_event WHERE customer_id = %s"
            " OR session_id IN (SELECT session_id FROM catalog_sessionlink WHERE customer_id = %s)",
            [pk, pk],
        )
        events = cursor.rowcount
        cursor.execute("DELETE FROM catalog_sessionlink WHERE customer_id = %s RETURNING session_id", [pk])
        session_ids = tuple(sorted(session_id for (session_id,) in cursor.fetchall()))
        cursor.execute("DELETE FROM catalog_customer WHERE id = %s", [pk])
        customers = cursor.rowcount
    return CatalogErasure(customer=customers, events=events, session_ids=session_ids)


def product_attribute_keys() -> frozenset[str]:
    """Every attribute key some product has (a scan of the catalog: callers cache it)."""
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT jsonb_object_keys(attributes) FROM catalog_product"
            " WHERE jsonb_typeof(attributes) = 'object'"
        )
        return frozenset(key for (key,) in cursor.fetchall())
