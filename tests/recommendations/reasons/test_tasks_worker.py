"""Reason generation through a real Celery worker process, real Redis, the test database and a
real (local) OpenAI-compatible endpoint; then the API serves the generated text from the cache."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from recommendations.reasons.backend_choice import _backend
from recommendations.reasons.models import Generation
from recommendations.reasons.tasks import generate_reasons
from recommendations.recall import popularity
from recsite.celery import app as celery_app
from tests.processes import celery_worker
from tests.recommendations.reasons_fixtures import ChatServer, default_templates, make_shop
from tests.recommendations.test_tasks_worker import RESULT_TIMEOUT_S

TEXT = "Made for tea time with your white mug."


def test_generation_and_lora_run_on_the_gpu_queue():
    for task in ("recommendations.reasons.tasks.generate_reasons", "recommendations.reasons.tasks.lora_finetune"):
        assert celery_app.amqp.router.route({}, task, args=(), kwargs={})["queue"].name == "gpu"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_generates_reasons_that_the_api_then_serves(redis_url, tmp_path, storefront_client, settings):
    # given a committed shop and a worker whose backend is a local chat endpoint
    popularity._cache.clear()
    version = default_templates()["reason"].active_version_id
    shop = make_shop()
    queue = f"gpu-test-{uuid.uuid4().hex}"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    log = tmp_path / "worker.log"
    with ChatServer(lambda prompt: (200, TEXT)) as server:
        env = {"REASON_BACKEND": "openai", "REASON_OPENAI_URL": server.url, "REASON_OPENAI_MODEL": "tiny-chat"}
        try:
            with celery_worker(queue=queue, redis_url=redis_url, log=log, extra_env=env):
                # when
                specs = [[version, shop[name].pk, "itemcf", shop["mug"].pk] for name in ("teapot", "saucer")]
                result = client.send_task(generate_reasons.name, kwargs={"specs": specs}, queue=queue)
                try:
                    report = result.get(timeout=RESULT_TIMEOUT_S)
                except Exception as error:
                    pytest.fail(f"the worker did not finish the task: {error!r}\n{log.read_text(errors='replace')}")
        finally:
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
