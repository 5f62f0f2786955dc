"""A real Celery worker serves its own /metrics: task durations by final state, and failures."""

from __future__ import annotations

import time
import urllib.request
import uuid

import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import celery_worker
from tests.recsite.test_gunicorn_metrics import free_port

POPULARITY = "recommendations.tasks.build_popularity"
TRAIN = "recommendations.tasks.train_ranker"


def worker_samples(port: int) -> dict[tuple, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_the_worker_exports_task_durations_and_failures(pool, redis_url, tmp_path):
    # given a worker with its metrics port, on a queue of its own; the prefork pool runs tasks in
    # two child processes that write their samples to files, as in deploy/docker-compose.yml
    queue = f"metrics-test-{uuid.uuid4().hex}"
    port = free_port()
    env: dict[str, str | None] = {
        "CELERY_METRICS_PORT": str(port),
        "CELERY_METRICS_ADDR": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus") if pool == "prefork" else None,
    }
    log = tmp_path / "worker.log"
    client = Celery("recsite-metrics-client", broker=redis_url, backend=redis_url)
    success = (("state", "success"), ("task", POPULARITY))
    try:
        with celery_worker(
            queue=queue,
            redis_url=redis_url,
            log=log,
            extra_env=env,
            pool=pool,
            concurrency=1 if pool == "solo" else 2,
        ):
            # when three tasks succeed and one fails (an unknown feature set is a ValueError, not retried)
            for _ in range(3):
                client.send_task(POPULARITY, queue=queue)
            client.send_task(TRAIN, kwargs={"feature_set": "no-such-set"}, queue=queue)
            samples: dict = {}
            deadline = time.time() + 90
            while time.time() < deadline:
                try:
                    samples = worker_samples(port)
                except OSError:
                    samples = {}
                done = samples.get(("recsite_celery_task_duration_seconds_count", success), 0)
                failed = samples.get(("recsite_celery_task_failures_total", (("task", TRAIN),)), 0)
                if done == 3 and failed:
                    break
                time.sleep(0.5)
    finally:
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)

    # then
    context = log.read_text(errors="replace")[-3000:]
    assert samples.get(("recsite_celery_task_duration_seconds_count", success)) == 3, context
    assert samples.get(("recsite_celery_task_failures_total", (("task", TRAIN),))) == 1, context
    failure = (("state", "failure"), ("task", TRAIN))
    assert samples.get(("recsite_celery_task_duration_seconds_count", failure)) == 1, context
