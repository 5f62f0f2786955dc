"""The database backend's client-side deadlines, against the real server and a silent socket."""

from __future__ import annotations

import select
import socket
import time

import psycopg
import pytest
from django.db import OperationalError, connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper

from recsite.db_engine.base import DatabaseWrapper, DeadlineConnection

pytestmark = pytest.mark.django_db


def test_a_statement_without_an_answer_in_time_fails_fast_and_closes_its_connection():
    # given: a connection that waits 0.5 s at most
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    conn = DeadlineConnection.connect(**params, autocommit=True)
    conn.answer_timeout_s = 0.5

    # when: the server takes 3 s to answer
    started = time.perf_counter()
    with pytest.raises(psycopg.OperationalError, match="did not answer within 0.5 s"):
        conn.execute("SELECT pg_sleep(3)")

    # then
    assert time.perf_counter() - started < 1.5
    assert conn.closed


def test_the_project_uses_the_backend_with_deadlines():
    assert isinstance(connections["default"], DatabaseWrapper)
    assert isinstance(connections["default"], PostgresWrapper)
    connection.ensure_connection()
    assert isinstance(connection.connection, DeadlineConnection)


def test_a_server_that_accepts_but_never_answers_fails_within_the_connect_timeout():
    # given: a socket that accepts connections and says nothing
    with socket.create_server(("127.0.0.1", 0)) as silent:
        settings = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": silent.getsockname()[1]}
        settings["OPTIONS"] = {**settings["OPTIONS"], "connect_timeout": 1}
        wrapper = DatabaseWrapper(settings, alias="silent")

        # when
        started = time.perf_counter()
        with pytest.raises(OperationalError):
            wrapper.ensure_connection()

    # then
    assert time.perf_counter() - started < 2.5


def _prepared_statements(sql_start: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [sql_start + "%"])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_prepared_cursor_plans_its_statement_once_per_connection_and_is_logged_as_others():
    from django.test.utils import CaptureQueriesContext

    sql = "SELECT %s::int + 41 AS prepared_probe"
    assert _prepared_statements("SELECT $1::int + 41") == 0

    with CaptureQueriesContext(connection) as queries:
        for value in (1, 2, 3):
            with connection.prepared_cursor() as cursor:
                cursor.execute(sql, [value])
                assert cursor.fetchone() == (value + 41,)

    # one statement on the server, used three times; Django saw every execution
    assert _prepared_statements("SELECT $1::int + 41") == 1
    logged = [q["sql"] for q in queries.captured_queries if "prepared_probe" in q["sql"]]
    assert logged == [f"SELECT {value}::int + 41 AS prepared_probe" for value in (1, 2, 3)]


@pytest.mark.django_db
def test_django_cursors_and_a_disabled_setting_prepare_nothing(settings):
    settings.DB_PREPARED_STATEMENTS = False
    with connection.prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int + 42 AS unprepared_probe", [1])
        assert cursor.fetchone() == (43,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::int + 43 AS client_probe", [1])

    assert _prepared_statements("SELECT $1::int + 4") == 0
    assert _prepared_statements("SELECT 1::int + 4") == 0


@pytest.fixture
def kept_connection():
    """A second connection to the test database, as a web thread keeps one between requests."""
    kept = connections.create_connection("default")
    kept.ensure_connection()
    yield kept
    kept.close()


@pytest.fixture
def health_queries(monkeypatch):
    """How many health checks went to the server (Django's own `is_usable`: `SELECT 1`)."""
    calls = []
    real = PostgresWrapper.is_usable

    def counted(self):
        calls.append(self.alias)
        return real(self)

    monkeypatch.setattr(PostgresWrapper, "is_usable", counted)
    return calls


def wait_for_input(kept, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not select.select([kept.connection.fileno()], [], [], 0.05)[0] and time.monotonic() < deadline:
        pass


def test_a_quiet_kept_connection_is_usable_without_a_round_trip(kept_connection, health_queries):
    assert kept_connection.is_usable() is True
    assert health_queries == []


def test_a_terminated_backend_is_found_unusable_and_replaced(kept_connection, health_queries):
    # given: the server ends the kept connection's backend (as a restart does)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [kept_connection.connection.info.backend_pid])
    wait_for_input(kept_connection)

    # then: the health check finds it, and Django's check before a request's first query replaces it
    assert kept_connection.is_usable() is False
    kept_connection.health_check_done = False
    with kept_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_notice_from_a_live_server_is_checked_with_a_query(kept_connection, health_queries):
    # given: the kept connection listens, and a notification arrives while it is idle
    with kept_connection.cursor() as cursor:
        cursor.execute("LISTEN recsite_health")
    sender = connections.create_connection("default")
    try:
        with sender.cursor() as cursor:
            cursor.execute("NOTIFY recsite_health")
    finally:
        sender.close()
    wait_for_input(kept_connection)

    # then: one query decides, and the connection stays
    assert kept_connection.is_usable() is True
    assert health_queries == ["default"]


def test_a_connection_in_a_failed_transaction_is_not_usable(kept_connection, health_queries):
    # given: a statement failed inside a transaction (as a test's timeout does)
    kept_connection.connection.execute("BEGIN")
    with pytest.raises(psycopg.errors.DivisionByZero):
        kept_connection.connection.execute("SELECT 1 / 0")

    # then: asked (not taken on the quiet socket's word), and found unusable, as Django expects
    assert kept_connection.is_usable() is False
    assert health_queries == ["default"]
    kept_connection.connection.execute("ROLLBACK")
