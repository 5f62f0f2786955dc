"""Reason generation through a real Celery worker process, real Redis, the test database and a
real (local) OpenAI-compatible endpoint; then the API serves the generated text from the cache."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from celery import Celery
from django.db import connection

from recommendations.reasons.backends import _backend
from recommendations.reasons.models import Generation
from recommendations.reasons.tasks import generate_reasons
from recommendations.recall import popularity
from recsite.celery import app as celery_app
from tests.recommendations.reasons_fixtures import ChatServer, default_templates, make_shop
from tests.recommendations.test_celery_worker import (  # noqa: F401 (redis_url is a fixture)
    CELERY_BIN,
    PROJECT_ROOT,
    RESULT_TIMEOUT_S,
    database_url_for,
    redis_url,
)

TEXT = "Made for tea time with your white mug."


def test_generation_and_lora_run_on_the_gpu_queue():
    for task in ("recommendations.reasons.tasks.generate_reasons", "recommendations.reasons.tasks.lora_finetune"):
        assert celery_app.amqp.router.route({}, task, args=(), kwargs={})["queue"].name == "gpu"


def worker_start(*, queue: str, env: dict, log_file) -> subprocess.Popen:
    return subprocess.Popen(
        [str(CELERY_BIN), "-A", "recsite", "worker", "-Q", queue, "--pool=solo", "--concurrency=1"]
        + [f"--hostname=test-{uuid.uuid4().hex}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


def worker_stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_generates_reasons_that_the_api_then_serves(redis_url, tmp_path, storefront_client, settings):  # noqa: F811
    # given a committed shop and a worker whose backend is a local chat endpoint
    popularity._cache.clear()
    version = default_templates()["reason"].active_version_id
    shop = make_shop()
    queue = f"gpu-test-{uuid.uuid4().hex}"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    log = tmp_path / "worker.log"
    with ChatServer(lambda prompt: (200, TEXT)) as server:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for(connection.settings_dict),
            "REDIS_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "REASON_BACKEND": "openai",
            "REASON_OPENAI_URL": server.url,
            "REASON_OPENAI_MODEL": "tiny-chat",
        }
        with log.open("wb") as log_file:
            worker = worker_start(queue=queue, env=env, log_file=log_file)
            try:
                # when
                specs = [[version, shop[name].pk, "itemcf", shop["mug"].pk] for name in ("teapot", "saucer")]
                result = client.send_task(generate_reasons.name, kwargs={"specs": specs}, queue=queue)
                try:
                    report = result.get(timeout=RESULT_TIMEOUT_S)
                except Exception as error:
                    pytest.fail(f"the worker did not finish the task: {error!r}\n{log.read_text(errors='replace')}")
            finally:
                worker_stop(worker)
                with client.connection_for_write() as broker:
                    broker.default_channel.queue_delete(queue)
        # then the reasons are cached
        assert (report["generated"], report["accepted"]) == (2, 2)
        assert set(Generation.objects.values_list("text", flat=True)) == {TEXT}
        # and the API (same backend settings) serves them from the cache; the other items' misses
        # are generated eagerly here, so no task leaks into the shared development broker
        settings.REASON_BACKEND, settings.REASON_OPENAI_MODEL = "openai", "tiny-chat"
        settings.REASON_OPENAI_URL = server.url
        _backend.cache_clear()
        celery_app.conf.task_always_eager = True
        try:
            answer = storefront_client.get("/api/v1/recommendations/", {"customer": "alice"}).json()
        finally:
            celery_app.conf.task_always_eager = False
            _backend.cache_clear()
    reasons = {item["id"]: item["reason"] for item in answer["items"]}
    assert reasons["teapot"] == reasons["saucer"] == TEXT
    prompts = [r["body"]["messages"][0]["content"] for r in server.requests]
    assert sum("Product: Blue Teapot" in p for p in prompts) == 1  # the worker's, not the API's
