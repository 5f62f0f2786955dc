"""Rows a request writes after its response: served lists, experiment exposures, reason servings.

`write_after_response(write, row)` keeps `row` while a request runs (`request_started` opened
its buffer); when the request ends (`request_finished`), each write function gets its rows in one
call. Under `AFTER_RESPONSE_WRITER = "thread"` (the default) that call runs on one writer thread
per process: the request's thread returns at once, so the next request on its keep-alive
connection waits for no INSERT (under gunicorn's threads it did, 0.3-1 ms a request, docs/scale.md),
and under load the rows of several requests go in one INSERT a table. `"inline"` writes in the
request's thread at its end (the tests: pytest-django's transaction is that thread's connection).
Outside a request (shell, tasks, commands) a row is written at once.

Bounds: at most `AFTER_RESPONSE_MAX_ROWS` rows wait for the writer; past that a request writes
its own rows inline (the database is slower than the traffic: the storefront slows down rather
than the process growing). A failed write is logged and its rows dropped, as before: the response
has gone out. Rows still waiting when the process exits are written first (`atexit`), within
`AFTER_RESPONSE_EXIT_SECONDS`.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import DatabaseError, connection

from recsite.fanout import connections_close_aged, connections_close_unusable

logger = logging.getLogger(__name__)

Write = Callable[[Sequence[tuple]], None]

THREAD = "thread"
INLINE = "inline"
# The request signals' receivers are connected under these ids, by every app that writes so.
COLLECT_UID = "recsite.after_response.collect"
FLUSH_UID = "recsite.after_response.flush"

_request = threading.local()


def write_after_response(write: Write, row: tuple) -> None:
    """`write([row])` after the running request's response, or now outside a request."""
    buffer: dict[Write, list[tuple]] | None = getattr(_request, "rows", None)
    if buffer is None:
        write([row])
    else:
        buffer.setdefault(write, []).append(row)


def collect(**kwargs: object) -> None:
    """`request_started` receiver: this request's rows wait for its end."""
    _request.rows = {}


def flush(**kwargs: object) -> None:
    """`request_finished` receiver: hand this request's rows to the writer (or write them)."""
    rows: dict[Write, list[tuple]] | None = getattr(_request, "rows", None)
    _request.rows = None
    if not rows:
        return
    if settings.AFTER_RESPONSE_WRITER == THREAD and writer().submit(rows):
        return
    writes_run(rows)


def writes_run(rows: dict[Write, list[tuple]]) -> bool:
    """Each write function's rows in one call; a failure is logged (the others still run) and
    makes it False."""
    written = True
    for write, batch in rows.items():
        try:
            write(batch)
        except Exception:
            # The response has gone out; a lost record must not break the worker.
            logger.exception("could not write %d rows with %s", len(batch), write.__qualname__)
            written = False
    return written


class Writer:
    """One thread that runs handed-over writes, merging what waits into one call a function."""

    def __init__(self, *, max_rows: int) -> None:
        self.max_rows = max_rows
        # None asks the thread to stop.
        self._queue: queue.Queue[dict[Write, list[tuple]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0
        self._thread = threading.Thread(target=self._run, name="after-response-writer", daemon=True)
        self._thread.start()

    def submit(self, rows: dict[Write, list[tuple]]) -> bool:
        """Queue `rows`; False (nothing queued) when that would pass `max_rows` waiting."""
        count = sum(len(batch) for batch in rows.values())
        with self._lock:
            if self._waiting + count > self.max_rows:
                return False
            self._waiting += count
        self._queue.put(rows)
        return True

    def stop(self, timeout: float) -> bool:
        """Write what is queued, close this thread's connection and end it; False if `timeout`
        seconds passed first."""
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            handed = [self._queue.get()]
            while True:
                try:
                    handed.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            merged: dict[Write, list[tuple]] = {}
            for rows in handed:
                if rows is None:
                    stopping = True
                    continue
                for write, batch in rows.items():
                    merged.setdefault(write, []).extend(batch)
            # This thread's connection, as a request's thread keeps its own: reopened past its
            # CONN_MAX_AGE, closed after a failure (the database restarted) for the next batch.
            _close(connections_close_aged)
            if not writes_run(merged):
                _close(connections_close_unusable)
            with self._lock:
                self._waiting -= sum(len(batch) for batch in merged.values())
        _close(connection.close)


def _close(close: Callable[[], None]) -> None:
    """Close the writer's connections; a broken one may fail to, which must not end the thread."""
    try:
        close()
    except DatabaseError:
        logger.warning("the after-response writer's connection did not close cleanly", exc_info=True)


_writer: Writer | None = None
_writer_pid = 0
_writer_lock = threading.Lock()


def writer() -> Writer:
    """This process's writer, started on first use (a forked worker starts its own)."""
    global _writer, _writer_pid
    with _writer_lock:
        if _writer is None or _writer_pid != os.getpid() or not _writer.running:
            _writer = Writer(max_rows=settings.AFTER_RESPONSE_MAX_ROWS)
            _writer_pid = os.getpid()
            atexit.register(_stop_at_exit, _writer)
        return _writer


def _stop_at_exit(writer: Writer) -> None:
    if writer.running and not writer.stop(settings.AFTER_RESPONSE_EXIT_SECONDS):
        logger.warning("exiting with rows not yet written after their responses")
