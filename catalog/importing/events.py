"""Ingest behaviour events in bulk: validate, resolve product and customer ids (creating unknown
customers), COPY each chunk into a temporary table and insert from it, skipping the ids already
stored (the `catalog_eventid` ledger, migration 0007), so re-sending an event never counts it
twice. A re-sent id whose content differs from the stored event's is a conflict, reported per row,
never a duplicate. The monthly partitions the chunk's events need are created first.

Events without an `event_id` get one derived from their content (customer, product, type, time,
value, session): importing the same file twice is a no-op with or without ids.

An event may carry an anonymous `session` instead of, or with, its `customer`: one with both links
the session to the customer (catalog.sessions), and an event of a linked session is stored as its
customer's. A session linked to another customer is a conflict on `session`, not stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.importing import fields
from catalog.importing.customers import customers_ensure
from catalog.importing.fields import FieldError
from catalog.importing.ratings import AUTO, SCALES, RatingScale, rating_scale_infer
from catalog.importing.ratings import DEFAULT as DEFAULT_SCALE
from catalog.importing.readers import Row
from catalog.importing.report import ImportReport, RowError
from catalog.models import Event, EventId, EventType, Product
from catalog.partitions import event_partitions_ensure
from catalog.sessions import SESSION_MAX_LENGTH, session_customers, sessions_link
from catalog.signals import clicks_stored, events_stored
from recsite.batching import batched

# `events_stored` names the customers of a call storing events for at most this many (an API
# batch); beyond it, a bulk import, it names none.
STORED_CUSTOMERS_MAX = 1000
# Rows per COPY + INSERT; bounds memory on files of any size and keeps each transaction short.
CHUNK_SIZE = 20_000
EVENT_TYPES = frozenset(EventType.values)
_STAGING = "_event_import"
_COLUMNS = ("event_id", "customer_id", "product_id", "type", "value", "timestamp", "recommendation_id", "session_id")
# Content column -> the interchange field a conflict names.
_CONTENT = {
    "customer_id": "customer",
    "product_id": "product",
    "type": "type",
    "value": "value",
    "timestamp": "timestamp",
    "recommendation_id": "recommendation_id",
    "session_id": "session",
}


class EventInput(NamedTuple):
    # A NamedTuple rather than a frozen dataclass: built once per row on the hot path.
    event_id: str
    # "" for an anonymous session's event
    customer: str
    product: str
    type: str
    value: float | None
    timestamp: dt.datetime
    recommendation_id: uuid.UUID | None
    session: str | None = None


class TimeBounds(NamedTuple):
    """The event times accepted: from `earliest` to `latest`, both included."""

    earliest: dt.datetime
    latest: dt.datetime


def time_bounds(*, now: dt.datetime | None = None) -> TimeBounds:
    """The configured floor, and the server's clock plus the allowed skew."""
    now = now or timezone.now()
    return TimeBounds(settings.EVENT_TIMESTAMP_FLOOR, now + settings.EVENT_FUTURE_SKEW)


def event_input_parse(
    row: Mapping[str, Any], *, rating_scale: RatingScale = DEFAULT_SCALE, bounds: TimeBounds | None = None
) -> EventInput:
    """One interchange row -> EventInput; raises FieldError naming the first bad field.

    A rating is stored on 1–5 (`rating_scale` maps it); its id derives from the value as sent.
    A time outside `bounds` (default: `time_bounds()`) is refused.
    """
    customer = fields.text(row, "customer", max_length=128)
    session = fields.text(row, "session", max_length=SESSION_MAX_LENGTH) or None
    if not customer and not session:
        raise FieldError("customer", "is required unless the event has a `session`")
    product = fields.text(row, "product", max_length=128, required=True)
    event_type = fields.text(row, "type", max_length=16, required=True)
    if event_type not in EVENT_TYPES:
        raise FieldError("type", f"must be one of {', '.join(EventType.values)}, got {event_type!r}")
    timestamp = fields.timestamp(row, "timestamp")
    bounds = bounds or time_bounds()
    if timestamp > bounds.latest:
        raise FieldError(
            "timestamp",
            f"is in the future: {timestamp.isoformat()} is later than the server's clock plus"
            f" {settings.EVENT_FUTURE_SKEW} (EVENT_FUTURE_SKEW_MINUTES)",
        )
    if timestamp < bounds.earliest:
        raise FieldError(
            "timestamp",
            f"is too old: {timestamp.isoformat()} is before {bounds.earliest.isoformat()} (EVENT_TIMESTAMP_FLOOR)",
        )
    value = fields.number(row, "value")
    stored = value
    if event_type == EventType.RATING:
        if value is None:
            raise FieldError("value", "is required for a rating")
        stored = rating_scale.normalize(value)
    recommendation_id = fields.uuid_value(row, "recommendation_id")
    event_id = fields.text(row, "event_id", max_length=200) or event_id_derive(
        customer=customer, product=product, event_type=event_type, timestamp=timestamp, value=value, session=session
    )
    return EventInput(event_id, customer, product, event_type, stored, timestamp, recommendation_id, session)


def event_id_derive(
    *,
    customer: str,
    product: str,
    event_type: str,
    timestamp: dt.datetime,
    value: float | None,
    session: str | None = None,
) -> str:
    """A deterministic idempotency key from the event's content (time normalised to UTC)."""
    parts = [
        customer,
        product,
        event_type,
        timestamp.astimezone(dt.UTC).isoformat(),
        "" if value is None else repr(value),
    ]
    if session:
        # Only when present, so the ids of events without a session stay what they were.
        parts.append("session:" + session)
    content = "\x1f".join(parts)
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def events_ingest(
    *, rows: Iterable[Row] | Iterable[tuple[int, Row]], chunk_size: int = CHUNK_SIZE, rating_scale: str = "1-5"
) -> ImportReport:
    """Validate and insert events; `rows` are dicts (numbered from 1) or `(line, row)` pairs.

    `rating_scale` names the scale of the ratings (`ratings.SCALES`), or `auto` to infer it from
    the first chunk; the report's notes say which was used when the file holds ratings.

    A time later than the server's clock plus EVENT_FUTURE_SKEW or before EVENT_TIMESTAMP_FLOOR is
    a row error; each stored event keeps the server's time of receipt (`received_at`).

    A row naming a product the catalog does not have is an error; an unknown customer is
    created. `created` counts inserted events, `unchanged` the valid ones already stored (same
    `event_id` and content), `conflicts` the rows whose `event_id` was stored with other content
    (or came earlier in the same import with other content); `updated` is always 0: a stored
    event is never changed.
    """
    started = time.perf_counter()
    received = created = unchanged = 0
    errors: list[RowError] = []
    conflicts: list[RowError] = []
    product_pks: dict[str, int] = {}
    customer_pks: dict[str, int] = {}
    numbered = fields.numbered(rows)
    scale = None if rating_scale == AUTO else SCALES[rating_scale]
    rated = False
    # Whose events were stored, for `events_stored`; None once there are too many to name (a bulk import).
    stored_customers: set[str] | None = set()
    for chunk in batched(numbered, chunk_size):
        received += len(chunk)
        if scale is None:
            scale = rating_scale_infer(_rating_values(chunk))
        valid: list[tuple[int, EventInput]] = []
        bounds = time_bounds()
        for line, row in chunk:
            problem = fields.row_problem(row)
            if problem:
                errors.append(RowError(line, None, problem))
                continue
            try:
                event = event_input_parse(row, rating_scale=scale, bounds=bounds)
                rated = rated or event.type == EventType.RATING
                valid.append((line, event))
            except FieldError as exc:
                errors.append(RowError(line, exc.field, exc.message))
        _products_resolve(product_pks, {event.product for _, event in valid})
        known: list[tuple[int, EventInput]] = []
        for line, event in valid:
            if event.product in product_pks:
                known.append((line, event))
            else:
                errors.append(RowError(line, "product", f"unknown product {event.product!r}"))
        # Before the chunk's transaction: a new partition's lock is held only while it is created.
        event_partitions_ensure(moments=(event.timestamp for _, event in known))
        with transaction.atomic():
            missing_customers = {e.customer for _, e in known if e.customer} - customer_pks.keys()
            customer_pks.update(customers_ensure(external_ids=missing_customers))
            known, claimed, session_pks = _sessions_resolve(known, customer_pks)
            conflicts += claimed
            inserted, clicked, conflicting = _insert(
                (
                    line,
                    e.event_id,
                    customer_pks[e.customer] if e.customer else session_pks.get(e.session or ""),
                    product_pks[e.product],
                    e.type,
                    e.value,
                    e.timestamp,
                    e.recommendation_id,
                    e.session,
                )
                for line, e in known
            )
        if clicked:
            clicks_stored.send(sender=Event, recommendation_ids=clicked)
        if inserted and stored_customers is not None:
            stored_customers.update(e.customer for _, e in known if e.customer)
            if len(stored_customers) > STORED_CUSTOMERS_MAX:
                stored_customers = None
        created += inserted
        unchanged += len(known) - inserted - len(conflicting)
        event_ids = {line: e.event_id for line, e in known}
        conflicts += [
            RowError(
                line,
                "event_id",
                f"{event_ids[line]!r} was stored with other content ({', '.join(differing)}); not stored."
                " Re-send an event unchanged, or give a new event a new id",
            )
            for line, differing in conflicting
        ]
    if created:
        events_stored.send(sender=Event, customer_ids=None if stored_customers is None else sorted(stored_customers))
    errors.sort(key=lambda e: e.line)
    conflicts.sort(key=lambda e: e.line)
    return ImportReport(
        received=received,
        created=created,
        updated=0,
        unchanged=unchanged,
        errors=errors,
        duration_s=time.perf_counter() - started,
        notes=[f"ratings read on the {scale.name} scale, stored on 1-5"] if rated and scale is not None else [],
        conflicts=conflicts,
    )


def _sessions_resolve(
    known: list[tuple[int, EventInput]], customer_pks: dict[str, int]
) -> tuple[list[tuple[int, EventInput]], list[RowError], dict[str, int]]:
    """Link the sessions that events name with a customer (the first such event of a session in
    this chunk decides), and find the customer of every linked session. Returns the events to
    store, the conflicts (a session another customer holds), and session -> customer pk."""
    wanted: dict[str, int] = {}
    for _, e in known:
        if e.session and e.customer:
            wanted.setdefault(e.session, customer_pks[e.customer])
    linked, _ = sessions_link(links=wanted)
    anonymous = sorted({e.session for _, e in known if e.session and not e.customer} - linked.keys())
    session_pks = {**linked, **session_customers(session_ids=anonymous)}
    kept, claimed = [], []
    for line, e in known:
        if e.session and e.customer and session_pks.get(e.session) != customer_pks[e.customer]:
            claimed.append(RowError(line, "session", f"session {e.session!r} is linked to another customer"))
        else:
            kept.append((line, e))
    return kept, claimed, session_pks


def _rating_values(chunk: list[tuple[int, Row]]) -> list[float]:
    """The parseable values of the chunk's ratings (bad ones are reported by the row parser)."""
    values = []
    for _, row in chunk:
        if isinstance(row, Mapping) and row.get("type") == EventType.RATING:
            try:
                value = fields.number(row, "value")
            except FieldError:
                continue
            if value is not None:
                values.append(value)
    return values


def _products_resolve(cache: dict[str, int], external_ids: set[str]) -> None:
    """Add external id -> pk for the ids not in `cache` yet (unknown ids stay absent)."""
    lookup = list(external_ids - cache.keys())
    if lookup:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id, id FROM {Product._meta.db_table} WHERE external_id = ANY(%s)",
                [lookup],
            )
            cache.update(cursor.fetchall())


def _insert(records: Iterable[tuple]) -> tuple[int, list, list[tuple[int, list[str]]]]:
    """COPY (line, *_COLUMNS) records into a session-local staging table, then insert the new ones;
    returns how many were inserted, the recommendation ids of the new clicks, and the conflicts:
    (line, the fields that differ) for each record whose id is stored with other content. Must
    run inside a transaction (the staging table drops at commit)."""
    table, ledger = Event._meta.db_table, EventId._meta.db_table
    columns = ", ".join(f'"{c}"' for c in _COLUMNS)
    with connection.cursor() as cursor:
        # IF NOT EXISTS + TRUNCATE: an enclosing transaction (a caller's, or a test's) may
        # already hold the table from an earlier chunk.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (line bigint, event_id text, customer_id bigint,"
            " product_id bigint,"
            ' type text, value double precision, "timestamp" timestamptz, recommendation_id uuid, session_id text)'
            " ON COMMIT DROP"
        )
        cursor.execute(f"TRUNCATE {_STAGING}")
        with cursor.copy(f"COPY {_STAGING} (line, {columns}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
        # The clicks among the new rows carry the lists they are attributed to (per-variant click
        # counters); re-sent events are not new, so they are not counted twice.
        # The insert trigger claims each id in the ledger; with this setting it skips a row whose
        # id is taken (as ON CONFLICT DO NOTHING would) instead of raising.
        cursor.execute("SELECT set_config('recsite.event_duplicates', 'skip', true)")
        cursor.execute(
            # Key order: concurrent batches sharing keys take their ledger locks in the same order,
            # so they wait for each other instead of deadlocking; then line order, so the first of
            # two rows sharing an id is the one stored (the second is the conflict).
            f"WITH inserted AS (INSERT INTO {table} ({columns}, received_at) SELECT {columns}, now() FROM {_STAGING}"
            " ORDER BY event_id, line RETURNING type, recommendation_id)"
            " SELECT count(*), array_remove(array_agg(recommendation_id) FILTER (WHERE type = 'click'), NULL)"
            " FROM inserted"
        )
        inserted, clicked = cursor.fetchone()
        cursor.execute("SELECT set_config('recsite.event_duplicates', '', true)")
        # After the insert, every staged id is stored: a staged row that differs from its stored
        # event lost to an earlier sending (or an earlier row of this batch) with other content.
        differs = ", ".join(
            f"CASE WHEN e.{column} IS DISTINCT FROM s.{column} THEN '{name}' END" for column, name in _CONTENT.items()
        )
        stored, staged = (", ".join(f"{alias}.{c}" for c in _CONTENT) for alias in ("e", "s"))
        # The ledger gives each id's event (id and timestamp: its partition). A LATERAL lookup per
        # staged row (LIMIT 1 keeps the planner from flattening it into a join over every month):
        # one index probe in one partition each, whatever the table's size.
        cursor.execute(
            f"SELECT line, array_remove(ARRAY[{differs}], NULL) FROM {_STAGING} s CROSS JOIN LATERAL"
            f' (SELECT e.* FROM {ledger} k JOIN {table} e ON e.id = k.event_pk AND e."timestamp" = k."timestamp"'
            f" WHERE k.event_id = s.event_id LIMIT 1) e"
            f" WHERE ({stored}) IS DISTINCT FROM ({staged}) ORDER BY line"
        )
        return inserted, clicked or [], cursor.fetchall()
