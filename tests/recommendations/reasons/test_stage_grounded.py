"""Grounded reasons in the served feed: written from how each item was actually chosen."""

import pytest

from placements.public import Strategy
from recommendations.contracts import RecRequest, RuleTouch, ScoredItem
from recommendations.pipeline import recommend
from recommendations.reasons.basis import Basis, basis_of
from recommendations.reasons.templates import template_version_create
from tests.recommendations.reasons_fixtures import default_templates

pytestmark = pytest.mark.django_db


def reasons(feed):
    return {item.product_id: item.reason for item in feed.items}


def test_itemcf_semantic_and_popular_items_say_how_they_were_chosen(shop):
    # when alice (bought the mug, viewed the kettle) asks for her feed with every route
    feed = recommend(request=RecRequest(customer_id="alice", k=10))
    # then item-CF items name the bought item, the semantic one the viewed item, the rest are popular
    assert reasons(feed) == {
        "teapot": "Because you bought White Mug",
        "saucer": "Because you bought White Mug",
        "toaster": "Similar to Red Kettle",
        # viewed, not bought, so still recommended: its nearest other history item is the mug
        "kettle": "Similar to White Mug",
        "lamp": "Popular this week",
    }


def test_item_cf_seed_is_carried_from_recall_through_fusion(shop):
    feed = recommend(request=RecRequest(customer_id="alice", k=10), strategy=Strategy(routes={"itemcf": 1.0}))
    assert {item.product_id: item.seeds for item in feed.items} == {
        "teapot": {"itemcf": shop["mug"].pk},
        "saucer": {"itemcf": shop["mug"].pk},
    }


def test_cold_start_customer_gets_popular_reasons(shop):
    feed = recommend(request=RecRequest(customer_id="nobody", k=3))
    assert set(reasons(feed).values()) == {"Popular this week"}


def test_reasons_off_leaves_them_empty(shop):
    off_by_request = recommend(request=RecRequest(customer_id="alice", reasons=False))
    off_by_strategy = recommend(request=RecRequest(customer_id="alice"), strategy=Strategy(reasons=False))
    assert {item.reason for item in off_by_request.items + off_by_strategy.items} == {None}


def test_a_promoting_rule_makes_the_item_featured_a_demoting_one_does_not():
    def touched(kind: str) -> ScoredItem:
        touch = RuleTouch(rule_id=1, kind=kind, effect="…")
        return ScoredItem(product_pk=1, product_id="x", title="X", score=1.0, routes={"itemcf": 1.0}, rules=(touch,))

    assert basis_of(item=touched("pin"), weights={"itemcf": 1.0}) == Basis(route="rule")
    assert basis_of(item=touched("boost"), weights={"itemcf": 1.0}) == Basis(route="rule")
    assert basis_of(item=touched("bury"), weights={"itemcf": 1.0}) == Basis(route="itemcf")
    assert basis_of(item=touched("mmr"), weights={"itemcf": 1.0}) == Basis(route="itemcf")


def test_the_basis_is_the_route_that_contributed_most():
    item = ScoredItem(
        product_pk=1, product_id="x", title="X", score=1.0, routes={"itemcf": 0.2, "semantic": 1.0}, seeds={"itemcf": 7}
    )
    assert basis_of(item=item, weights={"itemcf": 1.0, "semantic": 0.5}) == Basis(route="semantic")
    assert basis_of(item=item, weights={"itemcf": 1.0, "semantic": 0.1}) == Basis(route="itemcf", seed_pk=7)


def test_a_new_template_version_changes_the_reason_at_once(shop):
    # given an operator's new grounded text
    template = default_templates()["reason"]
    template_version_create(
        template_id=template.pk,
        body="x",
        grounded="{% if seed %}Goes with your {{ seed.title|lower }}{% endif %}",
        publish=True,
    )
    from recommendations.reasons.pool import active_templates_forget

    active_templates_forget()
    # when
    feed = recommend(request=RecRequest(customer_id="alice", k=10), strategy=Strategy(routes={"itemcf": 1.0}))
    # then
    assert set(reasons(feed).values()) == {"Goes with your white mug"}


def test_api_returns_the_reasons_and_validates_the_flag(shop, storefront_client):
    answer = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "k": 10})
    assert answer.status_code == 200
    assert {item["id"]: item["reason"] for item in answer.json()["items"]}["teapot"] == "Because you bought White Mug"

    off = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "reasons": "false"})
    assert {item["reason"] for item in off.json()["items"]} == {None}

    bad = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "reasons": "perhaps"})
    assert bad.status_code == 400
    assert "reasons" in bad.json()["error"]["fields"]


def test_the_cache_path_adds_no_query(shop, django_assert_num_queries, settings):
    # given a feed with every kind of basis served once (its reasons, facts and semantic seeds now in
    # memory), the catalog's state read within one check interval
    settings.CATALOG_CHECK_SECONDS = 60
    strategy = Strategy()
    recommend(request=RecRequest(customer_id="alice", k=10), strategy=strategy)
    off = Strategy(reasons=False)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as without:
        recommend(request=RecRequest(customer_id="alice", k=10), strategy=off)
    # then serving it again with reasons costs no more queries than without them
    with django_assert_num_queries(len(without.captured_queries)):
        feed = recommend(request=RecRequest(customer_id="alice", k=10), strategy=strategy)
    assert reasons(feed)["teapot"] == "Because you bought White Mug"
    assert reasons(feed)["toaster"] == "Similar to Red Kettle"
