"""The embedded server's settings: a change waits while other processes are connected."""

from __future__ import annotations

import logging

import psycopg
import pytest
from django.db import connection

from recsite import database

pytestmark = pytest.mark.django_db


def _connect() -> psycopg.Connection:
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    return psycopg.connect(**params, autocommit=True)


def test_other_clients_counts_every_connection_but_its_own():
    with _connect() as conn:
        before = database._other_clients(conn)
        with _connect():
            assert database._other_clients(conn) == before + 1


def test_a_changed_setting_is_stored_for_the_next_start_while_others_are_connected(monkeypatch, caplog):
    # given: the test's own connection is open, and a process asks for other shared buffers
    connection.ensure_connection()
    with _connect() as conn:
        current = conn.execute("SELECT current_setting('shared_buffers')").fetchone()[0]
        stored = conn.execute(
            "SELECT setting FROM pg_file_settings WHERE name = 'shared_buffers' "
            "AND applied IS NOT NULL ORDER BY seqno DESC LIMIT 1"
        ).fetchone()
        monkeypatch.setattr(database, "EMBEDDED_SHARED_BUFFERS", "48MB")
        try:
            # when
            with caplog.at_level(logging.WARNING, logger="recsite.database"):
                restart = database._configure(conn)

            # then: no restart now, the value waits in postgresql.auto.conf, and the log says so
            assert restart is False
            assert conn.execute("SELECT current_setting('shared_buffers')").fetchone()[0] == current
            pending = conn.execute(
                "SELECT setting FROM pg_file_settings WHERE name = 'shared_buffers' ORDER BY seqno DESC LIMIT 1"
            ).fetchone()[0]
            assert pending == "49152kB"
            assert "48MB is stored for its next start" in caplog.text
        finally:
            if stored:
                conn.execute(f"ALTER SYSTEM SET shared_buffers = '{stored[0]}'")
            else:
                conn.execute("ALTER SYSTEM RESET shared_buffers")
