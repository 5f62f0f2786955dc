"""The embedding task through a real Celery worker process, real Redis and the test database."""

from __future__ import annotations

import signal
import time
import uuid

import factory
import pytest
from celery import Celery

from catalog.models import ProductEmbedding
from recommendations.embeddings.model import DEFAULT_MODEL_NAME
from recommendations.tasks import embed_products
from recsite.celery import app as celery_app
from tests.factories import ProductFactory
from tests.processes import celery_worker, database_url_for

RESULT_TIMEOUT_S = 120


def test_embed_products_is_routed_to_the_gpu_queue():
    route = celery_app.amqp.router.route({}, embed_products.name, args=(), kwargs={})

    assert route["queue"].name == "gpu"


def test_database_url_for_a_socket_directory_and_a_host():
    assert database_url_for({"NAME": "t", "USER": "postgres", "PASSWORD": "", "HOST": "/x/pg data", "PORT": ""}) == (
        "postgresql://postgres:@/t?host=%2Fx%2Fpg%20data"
    )
    assert database_url_for({"NAME": "t", "USER": "postgres", "HOST": "", "OPTIONS": {"host": "/pg"}}) == (
        "postgresql://postgres:@/t?host=%2Fpg"
    )
    assert database_url_for({"NAME": "t", "USER": "u", "PASSWORD": "p@ss", "HOST": "db", "PORT": 5433}) == (
        "postgresql://u:p%40ss@db:5433/t"
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_embeds_the_products(redis_url, tmp_path):
    # given: committed products, and a worker on a queue no other run uses, against the test database
    products = [ProductFactory(title=title) for title in ("red ceramic coffee mug", "garden hose 20m")]
    queue = f"gpu-test-{uuid.uuid4().hex}"
    log = tmp_path / "worker.log"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    try:
        with celery_worker(queue=queue, redis_url=redis_url, log=log):
            # when
            result = client.send_task(embed_products.name, kwargs={"batch_size": 8}, queue=queue)
            try:
                report = result.get(timeout=RESULT_TIMEOUT_S)
            except Exception as error:
                pytest.fail(f"the worker did not finish the task: {error!r}\n{log.read_text(errors='replace')}")
    finally:
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)

    # then
    assert {key: report[key] for key in ("embedded", "skipped", "model_name", "device")} == {
        "embedded": 2,
        "skipped": 0,
        "model_name": DEFAULT_MODEL_NAME,
        "device": "cpu",
    }
    assert sorted(ProductEmbedding.objects.values_list("product_id", "text_hash")) == sorted(
        (p.pk, p.text_hash) for p in products
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_leaves_nothing_half_written_and_the_task_runs_again(redis_url, tmp_path):
    # given 1,500 products (one chunk: it is written whole or not at all; enough that encoding them
    # takes seconds even without torch) and a worker whose broker hands an unacknowledged task back
    # after 5 s instead of an hour
    products = ProductFactory.create_batch(1500, title=factory.Sequence(lambda i: f"hand painted ceramic mug {i}"))
    queue = f"gpu-test-{uuid.uuid4().hex}"
    log = tmp_path / "worker.log"
    fast_redelivery = {"CELERY_VISIBILITY_TIMEOUT_S": "5"}
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    try:
        with celery_worker(queue=queue, redis_url=redis_url, log=log, extra_env=fast_redelivery) as first:
            result = client.send_task(embed_products.name, kwargs={"batch_size": 32}, queue=queue)
            _wait_for(lambda: "received" in log.read_text(errors="replace"), what="the task to be received", log=log)
            time.sleep(0.3)
            # when the worker is killed in the middle of the task
            first.send_signal(signal.SIGKILL)
            first.wait()
        # then the chunk was written whole or not at all (the kill may land after it, while the
        # index is rebuilt beside the serving one), and the task is not done
        written = ProductEmbedding.objects.count()
        assert written in (0, 1500)
        assert not result.ready()
        # and a new worker gets the task back and finishes it
        with celery_worker(queue=queue, redis_url=redis_url, log=log, extra_env=fast_redelivery):
            try:
                report = result.get(timeout=RESULT_TIMEOUT_S)
            except Exception as error:
                pytest.fail(f"the task was not run again: {error!r}\n{log.read_text(errors='replace')}")
    finally:
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)

    assert report["embedded"] == 1500 - written  # what the killed run stored is not embedded again
    assert sorted(ProductEmbedding.objects.values_list("product_id", "text_hash")) == sorted(
        (p.pk, p.text_hash) for p in products
    )


def _wait_for(condition, *, what: str, log, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
