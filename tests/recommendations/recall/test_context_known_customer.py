"""`context=` and `q=` lead the home feed of a customer with history too: the context's semantic
matches are a route of their own (`context`), fused with the customer's personal candidates."""

import math

import numpy as np
import pytest

from catalog.models import EventType, ItemNeighbor, ProductEmbedding
from recommendations.contracts import CONTEXT_ROUTE, RecRequest
from recommendations.pipeline import recommend
from recommendations.recall import popularity
from tests.factories import CustomerFactory, EventFactory, ProductFactory

pytestmark = pytest.mark.django_db

DIM = 384


def _unit(*weights: float) -> list[float]:
    norm = math.sqrt(sum(w * w for w in weights))
    return [w / norm for w in weights] + [0.0] * (DIM - len(weights))


@pytest.fixture
def known_customer():
    """bob bought `tent`; item-CF and his taste point at outdoor things, `mug` and `cup` sit
    elsewhere in the embedding space."""
    popularity._cache.clear()
    vectors = {
        "tent": _unit(1, 0, 0),
        "stove": _unit(0.9, 0.1, 0),
        "lamp": _unit(0.8, 0.2, 0),
        "mug": _unit(0, 0, 1),
        "cup": _unit(0, 0.1, 0.95),
    }
    products = {}
    for name, vector in vectors.items():
        products[name] = ProductFactory(external_id=name, title=name)
        ProductEmbedding.objects.create(
            product=products[name], model_name="test", text_hash=products[name].text_hash, vector=vector
        )
    for rank, name in enumerate(["stove", "lamp"], start=1):
        ItemNeighbor.objects.create(product=products["tent"], neighbor=products[name], score=1.0 / rank, rank=rank)
    EventFactory(customer=CustomerFactory(external_id="bob"), product=products["tent"], type=EventType.PURCHASE)
    yield products
    popularity._cache.clear()


def test_a_context_product_leads_a_known_customers_feed(known_customer):
    plain = recommend(request=RecRequest(customer_id="bob", k=3, reasons=False))
    led = recommend(request=RecRequest(customer_id="bob", k=3, reasons=False, context_product="mug"))

    assert [i.product_id for i in plain.items][:2] == ["stove", "lamp"]
    assert led.items[0].product_id == "cup"
    assert CONTEXT_ROUTE in led.items[0].routes
    # blended, not replaced: his own candidates are still in the list
    assert "stove" in [i.product_id for i in led.items]


def test_a_query_leads_a_known_customers_feed_through_the_api(storefront_client, known_customer, monkeypatch):
    # the query's embedding, without loading the model
    monkeypatch.setattr(
        "recommendations.embeddings.queries.encode_texts", lambda texts: np.asarray([_unit(0, 0, 1)], dtype=np.float32)
    )

    response = storefront_client.get(
        "/api/v1/recommendations/", {"customer": "bob", "q": "a mug", "k": 3, "reasons": "false"}
    )

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]][:2] == ["mug", "cup"]
