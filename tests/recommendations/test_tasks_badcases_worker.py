"""The bad-case detector task through a real Celery worker, real Redis and the test database."""

from __future__ import annotations

import time
import uuid

import pytest
from celery import Celery

from recommendations.badcases.models import BadCase, BadCaseSource
from recommendations.models import ServedList
from recommendations.tasks import detect_bad_cases
from tests.factories import ProductFactory
from tests.processes import celery_worker
from tests.recommendations.test_badcases import served

WAIT_S = 90


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_files_bad_cases_once(redis_url, tmp_path):
    # given a committed served list with an item that was out of stock when served
    ProductFactory(external_id="gone", in_stock=False)
    rec_id = served(ids=["gone"], customer="zoe")
    queue = f"default-test-{uuid.uuid4().hex}"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    log = tmp_path / "worker.log"
    try:
        with celery_worker(queue=queue, redis_url=redis_url, log=log):
            # when the task is delivered twice
            for _ in range(2):
                client.send_task(detect_bad_cases.name, queue=queue)
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and not ServedList.objects.filter(pk=rec_id, detected=True).exists():
                time.sleep(0.5)
            time.sleep(1.0)  # let the second delivery run too
    finally:
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)
    # then one case is filed, with the list's snapshot
    cases = list(BadCase.objects.filter(recommendation_id=rec_id))
    assert len(cases) == 1, log.read_text(errors="replace")[-3000:]
    assert (cases[0].source, cases[0].product_external_id) == (BadCaseSource.OUT_OF_STOCK_SERVED, "gone")
    assert cases[0].snapshot["items"][0]["id"] == "gone"
