"""The rules stage on its own (no database): order, scope and what each item says touched it."""

import datetime as dt

from recommendations.rules.active import ActiveRule, ruleset_build
from recommendations.rules.apply import RuleItem, RuleRequest, rules_apply

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def item(pk, score, *, category="Home > Kitchen", brand="", attributes=None):
    return RuleItem(
        product_pk=pk,
        product_id=f"p{pk}",
        title=f"Product {pk}",
        category_path=category,
        brand=brand,
        attributes=attributes or {},
        score=score,
        routes={"itemcf": score},
    )


def apply(items, rules, *, k=10, placement="home_feed", pinned=None, similarity=None, **request):
    return rules_apply(
        items=items,
        ruleset=ruleset_build(rules),
        request=RuleRequest(placement=placement, now=NOW, **request),
        k=k,
        pinned=pinned,
        similarity=similarity,
    )


def ids(result):
    return [i.product_id for i in result]


def test_no_rules_keeps_the_ranked_order_and_cuts_at_k():
    result = apply([item(1, 0.9), item(2, 0.8), item(3, 0.7)], [], k=2)
    assert ids(result) == ["p1", "p2"]
    assert result[0].ranked_score == 0.9 and result[0].rules == ()


def test_exclude_by_brand_drops_the_items_and_the_next_ones_move_up():
    rules = [ActiveRule(id=1, name="no acme", kind="exclude", target_brand="Acme")]
    result = apply([item(1, 0.9, brand="Acme"), item(2, 0.8), item(3, 0.7, brand="Acme"), item(4, 0.6)], rules, k=2)
    assert ids(result) == ["p2", "p4"]


def test_boost_and_bury_multiply_the_score_resort_and_say_so():
    rules = [
        ActiveRule(id=7, name="garden up", kind="boost", target_category="Garden", multiplier=3.0),
        ActiveRule(id=8, name="p1 down", kind="bury", item_ids=frozenset({"p1"}), multiplier=0.1),
    ]
    result = apply([item(1, 0.9), item(2, 0.5), item(3, 0.4, category="Garden > Tools")], rules)
    assert ids(result) == ["p3", "p2", "p1"]
    assert result[0].score == 0.4 * 3.0
    assert [(t.rule_id, t.kind, t.effect) for t in result[0].rules] == [(7, "boost", "score ×3")]
    assert [t.rule_id for t in result[2].rules] == [8]
    assert result[1].rules == ()


def test_a_rule_needs_every_target_it_names():
    rules = [ActiveRule(id=1, name="acme mugs", kind="exclude", target_brand="Acme", target_attribute=("color", "red"))]
    result = apply([item(1, 0.9, brand="Acme", attributes={"color": "red"}), item(2, 0.8, brand="Acme")], rules)
    assert ids(result) == ["p2"]


def test_category_cap_moves_the_extra_items_below_the_top_k():
    rules = [ActiveRule(id=3, name="cap", kind="category_cap", max_per_category=2, top_k=3)]
    items = [item(1, 0.9), item(2, 0.8), item(3, 0.7), item(4, 0.6, category="Garden"), item(5, 0.5)]
    result = apply(items, rules, k=5)
    assert ids(result) == ["p1", "p2", "p4", "p3", "p5"]
    assert result[3].rules[0].kind == "category_cap"


def test_mmr_pushes_a_near_duplicate_down():
    # p2 is almost p1; p3 is a little less relevant but different.
    similarity = {(1, 2): 0.99, (2, 1): 0.99, (1, 3): 0.1, (3, 1): 0.1, (2, 3): 0.1, (3, 2): 0.1}
    rules = [ActiveRule(id=4, name="mmr", kind="mmr", mmr_lambda=0.5, top_k=3)]
    result = apply([item(1, 1.0), item(2, 0.95), item(3, 0.8)], rules, similarity=similarity)
    assert ids(result) == ["p1", "p3", "p2"]
    assert [t.effect for t in result[1].rules] == ["moved 3→2"]


def test_pin_lands_at_its_position_after_every_other_rule():
    pinned = {9: item(9, 0.0)}
    rules = [
        ActiveRule(id=5, name="pin", kind="pin", product_pk=9, position=2),
        ActiveRule(id=6, name="boost", kind="boost", item_ids=frozenset({"p3"}), multiplier=10.0),
    ]
    result = apply([item(1, 0.9), item(9, 0.85), item(3, 0.1)], rules, k=3, pinned=pinned)
    assert ids(result) == ["p3", "p9", "p1"]
    assert result[1].rules[0].effect == "pinned at 2"


def test_scope_placement_dates_segment_and_category_context():
    rules = [
        ActiveRule(id=1, name="search only", kind="exclude", placement="search", item_ids=frozenset({"p1"})),
        ActiveRule(
            id=2, name="future", kind="exclude", starts_at=NOW + dt.timedelta(days=1), item_ids=frozenset({"p2"})
        ),
        ActiveRule(id=3, name="vip", kind="exclude", segment=("tier", "vip"), item_ids=frozenset({"p3"})),
        ActiveRule(id=4, name="kitchen", kind="exclude", context_category="Home", item_ids=frozenset({"p4"})),
    ]
    items = [item(pk, 1.0 - pk / 10) for pk in (1, 2, 3, 4)]
    assert ids(apply(items, rules)) == ["p1", "p2", "p3", "p4"]
    assert ids(apply(items, rules, placement="search")) == ["p2", "p3", "p4"]
    assert ids(apply(items, rules, segment={"tier": "vip"}, category="Home > Kitchen")) == ["p1", "p2"]


def test_a_pinned_item_no_route_proposed_has_no_ranked_score_and_takes_its_slots_score():
    rules = [ActiveRule(id=5, name="pin", kind="pin", product_pk=9, position=2)]
    result = apply([item(1, 0.9), item(2, 0.5)], rules, pinned={9: item(9, 0.0)})
    assert ids(result) == ["p1", "p9", "p2"]
    assert (result[1].ranked_score, result[1].score, result[1].routes) == (None, 0.5, {"itemcf": 0.0})
