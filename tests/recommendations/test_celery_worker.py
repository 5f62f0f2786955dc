"""The embedding task through a real Celery worker process, real Redis and the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from catalog.models import ProductEmbedding
from recommendations.embeddings.model import DEFAULT_MODEL_NAME
from recommendations.tasks import embed_products
from recsite.celery import app as celery_app
from tests.factories import ProductFactory
from tests.processes import database_url_for

PROJECT_ROOT = Path(settings.BASE_DIR)
CELERY_BIN = Path(sys.executable).with_name("celery")
# A Redis database of its own, so a development worker on the default one never takes the task.
TEST_REDIS_DB = int(os.environ.get("RECSITE_TEST_REDIS_DB", "14"))
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


@pytest.fixture
def redis_url() -> str:
    import redis

    url = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(f"no Redis at {url} for a real Celery worker: {error}")
    return url


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_embeds_the_products(redis_url, tmp_path):
    # given: committed products, and a worker on a queue no other run uses, against the test database
    products = [ProductFactory(title=title) for title in ("red ceramic coffee mug", "garden hose 20m")]
    queue = f"gpu-test-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "REDIS_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "EMBEDDING_DEVICE": "cpu",
    }
    log = tmp_path / "worker.log"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
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
            # when
            result = client.send_task(embed_products.name, kwargs={"batch_size": 8}, queue=queue)
            try:
                report = result.get(timeout=RESULT_TIMEOUT_S)
            except Exception as error:
                pytest.fail(f"the worker did not finish the task: {error!r}\n{log.read_text(errors='replace')}")
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
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
