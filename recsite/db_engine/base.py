"""PostgreSQL backend with a client-side deadline on every answer from the server.

A server that accepts TCP but never answers (hung, or behind a half-dead proxy) is met by nothing
on the server side: `statement_timeout` only works on a server that runs, and TCP keepalives are
answered by its kernel. `connect_timeout` bounds new connections only; this bounds the health
check of a kept connection (the connect timeout; the check runs a query only when the server sent
something since its last answer: `is_usable`) and every statement (`DB_ANSWER_TIMEOUT_S`), so a
web thread gets an OperationalError (the API's 503) instead of hanging.

It also gives the serving pipeline a cursor whose statements are prepared on the server
(`prepared_cursor`): Django binds parameters on the client and never prepares, so PostgreSQL plans
every statement again, and planning the history query over the events' monthly partitions costs
more than running it.
"""

from __future__ import annotations

import select

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base as postgresql
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.db.backends.utils import CursorWrapper
from psycopg import errors

if getattr(settings, "METRICS_ENABLED", False):
    from django_prometheus.db.backends.postgresql.base import DatabaseWrapper as _Base
    from django_prometheus.db.common import ExportingCursorWrapper
else:
    _Base = postgresql.DatabaseWrapper
    ExportingCursorWrapper = None


class DeadlineConnection(psycopg.Connection):
    """A psycopg connection whose waits for the server end after `answer_timeout_s` (None: never)."""

    answer_timeout_s: float | None = None

    def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
        deadline = timeout if timeout is not None else self.answer_timeout_s
        try:
            return super().wait(gen, interval=interval, timeout=deadline)
        # psycopg's own timeout of a wait (an OperationalError); the query is still out there, so
        # the connection is in an unknown state: close it, Django opens a new one next time.
        except errors._WaitTimeout:
            self.pgconn.finish()
            raise psycopg.OperationalError(f"the database did not answer within {deadline:g} s") from None


class DatabaseOperations(PostgresOperations):
    def last_executed_query(self, cursor, sql, params):
        # A prepared cursor's own query holds $n placeholders: compose it as Django does when
        # every cursor binds on the server, so query logs and captures read the same either way.
        if isinstance(cursor, psycopg.ClientCursor):
            return super().last_executed_query(cursor, sql, params)
        try:
            return self.compose_sql(sql, params)
        except errors.DataError:
            return None


# Idle, or idle in a transaction that has not failed: a quiet socket means nothing went wrong.
QUIET_STATES = frozenset({psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS})


class DatabaseWrapper(_Base):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # The subclass only adds the deadline to `wait`; the connect itself is bounded by
        # connect_timeout.
        connection.__class__ = DeadlineConnection
        connection.answer_timeout_s = settings.DB_ANSWER_TIMEOUT_S
        # Only server-binding cursors (`prepared_cursor`'s) prepare; Django's own cursors bind on
        # the client, and psycopg never prepares those. 0: prepared at the first execution.
        connection.prepare_threshold = 0 if settings.DB_PREPARED_STATEMENTS else None
        return connection

    def prepared_cursor(self) -> CursorWrapper:
        """A cursor whose statements psycopg prepares on the server, once per connection (then
        PostgreSQL reuses their plans); a usual cursor when DB_PREPARED_STATEMENTS is off. For
        the few statements run on every request, whose parameters never change their plan."""
        if not settings.DB_PREPARED_STATEMENTS:
            return self.cursor()
        self.ensure_connection()
        cursor_class = postgresql.ServerBindingCursor
        if ExportingCursorWrapper is not None:
            cursor_class = ExportingCursorWrapper(cursor_class, self.alias, self.vendor)
        with self.wrap_database_errors:
            # Django's debug and execute wrappers, as on its own cursors.
            return self._prepare_cursor(cursor_class(self.connection))

    def is_usable(self) -> bool:
        """Whether a kept connection still serves (Django asks before a request's first query,
        CONN_HEALTH_CHECKS, and after an error). Between answers an idle server sends nothing:
        when its socket has nothing to read, the connection is kept without a round trip (a
        query per request cost 0.8-1.0 ms at p50 on a busy machine, docs/scale.md). A restarted
        server or a terminated backend make it readable (the closing notice, the end of the
        stream), and so does a notice of a live one; then `SELECT 1` decides. A server that hangs,
        or a link dropped without a word, leaves it quiet: the first statement's deadline fails it
        instead. A connection in a failed transaction is asked too (and found unusable, as Django
        expects)."""
        if self.connection is None or self.connection.closed:
            return False
        if self.connection.info.transaction_status in QUIET_STATES and not _has_input(self.connection):
            return True
        # The health check of a kept connection waits no longer than a new connection may take.
        kept = self.connection.answer_timeout_s
        self.connection.answer_timeout_s = self.settings_dict["OPTIONS"].get("connect_timeout")
        try:
            return super().is_usable()
        finally:
            self.connection.answer_timeout_s = kept


def _has_input(connection: psycopg.Connection) -> bool:
    """Whether the server sent something the client has not read (without waiting)."""
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
