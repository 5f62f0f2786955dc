"""Rows written after the response: kept while a request runs, then one write a function, by the
request's thread (inline) or a writer thread that merges what waits."""

from __future__ import annotations

import threading
import uuid

import pytest

from recommendations.models import ServedList
from recsite import after_response


class Recorder:
    """A write function that records each call's rows and thread."""

    def __init__(self, *, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.calls: list[tuple[list[tuple], str]] = []
        self.fail = fail
        self.gate = gate
        self.__qualname__ = "Recorder"

    def __call__(self, rows):
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append((list(rows), threading.current_thread().name))
        if self.fail:
            raise RuntimeError("the database is down")


@pytest.fixture
def request_rows():
    """A request in progress (the request_started receiver ran); ended by the test's flush."""
    after_response.collect()
    yield
    after_response._request.rows = None


def test_outside_a_request_a_row_is_written_at_once():
    write = Recorder()

    after_response.write_after_response(write, (1,))

    assert write.calls == [([(1,)], threading.current_thread().name)]


def test_inline_a_request_writes_its_rows_at_its_end_one_call_a_function(settings, request_rows):
    # given: inline writes, and a request that logs three rows for two functions
    settings.AFTER_RESPONSE_WRITER = after_response.INLINE
    served, exposures = Recorder(), Recorder()
    after_response.write_after_response(served, (1,))
    after_response.write_after_response(exposures, ("a",))
    after_response.write_after_response(served, (2,))
    assert served.calls == exposures.calls == []

    # when the request ends
    after_response.flush()

    # then: each function once, with its rows in order, in the request's thread
    me = threading.current_thread().name
    assert served.calls == [([(1,), (2,)], me)]
    assert exposures.calls == [([("a",)], me)]


def test_a_failed_write_is_logged_and_the_others_still_run(settings, request_rows, caplog):
    settings.AFTER_RESPONSE_WRITER = after_response.INLINE
    broken, fine = Recorder(fail=True), Recorder()
    after_response.write_after_response(broken, (1,))
    after_response.write_after_response(fine, (2,))

    after_response.flush()

    assert [rows for rows, _ in fine.calls] == [[(2,)]]
    assert "could not write 1 rows with Recorder" in caplog.text


def test_the_writer_merges_what_waits_into_one_call_a_function():
    # given: a writer busy with a first request's rows (its write waits on a gate)
    gate = threading.Event()
    first, write = Recorder(gate=gate), Recorder()
    writer = after_response.Writer(max_rows=100)
    assert writer.submit({first: [(0,)]})

    # when: three more requests hand their rows over meanwhile
    for n in (1, 2, 3):
        assert writer.submit({write: [(n,)]})
    gate.set()
    assert writer.stop(5)

    # then: the three came in one call, on the writer's thread
    assert write.calls == [([(1,), (2,), (3,)], "after-response-writer")]


def test_past_its_bound_the_writer_takes_nothing_and_the_request_writes_inline(settings, request_rows, monkeypatch):
    # given: the writer thread on, stuck on its bound of rows
    settings.AFTER_RESPONSE_WRITER = after_response.THREAD
    gate = threading.Event()
    stuck, write = Recorder(gate=gate), Recorder()
    writer = after_response.Writer(max_rows=2)
    assert writer.submit({stuck: [(0,), (1,)]})
    monkeypatch.setattr(after_response, "writer", lambda: writer)

    # when: a request ends with one more row
    after_response.write_after_response(write, (2,))
    after_response.flush()

    # then: its own thread wrote it
    assert write.calls == [([(2,)], threading.current_thread().name)]
    gate.set()
    assert writer.stop(5)


@pytest.mark.django_db(transaction=True)
def test_a_served_list_is_written_by_the_writer_thread_after_the_response(settings, storefront_client):
    # given: the writer thread on (committed data: the writer's connection sees it)
    from tests.factories import ProductFactory

    settings.AFTER_RESPONSE_WRITER = after_response.THREAD
    ProductFactory.create_batch(3)

    # when
    response = storefront_client.get("/api/v1/recommendations/", {"customer": "nobody", "k": 2})

    # then: the list is there once the writer has caught up
    assert response.status_code == 200
    assert after_response.writer().stop(10)
    served = ServedList.objects.get(recommendation_id=uuid.UUID(response.json()["recommendation_id"]))
    assert served.placement == "home_feed"
