"""The database backend's client-side deadlines, against the real server and a silent socket."""

from __future__ import annotations

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
