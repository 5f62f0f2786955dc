"""A request's independent read-only calls side by side: each on a thread of a small per-process
pool, on that thread's own database connections, while the database runs their queries at once.

The home feed's recall routes are such calls: three indexed queries that each wait on the
database, one after another a request's largest cost. With `SERVING_FANOUT_THREADS` threads they
overlap; with 0 they run in turn, as they also do whenever a connection of the calling thread is
inside a transaction (a test's, or a request that wrote): another connection would not see its
uncommitted rows. Each call runs in a copy of the caller's context, so it reads from the replica
the request chose (`recsite.db_router`). Each pool thread keeps its connections between requests
(CONN_MAX_AGE); one that failed is dropped, and the next call on that thread reconnects.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, connections

K = TypeVar("K")
T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
# The process that started the pool: a forked child (a gunicorn worker) starts its own.
_pool_pid: int | None = None
# The pool threads' connections (Django's per-thread wrappers), for `pool_close`.
_opened: set = set()


def concurrent_allowed() -> bool:
    """Whether calls may leave the calling thread: threads are configured and none of the
    caller's connections is inside a transaction."""
    if settings.SERVING_FANOUT_THREADS <= 0:
        return False
    return not any(connection.in_atomic_block for connection in connections.all(initialized_only=True))


def fan_out(calls: Mapping[K, Callable[[], T]]) -> dict[K, T]:
    """Each call's result, by its key. The first call runs in the calling thread, the others on the
    pool when `concurrent_allowed()`, else in turn. Every call has finished when this returns or
    raises; the first failure (in key order) is raised."""
    keys = list(calls)
    if len(keys) < 2 or not concurrent_allowed():
        return {key: calls[key]() for key in keys}
    pool = _pool_get()
    futures: dict[K, Future[T]] = {
        key: pool.submit(contextvars.copy_context().run, _on_own_connections, calls[key]) for key in keys[1:]
    }
    results: dict[K, T] = {}
    failure: BaseException | None = None
    try:
        results[keys[0]] = calls[keys[0]]()
    except Exception as exc:  # noqa: BLE001 - raised below, once the pool's calls have finished
        failure = exc
    for key, future in futures.items():
        try:
            results[key] = future.result()
        except Exception as exc:  # noqa: BLE001 - the first failure wins, the rest are waited for
            failure = failure or exc
    if failure is not None:
        raise failure
    return {key: results[key] for key in keys}


def _on_own_connections(call: Callable[[], T]) -> T:
    """`call` on this pool thread's connections: one past its CONN_MAX_AGE is reopened first, one
    that failed is closed after (what Django's request signals do for a request's thread; not
    through `close_if_unusable_or_obsolete` up front, which with health checks on would cost each
    call a `SELECT 1`)."""
    connections_close_aged()
    try:
        return call()
    except DatabaseError:
        connections_close_unusable()
        raise
    finally:
        with _lock:
            _opened.update(connections.all(initialized_only=True))


def connections_close_aged() -> None:
    """Close this thread's connections past their CONN_MAX_AGE (the next use reopens them): what
    Django's request signals do for a request's thread, for a thread that serves no request."""
    for connection in connections.all(initialized_only=True):
        if connection.close_at is not None and connection.close_at <= time.monotonic():
            connection.close()


def connections_close_unusable() -> None:
    """Close this thread's connections that failed (after an error), so the next use reconnects."""
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


def _pool_get() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=settings.SERVING_FANOUT_THREADS, thread_name_prefix="recsite-fanout")
            _pool_pid = os.getpid()
        return _pool


def pool_close() -> None:
    """Stop the pool's threads and close their connections (a test database is dropped after
    this; a process that exits needs nothing of the kind)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
        opened = list(_opened)
        _opened.clear()
    if pool is not None:
        pool.shutdown(wait=True)
    for connection in opened:
        # Their threads are gone: closing from here is the only way left, and safe now.
        connection.inc_thread_sharing()
        connection.close()
