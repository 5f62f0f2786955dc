"""Serving reads on read replicas, everything else on the primary (`default`).

`DATABASE_REPLICA_URLS` adds the aliases `replica_0`, `replica_1`, … (recsite.settings). A request
may read from a replica when its view says so (`replica_reads = True` on the view class: the
storefront's read endpoints) and its method is safe (GET, HEAD); `ReplicaReadsMiddleware` marks
it in a context variable. Celery tasks, commands, the admin, every other request and every write
use the primary untouched. Within a request that may, reads still go to the primary

- once the request has written through the ORM (read your writes: `db_for_write` pins it), and
- while the primary is inside a transaction (`atomic`), whose reads must see its writes.

The first read of a request picks a replica (in turn, per process) and the request keeps it. A
replica is passed over for `DATABASE_REPLICA_RETRY_S` when it refuses a connection or when its
replay lag exceeds `DATABASE_REPLICA_MAX_LAG_S` (measured at most every `DATABASE_REPLICA_CHECK_S`
per process, on the connection the request opened anyway): a circuit breaker. With no usable
replica the primary serves, counted (recsite_fallbacks{stage="replica"}), never a 5xx. A replica
that dies in the middle of a request fails that request as the primary would (503); the next finds
it unusable.

Raw SQL on the serving path reads through `read_connection()`, the ORM through the router.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

from recsite.metrics import db_read_count, fallback_count, replica_lag_set, replica_skip_count

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD"})
# Why a replica was passed over: its connection failed now, its lag is over the bound now, or it
# is still resting after either.
UNREACHABLE = "unreachable"
LAGGING = "lagging"
RESTING = "resting"
# Caught up when it has replayed all it received from a streaming primary; otherwise the age of
# the last transaction it replayed (an idle primary sends none, hence the first case). NULL: no
# transaction replayed since the standby started, age unknown.
LAG_SQL = (
    "SELECT pg_is_in_recovery(),"
    " EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')"
    " AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(),"
    " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
)


@dataclass
class _Reads:
    """Where this request's reads may go: set by the middleware, read by the router."""

    eligible: bool = False
    pinned: bool = False
    alias: str | None = None
    counted: bool = False


@dataclass
class _Health:
    """A replica's breaker, per process: skipped until `resting_until` (time.monotonic)."""

    resting_until: float = 0.0
    checked_at: float = -math.inf


_reads: ContextVar[_Reads | None] = ContextVar("recsite_db_reads", default=None)
_health: dict[str, _Health] = {}
_turn = itertools.count()


@contextlib.contextmanager
def reads_scope() -> Iterator[None]:
    """One request's routing state (the middleware opens one per request)."""
    token = _reads.set(_Reads())
    try:
        yield
    finally:
        _reads.reset(token)


def replica_reads_allow() -> None:
    """Let the current scope's reads go to a replica (a safe request to a serving endpoint)."""
    state = _reads.get()
    if state is not None:
        state.eligible = True


def read_alias() -> str:
    """The alias a read of the current request should use (the primary outside serving requests)."""
    state = _reads.get()
    if state is None or not state.eligible:
        return DEFAULT_DB_ALIAS
    if state.pinned or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        alias = DEFAULT_DB_ALIAS
    else:
        if state.alias is None:
            state.alias = _replica_choose(settings.DATABASE_REPLICAS)
        alias = state.alias
    if not state.counted:
        state.counted = True
        db_read_count(alias=alias)
    return alias


def read_connection() -> BaseDatabaseWrapper:
    """The connection for a raw read query of the current request."""
    return connections[read_alias()]


def replica_health_forget() -> None:
    """Close every breaker (a replica's state is re-measured on its next use)."""
    _health.clear()


def _replica_choose(replicas: tuple[str, ...]) -> str:
    if not replicas:
        return DEFAULT_DB_ALIAS
    start = next(_turn) % len(replicas)
    reason = RESTING
    for alias in replicas[start:] + replicas[:start]:
        reason = _replica_unusable(alias)
        if reason is None:
            return alias
        replica_skip_count(replica=alias, reason=reason)
    fallback_count(stage="replica", reason=reason)
    return DEFAULT_DB_ALIAS


def _replica_unusable(alias: str) -> str | None:
    """Why `alias` cannot serve this request now, or None when it can (its breaker stays closed)."""
    health = _health.setdefault(alias, _Health())
    now = time.monotonic()
    if now < health.resting_until:
        return RESTING
    replica = connections[alias]
    try:
        # What Django does before a kept connection's first query of a request (no extra round
        # trip): drop it if it no longer answers, then (re)connect, bounded by connect_timeout.
        replica.close_if_health_check_failed()
        replica.ensure_connection()
        if now - health.checked_at >= settings.DATABASE_REPLICA_CHECK_S:
            lag_s = _lag_s(replica)
            health.checked_at = now
            replica_lag_set(replica=alias, seconds=lag_s)
            if lag_s > settings.DATABASE_REPLICA_MAX_LAG_S:
                logger.warning("replica %s lags %.1f s: reads go elsewhere", alias, lag_s)
                return _rest(health, now, LAGGING)
    except DatabaseError as exc:
        logger.warning("replica %s unusable (%s): reads go elsewhere", alias, exc)
        with contextlib.suppress(DatabaseError):
            replica.close()
        return _rest(health, now, UNREACHABLE)
    return None


def _rest(health: _Health, now: float, reason: str) -> str:
    health.resting_until = now + settings.DATABASE_REPLICA_RETRY_S
    # Measured again as soon as its rest is over.
    health.checked_at = -math.inf
    return reason


def _lag_s(replica: BaseDatabaseWrapper) -> float:
    with replica.cursor() as cursor:
        cursor.execute(LAG_SQL)
        in_recovery, caught_up, age_s = cursor.fetchone()
    if not in_recovery or caught_up:
        return 0.0
    return math.inf if age_s is None else max(0.0, age_s)


class ReplicaRouter:
    """Django's database router for the rules above (settings.DATABASE_ROUTERS)."""

    def db_for_read(self, model: type, **hints: object) -> str:
        return read_alias()

    def db_for_write(self, model: type, **hints: object) -> str:
        state = _reads.get()
        if state is not None:
            state.pinned = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: object, obj2: object, **hints: object) -> bool | None:
        ours = {DEFAULT_DB_ALIAS, *settings.DATABASE_REPLICAS}
        if obj1._state.db in ours and obj2._state.db in ours:  # type: ignore[attr-defined]
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: object) -> bool:
        # Replicas copy the primary's schema; nothing is migrated on them.
        return db == DEFAULT_DB_ALIAS


class ReplicaReadsMiddleware:
    """Opens each request's routing scope; a safe request to a view with `replica_reads` may read
    from a replica (decided once the view is known: what runs before it reads from the primary)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with reads_scope():
            return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict) -> None:
        view_class = getattr(view_func, "view_class", None)
        if request.method in SAFE_METHODS and getattr(view_class, "replica_reads", False):
            replica_reads_allow()
