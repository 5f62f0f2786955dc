"""LLM rerank (ids only from the candidates, invalid output keeps the order), the prompt pool
(Thompson sampling on clicks) and the variant config keys that switch them."""

import random
import uuid

import pytest
from django.test import override_settings

from catalog.models import EventType
from placements.public import Strategy
from placements.strategy import strategy_parse
from recommendations.contracts import RecRequest
from recommendations.pipeline import recommend
from recommendations.reasons.backend_choice import _backend
from recommendations.reasons.models import Generation, PromptTemplate, ReasonServing
from recommendations.reasons.pool import pool_stats_refresh, template_choose, thompson_pick
from recommendations.reasons.rerank import rerank_generate, rerank_key, rerank_parse
from recommendations.reasons.templates import template_create
from recommendations.recall import popularity
from recommendations.rules.active import rules_forget
from tests.factories import CustomerFactory, EventFactory, MerchRuleFactory, ProductFactory
from tests.recommendations.reasons_fixtures import ChatServer, default_templates, make_shop

IDS = ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("output", "order", "valid"),
    [
        ('["c", "a", "b", "d"]', ["c", "a", "b", "d"], True),
        ('Sure! ["d", "x-invented", "d", "b"] hope that helps', ["d", "b", "a", "c"], True),
        ("[3, 1]", ["a", "b", "c", "d"], False),
        ("not json at all", ["a", "b", "c", "d"], False),
        ('["zzz"]', ["a", "b", "c", "d"], False),
        ('{"order": ["b"]}', ["b", "a", "c", "d"], True),
    ],
)
def test_rerank_parse(output, order, valid):
    result = rerank_parse(output=output, candidate_ids=IDS)
    assert (result.order, result.valid) == (order, valid)


@pytest.mark.django_db
def test_rerank_generates_once_and_the_feed_serves_the_cached_order():
    popularity._cache.clear()
    _backend.cache_clear()
    default_templates()
    make_shop()
    strategy = Strategy(routes={"itemcf": 1.0}, llm_rerank_top_n=5, reasons=False)
    with (
        ChatServer(lambda prompt: (200, '["saucer", "ghost", "teapot"]')) as server,
        override_settings(REASON_BACKEND="openai", REASON_OPENAI_URL=server.url, REASON_OPENAI_MODEL="m"),
    ):
        ranker_order = [
            i.product_id for i in recommend(request=RecRequest(customer_id="alice"), strategy=strategy).items
        ]
        assert ranker_order == ["teapot", "saucer"]  # nothing cached yet: the ranker's order
        version = default_templates()["rerank"].active_version_id
        result = rerank_generate(version_id=version, candidate_ids=ranker_order)
        assert (result.order, result.dropped) == (["saucer", "teapot"], ("ghost",))
        assert "teapot: BLUE TEAPOT" in server.requests[0]["body"]["messages"][0]["content"]
        served = recommend(request=RecRequest(customer_id="alice"), strategy=strategy)
        assert [i.product_id for i in served.items] == ["saucer", "teapot"]
        assert Generation.objects.get(key=rerank_key(version_id=version, candidate_ids=ranker_order)).accepted
    _backend.cache_clear()


def test_variant_config_switches_rerank_and_reason_template():
    config = strategy_parse({"routes": {"itemcf": 1}, "reasons": "warm", "llm_rerank": 10})
    assert (config.reasons, config.reason_template, config.llm_rerank_top_n) == (True, "warm", 10)
    off = strategy_parse({"routes": {"itemcf": 1}, "reasons": False})
    assert (off.reasons, off.reason_template, off.llm_rerank_top_n) == (False, None, None)


def test_thompson_sampling_prefers_the_arm_that_earns_clicks():
    rng = random.Random(7)
    picks = [thompson_pick(arms=[(1000, 10), (1000, 60)], rng=rng) for _ in range(200)]
    assert picks.count(1) >= 195
    # with no data both arms are tried
    assert set(thompson_pick(arms=[(0, 0), (0, 0)], rng=rng) for _ in range(50)) == {0, 1}


@pytest.mark.django_db
def test_a_pool_logs_which_template_served_and_counts_its_clicks(storefront_client):
    popularity._cache.clear()
    default_templates()
    make_shop()
    template_create(name="second", body="b", grounded="Picked for you")
    # when the home feed is served twice (two templates on the placement: a pool)
    first = storefront_client.get("/api/v1/recommendations/", {"customer": "alice"}).json()
    storefront_client.get("/api/v1/recommendations/", {"customer": "alice"})
    assert ReasonServing.objects.count() == 2
    # and the first list gets a click
    EventFactory(
        customer=CustomerFactory(external_id="bob"),
        product=ProductFactory(),
        type=EventType.CLICK,
        recommendation_id=uuid.UUID(first["recommendation_id"]),
    )
    pool_stats_refresh()
    # then each template's impressions and clicks are counted back onto it
    served_first = ReasonServing.objects.get(recommendation_id=first["recommendation_id"]).template.name
    stats = {
        t.name: (t.impressions, t.clicks) for t in PromptTemplate.objects.filter(name__in=["default-reason", "second"])
    }
    assert sum(impressions for impressions, _ in stats.values()) == 2
    assert stats[served_first][1] == 1
    assert sum(clicks for _, clicks in stats.values()) == 1


@pytest.mark.django_db
def test_a_named_template_is_used_without_the_pool():
    default_templates()
    template_create(name="warm", body="b", grounded="Warm")
    template, pooled = template_choose(placement="home_feed", name="warm")
    assert (template.name, pooled) == ("warm", False)


@pytest.mark.django_db
def test_a_pinned_item_keeps_its_slot_whatever_the_model_says():
    # given the teapot pinned first, and a model that would put it last
    popularity._cache.clear()
    _backend.cache_clear()
    rules_forget()
    default_templates()
    shop = make_shop()
    MerchRuleFactory(kind="pin", product=shop["teapot"], position=1, placement="home_feed")
    strategy = Strategy(routes={"itemcf": 1.0}, llm_rerank_top_n=5, reasons=False)
    with (
        ChatServer(lambda prompt: (200, '["saucer", "teapot"]')) as server,
        override_settings(REASON_BACKEND="openai", REASON_OPENAI_URL=server.url, REASON_OPENAI_MODEL="m"),
    ):
        version = default_templates()["rerank"].active_version_id
        rerank_generate(version_id=version, candidate_ids=["teapot", "saucer"])

        # when the feed is served with the model's order cached
        served = recommend(request=RecRequest(customer_id="alice"), strategy=strategy)

    # then the pin held
    assert [i.product_id for i in served.items] == ["teapot", "saucer"]
    assert served.items[0].rules[0].kind == "pin"
    rules_forget()
    _backend.cache_clear()
