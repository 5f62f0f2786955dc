"""The snapshot task through a real Celery worker process, real Redis and the test database."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from celery import Celery
from django.utils import timezone

from experiments.models import Experiment, Status
from experiments.tasks import build_experiment_snapshots
from tests.experiments.traffic import experiment_with_conversion_harm
from tests.processes import celery_worker

TIMEOUT_S = 120


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_guardrail_breach_stops_an_experiment_through_the_real_worker(redis_url, tmp_path):
    # given a running experiment (committed) whose treatment converts far less, stop on breach on,
    # and a worker on a queue no other run uses, against the test database
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=2)
    experiment = experiment_with_conversion_harm(start=start, stop=True)
    queue = f"experiments-test-{uuid.uuid4().hex}"
    log = tmp_path / "worker.log"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    try:
        with celery_worker(queue=queue, redis_url=redis_url, log=log):
            # when the beat's snapshot task runs on the worker (it keeps no result: watch the row and the log)
            client.send_task(build_experiment_snapshots.name, queue=queue)
            deadline = time.monotonic() + TIMEOUT_S
            while Experiment.objects.get(pk=experiment.pk).status == Status.RUNNING or "succeeded" not in log.read_text(
                errors="replace"
            ):
                if time.monotonic() > deadline:
                    pytest.fail(f"the worker did not pause the experiment\n{log.read_text(errors='replace')}")
                time.sleep(0.5)
    finally:
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)

    # then it is paused by the guardrail, with the breach recorded, and the snapshots written
    experiment.refresh_from_db()
    assert experiment.status == Status.PAUSED
    assert experiment.guardrail_breach["paused"] is True
    assert "conversion_rate" in {b["metric"] for b in experiment.guardrail_breach["breaches"]}
    assert experiment.results_as_of == timezone.now().astimezone(dt.UTC).date()
    assert experiment.snapshots.count() == 2 * 3
