"""The slow-query log: queries over SLOW_QUERY_LOG_MS are logged as JSON lines, faster ones are not,
and nothing is hooked when the setting is unset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from recsite.slow_queries import SlowQueryLog, source_clear, source_from_request
from tests.processes import database_url_for

pytestmark = pytest.mark.django_db

# A process that runs one slow and one fast query, with settings from its environment.
TWO_QUERIES = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_sleep(0.15)")
    cursor.execute("SELECT 1")
"""


def slow_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "recsite.slow_queries"]


def test_a_query_over_the_threshold_is_logged_with_its_request_and_a_fast_one_is_not(caplog):
    # given the wrapper at 100 ms, inside a request
    source_from_request(environ={"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/search/"})
    try:
        with connection.execute_wrapper(SlowQueryLog(threshold_ms=100)), connection.cursor() as cursor:
            # when a 150 ms query and a fast one run
            cursor.execute("SELECT pg_sleep(0.15)")
            cursor.execute("SELECT 1")
    finally:
        source_clear()

    # then only the slow one is logged, with its duration, SQL and request
    [line] = slow_lines(caplog)
    assert line["ms"] >= 150
    assert line["sql"] == "SELECT pg_sleep(0.15)"
    assert line["source"] == "GET /api/v1/search/"
    assert line["error"] == ""


def test_a_query_cut_off_by_the_statement_timeout_is_logged_with_its_error(caplog):
    # given a 100 ms statement timeout and the wrapper at 50 ms
    with connection.execute_wrapper(SlowQueryLog(threshold_ms=50)), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 100")
        # when a query runs into the timeout
        with pytest.raises(Exception, match="statement timeout"):
            cursor.execute("SELECT pg_sleep(1)")

    # then it is logged as slow, naming the error
    [line] = slow_lines(caplog)
    assert line["error"] == "QueryCanceled"
    assert line["ms"] >= 100


@pytest.mark.parametrize("threshold", ["100", None])
def test_the_environment_turns_the_log_on_for_every_connection_and_it_is_off_when_unset(tmp_path, threshold):
    # given a process whose environment sets (or not) SLOW_QUERY_LOG_MS, logging to a file
    log = tmp_path / "slow.log"
    env = {**os.environ, "DATABASE_URL": database_url_for(connection.settings_dict), "SLOW_QUERY_LOG_FILE": str(log)}
    env.pop("SLOW_QUERY_LOG_MS", None)
    if threshold:
        env["SLOW_QUERY_LOG_MS"] = threshold
    # when it runs a 150 ms query and a fast one
    subprocess.run([sys.executable, "-c", TWO_QUERIES], cwd=settings.BASE_DIR, env=env, check=True, timeout=120)

    # then with the setting the slow query is in the file, one JSON line; without it nothing is
    lines = [json.loads(line) for line in Path(log).read_text().splitlines()] if log.exists() else []
    if threshold:
        assert [line["sql"] for line in lines] == ["SELECT pg_sleep(0.15)"]
    else:
        assert lines == []
