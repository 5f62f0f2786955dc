"""Merchandising rules on the serving path: pipeline, API answer, cache, query count."""

import datetime as dt

import pytest
from django.utils import timezone

from recommendations.contracts import RecRequest
from recommendations.models import HiddenItem
from recommendations.pipeline import recommend, similar_items
from recommendations.rules.active import rules_forget
from tests.factories import MerchRuleFactory

pytestmark = pytest.mark.django_db


def feed(customer="alice", k=4, **kwargs):
    return recommend(request=RecRequest(customer_id=customer, k=k, **kwargs))


def ids(recommendation):
    return [i.product_id for i in recommendation.items]


def test_without_rules_the_feed_is_the_popularity_order(merch_shop):
    assert ids(feed()) == ["p1", "p2", "p3", "p4"]


def test_pin_exclude_and_boost_together_in_the_documented_order(merch_shop):
    # given a pin of p6 at 1, p1 excluded, Garden boosted ×2 on the home feed
    pin = MerchRuleFactory(kind="pin", product=merch_shop["p6"], position=1, multiplier=None, placement="home_feed")
    MerchRuleFactory(kind="exclude", item_ids="p1", multiplier=None)
    boost = MerchRuleFactory(kind="boost", target_category=merch_shop["p2"].category, multiplier=2.0)
    rules_forget()
    # when
    result = feed()
    # then p6 is first; Garden items (p2, p4) lead the rest; p1 is gone
    assert ids(result) == ["p6", "p2", "p4", "p3"]
    assert [(t.rule_id, t.kind) for t in result.items[0].rules] == [(pin.pk, "pin")]
    assert [(t.rule_id, t.kind) for t in result.items[1].rules] == [(boost.pk, "boost")]
    assert result.items[3].rules == ()


def test_pin_outside_its_date_range_or_placement_does_nothing(merch_shop):
    MerchRuleFactory(kind="pin", product=merch_shop["p6"], position=1, starts_at=timezone.now() + dt.timedelta(days=1))
    MerchRuleFactory(kind="pin", product=merch_shop["p5"], position=1, placement="search")
    rules_forget()
    assert ids(feed()) == ["p1", "p2", "p3", "p4"]


def test_a_pinned_out_of_stock_item_is_never_served(merch_shop):
    merch_shop["p6"].in_stock = False
    merch_shop["p6"].save()
    MerchRuleFactory(kind="pin", product=merch_shop["p6"], position=1)
    rules_forget()
    assert "p6" not in ids(feed(k=6))


def test_segment_rule_applies_only_to_that_segment(merch_shop):
    MerchRuleFactory(kind="exclude", target_brand="Acme", segment_key="tier", segment_value="vip", multiplier=None)
    rules_forget()
    assert ids(feed()) == ["p2", "p4", "p6"]
    assert ids(feed(customer="bob")) == ["p1", "p2", "p3", "p4"]


def test_hidden_items_are_left_out_for_that_customer_only(merch_shop):
    HiddenItem.objects.create(customer_external_id="alice", product_external_id="p1")
    assert ids(feed()) == ["p2", "p3", "p4", "p5"]
    assert ids(feed(customer="bob"))[0] == "p1"


def test_category_cap_in_the_feed(merch_shop):
    MerchRuleFactory(kind="category_cap", max_per_category=1, top_k=3, multiplier=None)
    rules_forget()
    assert ids(feed()) == ["p1", "p2", "p3", "p4"]  # alternating already: nothing moves
    MerchRuleFactory(kind="exclude", target_category=merch_shop["p2"].category, multiplier=None)
    rules_forget()
    # only Kitchen left: one in the top 3, the others keep their order below it
    assert ids(feed()) == ["p1", "p3", "p5"]


def test_rules_are_cached_until_forgotten(merch_shop, django_assert_max_num_queries, settings):
    # the catalog's state read once a check interval, as in production (the reasons' facts follow it)
    settings.CATALOG_CHECK_SECONDS = 60
    feed()  # loads the (empty) rule snapshot and the popularity cache
    MerchRuleFactory(kind="exclude", item_ids="p1", multiplier=None)
    assert ids(feed())[0] == "p1"  # the snapshot is still the old one
    rules_forget()
    assert ids(feed())[0] == "p2"
    # history 2 + the candidates' query (rules cached)
    with django_assert_max_num_queries(4):
        feed()


def test_similar_items_apply_the_similar_placement_rules(merch_shop):
    from catalog.models import ItemNeighbor

    for rank, name in enumerate(["p2", "p3", "p4"], start=1):
        ItemNeighbor.objects.create(product=merch_shop["p1"], neighbor=merch_shop[name], score=1.0 / rank, rank=rank)
    MerchRuleFactory(kind="exclude", item_ids="p2", placement="similar_items", multiplier=None)
    rules_forget()
    assert ids(similar_items(product_id="p1", k=3)) == ["p3", "p4"]
    assert ids(feed())[1] == "p2"


def test_api_items_list_the_rules_that_touched_them(merch_shop, storefront_client):
    rule = MerchRuleFactory(kind="bury", item_ids="p1", multiplier=0.01)
    rules_forget()
    body = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "k": 6}).json()
    assert [i["id"] for i in body["items"]] == ["p2", "p3", "p4", "p5", "p6", "p1"]
    assert body["items"][5]["rules"] == [{"rule": rule.pk, "kind": "bury", "effect": "score ×0.01"}]
    assert body["items"][0]["rules"] == []


def test_a_strategy_with_rules_off_skips_the_rules_but_still_filters(merch_shop):
    from placements.public import Strategy

    MerchRuleFactory(kind="exclude", item_ids="p1", multiplier=None)
    HiddenItem.objects.create(customer_external_id="alice", product_external_id="p2")
    rules_forget()
    off = recommend(request=RecRequest(customer_id="alice", k=3), strategy=Strategy(rules=False))
    assert ids(off) == ["p1", "p3", "p4"]
    assert ids(feed(k=3)) == ["p3", "p4", "p5"]


def test_mmr_in_the_feed_uses_the_stored_embeddings(merch_shop):
    from catalog.models import ProductEmbedding

    # p1 and p2 point the same way, p3 elsewhere: MMR moves p3 above p2
    for name, axis in (("p1", 0), ("p2", 0), ("p3", 1), ("p4", 2)):
        vector = [0.0] * 384
        vector[axis] = 1.0
        ProductEmbedding.objects.create(product=merch_shop[name], model_name="m", text_hash="x", vector=vector)
    rule = MerchRuleFactory(kind="mmr", mmr_lambda=0.5, top_k=3, multiplier=None)
    rules_forget()
    result = feed(k=3)
    assert ids(result) == ["p1", "p3", "p2"]
    assert [(t.rule_id, t.effect) for t in result.items[1].rules] == [(rule.pk, "moved 3→2")]


@pytest.fixture
def long_list(db):
    """60 candidates in score order c00 > c01 > …; the first 25 are out of stock."""
    from recommendations.contracts import FusedItem
    from tests.factories import ProductFactory

    rules_forget()
    products = [ProductFactory(external_id=f"c{i:02d}", in_stock=i >= 25) for i in range(60)]
    return [FusedItem(product_pk=p.pk, score=100.0 - i, routes={"popularity": 1.0}) for i, p in enumerate(products)]


def read_candidates(monkeypatch):
    """The pks each catalog read of the rules stage asked for (the real reads still run)."""
    from recommendations.rules import stage as serving

    asked: list[list[int]] = []
    real = serving.available_items

    def spy(**kwargs):
        asked.append(list(kwargs["pks"]))
        return real(**kwargs)

    monkeypatch.setattr(serving, "available_items", spy)
    return asked


def test_without_rules_in_scope_only_the_candidates_needed_are_read(long_list, monkeypatch):
    from recommendations.rules.stage import rules_stage

    # given a rule for another placement only
    MerchRuleFactory(kind="boost", placement="search", target_brand="Acme", multiplier=2.0)
    asked = read_candidates(monkeypatch)

    # when
    served = rules_stage(ranked=long_list, k=5, placement="home_feed")

    # then: the first window (2k + 10 = 20) held no available item, the second (40 more) did
    assert [i.product_id for i in served] == ["c25", "c26", "c27", "c28", "c29"]
    assert [len(pks) for pks in asked] == [20, 40]


def test_with_a_rule_in_scope_every_candidate_is_read(long_list, monkeypatch):
    from recommendations.rules.stage import rules_stage

    MerchRuleFactory(kind="boost", placement="home_feed", item_ids="c40", multiplier=100.0)
    asked = read_candidates(monkeypatch)

    served = rules_stage(ranked=long_list, k=5, placement="home_feed")

    assert [i.product_id for i in served][0] == "c40"
    assert [len(pks) for pks in asked] == [60]


def test_a_fused_list_builds_only_the_items_whose_rows_were_read(db, monkeypatch):
    from recommendations.contracts import Candidate, FusedList
    from recommendations.recall.fused import fuse
    from recommendations.rules.stage import rules_stage
    from tests.factories import ProductFactory

    # given: 60 fused candidates, all available
    rules_forget()
    products = [ProductFactory(external_id=f"f{i:02d}") for i in range(60)]
    fused = fuse(
        candidates={
            "popularity": [
                Candidate(product_pk=p.pk, route="popularity", score=60.0 - i) for i, p in enumerate(products)
            ]
        },
        weights={"popularity": 1.0},
    )
    built: list[int] = []
    real = FusedList._item
    monkeypatch.setattr(FusedList, "_item", lambda self, i: built.append(i) or real(self, i))

    # when
    served = rules_stage(ranked=fused, k=5, placement="home_feed")

    # then: the first window's 20 rows (2k + 10), not the 60 candidates
    assert [i.product_id for i in served] == ["f00", "f01", "f02", "f03", "f04"]
    assert sorted(built) == list(range(20))
