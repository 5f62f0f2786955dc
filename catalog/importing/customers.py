"""Customers: upsert with attributes (interchange rows `id`, `attributes`), and find-or-create
by external id for events that name customers the catalog has not seen yet."""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.db import transaction

from catalog.importing import fields
from catalog.importing.readers import Row
from catalog.importing.report import ImportReport
from catalog.models import Customer

CHUNK_SIZE = 2000


def customers_ensure(*, external_ids: Iterable[str]) -> dict[str, int]:
    """external id -> pk for every id, creating the missing customers (no attributes) in bulk."""
    wanted = set(external_ids)
    if not wanted:
        return {}
    pks = dict(Customer.objects.filter(external_id__in=wanted).values_list("external_id", "pk"))
    missing = wanted - pks.keys()
    if missing:
        # ignore_conflicts: another request may create the same customer at the same moment; sorted,
        # so two such requests lock the new rows in the same order (no deadlock).
        Customer.objects.bulk_create([Customer(external_id=e) for e in sorted(missing)], ignore_conflicts=True)
        pks.update(Customer.objects.filter(external_id__in=missing).values_list("external_id", "pk"))
    return pks


def customers_upsert(*, rows: Iterable[Row] | Iterable[tuple[int, Row]]) -> ImportReport:
    """Create or update customers; a customer whose attributes are unchanged is not written.

    A repeated id keeps its last row; earlier rows are reported as errors ("replaced by line N").
    """
    started = time.perf_counter()
    parsed = fields.parse_latest(
        rows,
        parse=lambda row: (
            fields.text(row, "id", max_length=128, required=True),
            fields.json_object(row, "attributes"),
        ),
        key=lambda item: item[0],
    )
    errors = parsed.errors
    latest = {external_id: (line, item[1]) for external_id, (line, item) in parsed.latest.items()}

    created = updated = unchanged = 0
    ids = list(latest)
    for start in range(0, len(ids), CHUNK_SIZE):
        chunk = ids[start : start + CHUNK_SIZE]
        stored = dict(Customer.objects.filter(external_id__in=chunk).values_list("external_id", "attributes"))
        to_write = []
        for external_id in chunk:
            attributes = latest[external_id][1]
            if external_id not in stored:
                created += 1
            elif stored[external_id] == attributes:
                unchanged += 1
                continue
            else:
                updated += 1
            to_write.append(Customer(external_id=external_id, attributes=attributes))
        if to_write:
            with transaction.atomic():
                Customer.objects.bulk_create(
                    to_write, update_conflicts=True, unique_fields=["external_id"], update_fields=["attributes"]
                )
    errors.sort(key=lambda e: e.line)
    return ImportReport(
        received=parsed.received,
        created=created,
        updated=updated,
        unchanged=unchanged,
        errors=errors,
        duration_s=time.perf_counter() - started,
    )
