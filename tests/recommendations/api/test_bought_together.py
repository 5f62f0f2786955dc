"""GET /api/v1/bought-together/: items bought with a basket, through the serving service."""

from __future__ import annotations

import pytest
from django.utils import timezone

from catalog.models import ItemNeighbor, ItemPopularity
from experiments.serving import running_experiments_forget
from placements.defaults import default_strategies_forget, default_strategy_save
from recommendations.models import ServedList
from recommendations.recall import popularity
from tests.factories import ProductFactory

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
