"""Filters, boosters and pages on the placements' API: `price_min`, `brand`, `attr`, `boost`,
`page_size` and `cursor`."""

from decimal import Decimal

import pytest
from django.core import signing

from catalog.models import ItemNeighbor, Product
from recommendations.pagination import CURSOR_SALT

pytestmark = pytest.mark.django_db

FEED = "/api/v1/recommendations/"


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def shop(merch_shop):
    for i in range(1, 7):
        Product.objects.filter(external_id=f"p{i}").update(price=Decimal(5 * i))
    for rank, name in enumerate(["p2", "p3", "p4", "p5", "p6"], start=1):
        ItemNeighbor.objects.create(product=merch_shop["p1"], neighbor=merch_shop[name], score=1.0 / rank, rank=rank)
    return merch_shop


def test_the_feed_takes_price_brand_attribute_filters_and_boosts(storefront_client, shop):
    base = {"customer": "alice", "reasons": "false"}

    by_price = storefront_client.get(FEED, {**base, "price_min": "10", "price_max": "20"})
    by_brand = storefront_client.get(FEED, {**base, "brand": ["acme", "nobody"]})
    by_attr = storefront_client.get(FEED, {**base, "attr": "color:blue|green", "price_max": "25"})
    boosted = storefront_client.get(FEED, {**base, "k": 2, "bury": "color:red"})

    assert ids(by_price) == ["p2", "p3", "p4"]
    assert ids(by_brand) == ["p1", "p3", "p5"]
    assert ids(by_attr) == ["p4", "p5"]
    assert ids(boosted) == ["p4", "p5"]


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/products/p1/similar/", {}),
        ("/api/v1/bought-together/", {"products": "p1"}),
    ],
)
def test_the_other_placements_take_the_same_filters(storefront_client, shop, url, params):
    response = storefront_client.get(url, {**params, "brand": "Green", "attr": "color:blue"})

    assert response.status_code == 200
    assert set(ids(response)) == {"p4", "p6"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"attr": "color"}, "attr"),
        ({"attr": "weight:3"}, "attr"),
        ({"boost": "color:"}, "boost"),
        ({"bury": "material:wood"}, "bury"),
        ({"price_min": "30", "price_max": "10"}, "price_min"),
        ({"price_min": "cheap"}, "price_min"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_a_malformed_or_unknown_filter_is_a_400_naming_it(storefront_client, shop, params, field):
    response = storefront_client.get(FEED, {"customer": "alice", **params})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_pages_follow_each_other_without_repeats_to_the_end(storefront_client, shop):
    params = {"customer": "alice", "page_size": 4, "reasons": "false"}

    first = storefront_client.get(FEED, params).json()
    second = storefront_client.get(FEED, {**params, "cursor": first["next_cursor"]}).json()

    assert [item["id"] for item in first["items"]] == ["p1", "p2", "p3", "p4"]
    assert [item["id"] for item in second["items"]] == ["p5", "p6"]
    assert first["next_cursor"] is not None
    assert second["next_cursor"] is None


def test_a_next_page_leaves_out_what_earlier_pages_served_even_when_the_list_changed(storefront_client, shop):
    params = {"customer": "alice", "page_size": 2, "reasons": "false"}
    first = storefront_client.get(FEED, params).json()
    # p1 goes out of stock and p2 falls behind: the list moved, the page after still repeats nothing
    Product.objects.filter(external_id="p1").update(in_stock=False)

    second = storefront_client.get(FEED, {**params, "cursor": first["next_cursor"]}).json()

    assert [item["id"] for item in second["items"]] == ["p3", "p4"]


def test_a_cursor_of_another_request_or_altered_is_a_400(storefront_client, shop):
    cursor = storefront_client.get(FEED, {"customer": "alice", "page_size": 2}).json()["next_cursor"]
    forged = signing.dumps({"r": "0" * 16, "s": [1]}, salt=CURSOR_SALT, compress=True)

    other_customer = storefront_client.get(FEED, {"customer": "bob", "page_size": 2, "cursor": cursor})
    other_filter = storefront_client.get(FEED, {"customer": "alice", "brand": "Acme", "cursor": cursor})
    altered = storefront_client.get(FEED, {"customer": "alice", "cursor": cursor[:-2] + "xx"})
    foreign = storefront_client.get(FEED, {"customer": "alice", "cursor": forged})

    for response in (other_customer, other_filter, altered, foreign):
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["cursor"]


def test_similar_items_pages_too(storefront_client, shop):
    first = storefront_client.get("/api/v1/products/p1/similar/", {"page_size": 3}).json()
    second = storefront_client.get("/api/v1/products/p1/similar/", {"page_size": 3, "cursor": first["next_cursor"]})

    assert len(first["items"]) == 3
    assert set(ids(second)).isdisjoint(item["id"] for item in first["items"])
    assert {item["id"] for item in first["items"]} | set(ids(second)) == {"p2", "p3", "p4", "p5", "p6"}
