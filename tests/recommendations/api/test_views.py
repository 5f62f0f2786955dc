"""GET /api/v1/recommendations/, /api/v1/products/{id}/similar/ and /api/v1/search/."""

import math
import uuid

import pytest
from django.utils import timezone

from catalog.models import ItemPopularity, ProductEmbedding
from tests.factories import CategoryFactory, CustomerFactory, EventFactory, ProductFactory

pytestmark = pytest.mark.django_db

RECOMMENDATIONS = "/api/v1/recommendations/"
SEARCH = "/api/v1/search/"
DIM = 384


def _unit(*weights: float) -> list[float]:
    """A 384-dim unit vector with `weights` on the first axes."""
    norm = math.sqrt(sum(w * w for w in weights))
    return [w / norm for w in weights] + [0.0] * (DIM - len(weights))


@pytest.fixture
def popular_catalog():
    """Five products in two categories with descending popularity p1 > p2 > … > p5."""
    mugs = CategoryFactory(name="Mugs", path="Home > Kitchen > Mugs")
    garden = CategoryFactory(name="Garden", path="Home > Garden")
    products = [
        ProductFactory(external_id=f"p{i}", title=f"Item {i}", category=mugs if i % 2 else garden) for i in range(1, 6)
    ]
    now = timezone.now()
    ItemPopularity.objects.bulk_create(
        ItemPopularity(product=p, score=10.0 - i, computed_at=now) for i, p in enumerate(products)
    )
    return products


def test_unknown_customer_gets_a_cold_start_list(storefront_client, popular_catalog):
    response = storefront_client.get(RECOMMENDATIONS, {"customer": "never-seen", "k": 3})

    assert response.status_code == 200
    body = response.json()
    assert uuid.UUID(body["recommendation_id"])
    assert body["customer"] == "never-seen"
    assert [item["id"] for item in body["items"]] == ["p1", "p2", "p3"]
    assert [item["title"] for item in body["items"]] == ["Item 1", "Item 2", "Item 3"]
    assert all(set(item["routes"]) == {"popularity"} for item in body["items"])


def test_exclude_accepts_commas_and_repeated_parameters(storefront_client, popular_catalog):
    response = storefront_client.get(f"{RECOMMENDATIONS}?customer=c&k=2&exclude=p1,p3&exclude=p2")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == ["p4", "p5"]


def test_category_is_normalised_and_includes_sub_categories(storefront_client, popular_catalog):
    response = storefront_client.get(RECOMMENDATIONS, {"customer": "c", "category": "Home>Kitchen"})

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == ["p1", "p3", "p5"]


def test_purchased_items_are_left_out_unless_asked_for(storefront_client, popular_catalog):
    customer = CustomerFactory(external_id="buyer")
    EventFactory(customer=customer, product=popular_catalog[0], event_id="bought-p1")

    default = storefront_client.get(RECOMMENDATIONS, {"customer": "buyer", "k": 5}).json()
    including = storefront_client.get(
        RECOMMENDATIONS, {"customer": "buyer", "k": 5, "include_purchased": "true"}
    ).json()

    assert "p1" not in [item["id"] for item in default["items"]]
    assert "p1" in [item["id"] for item in including["items"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "customer"),
        ("customer=", "customer"),
        ("customer=" + "c" * 129, "customer"),
        ("customer=c%00", "customer"),
        ("customer=c&k=abc", "k"),
        ("customer=c&k=0", "k"),
        ("customer=c&k=101", "k"),
        ("customer=c&k=1000", "k"),
        ("customer=c&k=-5", "k"),
        ("customer=c&k=1e3", "k"),
        ("customer=c&exclude=" + ",".join(f"p{i}" for i in range(501)), "exclude"),
        ("customer=c&exclude=" + "x" * 129, "exclude"),
        ("customer=c&category=" + "c" * 1001, "category"),
        ("customer=c&include_purchased=perhaps", "include_purchased"),
        ("customer=c&context=" + "p" * 129, "context"),
        ("customer=c&q=" + "q" * 501, "q"),
        ("customer=c&q=a%00b", "q"),
    ],
)
def test_recommendations_reject_bad_parameters_naming_them(storefront_client, query, field):
    response = storefront_client.get(f"{RECOMMENDATIONS}?{query}")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_similar_items_by_embedding(storefront_client):
    # given: p2 points almost where p1 does, p3 elsewhere
    vectors = {"p1": _unit(1, 0), "p2": _unit(0.9, 0.1), "p3": _unit(0, 1)}
    for external_id, vector in vectors.items():
        product = ProductFactory(external_id=external_id, title=external_id.upper())
        ProductEmbedding.objects.create(product=product, model_name="test", text_hash=product.text_hash, vector=vector)

    response = storefront_client.get("/api/v1/products/p1/similar/", {"k": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["product"] == "p1"
    assert [item["id"] for item in body["items"]] == ["p2", "p3"]
    assert body["items"][0]["routes"]["semantic"] == pytest.approx(1.0)


def test_similar_items_of_an_unknown_product_is_a_json_404(storefront_client):
    response = storefront_client.get("/api/v1/products/missing/similar/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No product with id 'missing'.", "fields": {}}}


@pytest.mark.parametrize(("k", "status"), [("abc", 400), ("0", 400), ("101", 400), ("100", 404)])
def test_similar_items_validate_k_before_looking_the_product_up(storefront_client, k, status):
    response = storefront_client.get("/api/v1/products/missing/similar/", {"k": k})

    assert response.status_code == status


@pytest.mark.slow
def test_search_finds_products_by_meaning(storefront_client):
    # given: three products embedded with the real model
    from recommendations.embeddings.service import embed_products

    ProductFactory(external_id="mug", title="Ceramic coffee mug")
    ProductFactory(external_id="hose", title="Garden hose, 20 metres")
    ProductFactory(external_id="shoes", title="Running shoes for men")
    embed_products()

    # when
    response = storefront_client.get(SEARCH, {"q": "a cup for my morning espresso", "k": 3})

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "a cup for my morning espresso"
    assert [item["id"] for item in body["items"]][0] == "mug"
    # Hybrid search (the built-in): the garden hose is too far in meaning to be returned at all.
    assert "hose" not in [item["id"] for item in body["items"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%20", "q"),
        ("q=" + "a" * 501, "q"),
        ("q=a%00b", "q"),
        ("q=mug&k=abc", "k"),
        ("q=mug&k=0", "k"),
        ("q=mug&k=1000", "k"),
        ("q=mug&category=%00", "category"),
    ],
)
def test_search_rejects_bad_parameters_naming_them(storefront_client, query, field):
    response = storefront_client.get(f"{SEARCH}?{query}")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
