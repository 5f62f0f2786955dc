"""GET /api/v1/bought-together/: items bought with a basket, through the serving service."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import EventType, ItemNeighbor, ItemPopularity
from experiments.serving import running_experiments_forget
from placements.defaults import default_strategies_forget, default_strategy_save
from recommendations.models import CoPurchaseNeighbor, ServedList
from recommendations.recall import popularity
from tests.factories import EventFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/bought-together/"


@pytest.fixture(autouse=True)
def fresh_snapshots():
    for forget in (default_strategies_forget, running_experiments_forget, popularity._cache.clear):
        forget()
    yield
    for forget in (default_strategies_forget, running_experiments_forget, popularity._cache.clear):
        forget()


@pytest.fixture
def cart_shop():
    """pasta is bought with sauce (0.9) and cheese (0.5); sauce with cheese (0.6) and wine (0.4)."""
    p = {name: ProductFactory(external_id=name) for name in ("pasta", "sauce", "cheese", "wine", "soap")}
    for product, neighbor, score in [
        ("pasta", "sauce", 0.9),
        ("pasta", "cheese", 0.5),
        ("sauce", "cheese", 0.6),
        ("sauce", "wine", 0.4),
        ("sauce", "pasta", 0.9),
    ]:
        ItemNeighbor.objects.create(product=p[product], neighbor=p[neighbor], score=score, rank=1)
    ItemPopularity.objects.create(product=p["soap"], score=100.0, computed_at=timezone.now())
    return p


def test_items_bought_with_the_basket_leave_the_basket_out(storefront_client, cart_shop):
    answer = storefront_client.get(URL, {"products": "pasta,sauce", "k": 3, "customer": "c1"})

    assert answer.status_code == 200
    body = answer.json()
    assert [item["id"] for item in body["items"]][:2] == ["cheese", "wine"]  # 0.5 + 0.6 beats 0.4
    assert body["products"] == ["pasta", "sauce"]
    assert body["strategy"] == "bought_together"
    served = ServedList.objects.get()
    assert (served.placement, served.context["products"]) == ("bought_together", ["pasta", "sauce"])


def test_unknown_ids_are_ignored_and_a_basket_of_unknown_ones_is_a_404(storefront_client, cart_shop):
    partly = storefront_client.get(URL, {"products": "pasta,ghost", "k": 2})
    none = storefront_client.get(URL, {"products": "ghost,phantom"})

    assert [item["id"] for item in partly.json()["items"]][:2] == ["sauce", "cheese"]
    assert none.status_code == 404
    assert none.json()["error"]["message"] == "None of the products in `products` exists."


@pytest.mark.parametrize(
    ("query", "field"),
    [({}, "products"), ({"products": ""}, "products"), ({"products": ",".join(["x"] * 51)}, "products")],
)
def test_a_missing_empty_or_oversized_basket_is_a_400_naming_the_field(storefront_client, query, field):
    answer = storefront_client.get(URL, query)

    assert answer.status_code == 400
    assert field in answer.json()["error"]["fields"]


def test_the_placements_default_strategy_applies(storefront_client, cart_shop):
    default_strategy_save(placement="bought_together", config={"routes": {"popularity": 1.0}, "k": 1})

    body = storefront_client.get(URL, {"products": "pasta"}).json()

    assert (body["strategy"], [item["id"] for item in body["items"]]) == ("bought_together@v1", ["soap"])


def test_co_purchases_lead_and_the_co_occurrence_neighbours_only_fill_after_them(storefront_client, cart_shop):
    # given: pasta was bought in the same basket as wine (its item-CF neighbours are sauce, cheese)
    CoPurchaseNeighbor.objects.create(product=cart_shop["pasta"], neighbor=cart_shop["wine"], score=1.0, rank=1)

    body = storefront_client.get(URL, {"products": "pasta", "k": 3}).json()

    assert body["source"] == "copurchase"
    assert [item["id"] for item in body["items"]] == ["wine", "sauce", "cheese"]
    assert body["items"][0]["routes"] == {"copurchase": 1.0}


def test_a_cart_item_without_co_purchases_brings_its_neighbours(storefront_client, cart_shop):
    # given: soap has co-purchases (wine), pasta none: pasta's item-CF neighbours stand in for it
    CoPurchaseNeighbor.objects.create(product=cart_shop["soap"], neighbor=cart_shop["wine"], score=1.0, rank=1)

    body = storefront_client.get(URL, {"products": "soap,pasta", "k": 3}).json()

    # then: each source's best counts 1 (wine, sauce), pasta's weaker neighbour cheese after them
    assert body["source"] == "mixed"
    ids = [item["id"] for item in body["items"]]
    assert (set(ids[:2]), ids[2]) == ({"wine", "sauce"}, "cheese")


def test_without_any_co_purchase_the_neighbours_serve_and_the_answer_says_so(storefront_client, cart_shop):
    body = storefront_client.get(URL, {"products": "pasta", "k": 2}).json()

    assert (body["source"], body["cart_added"], body["session"]) == ("neighbors", [], None)


def test_the_sessions_cart_joins_the_basket_and_is_left_out(storefront_client, cart_shop):
    # given: the session carted sauce (and bought soap after carting it: no longer in the cart)
    now = timezone.now()
    for event_id, product, kind, minutes in [
        ("e1", "sauce", EventType.ADD_TO_CART, 3),
        ("e2", "soap", EventType.ADD_TO_CART, 2),
        ("e3", "soap", EventType.PURCHASE, 1),
    ]:
        EventFactory(
            event_id=event_id,
            customer=None,
            session_id="s-1",
            product=cart_shop[product],
            type=kind,
            timestamp=now - dt.timedelta(minutes=minutes),
        )

    body = storefront_client.get(URL, {"products": "pasta", "session": "s-1", "k": 3}).json()

    # then: sauce's neighbours (cheese 0.6 + pasta's 0.5, wine 0.4) without sauce itself
    assert (body["session"], body["cart_added"]) == ("s-1", ["sauce"])
    assert [item["id"] for item in body["items"]][:2] == ["cheese", "wine"]


def test_a_session_another_customer_holds_is_a_409(storefront_client, cart_shop):
    storefront_client.get(URL, {"products": "pasta", "session": "s-2", "customer": "c1"})

    answer = storefront_client.get(URL, {"products": "pasta", "session": "s-2", "customer": "c2"})

    assert answer.status_code == 409
    assert "session" in answer.json()["error"]["fields"]
