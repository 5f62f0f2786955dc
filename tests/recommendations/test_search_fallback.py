"""The embedding model not loadable: search answers by keywords and says so; feeds still answer."""

from __future__ import annotations

import pytest
from django.test import override_settings

from catalog.models import ItemPopularity
from placements.public import strategy_parse
from recommendations.contracts import RecRequest
from recommendations.errors import EmbeddingModelUnavailable
from recommendations.pipeline import KEYWORD_FALLBACK, LEXICAL_FALLBACK, recommend, search
from recommendations.recall import popularity
from recsite.fanout import concurrent_allowed
from tests.factories import ProductFactory

# The semantic algorithm, whose fallback is keyword search (the built-in search is hybrid).
SEMANTIC = strategy_parse({"routes": {"semantic": 1.0}, "search": "semantic"}, name="search")

pytestmark = pytest.mark.django_db

BROKEN_MODEL = override_settings(EMBEDDING_MODEL="/nonexistent/model-that-was-deleted")


@pytest.fixture
def catalog():
    popularity._cache.clear()
    products = [
        ProductFactory(external_id="mug", title="RED ENAMEL COFFEE MUG"),
        ProductFactory(external_id="scarf", title="WOOL WINTER SCARF", description="a red scarf"),
        ProductFactory(external_id="shovel", title="GARDEN SHOVEL"),
        ProductFactory(external_id="old-mug", title="BLUE COFFEE MUG", in_stock=False),
    ]
    ItemPopularity.objects.create(product=products[2], score=1.0, computed_at=products[2].created_at)
    yield products
    popularity._cache.clear()


@BROKEN_MODEL
def test_semantic_search_falls_back_to_keywords_and_says_so(catalog):
    found = search(query="red coffee mug!", k=5, strategy=SEMANTIC)

    # the mug matches three words, the scarf one; the out-of-stock mug is left out
    assert [item.product_id for item in found.items] == ["mug", "scarf"]
    assert found.items[0].routes.keys() == {"keyword"}
    assert found.fallback == KEYWORD_FALLBACK


@BROKEN_MODEL
def test_the_search_api_answers_200_with_the_fallback_named(storefront_client, catalog):
    # The built-in search is hybrid: without the model its lexical half answers alone.
    response = storefront_client.get("/api/v1/search/", {"q": "garden & | ! shovel"})

    assert response.status_code == 200
    assert response.json()["fallback"] == LEXICAL_FALLBACK
    assert [item["id"] for item in response.json()["items"]] == ["shovel"]


@BROKEN_MODEL
def test_a_cold_start_feed_with_a_query_still_answers_with_popular_items(catalog):
    feed = recommend(request=RecRequest(customer_id=None, k=3, query="coffee"))

    assert [item.product_id for item in feed.items] == ["shovel"]


def test_a_model_that_cannot_load_raises_the_documented_error(db):
    from recommendations.embeddings.model import encode_texts

    with BROKEN_MODEL, pytest.raises(EmbeddingModelUnavailable, match="nonexistent"):
        encode_texts(["anything"])


@pytest.mark.django_db(transaction=True)
def test_hybrid_search_side_by_side_still_answers_lexically_without_the_model(settings):
    # Committed rows and no transaction: the lexical match runs on a fan-out thread
    # (recsite.fanout) beside the failing encoder. (One settings override for both: the fixture's
    # and a decorator's stacked restore the decorator's value after the test.)
    settings.EMBEDDING_MODEL = "/nonexistent/model-that-was-deleted"
    settings.SERVING_FANOUT_THREADS = 2
    popularity._cache.clear()
    ProductFactory(external_id="shovel", title="GARDEN SHOVEL")
    ProductFactory(external_id="mug", title="RED ENAMEL COFFEE MUG")
    assert concurrent_allowed()

    found = search(query="garden shovel", k=5)

    assert found.fallback == LEXICAL_FALLBACK
    assert [item.product_id for item in found.items] == ["shovel"]
    popularity._cache.clear()
