"""`recsite.fanout`: a request's independent reads run side by side on the pool's own connections
when nothing uncommitted would be missed, in turn otherwise; failures and the request's replica
choice carry over."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from catalog.models import EventType, ItemNeighbor
from placements.public import Strategy
from recommendations.contracts import RecRequest
from recommendations.history import customer_history
from recommendations.recall import popularity
from recommendations.recall.stage import recall_stage
from recsite.db_router import read_alias, reads_scope, replica_reads_allow
from recsite.fanout import concurrent_allowed, fan_out
from tests.factories import CustomerFactory, EventFactory, ProductFactory


def _backend_pid() -> tuple[str, int]:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return threading.current_thread().name, cursor.fetchone()[0]


def _sleep_in_database() -> float:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.3)")
    return time.monotonic()


@pytest.mark.django_db(transaction=True)
def test_calls_run_side_by_side_on_their_own_connections(settings):
    settings.SERVING_FANOUT_THREADS = 2

    started = time.monotonic()
    fan_out({"a": _sleep_in_database, "b": _sleep_in_database, "c": _sleep_in_database})
    took = time.monotonic() - started
    ran = fan_out({"a": _backend_pid, "b": _backend_pid, "c": _backend_pid})

    # three 0.3 s waits in the database overlap: one after another they take 0.9 s
    assert took < 0.75
    assert ran["a"][0] == threading.current_thread().name
    assert {ran["b"][0], ran["c"][0]} <= {t.name for t in threading.enumerate() if t.name.startswith("recsite-fanout")}
    assert len({pid for _, pid in ran.values()}) == 3


@pytest.mark.django_db(transaction=True)
def test_no_threads_configured_runs_every_call_in_turn(settings):
    settings.SERVING_FANOUT_THREADS = 0

    ran = fan_out({"a": _backend_pid, "b": _backend_pid})

    assert not concurrent_allowed()
    assert {name for name, _ in ran.values()} == {threading.current_thread().name}
    assert len({pid for _, pid in ran.values()}) == 1


@pytest.mark.django_db
def test_inside_a_transaction_calls_stay_on_its_connection(settings):
    # A pool thread's connection would not see this test's uncommitted rows.
    settings.SERVING_FANOUT_THREADS = 2
    assert connection.in_atomic_block

    ran = fan_out({"a": _backend_pid, "b": _backend_pid})

    assert not concurrent_allowed()
    assert {name for name, _ in ran.values()} == {threading.current_thread().name}


@pytest.mark.django_db(transaction=True)
def test_a_failing_call_fails_the_fan_out_after_every_call_finished(settings):
    settings.SERVING_FANOUT_THREADS = 2
    finished = []

    def fails() -> None:
        raise OperationalError("the database went away")

    def slow() -> None:
        _sleep_in_database()
        finished.append("slow")

    with pytest.raises(OperationalError, match="went away"):
        fan_out({"slow": slow, "fails": fails})

    assert finished == ["slow"]
    # the pool's threads still serve the next request
    assert fan_out({"a": lambda: 1, "b": lambda: 2}) == {"a": 1, "b": 2}


@pytest.mark.django_db(transaction=True)
def test_calls_read_from_the_alias_the_request_chose(settings):
    settings.SERVING_FANOUT_THREADS = 2
    with reads_scope():
        replica_reads_allow()
        chosen = read_alias()
        seen = fan_out({"a": read_alias, "b": read_alias, "c": read_alias})

    assert set(seen.values()) == {chosen}


@pytest.mark.django_db(transaction=True)
def test_the_recall_stage_finds_the_same_candidates_side_by_side_as_in_turn(settings):
    popularity._cache.clear()
    products = [ProductFactory(external_id=f"p{i}") for i in range(6)]
    for rank, neighbor in enumerate(products[1:4], start=1):
        ItemNeighbor.objects.create(product=products[0], neighbor=neighbor, score=1.0 / rank, rank=rank)
    EventFactory(customer=CustomerFactory(external_id="ann"), product=products[0], type=EventType.PURCHASE)
    request = RecRequest(customer_id="ann", k=3)
    history = customer_history(customer_id="ann")

    def fused(threads: int) -> list[tuple[int, float]]:
        settings.SERVING_FANOUT_THREADS = threads
        items = recall_stage(request=request, strategy=Strategy(), history=history, excluded_pks=set())
        return [(item.product_pk, item.score) for item in items]

    side_by_side, in_turn = fused(2), fused(0)

    assert [pk for pk, _ in side_by_side][:3] == [p.pk for p in products[1:4]]
    assert side_by_side == in_turn
    popularity._cache.clear()
