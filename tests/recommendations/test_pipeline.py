"""The serving pipeline: routes merged, filters applied, a few queries per call."""

import datetime as dt
import uuid

import numpy as np
import pytest

from catalog.models import EventType, ItemNeighbor, ItemPopularity, ProductEmbedding
from placements.public import Strategy, strategy_parse
from recommendations.contracts import RecRequest
from recommendations.errors import UnknownProduct
from recommendations.pipeline import recommend, search, similar_items
from tests.factories import CategoryFactory, CustomerFactory, EventFactory, ProductFactory

DIM = 384
NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def unit(*pairs):
    vector = np.zeros(DIM, dtype=np.float32)
    for dim, value in pairs:
        vector[dim] = value
    return vector / np.linalg.norm(vector)


@pytest.fixture
def shop(db):
    """A customer who bought `mug` and viewed `kettle`; stored neighbours, popularity, embeddings.

    item-CF: mug → teapot (0.6), saucer (0.4). Semantic: kettle sits next to `toaster`.
    Popularity: lamp > teapot > mug > shovel.
    """
    home = CategoryFactory(name="Home", path="Home")
    kitchen = CategoryFactory(name="Kitchen", path="Home > Kitchen")
    garden = CategoryFactory(name="Garden", path="Garden")
    p = {
        "mug": ProductFactory(external_id="mug", category=kitchen),
        "kettle": ProductFactory(external_id="kettle", category=kitchen),
        "teapot": ProductFactory(external_id="teapot", category=kitchen),
        "saucer": ProductFactory(external_id="saucer", category=kitchen),
        "toaster": ProductFactory(external_id="toaster", category=kitchen),
        "lamp": ProductFactory(external_id="lamp", category=home),
        "shovel": ProductFactory(external_id="shovel", category=garden),
    }
    customer = CustomerFactory(external_id="alice")
    EventFactory(customer=customer, product=p["mug"], type=EventType.PURCHASE, timestamp=NOW - dt.timedelta(days=1))
    EventFactory(customer=customer, product=p["kettle"], type=EventType.VIEW, timestamp=NOW)
    ItemNeighbor.objects.create(product=p["mug"], neighbor=p["teapot"], score=0.6, rank=1)
    ItemNeighbor.objects.create(product=p["mug"], neighbor=p["saucer"], score=0.4, rank=2)
    for name, score in [("lamp", 10.0), ("teapot", 5.0), ("mug", 4.0), ("shovel", 1.0)]:
        ItemPopularity.objects.create(product=p[name], score=score, computed_at=NOW)
    vectors = {
        "mug": unit((0, 1.0)),
        "kettle": unit((1, 1.0)),
        "toaster": unit((1, 1.0), (2, 0.2)),
        "lamp": unit((3, 1.0)),
        "shovel": unit((4, 1.0)),
    }
    for name, vector in vectors.items():
        ProductEmbedding.objects.create(product=p[name], model_name="hand-made", text_hash="x", vector=vector)
    return p


def ids(recommendation):
    return [item.product_id for item in recommendation.items]


ITEMCF_ONLY = Strategy(name="itemcf", routes={"itemcf": 1.0})


def test_itemcf_feed_leaves_purchased_items_out(shop):
    feed = recommend(request=RecRequest(customer_id="alice", k=5), strategy=ITEMCF_ONLY)

    assert ids(feed) == ["teapot", "saucer"]
    assert feed.items[0].routes == {"itemcf": 1.0}
    assert feed.strategy == "itemcf"
    assert isinstance(feed.recommendation_id, uuid.UUID)


def test_fused_feed_merges_every_route(shop):
    # when
    feed = recommend(request=RecRequest(customer_id="alice", k=4))

    # then: teapot = itemcf 1 + popularity 0.1 × ½; saucer = itemcf ⅔; kettle (seen, not bought)
    # and toaster lead the semantic route at weight ½
    assert ids(feed) == ["teapot", "saucer", "kettle", "toaster"]
    assert feed.items[0].routes == pytest.approx({"itemcf": 1.0, "popularity": 0.5})
    assert feed.items[2].routes == {"semantic": 1.0}


def test_include_purchased_keeps_bought_items(shop):
    feed = recommend(request=RecRequest(customer_id="alice", k=10, include_purchased=True))

    assert "mug" in ids(feed)
    assert "mug" not in ids(recommend(request=RecRequest(customer_id="alice", k=10)))


def test_exclude_and_out_of_stock_are_filtered(shop):
    shop["saucer"].in_stock = False
    shop["saucer"].save()

    feed = recommend(request=RecRequest(customer_id="alice", k=10, exclude=("teapot",)))

    assert ids(feed) == ["kettle", "toaster", "lamp", "shovel"]


def test_category_filter_keeps_the_subtree(shop):
    feed = recommend(request=RecRequest(customer_id="alice", k=10, category="Home"))

    assert set(ids(feed)) == {"teapot", "saucer", "kettle", "toaster", "lamp"}
    assert ids(recommend(request=RecRequest(customer_id="alice", k=10, category="Garden"))) == ["shovel"]


def test_cold_start_gets_popular_items(shop):
    for customer_id in ("unknown", None):
        feed = recommend(request=RecRequest(customer_id=customer_id, k=3))

        assert ids(feed) == ["lamp", "teapot", "mug"]
        assert feed.items[0].routes == {"popularity": 1.0}


def test_cold_start_with_a_context_item_leads_with_its_semantic_neighbours(shop):
    # when a shopper without history looks at the kettle
    feed = recommend(request=RecRequest(customer_id="unknown", k=3, context_product="kettle"))

    # then the toaster (next to the kettle) leads, popular items follow; the kettle itself is left out
    assert ids(feed)[0] == "toaster"
    assert feed.items[0].routes == {"semantic": 1.0}
    assert "kettle" not in ids(feed)
    # an unknown context item changes nothing
    assert ids(recommend(request=RecRequest(customer_id="unknown", k=3, context_product="nope"))) == [
        "lamp",
        "teapot",
        "mug",
    ]


def test_cold_start_with_a_query_matches_it_with_the_real_model(db):
    from recommendations.embeddings.model import encode_texts

    titles = ["red ceramic coffee mug", "garden shovel with wooden handle", "wool winter scarf"]
    products = [ProductFactory(title=t) for t in titles]
    for product, vector in zip(products, encode_texts(titles), strict=True):
        ProductEmbedding.objects.create(product=product, model_name="real", text_hash=product.text_hash, vector=vector)

    feed = recommend(request=RecRequest(customer_id=None, k=1, query="something warm for my neck"))

    assert [item.title for item in feed.items] == ["wool winter scarf"]


def test_a_known_customer_ignores_the_context(shop):
    with_context = recommend(request=RecRequest(customer_id="alice", k=4, context_product="shovel"))

    assert ids(with_context) == ids(recommend(request=RecRequest(customer_id="alice", k=4)))


def test_recommend_uses_a_handful_of_queries(shop, django_assert_max_num_queries):
    recommend(request=RecRequest(customer_id="alice", k=10))  # warms the popularity cache

    # history 2, item-CF 1, customer vector 1, semantic 2 (+2 savepoint queries of the test's
    # transaction), popularity in a category 1, final filter 1
    with django_assert_max_num_queries(10):
        feed = recommend(request=RecRequest(customer_id="alice", k=10, category="Home", exclude=("lamp",)))

    assert len(feed.items) == 4


def test_each_recommendation_has_a_fresh_id(shop):
    first = recommend(request=RecRequest(customer_id="alice"))
    second = recommend(request=RecRequest(customer_id="alice"))

    assert first.recommendation_id != second.recommendation_id


def test_similar_items_merges_item_cf_and_semantic_neighbours(shop):
    similar = similar_items(product_id="mug", k=3)

    assert ids(similar)[:2] == ["teapot", "saucer"]
    assert "mug" not in ids(similar)
    assert similar.strategy == "similar"


def test_similar_items_follow_the_strategy_weights_and_name(shop):
    only_semantic = strategy_parse({"routes": {"semantic": 1.0}}, name="similar@v2")

    similar = similar_items(product_id="kettle", k=3, strategy=only_semantic)

    assert ids(similar)[0] == "toaster"
    assert all(set(item.routes) == {"semantic"} for item in similar.items)
    assert similar.strategy == "similar@v2"


def test_search_by_keyword_when_the_strategy_says_so(db):
    ProductFactory(external_id="scarf", title="wool winter scarf")
    ProductFactory(external_id="mug", title="red ceramic coffee mug")

    found = search(query="winter scarf", k=2, strategy=strategy_parse({"routes": {"semantic": 1}, "search": "keyword"}))

    assert [item.product_id for item in found.items] == ["scarf"]
    assert found.items[0].routes.keys() == {"keyword"}
    assert found.fallback is None  # chosen, not a fallback


def test_similar_items_of_an_unknown_product_raises(db):
    with pytest.raises(UnknownProduct) as raised:
        similar_items(product_id="nope")

    assert raised.value.product_id == "nope"


def test_search_matches_the_query_with_the_real_model(db):
    # given: products embedded with the real model
    from recommendations.embeddings.model import encode_texts

    titles = ["red ceramic coffee mug", "garden shovel with wooden handle", "wool winter scarf"]
    products = [ProductFactory(title=t) for t in titles]
    for product, vector in zip(products, encode_texts(titles), strict=True):
        ProductEmbedding.objects.create(product=product, model_name="real", text_hash=product.text_hash, vector=vector)

    # when (semantic search: every product has some similarity, so k are returned)
    found = search(
        query="a cup for coffee", k=2, strategy=strategy_parse({"routes": {"semantic": 1}, "search": "semantic"})
    )

    # then
    assert [item.title for item in found.items][0] == "red ceramic coffee mug"
    assert len(found.items) == 2
    assert search(query="   ").items == ()
