"""Fault drill: the LLM endpoint times out.

A real OpenAI-compatible endpoint on 127.0.0.1 that answers only long after REASON_OPENAI_TIMEOUT
(that is the failure under test). The API never waits for it; generation, run as the Celery task
(eagerly, in-process), times out after its retries and caches nothing; `GET /api/v1/recommendations/`
serves the grounded reasons and says so per item (`reason_source`); `recsite_fallbacks_total`
counts each reason that fell back. Once the endpoint answers again, the generated reasons are served.
"""

import pytest
from prometheus_client import REGISTRY

from recommendations.badcases.models import BadCase
from recommendations.reasons import stage
from recommendations.reasons.backend_choice import _backend
from recommendations.reasons.generation import ReasonSpec, reasons_generate
from recommendations.reasons.models import Generation
from recommendations.reasons.openai_api import OpenAIBackend
from recommendations.reasons.rerank import rerank_generate
from recsite.celery import app as celery_app
from tests.recommendations.reasons_fixtures import ChatServer, default_templates

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("llm_caches_cleared")]

RECOMMENDATIONS = "/api/v1/recommendations/"
TIMEOUT_S = 0.2
RETRIES = 1
# The endpoint answers, but long after the client gave up.
SLOW_S = 2.0
GENERATED = "Made for tea time with your white mug."


def fallbacks(stage_name: str, reason: str) -> float:
    return REGISTRY.get_sample_value("recsite_fallbacks_total", {"stage": stage_name, "reason": reason}) or 0.0


@pytest.fixture
def eager_tasks():
    """Enqueued tasks run in-process at once: generation runs exactly as a worker would run it."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def llm_endpoint(settings):
    """Point the openai backend at `server` (a fresh backend: no state from an earlier endpoint)."""

    def point(server: ChatServer) -> None:
        settings.REASON_BACKEND, settings.REASON_OPENAI_MODEL = "openai", "tiny-chat"
        settings.REASON_OPENAI_URL = server.url
        settings.REASON_OPENAI_TIMEOUT, settings.REASON_OPENAI_RETRIES = TIMEOUT_S, RETRIES
        # One prompt at a time, so what the circuit saves is exact.
        settings.REASON_OPENAI_CONCURRENCY = 1
        _backend.cache_clear()

    return point


def feed(client) -> dict[str, dict]:
    answer = client.get(RECOMMENDATIONS, {"customer": "alice", "k": 10})
    assert answer.status_code == 200
    return {item["id"]: item for item in answer.json()["items"]}


def test_a_timed_out_endpoint_serves_the_grounded_reasons_says_so_and_counts_them(
    shop, storefront_client, eager_tasks, llm_endpoint
):
    # given the reasons the grounded backend writes for alice's feed
    grounded = {pid: item["reason"] for pid, item in feed(storefront_client).items()}
    assert "Because you bought White Mug" in grounded.values()
    before = fallbacks("reasons", "llm_timeout")

    # when the feed is asked for with an endpoint that never answers in time
    with ChatServer(lambda prompt: (200, GENERATED), delay_s=SLOW_S) as server:
        llm_endpoint(server)
        first = feed(storefront_client)
        sent_by_first = len(server.requests)
        second = feed(storefront_client)

    # then every item gets its grounded reason, marked as such
    assert {pid: item["reason"] for pid, item in first.items()} == grounded
    assert {item["reason_source"] for item in first.values()} == {"grounded"}
    # generation ran (as the task) and timed out on each reason: each is counted, none is cached or
    # reported as a bad case (a later task may still generate it)
    assert fallbacks("reasons", "llm_timeout") - before == len(grounded)
    assert not Generation.objects.exists()
    assert not BadCase.objects.exists()
    # the dead endpoint cost one prompt's tries: the circuit failed the others at once
    assert sent_by_first == RETRIES + 1
    # and the next request serves the same at once, without asking the endpoint again
    assert second == first
    assert len(server.requests) == sent_by_first


def test_once_the_endpoint_answers_again_the_generated_reasons_are_served(
    shop, storefront_client, eager_tasks, llm_endpoint, monkeypatch
):
    # every request asks again for what is missing (in production: after PENDING_SECONDS)
    monkeypatch.setattr(stage, "PENDING_SECONDS", 0.0)
    with ChatServer(lambda prompt: (200, GENERATED), delay_s=SLOW_S) as slow:
        llm_endpoint(slow)
        timed_out = feed(storefront_client)
    assert {item["reason_source"] for item in timed_out.values()} == {"grounded"}

    with ChatServer(lambda prompt: (200, GENERATED)) as server:
        llm_endpoint(server)
        # this request is served grounded at once and its task generates the reasons...
        assert {item["reason_source"] for item in feed(storefront_client).values()} == {"grounded"}
        # ...which the next one serves from the cache
        recovered = feed(storefront_client)
    assert {(item["reason"], item["reason_source"]) for item in recovered.values()} == {(GENERATED, "generated")}
    assert set(recovered) == set(timed_out)


def test_the_backend_says_why_it_wrote_nothing_and_opens_its_circuit():
    with ChatServer(lambda prompt: (200, "late"), delay_s=SLOW_S) as server:
        backend = OpenAIBackend(url=server.url, model="m", timeout_s=TIMEOUT_S, retries=RETRIES, concurrency=1)
        out = backend.generate(prompts=["a", "b", "c"], max_new_tokens=5)
    assert [(o.text, o.failure) for o in out] == [("", "timeout")] * 3
    assert len(server.requests) == RETRIES + 1

    # port 9 (discard) refuses the connection on this machine
    refused = OpenAIBackend(url="http://127.0.0.1:9/v1", model="m", retries=0).generate(prompts=["a"], max_new_tokens=5)
    assert refused[0].failure == "unreachable"
    with ChatServer(lambda prompt: (400, "")) as server:
        client_error = OpenAIBackend(url=server.url, model="m").generate(prompts=["a"], max_new_tokens=5)
    assert client_error[0].failure == "error"
    with ChatServer(lambda prompt: (200, "fine")) as server:
        answered = OpenAIBackend(url=server.url, model="m").generate(prompts=["a"], max_new_tokens=5)
    assert (answered[0].text, answered[0].failure) == ("fine", "")


def test_generation_reports_the_failures(shop):
    version = default_templates()["reason"].active_version_id
    specs = [ReasonSpec(version, shop[name].pk, "itemcf", shop["mug"].pk) for name in ("teapot", "saucer")]
    with ChatServer(lambda prompt: (200, GENERATED), delay_s=SLOW_S) as server:
        backend = OpenAIBackend(url=server.url, model="m", timeout_s=TIMEOUT_S, retries=0, concurrency=1)
        report = reasons_generate(specs=specs, backend=backend)
    assert (report.requested, report.generated, report.failed) == (2, 0, 2)


def test_a_timed_out_rerank_keeps_the_rankers_order_and_caches_nothing(shop):
    version = default_templates()["rerank"].active_version_id
    before = fallbacks("rerank", "llm_timeout")
    with ChatServer(lambda prompt: (200, '["saucer", "teapot"]'), delay_s=SLOW_S) as server:
        backend = OpenAIBackend(url=server.url, model="m", timeout_s=TIMEOUT_S, retries=0)
        result = rerank_generate(version_id=version, candidate_ids=["teapot", "saucer"], backend=backend)
    assert (result.order, result.valid) == (["teapot", "saucer"], False)
    assert not Generation.objects.exists()
    assert fallbacks("rerank", "llm_timeout") - before == 1
