"""The offline gate's task through a real Celery worker process, real Redis and the test database."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from placements.public import default_strategy_save
from recommendations.evaluation.gate import DEFAULT, STRATEGY
from recommendations.models import EvaluationRun
from recommendations.tasks import evaluate_strategy
from recsite.celery import app as celery_app
from tests.processes import celery_worker
from tests.recommendations.ranking_shop import ranking_shop

RESULT_TIMEOUT_S = 120


def test_evaluate_strategy_is_routed_to_the_gpu_queue():
    route = celery_app.amqp.router.route({}, evaluate_strategy.name, args=(), kwargs={})

    assert route["queue"].name == "gpu"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_evaluates_a_strategy_against_the_serving_default(redis_url, tmp_path):
    # given a committed shop with popularity serving the home feed, and a worker on a queue of its own
    ranking_shop()
    default_strategy_save(placement="home_feed", config={"routes": {"popularity": 1.0}})
    queue = f"gpu-test-{uuid.uuid4().hex}"
    log = tmp_path / "worker.log"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    kwargs = {"config": {"routes": {"itemcf": 1.0}}, "name": "itemcf only", "placement": "home_feed"}
    try:
        with celery_worker(queue=queue, redis_url=redis_url, log=log):
            # when
            result = client.send_task(evaluate_strategy.name, kwargs=kwargs, queue=queue)
            try:
                run_id = result.get(timeout=RESULT_TIMEOUT_S)
            except Exception as error:
                pytest.fail(f"the worker did not finish the task: {error!r}\n{log.read_text(errors='replace')}")
            # and a strategy the gate refuses fails the task, storing nothing
            refused = client.send_task(
                evaluate_strategy.name, kwargs=kwargs | {"config": {"routes": {"ghost": 1}}}, queue=queue
            )
            with pytest.raises(Exception, match="unknown route 'ghost'"):
                refused.get(timeout=RESULT_TIMEOUT_S)
    finally:
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)

    # then the one run is stored with both strategies' numbers
    run = EvaluationRun.objects.get()
    assert run.pk == run_id
    assert run.protocol["gate"]["strategy"]["name"] == "itemcf only"
    assert run.protocol["gate"]["default"]["name"] == "home_feed@v1"
    assert run.strategies[STRATEGY]["users"] == run.strategies[DEFAULT]["users"] == 12
    assert run.strategies[STRATEGY]["ndcg@10"] != run.strategies[DEFAULT]["ndcg@10"]
