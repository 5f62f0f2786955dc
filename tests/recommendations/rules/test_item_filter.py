"""A request's own filters and boosters (recommendations.contracts.ItemFilter) in the rules stage's
one candidates query, and their parsing (recommendations.filters)."""

from decimal import Decimal

import pytest

from catalog.models import ItemNeighbor, Product
from recommendations.contracts import ItemFilter, RecRequest
from recommendations.filters import FilterError, item_filter_build
from recommendations.pipeline import recommend, similar_items
from recommendations.rules.active import rules_forget
from tests.factories import MerchRuleFactory

pytestmark = pytest.mark.django_db


def feed(item_filter: ItemFilter, k: int = 6) -> list[str]:
    result = recommend(request=RecRequest(customer_id="alice", k=k, reasons=False, item_filter=item_filter))
    return [item.product_id for item in result.items]


@pytest.fixture
def priced_shop(merch_shop):
    """merch_shop with prices: p1 5.00, p2 10.00 … p6 30.00; p6 also comes in a list of colours."""
    for i in range(1, 7):
        Product.objects.filter(external_id=f"p{i}").update(price=Decimal(5 * i))
    Product.objects.filter(external_id="p6").update(attributes={"color": ["green", "red"], "size": 42})
    return merch_shop


def test_price_range_brand_and_attributes_filter_the_list(priced_shop):
    assert feed(ItemFilter(price_min=Decimal("10"), price_max=Decimal("20"))) == ["p2", "p3", "p4"]
    assert feed(ItemFilter(brands=("acme",))) == ["p1", "p3", "p5"]
    assert feed(ItemFilter(brands=("Acme", "Green"), price_max=Decimal("10"))) == ["p1", "p2"]
    # membership, and a list value holding one of the values
    assert feed(ItemFilter(attributes=(("color", ("red",)),))) == ["p1", "p2", "p3", "p6"]
    assert feed(ItemFilter(attributes=(("color", ("blue", "green")),))) == ["p4", "p5", "p6"]
    # a number is matched as written; several attributes must all match
    assert feed(ItemFilter(attributes=(("size", ("42",)), ("color", ("green",))))) == ["p6"]


def test_a_product_without_a_price_fails_a_price_bound(priced_shop):
    Product.objects.filter(external_id="p1").update(price=None)

    assert "p1" not in feed(ItemFilter(price_max=Decimal("100")))
    assert "p1" in feed(ItemFilter())


def test_boost_and_bury_reorder_the_list(priced_shop):
    # popularity scores are 9..4: a ×1.5 boost of blue p4 (6 → 9) ties p1 and goes behind it
    assert feed(ItemFilter(boosts=(("color", ("blue",)),)), k=3) == ["p1", "p4", "p2"]
    # burying red halves p1..p3 (and p6, which is red too)
    assert feed(ItemFilter(buries=(("color", ("red",)),)), k=3) == ["p4", "p5", "p1"]


def test_the_filter_applies_to_similar_items_too(priced_shop):
    for rank, name in enumerate(["p2", "p3", "p4", "p5"], start=1):
        ItemNeighbor.objects.create(product=priced_shop["p1"], neighbor=priced_shop[name], score=1.0 / rank, rank=rank)

    result = similar_items(product_id="p1", k=4, item_filter=ItemFilter(brands=("Green",)))

    assert [item.product_id for item in result.items] == ["p2", "p4"]


def test_filters_are_parsed_and_bad_ones_name_their_parameter(priced_shop):
    built = item_filter_build(
        price_min=Decimal("1"), brands=[" Acme ", "Acme"], attr=["color:red|blue"], boost=["size:42"]
    )
    assert built == ItemFilter(
        price_min=Decimal("1"),
        brands=("Acme",),
        attributes=(("color", ("red", "blue")),),
        boosts=(("size", ("42",)),),
    )
    for kwargs, field in [
        ({"attr": ["color"]}, "attr"),
        ({"attr": ["color:"]}, "attr"),
        ({"boost": [":red"]}, "boost"),
        ({"bury": ["weight:3"]}, "bury"),
        ({"price_min": Decimal("5"), "price_max": Decimal("4")}, "price_min"),
    ]:
        with pytest.raises(FilterError) as error:
            item_filter_build(**kwargs)
        assert error.value.field == field
    with pytest.raises(FilterError, match="'weight'"):
        item_filter_build(attr=["weight:3"])


def test_a_merchandising_rule_on_an_attribute_matches_at_serving(priced_shop):
    # The candidates query reads jsonb as text: the rules must still see the attributes.
    MerchRuleFactory(kind="exclude", target_attribute="color", target_attribute_value="red", multiplier=None)
    rules_forget()

    assert feed(ItemFilter()) == ["p4", "p5", "p6"]
