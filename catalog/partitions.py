"""The monthly partitions of `catalog_event` (migration 0007): create them ahead and on demand,
move stray rows out of the DEFAULT partition, and drop whole old months (retention).

A month is a UTC calendar month; its partition is `catalog_event_pYYYY_MM`, bounded
[first instant of the month, first instant of the next). Partitions are only ever created here
(and by the migration), so a partition's name says its month.

A new partition is created as a plain table and then ATTACHed: that takes a SHARE UPDATE
EXCLUSIVE lock on `catalog_event` (reads and writes go on), where `CREATE TABLE … PARTITION OF`
would take ACCESS EXCLUSIVE. Rows of the month already in the DEFAULT partition move in first.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

PARENT = "catalog_event"
DEFAULT_PARTITION = "catalog_event_default"
LEDGER = "catalog_eventid"
_NAME = re.compile(r"^catalog_event_p(\d{4})_(\d{2})$")
# Months created ahead of the current one by the periodic task.
MONTHS_AHEAD = 3
# pg_advisory_xact_lock key serialising partition changes between processes ("recsite partitions").
_LOCK_KEY = 0x72_65_63_70_61_72_74
_COLUMNS = 'id, event_id, type, value, "timestamp", recommendation_id, received_at, customer_id, product_id, session_id'


@dataclass(frozen=True)
class EventPartition:
    name: str
    # First day of the month; None for the DEFAULT partition.
    month: dt.date | None
    rows: int


@dataclass(frozen=True)
class RetentionReport:
    cutoff: dt.date
    dry_run: bool
    # The partitions dropped (or that would be), oldest first, with their rows.
    dropped: list[EventPartition] = field(default_factory=list)
    # Rows older than the cutoff found in the DEFAULT partition, deleted (or that would be).
    default_rows: int = 0

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.dropped) + self.default_rows


def month_of(moment: dt.datetime) -> dt.date:
    """The first day of `moment`'s UTC month."""
    utc = moment.astimezone(dt.UTC)
    return dt.date(utc.year, utc.month, 1)


def month_add(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"catalog_event_p{month.year:04d}_{month.month:02d}"


def event_partition_months() -> set[dt.date]:
    """The months that have their partition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            [PARENT],
        )
        names = [name for (name,) in cursor.fetchall()]
    return {dt.date(int(m[1]), int(m[2]), 1) for name in names if (m := _NAME.match(name))}


def event_partitions_ensure(*, moments: Iterable[dt.datetime]) -> list[dt.date]:
    """Create the partitions missing for the months of `moments`; returns the months created.

    One catalog query when all exist (the import's per-chunk case). Safe to call from several
    processes at once: creation is serialised by an advisory lock and re-checked under it.
    """
    wanted = {month_of(moment) for moment in moments}
    if not wanted or wanted <= event_partition_months():
        return []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        missing = sorted(wanted - event_partition_months())
        for month in missing:
            _partition_create(cursor, month)
    return missing


def event_partitions_ahead(*, months: int = MONTHS_AHEAD, now: dt.datetime | None = None) -> list[dt.date]:
    """Create the current month's partition and the next `months` ones where missing."""
    current = month_of(now or timezone.now())
    return event_partitions_ensure(
        moments=[dt.datetime.combine(month_add(current, k), dt.time(), tzinfo=dt.UTC) for k in range(months + 1)]
    )


def event_default_drain() -> dict[dt.date, int]:
    """Move the rows in the DEFAULT partition into their months' partitions (created for them);
    returns the rows moved per month. The DEFAULT partition only takes events of a month without
    its partition: ORM writes (the importer creates partitions first), or a partition dropped
    while an old event was on its way."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT date_trunc('month', \"timestamp\" AT TIME ZONE 'UTC')::date, count(*) FROM {DEFAULT_PARTITION}"
            " GROUP BY 1 ORDER BY 1"
        )
        stray = dict(cursor.fetchall())
    if stray:
        event_partitions_ensure(moments=[dt.datetime.combine(m, dt.time(), tzinfo=dt.UTC) for m in stray])
        logger.info("moved %s events out of %s", sum(stray.values()), DEFAULT_PARTITION)
    return stray


@dataclass(frozen=True)
class Maintenance:
    # Months whose partitions were created ahead.
    created: list[dt.date]
    # Rows moved out of the DEFAULT partition, per month.
    moved: dict[dt.date, int]


def event_partitions_maintain(*, now: dt.datetime | None = None) -> Maintenance:
    """The periodic upkeep: partitions for the current month and MONTHS_AHEAD more, the DEFAULT
    partition drained, and the parent's statistics refreshed (autovacuum analyzes the partitions
    but never a partitioned table itself, whose statistics the planner uses for joins over all
    months)."""
    created = event_partitions_ahead(now=now)
    moved = event_default_drain()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {PARENT}")
    return Maintenance(created=created, moved=moved)


def event_partitions(*, counts: bool = True) -> list[EventPartition]:
    """Every partition, months in order, then DEFAULT; `rows` exact when `counts`, else 0."""
    months = sorted(event_partition_months())
    named = [(partition_name(m), m) for m in months] + [(DEFAULT_PARTITION, None)]
    return [EventPartition(name, month, _rows(name) if counts else 0) for name, month in named]


def event_retention(
    *, older_than_months: int, dry_run: bool = False, now: dt.datetime | None = None
) -> RetentionReport:
    """Drop the partitions of months older than `older_than_months` before the current month
    (and delete such rows from the DEFAULT partition), freeing their events' ids.

    With `older_than_months=N` the current month and the N before it are kept; N must be at
    least 1, so the current month (and the one just ended) is never dropped.
    """
    if older_than_months < 1:
        raise ValueError("older_than_months must be at least 1: the current month is never dropped")
    cutoff = month_add(month_of(now or timezone.now()), -older_than_months)
    bound = _bound(cutoff)
    old = [m for m in sorted(event_partition_months()) if m < cutoff]
    if dry_run:
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM {DEFAULT_PARTITION} WHERE "timestamp" < %s', [bound])
            default_rows = cursor.fetchone()[0]
        dropped = [EventPartition(partition_name(m), m, _rows(partition_name(m))) for m in old]
        return RetentionReport(cutoff=cutoff, dry_run=True, dropped=dropped, default_rows=default_rows)
    dropped = []
    for month in old:
        # One transaction a month: a long retention run holds no lock on months already done.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            name = partition_name(month)
            # SHARE: no event may arrive in the month between freeing its ids and the drop.
            cursor.execute(f"LOCK TABLE {name} IN SHARE MODE")
            cursor.execute(f"DELETE FROM {LEDGER} k USING {name} p WHERE k.event_id = p.event_id")
            rows = cursor.rowcount
            cursor.execute(f"DROP TABLE {name}")
        logger.info("events retention: dropped %s (%s events)", name, rows)
        dropped.append(EventPartition(name, month, rows))
    with transaction.atomic(), connection.cursor() as cursor:
        # Row by row: the delete trigger frees each event's id.
        cursor.execute(f'DELETE FROM {DEFAULT_PARTITION} WHERE "timestamp" < %s', [bound])
        default_rows = cursor.rowcount
    if default_rows:
        logger.info("events retention: deleted %s events before %s from %s", default_rows, cutoff, DEFAULT_PARTITION)
    return RetentionReport(cutoff=cutoff, dry_run=False, dropped=dropped, default_rows=default_rows)


def _bound(month: dt.date) -> dt.datetime:
    return dt.datetime.combine(month, dt.time(), tzinfo=dt.UTC)


def _rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def _partition_create(cursor, month: dt.date) -> None:
    """Create and attach `month`'s partition, moving its rows out of the DEFAULT partition."""
    name = partition_name(month)
    start, end = _bound(month), _bound(month_add(month, 1))
    # Literals, not parameters: DDL takes no bind parameters. Made from dates, nothing else.
    low, high = f"'{start.isoformat()}'", f"'{end.isoformat()}'"
    # LIKE copies the columns (not the identity: the parent's applies to rows routed through it).
    cursor.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
    # The partition constraint, stated beforehand, spares ATTACH a validating scan of the moved rows.
    cursor.execute(
        f'ALTER TABLE {name} ADD CONSTRAINT {name}_bounds CHECK ("timestamp" >= {low} AND "timestamp" < {high})'
    )
    # A plain table has no triggers yet: inserting the moved rows claims nothing; deleting them
    # from DEFAULT must not free their ids either (catalog_event_id_free reads this setting).
    cursor.execute("SELECT set_config('recsite.event_moving', 'on', true)")
    cursor.execute(
        f'WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE "timestamp" >= %s AND "timestamp" < %s'
        f" RETURNING {_COLUMNS}) INSERT INTO {name} ({_COLUMNS}) SELECT {_COLUMNS} FROM moved",
        [start, end],
    )
    moved = cursor.rowcount
    cursor.execute("SELECT set_config('recsite.event_moving', 'off', true)")
    cursor.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})")
    cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds")
    logger.info("event partition %s attached, %s rows moved in from %s", name, moved, DEFAULT_PARTITION)
