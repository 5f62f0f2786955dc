"""Hybrid search: SKU, brand and title matching fused with the semantic matches above a minimum
similarity; what matched and the facet counts are in the answer."""

from decimal import Decimal

import pytest
from django.test import override_settings

from catalog.models import ProductEmbedding
from placements.public import strategy_parse
from recommendations.contracts import MATCH_HYBRID, MATCH_LEXICAL, MATCH_NONE
from recommendations.embeddings.model import encode_texts
from recommendations.pipeline import LEXICAL_FALLBACK, search
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

HYBRID = strategy_parse({"routes": {"semantic": 1}, "search": "hybrid"})


@pytest.fixture
def catalog():
    kitchen = CategoryFactory(name="Kitchen", path="Kitchen")
    garden = CategoryFactory(name="Garden", path="Garden")
    rows = [
        ("85123A", "red ceramic coffee mug", "Acme", kitchen, "8.50"),
        ("85123B", "blue ceramic tea cup", "Acme", kitchen, "12.00"),
        ("22423", "garden shovel with wooden handle", "Globex", garden, "30.00"),
        ("47566", "wool winter scarf", "", None, None),
    ]
    products = [
        ProductFactory(external_id=sku, title=title, brand=brand, category=category, price=price and Decimal(price))
        for sku, title, brand, category, price in rows
    ]
    for product, vector in zip(products, encode_texts([p.embedding_text() for p in products]), strict=True):
        ProductEmbedding.objects.create(product=product, model_name="real", text_hash=product.text_hash, vector=vector)
    return products


def _ids(found) -> list[str]:
    return [item.product_id for item in found.items]


def test_a_sku_finds_its_product_first(catalog):
    found = search(query="85123a", k=3, strategy=HYBRID)

    assert _ids(found)[0] == "85123A"
    assert found.matched in {MATCH_LEXICAL, MATCH_HYBRID}
    assert "lexical" in found.items[0].routes


def test_a_brand_finds_its_products_and_words_fuse_both_routes(catalog):
    brand = search(query="globex", k=3, strategy=HYBRID)
    words = search(query="coffee mug", k=3, strategy=HYBRID)

    assert _ids(brand)[0] == "22423"
    assert _ids(words)[0] == "85123A"
    assert words.matched == MATCH_HYBRID
    assert words.items[0].routes.keys() == {"lexical", "semantic"}


def test_a_gibberish_query_answers_nothing_and_says_so(catalog):
    found = search(query="xyzzy qwerty", k=5, strategy=HYBRID)

    assert (found.items, found.matched) == ((), MATCH_NONE)


def test_facets_count_the_matches_per_category_brand_and_price_band(catalog):
    found = search(query="ceramic", k=5, strategy=HYBRID)

    assert found.facets["brand"]["Acme"] == 2
    assert found.facets["category"]["Kitchen"] == 2
    assert found.facets["price"]["0-10"] >= 1
    assert found.facets["price"]["10-25"] >= 1


@override_settings(EMBEDDING_MODEL="/nonexistent/model-that-was-deleted")
def test_without_the_embedding_model_hybrid_answers_lexically_and_says_so(catalog):
    found = search(query="scarf", k=3, strategy=HYBRID)

    assert (_ids(found), found.matched, found.fallback) == (["47566"], MATCH_LEXICAL, LEXICAL_FALLBACK)


def test_the_search_api_answers_matched_and_facets(storefront_client, catalog):
    response = storefront_client.get("/api/v1/search/", {"q": "xyzzy qwerty"})

    assert response.status_code == 200
    assert response.json()["matched"] in {"none", "semantic", "hybrid", "lexical"}
    assert set(response.json()["facets"]) == {"category", "brand", "price"}
