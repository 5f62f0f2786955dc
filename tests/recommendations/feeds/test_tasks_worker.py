"""The feeds' task through a real Celery worker process, real Redis and the test database."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from celery import Celery

from catalog.models import EventType, ItemNeighbor
from recommendations.contracts import RecRequest
from recommendations.feeds.tasks import precompute_feeds
from recommendations.pipeline import recommend
from tests.factories import CustomerFactory, EventFactory, ProductFactory
from tests.processes import celery_worker

RESULT_TIMEOUT_S = 120


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_computes_a_feed_the_next_request_serves(redis_url, tmp_path):
    # given: alice bought a mug (item-CF: mug → teapot), a worker on a queue of its own
    mug, teapot, saucer = (ProductFactory(external_id=name) for name in ("mug", "teapot", "saucer"))
    EventFactory(
        customer=CustomerFactory(external_id="alice"),
        product=mug,
        type=EventType.PURCHASE,
        timestamp=dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
    )
    ItemNeighbor.objects.create(product=mug, neighbor=teapot, score=0.6, rank=1)
    queue = f"feeds-test-{uuid.uuid4().hex}"
    log = tmp_path / "worker.log"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    try:
        with celery_worker(queue=queue, redis_url=redis_url, log=log):
            # when: the worker computes her feed
            client.send_task(precompute_feeds.name, kwargs={"customer_ids": ["alice"]}, queue=queue)
            # The task keeps no result (one per events batch would pile up): its log line tells.
            deadline = time.monotonic() + RESULT_TIMEOUT_S
            while "succeeded" not in log.read_text(errors="replace") and time.monotonic() < deadline:
                time.sleep(0.2)
            done = log.read_text(errors="replace")
    finally:
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)
    # and item-CF's table changes behind the version's back
    ItemNeighbor.objects.filter(product=mug).update(neighbor=saucer)

    # then: her request serves what the worker computed, from the shared cache
    assert f"{precompute_feeds.name}[" in done and "succeeded" in done, done
    assert recommend(request=RecRequest(customer_id="alice")).items[0].product_id == "teapot"
