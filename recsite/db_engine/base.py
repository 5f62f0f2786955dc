"""PostgreSQL backend with a client-side deadline on every answer from the server.

A server that accepts TCP but never answers (hung, or behind a half-dead proxy) is met by nothing
on the server side: `statement_timeout` only works on a server that runs, and TCP keepalives are
answered by its kernel. `connect_timeout` bounds new connections only; this bounds the health
check of a kept connection (the connect timeout) and every statement (`DB_ANSWER_TIMEOUT_S`), so a
web thread gets an OperationalError (the API's 503) instead of hanging.
"""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base as postgresql
from psycopg import errors

if getattr(settings, "METRICS_ENABLED", False):
    from django_prometheus.db.backends.postgresql.base import DatabaseWrapper as _Base
else:
    _Base = postgresql.DatabaseWrapper


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


class DatabaseWrapper(_Base):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # The subclass only adds the deadline to `wait`; the connect itself is bounded by
        # connect_timeout.
        connection.__class__ = DeadlineConnection
        connection.answer_timeout_s = settings.DB_ANSWER_TIMEOUT_S
        return connection

    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        # The health check of a kept connection waits no longer than a new connection may take.
        kept = self.connection.answer_timeout_s
        self.connection.answer_timeout_s = self.settings_dict["OPTIONS"].get("connect_timeout")
        try:
            return super().is_usable()
        finally:
            self.connection.answer_timeout_s = kept
