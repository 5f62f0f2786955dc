"""The local model reads a turn on a real Celery worker (the shipped SmolLM2 model, CPU) while the
request waits; whatever it writes is validated before use."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from recommendations.conversation.changes import ConversationState
from recommendations.conversation.model import ModelParseFailed, model_parse
from recommendations.conversation.rules import Vocabulary
from tests.processes import celery_worker, project_app_broker
from tests.recommendations.test_tasks_worker import RESULT_TIMEOUT_S

VOCABULARY = Vocabulary(brands={"acme": "Acme"}, values={"blue": (("color", "blue"),)}, keys=frozenset({"color"}))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_local_model_answers_a_turn_on_a_worker_and_its_output_is_validated(settings, redis_url, tmp_path):
    # given a worker holding the shipped local model, on a queue of its own, and a request process
    # configured for that backend
    queue = f"conversation-test-{uuid.uuid4().hex}"
    broker = redis_url
    settings.REASON_BACKEND = "transformers"
    settings.CONVERSATION_MODEL_QUEUE = queue
    settings.CONVERSATION_MODEL_TIMEOUT_S = RESULT_TIMEOUT_S
    log = tmp_path / "worker.log"
    env = {"REASON_BACKEND": "transformers", "REASON_MODEL": "", "REASON_DEVICE": "cpu"}
    try:
        with project_app_broker(broker), celery_worker(queue=queue, redis_url=broker, log=log, extra_env=env):
            # when a turn is read
            try:
                changes = model_parse(text="something blue by Acme", vocabulary=VOCABULARY, state=ConversationState())
                outcome = f"validated: {changes}"
            except ModelParseFailed as failed:
                outcome = str(failed)
    finally:
        with Celery("recsite-test-client", broker=broker).connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
    # then the worker answered in time: its output validated, or was refused for what it says (its
    # shape, the catalog, or words the shopper did not write) — not for a missing answer or an
    # unreachable broker
    refused_for_its_content = outcome.startswith(("the model's", "no product has", "price")) or "the shopper" in outcome
    assert outcome.startswith("validated") or refused_for_its_content, (
        f"{outcome}\n{log.read_text(errors='replace')[-3000:]}"
    )
