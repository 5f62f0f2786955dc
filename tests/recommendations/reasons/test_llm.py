"""Language-model reasons: the OpenAI-compatible backend against a real local HTTP endpoint, the
cache, asynchronous generation (the API never waits), guardrail fallbacks and bad cases, and
pre-generation for popular items."""

import contextlib
import io
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import override_settings

from placements.public import Strategy
from recommendations.badcases.models import BadCase, BadCaseSource
from recommendations.contracts import RecRequest
from recommendations.pipeline import recommend
from recommendations.reasons import cache
from recommendations.reasons.generation import ReasonSpec, popular_reason_specs, reasons_generate
from recommendations.reasons.models import Generation
from recommendations.reasons.openai_api import OpenAIBackend
from recsite.celery import app as celery_app
from tests.recommendations.reasons_fixtures import ChatServer, default_templates

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("llm_caches_cleared")]
ITEMCF = Strategy(routes={"itemcf": 1.0})


def backend_for(server: ChatServer, **kwargs) -> OpenAIBackend:
    return OpenAIBackend(url=server.url, model="tiny-chat", **kwargs)


def test_openai_backend_posts_chat_completions_with_the_key():
    with ChatServer(lambda prompt: (200, f"echo: {prompt}")) as server:
        out = backend_for(server, api_key="sekrit").generate(prompts=["a", "b"], max_new_tokens=5)
    assert [o.text for o in out] == ["echo: a", "echo: b"]
    assert {r["path"] for r in server.requests} == {"/v1/chat/completions"}
    assert {r["auth"] for r in server.requests} == {"Bearer sekrit"}
    assert {r["body"]["max_tokens"] for r in server.requests} == {5}


def test_openai_backend_retries_transient_errors_then_gives_up_with_empty_text():
    calls = []

    def flaky(prompt):
        calls.append(prompt)
        return (503, "") if len(calls) < 2 else (200, "fine")

    with ChatServer(flaky) as server:
        assert backend_for(server, retries=2).generate(prompts=["p"], max_new_tokens=5)[0].text == "fine"
    with ChatServer(lambda prompt: (503, "")) as server:
        assert backend_for(server, retries=1).generate(prompts=["p"], max_new_tokens=5)[0].text == ""
        assert len(server.requests) == 2
    with ChatServer(lambda prompt: (400, "")) as server:
        assert backend_for(server, retries=3).generate(prompts=["p"], max_new_tokens=5)[0].text == ""
        assert len(server.requests) == 1  # a client error is not retried


def test_openai_backend_times_out_and_limits_concurrency():
    with ChatServer(lambda prompt: (200, "late"), delay_s=1.0) as server:
        out = backend_for(server, timeout_s=0.2, retries=0).generate(prompts=["p"], max_new_tokens=5)
    assert out[0].text == ""
    with ChatServer(lambda prompt: (200, "ok"), delay_s=0.1) as server:
        backend_for(server, concurrency=2).generate(prompts=list("abcdef"), max_new_tokens=5)
    assert server.max_in_flight == 2


def test_generation_caches_accepted_output_and_falls_back_on_a_guardrail(shop):
    version = default_templates()["reason"].active_version_id
    answers = {"Blue Teapot": "A blue teapot to pour tea into your white mug.", "Green Saucer": "Only £1.00 today!"}

    def answer(prompt):
        return 200, next(text for title, text in answers.items() if f"Product: {title}" in prompt)

    specs = [
        ReasonSpec(version, shop["teapot"].pk, "itemcf", shop["mug"].pk),
        ReasonSpec(version, shop["saucer"].pk, "itemcf", shop["mug"].pk),
    ]
    with ChatServer(answer) as server:
        report = reasons_generate(specs=specs, backend=backend_for(server))
        again = reasons_generate(specs=specs, backend=backend_for(server))
    assert (report.generated, report.accepted, report.rejected) == (2, 1, 1)
    assert (again.generated, again.cached_already, len(server.requests)) == (0, 2, 2)  # idempotent
    rows = {g.product.external_id: g for g in Generation.objects.select_related("product")}
    assert (rows["teapot"].accepted, rows["teapot"].text) == (True, answers["Blue Teapot"])
    assert (rows["saucer"].accepted, rows["saucer"].guardrail) == (False, "wrong_price")
    assert rows["saucer"].text == "Because you bought White Mug"
    case = BadCase.objects.get()
    assert (case.source, case.reason_code, case.product_external_id) == (
        BadCaseSource.REASON_GUARDRAIL,
        "wrong_price",
        "saucer",
    )
    assert case.snapshot["served_instead"] == "Because you bought White Mug"


@contextlib.contextmanager
def generating_eagerly(answer: str) -> Iterator[ChatServer]:
    """A local endpoint that answers `answer`, configured as the reasons' backend, with the
    generation tasks the requests enqueue run at once."""
    with (
        ChatServer(lambda prompt: (200, answer)) as server,
        override_settings(REASON_BACKEND="openai", REASON_OPENAI_URL=server.url, REASON_OPENAI_MODEL="tiny-chat"),
    ):
        celery_app.conf.task_always_eager = True
        try:
            yield server
        finally:
            celery_app.conf.task_always_eager = False


def test_the_api_serves_grounded_reasons_at_once_and_the_generated_ones_once_cached(shop):
    with generating_eagerly("Made for tea time with your white mug.") as server:
        # when the first request finds nothing cached
        first = recommend(request=RecRequest(customer_id="alice", k=10), strategy=ITEMCF)
        # then it gets the grounded reasons, and generation ran as a task (eagerly here)
        assert {i.reason for i in first.items} == {"Because you bought White Mug"}
        assert Generation.objects.filter(backend="openai", model="tiny-chat", accepted=True).count() == 2
        # and the next request serves the generated text from the cache, no model call
        requests_before = len(server.requests)
        second = recommend(request=RecRequest(customer_id="alice", k=10), strategy=ITEMCF)
        assert {i.reason for i in second.items} == {"Made for tea time with your white mug."}
        assert len(server.requests) == requests_before
    assert cache.cache_hit_rate() is not None


def test_a_renamed_seed_is_not_explained_by_the_generated_text_and_its_rows_are_pruned(shop):
    from catalog.public import Product
    from recommendations.reasons.tasks import prune_stale_reasons

    with generating_eagerly("Made for tea time with your white mug."):
        recommend(request=RecRequest(customer_id="alice", k=10), strategy=ITEMCF)
        served = recommend(request=RecRequest(customer_id="alice", k=10), strategy=ITEMCF)
        assert {i.reason for i in served.items} == {"Made for tea time with your white mug."}
        # nothing is stale yet
        assert prune_stale_reasons.apply().get() == 0
        # when the mug the reasons name is renamed
        Product.objects.filter(pk=shop["mug"].pk).update(title="BLACK MUG")
        # then the next request explains its items from the new title, not the generated text
        renamed = recommend(request=RecRequest(customer_id="alice", k=10), strategy=ITEMCF)
    assert {i.reason for i in renamed.items} == {"Because you bought Black Mug"}
    # and the rows written from the old title are pruned, the ones of the new title kept
    assert Generation.objects.count() == 4
    assert prune_stale_reasons.apply().get() == 2
    assert Generation.objects.count() == 2
    assert not any("WHITE MUG" in g.prompt.upper() for g in Generation.objects.all())
    # daily, by the beat; and by hand, which finds nothing left to delete
    assert django_settings.CELERY_BEAT_SCHEDULE["prune-stale-reasons"]["task"] == prune_stale_reasons.name
    out = io.StringIO()
    call_command("prune_stale_reasons", stdout=out)
    assert out.getvalue().strip() == "0 stale reasons deleted"


def test_a_broker_that_is_down_does_not_fail_the_request(shop, monkeypatch):
    from recommendations.reasons.tasks import generate_reasons

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(generate_reasons, "apply_async", down)
    with override_settings(REASON_BACKEND="openai", REASON_OPENAI_URL="http://127.0.0.1:9", REASON_OPENAI_MODEL="m"):
        feed = recommend(request=RecRequest(customer_id="alice", k=10), strategy=ITEMCF)
    assert {i.reason for i in feed.items} == {"Because you bought White Mug"}


def test_pregeneration_covers_popular_items_and_their_strongest_seeds(shop):
    version = default_templates()["reason"].active_version_id
    specs = popular_reason_specs(top_n=2, seeds_per_item=5, semantic_seeds_per_item=0)
    # lamp and teapot are the top 2; teapot is proposed by the mug (item-CF), lamp by nothing
    assert sorted((s.product_pk, s.route, s.seed_pk) for s in specs if s.version_id == version) == sorted(
        [
            (shop["lamp"].pk, "popularity", None),
            (shop["teapot"].pk, "popularity", None),
            (shop["teapot"].pk, "itemcf", shop["mug"].pk),
        ]
    )
    # the mug (third) has an embedding: its nearest products are its semantic seeds
    with_semantic = popular_reason_specs(top_n=3, seeds_per_item=0, semantic_seeds_per_item=2)
    assert {s.seed_pk for s in with_semantic if s.route == "semantic"} == {shop["kettle"].pk, shop["toaster"].pk}


def test_the_periodic_task_enqueues_popular_items_in_chunks(shop, settings):
    from recommendations.reasons.tasks import pregenerate_reasons

    assert pregenerate_reasons.apply(kwargs={"top_n": 2}).get() == 0  # grounded: nothing to generate
    with ChatServer(lambda prompt: (200, "A fine pick for your white mug.")) as server:
        settings.REASON_BACKEND, settings.REASON_OPENAI_URL, settings.REASON_OPENAI_MODEL = "openai", server.url, "m"
        celery_app.conf.task_always_eager = True
        try:
            sent = pregenerate_reasons.apply(kwargs={"top_n": 2, "seeds_per_item": 5}).get()
        finally:
            celery_app.conf.task_always_eager = False
    assert sent == 3
    assert Generation.objects.filter(accepted=True).count() == 3
