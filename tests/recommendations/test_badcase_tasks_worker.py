"""The bad-case detector task through a real Celery worker, real Redis and the test database."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest
from celery import Celery
from django.db import connection

from experiments.models import BadCase, BadCaseSource
from recommendations.models import ServedList
from recommendations.tasks import detect_bad_cases
from tests.factories import ProductFactory
from tests.recommendations.test_badcases import served
from tests.recommendations.test_celery_worker import CELERY_BIN, PROJECT_ROOT, database_url_for, redis_url  # noqa: F401

WAIT_S = 90


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_files_bad_cases_once(redis_url, tmp_path):  # noqa: F811
    # given a committed served list with an item that was out of stock when served
    ProductFactory(external_id="gone", in_stock=False)
    rec_id = served(ids=["gone"], customer="zoe")
    queue = f"default-test-{uuid.uuid4().hex}"
    env = {**os.environ, "DATABASE_URL": database_url_for(connection.settings_dict), "REDIS_URL": redis_url}
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    log = tmp_path / "worker.log"
    with log.open("wb") as log_file:
        worker = subprocess.Popen(
            [str(CELERY_BIN), "-A", "recsite", "worker", "-Q", queue, "--pool=solo", "--concurrency=1"]
            + [f"--hostname=test-{uuid.uuid4().hex}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            # when the task is delivered twice
            for _ in range(2):
                client.send_task(detect_bad_cases.name, queue=queue)
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and not ServedList.objects.filter(pk=rec_id, detected=True).exists():
                time.sleep(0.5)
            time.sleep(1.0)  # let the second delivery run too
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            with client.connection_for_write() as broker:
                broker.default_channel.queue_delete(queue)
    # then one case is filed, with the list's snapshot
    cases = list(BadCase.objects.filter(recommendation_id=rec_id))
    assert len(cases) == 1, log.read_text(errors="replace")[-3000:]
    assert (cases[0].source, cases[0].product_external_id) == (BadCaseSource.OUT_OF_STOCK_SERVED, "gone")
    assert cases[0].snapshot["items"][0]["id"] == "gone"
