"""Whether the catalog changed, for the answers a process keeps from it (searches, similar items).

Every statement that writes products, their embeddings, categories or item neighbours moves the
sequence `catalog_generation` on (catalog migration 0015, statement-level triggers). A process reads
it, with whether another transaction is writing those tables now (it holds a write lock on one of
them until it ends), at most every `settings.CATALOG_CHECK_SECONDS`, on the primary.

What a keeper of answers may rely on (`CatalogState.may_keep`): an answer read while the state was
(generation g, nobody writing) and kept under g is dropped at the first check that sees another
generation. A write that begins and commits between two checks moves the generation, so it is
seen at the next check; one that spans a check is seen writing there, and answers read meanwhile
are not kept. With read replicas, a committed write reaches the replica within its lag bound, so
answers are kept only once the generation has stood that long.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from recsite.metrics import fallback_count
from recsite.snapshot import CachedSnapshot

logger = logging.getLogger(__name__)

SEQUENCE = "catalog_generation"
TABLES = ("catalog_product", "catalog_productembedding", "catalog_category", "catalog_itemneighbor")
# The locks INSERT, UPDATE, DELETE, TRUNCATE and ALTER take, held until the transaction ends.
WRITE_LOCKS = ("RowExclusiveLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
STATE_SQL = (
    f"SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {SEQUENCE}),"
    " EXISTS (SELECT FROM pg_locks WHERE relation = ANY(%s::regclass[]) AND mode = ANY(%s)"
    " AND pid <> pg_backend_pid())"
)


@dataclass(frozen=True)
class CatalogState:
    generation: int
    writing: bool
    # When this process first saw this generation with nobody writing (monotonic; None: not yet).
    settled_at: float | None

    def may_keep(self, *, now: float | None = None) -> bool:
        """Whether an answer read now may be kept under this generation."""
        if self.writing or self.settled_at is None:
            return False
        return (time.monotonic() if now is None else now) - self.settled_at >= _settle_s()


def _settle_s() -> float:
    """How long a committed write may take to be read everywhere a request reads: no time on the
    primary; a replica's lag bound plus how often its lag is measured (recsite.db_router)."""
    if not settings.DATABASE_REPLICAS:
        return 0.0
    return settings.DATABASE_REPLICA_MAX_LAG_S + settings.DATABASE_REPLICA_CHECK_S


def _state_load() -> CatalogState:
    connection = connections[DEFAULT_DB_ALIAS]
    # In a caller's transaction, a savepoint: a failed read must not abort the caller's work.
    guard = transaction.atomic(using=DEFAULT_DB_ALIAS) if connection.in_atomic_block else contextlib.nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(STATE_SQL, [list(TABLES), list(WRITE_LOCKS)])
        generation, writing = cursor.fetchone()
    before = _state.peek()
    if writing:
        settled_at = None
    elif before is not None and before.generation == generation and before.settled_at is not None:
        settled_at = before.settled_at
    else:
        settled_at = time.monotonic()
    return CatalogState(generation=generation, writing=writing, settled_at=settled_at)


_state: CachedSnapshot[CatalogState] = CachedSnapshot(_state_load, max_age=lambda: settings.CATALOG_CHECK_SECONDS)


class CatalogStateResting(DatabaseError):
    """The state could not be read a moment ago and is not asked for again yet."""


class _Rest:
    """Until when a state that could not be read is not asked for again (monotonic)."""

    until = 0.0


def catalog_state() -> CatalogState:
    """The catalog's state as this process last checked it (at most CATALOG_CHECK_SECONDS ago).

    Raises DatabaseError when it cannot be read, and then for DATABASE_REPLICA_RETRY_S without
    asking again: a primary that cannot be reached would otherwise cost a request its connect
    timeout every check, while replicas could answer it."""
    if time.monotonic() < _Rest.until:
        raise CatalogStateResting("the catalog's state could not be read a moment ago; not asked again yet")
    try:
        return _state.get()
    except DatabaseError:
        _Rest.until = time.monotonic() + settings.DATABASE_REPLICA_RETRY_S
        raise


def catalog_state_or_none(*, stage: str) -> CatalogState | None:
    """`catalog_state()`, or None when it cannot be read: the caller's `stage` then goes on without
    what it keeps, counted as `recsite_fallbacks_total{stage, reason="catalog_state_unavailable"}`
    on every call and logged once a failed read (not again while it rests)."""
    try:
        return catalog_state()
    except DatabaseError as error:
        if not isinstance(error, CatalogStateResting):
            logger.warning(
                "the catalog's state could not be read; %s goes on without what it keeps", stage, exc_info=True
            )
        fallback_count(stage=stage, reason="catalog_state_unavailable")
        return None


def catalog_state_forget() -> None:
    """Check again at the next call (after this process wrote to the catalog; tests)."""
    _Rest.until = 0.0
    _state.forget()
