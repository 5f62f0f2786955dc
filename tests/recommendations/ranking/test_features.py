"""Ranking features: exact values for a hand-made shop, and no leakage from at or after `as_of`."""

import datetime as dt

import numpy as np
import pytest

from catalog.models import Event, EventType, ProductEmbedding
from recommendations.contracts import FusedItem
from recommendations.ranking.features import (
    FEATURE_SETS,
    MISSING_DAYS,
    MISSING_RANK,
    MISSING_SCORE,
    candidate_lists_build,
    catalog_load,
    customer_state_build,
    events_load,
    features_compute,
    item_state_build,
)
from tests.factories import CustomerFactory, EventFactory, ProductFactory

T = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
DIM = 384


def unit(dim):
    vector = np.zeros(DIM, dtype=np.float32)
    vector[dim] = 1.0
    return vector


@pytest.fixture
def shop(db):
    """alice bought A 10 days and 1 day before T and B 2 days before; bob bought C 5 days before.

    At and after T: alice buys C (exactly at T), bob buys A, a new customer buys D.
    """
    p = {
        name: ProductFactory(external_id=name, price=price)
        for name, price in [("A", "2.00"), ("B", "4.00"), ("C", "6.00"), ("D", None)]
    }
    for name, dim in [("A", 0), ("B", 1), ("C", 0)]:
        ProductEmbedding.objects.create(product=p[name], model_name="hand-made", text_hash="x", vector=unit(dim))
    alice, bob = CustomerFactory(external_id="alice"), CustomerFactory(external_id="bob")
    for customer, name, days in [(alice, "A", 10), (alice, "B", 2), (alice, "A", 1), (bob, "C", 5)]:
        EventFactory(customer=customer, product=p[name], type=EventType.PURCHASE, timestamp=T - dt.timedelta(days=days))
    for customer, name, days in [(alice, "C", 0), (bob, "A", 1), (CustomerFactory(), "D", 2)]:
        EventFactory(customer=customer, product=p[name], type=EventType.PURCHASE, timestamp=T + dt.timedelta(days=days))
    return p, alice


def features_as_of(*, as_of, customer_pk, candidates, feature_set="semantic"):
    """Alice's features for candidates [(product pk, fused score, routes)], loaded as of `as_of`, for
    a request at `as_of`."""
    catalog = catalog_load()
    events, customers = events_load(as_of=as_of.timestamp(), product_pks=catalog.product_pks)
    index = {pk: i for i, pk in enumerate(catalog.product_pks.tolist())}
    lists = candidate_lists_build(
        users=[int(np.searchsorted(customers, customer_pk))],
        fused_lists=[[FusedItem(product_pk=index[pk], score=s, routes=r) for pk, s, r in candidates]],
    )
    matrix = features_compute(
        lists=lists,
        items=item_state_build(events=events),
        customers=customer_state_build(events=events, catalog=catalog, clock=as_of.timestamp()),
        catalog=catalog,
        names=FEATURE_SETS[feature_set],
    )
    return {name: matrix[:, c].tolist() for c, name in enumerate(FEATURE_SETS[feature_set])}


def candidates_of(p):
    return [
        (p["C"].pk, 1.5, {"itemcf": 1.0, "semantic": 0.5}),
        (p["A"].pk, 0.7, {"itemcf": 0.4, "popularity": 1.0, "semantic": 0.5}),
        (p["D"].pk, 0.1, {"popularity": 0.25}),
    ]


def test_features_of_a_fixed_case(shop):
    # given alice's history as of T, asked for at T (her last purchase, A, was 1 day before)
    p, alice = shop

    # when her features are computed for C, A and D
    f = features_as_of(as_of=T, customer_pk=alice.pk, candidates=candidates_of(p))

    # then every family has its exact value
    assert f["itemcf_rank"] == [1.0, 2.0, MISSING_RANK]
    assert f["itemcf_score"] == pytest.approx([1.0, 0.4, MISSING_SCORE])
    assert f["popularity_rank"] == [MISSING_RANK, 1.0, 2.0]
    # the semantic tie (0.5, 0.5) breaks by the lower item index: C was created after A
    assert f["semantic_rank"] == [2.0, 1.0, MISSING_RANK]
    assert f["fused_score"] == pytest.approx([1.5, 0.7, 0.1])
    # C: bob's purchase 5 days before T; A: 4 a day before T in the 7-day window, 8 within 30 days
    assert f["item_popularity_7d"] == pytest.approx([np.log1p(4.0), np.log1p(4.0), 0.0])
    assert f["item_popularity_30d"] == pytest.approx([np.log1p(4.0), np.log1p(8.0), 0.0])
    assert f["item_customers"] == pytest.approx([np.log1p(1), np.log1p(1), 0.0])
    assert f["item_age_days"] == pytest.approx([5.0, 10.0, MISSING_DAYS])
    assert f["price"][:2] == pytest.approx([6.0, 2.0]) and np.isnan(f["price"][2])
    # alice's usual price: (2 + 4 + 2) / 3
    assert f["customer_mean_price"] == pytest.approx([8 / 3] * 3)
    assert f["price_ratio"][:2] == pytest.approx([6.0 / (8 / 3), 2.0 / (8 / 3)])
    assert f["customer_events"] == pytest.approx([np.log1p(3)] * 3)
    assert f["customer_items"] == pytest.approx([np.log1p(2)] * 3)
    assert f["customer_recency_days"] == pytest.approx([1.0] * 3)
    assert f["customer_tenure_days"] == pytest.approx([10.0] * 3)
    assert f["category_affinity"] == [0.0, 0.0, 0.0]
    assert f["brand_affinity"] == [0.0, 0.0, 0.0]
    assert f["repeat_events"] == pytest.approx([0.0, np.log1p(2), 0.0])
    assert f["repeat_recency_days"] == pytest.approx([MISSING_DAYS, 1.0, MISSING_DAYS])
    # last items: A (dim 0), B (dim 1); C shares A's direction, D has no embedding
    assert f["last_items_max_cosine"] == pytest.approx([1.0, 1.0, 0.0])
    assert f["last_items_mean_cosine"] == pytest.approx([0.5, 0.5, 0.0])
    # the very last item is A (dim 0)
    assert f["last_item_cosine"] == pytest.approx([1.0, 1.0, 0.0])
    assert f["has_embedding"] == [1.0, 1.0, 0.0]
    # the whole recent history (A, B): the closest item, its rank within the list (ties by row),
    # and how many history items are variants of the candidate (cosine >= 0.8)
    assert f["history_max_cosine"] == pytest.approx([1.0, 1.0, 0.0])
    assert f["history_max_cosine_rank"] == [1.0, 2.0, 3.0]
    assert f["history_close_items"] == pytest.approx([np.log1p(1), np.log1p(1), 0.0])
    # no topic basis given: the customer's topic coordinates are unknown
    assert all(np.isnan(f["customer_topic_0"]))


def test_statistical_set_holds_no_embedding_feature(shop):
    p, alice = shop
    f = features_as_of(as_of=T, customer_pk=alice.pk, candidates=candidates_of(p), feature_set="statistical")
    assert not {"semantic_score", "semantic_rank", "fused_score", "history_cosine", "has_embedding"} & set(f)
    assert len(f) == len(FEATURE_SETS["statistical"]) and not {"last_item_cosine", "history_cosine_rank"} & set(f)


def test_no_event_at_or_after_as_of_influences_any_feature(shop):
    # given features as of T with events at T and after it in the database
    p, alice = shop
    with_later = features_as_of(as_of=T, customer_pk=alice.pk, candidates=candidates_of(p))

    # when every event at or after T is removed, and when more are added there
    Event.objects.filter(timestamp__gte=T).delete()
    without_later = features_as_of(as_of=T, customer_pk=alice.pk, candidates=candidates_of(p))
    for days in (0, 3):
        EventFactory(customer=alice, product=p["D"], type=EventType.PURCHASE, timestamp=T + dt.timedelta(days=days))
    with_more = features_as_of(as_of=T, customer_pk=alice.pk, candidates=candidates_of(p))

    # then no feature moved (NaN where the price is unknown compares equal to itself)
    assert np.array_equal(np.array(list(with_later.values())), np.array(list(without_later.values())), equal_nan=True)
    assert np.array_equal(np.array(list(with_more.values())), np.array(list(without_later.values())), equal_nan=True)


def test_events_after_as_of_do_count_one_second_later(shop):
    # given the event alice makes exactly at T
    p, alice = shop

    # when features are computed one second after T
    f = features_as_of(as_of=T + dt.timedelta(seconds=1), customer_pk=alice.pk, candidates=candidates_of(p))

    # then her purchase of C is a repeat now (the leakage test above can fail)
    assert f["repeat_events"][0] == pytest.approx(np.log1p(1))


def test_the_topic_basis_is_deterministic_and_survives_storage():
    from recommendations.ranking.features import TOPICS, EmbeddingBasis, catalog_build, embedding_basis_fit

    # given a catalog of 50 embedded items
    vectors = np.random.default_rng(0).normal(size=(50, DIM)).astype(np.float32)
    catalog = catalog_build(
        product_pks=np.arange(50), prices=np.full(50, np.nan), category_ids=np.full(50, -1), embeddings=vectors
    )

    # when the basis is fitted twice and stored as JSON once
    basis = embedding_basis_fit(catalog=catalog)
    again = embedding_basis_fit(catalog=catalog)
    stored = EmbeddingBasis.from_json(basis.to_json())

    # then the same directions come back, signs included, and project items alike
    assert basis.components.shape == (TOPICS, DIM)
    np.testing.assert_array_equal(basis.components, again.components)
    np.testing.assert_allclose(stored.project(catalog.embeddings), basis.project(catalog.embeddings), atol=1e-4)
    # the first direction carries the most variance of the centred items
    spread = basis.project(catalog.embeddings).var(axis=0)
    assert spread[0] == spread.max()


def test_too_few_embedded_items_give_no_basis_and_unknown_topics(shop):
    from recommendations.ranking.features import embedding_basis_fit

    p, alice = shop
    assert embedding_basis_fit(catalog=catalog_load()) is None
    f = features_as_of(as_of=T, customer_pk=alice.pk, candidates=candidates_of(p))
    assert all(np.isnan(value) for value in f["item_topic_0"])


def test_customer_topics_are_the_history_vector_on_the_item_basis():
    from recommendations.contracts import Interactions
    from recommendations.ranking.features import CUSTOMER_TOPIC_FEATURES, catalog_build, embedding_basis_fit

    # given 50 embedded items and two customers: one with three purchases, one with none
    vectors = np.random.default_rng(1).normal(size=(50, DIM)).astype(np.float32)
    catalog = catalog_build(
        product_pks=np.arange(50), prices=np.full(50, np.nan), category_ids=np.full(50, -1), embeddings=vectors
    )
    events = Interactions(
        users=np.array([0, 0, 0]),
        items=np.array([3, 7, 9]),
        weights=np.ones(3),
        timestamps=np.array([1.0, 2.0, 3.0]),
        positive=np.ones(3, dtype=bool),
        n_users=2,
        n_items=50,
    )
    customers = customer_state_build(events=events, catalog=catalog, clock=10.0)
    basis = embedding_basis_fit(catalog=catalog)
    lists = candidate_lists_build(
        users=[0, 1], fused_lists=[[FusedItem(product_pk=k, score=1.0, routes={}) for k in (1, 2)]] * 2
    )

    # when their features are computed on the basis
    matrix = features_compute(
        lists=lists,
        items=item_state_build(events=events),
        customers=customers,
        catalog=catalog,
        names=CUSTOMER_TOPIC_FEATURES,
        basis=basis,
    )

    # then the buyer's rows carry their history vector's coordinates, the other's are unknown
    np.testing.assert_allclose(matrix[:2], np.tile(basis.project(customers.vectors[:1]), (2, 1)), atol=1e-5)
    assert np.isnan(matrix[2:]).all()


def test_the_catalog_normalises_in_blocks_exactly_as_the_whole_matrix_did(monkeypatch):
    from recommendations.ranking import features

    # given float32 and float64 embeddings with zero rows, spanning several blocks
    monkeypatch.setattr(features, "EMBEDDING_BLOCK_ROWS", 7)
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(50, DIM)).astype(np.float32) * rng.uniform(0.01, 100, size=(50, 1)).astype(np.float32)
    vectors[[0, 13, 49]] = 0.0
    for given in (vectors, vectors.astype(np.float64)):
        norms = np.linalg.norm(given, axis=1, keepdims=True)
        whole = np.divide(given, norms, out=np.zeros_like(given, dtype=np.float32), where=norms > 0)
        kept = given.copy()

        # when a catalog is built from them, copied and in place
        copied = features.catalog_build(
            product_pks=np.arange(50), prices=np.full(50, np.nan), category_ids=np.full(50, -1), embeddings=given
        )
        owned = features.catalog_build(
            product_pks=np.arange(50),
            prices=np.full(50, np.nan),
            category_ids=np.full(50, -1),
            embeddings=given.copy(),
            embeddings_owned=True,
        )

        # then both hold the whole-matrix values bit for bit, and the caller's copy is untouched
        for catalog in (copied, owned):
            assert catalog.embeddings.dtype == np.float32
            np.testing.assert_array_equal(catalog.embeddings, whole)
            np.testing.assert_array_equal(catalog.has_embedding, np.abs(whole).sum(axis=1) > 0)
        np.testing.assert_array_equal(given, kept)


def test_the_catalog_loads_in_chunks_in_pk_order(db, monkeypatch):
    from recommendations.embeddings import stored
    from recommendations.ranking import features

    # given 5 products, 3 embedded, read 2 rows at a time
    monkeypatch.setattr(features, "CATALOG_CHUNK", 2)
    monkeypatch.setattr(stored, "CHUNK_ROWS", 2)
    products = [ProductFactory(price=f"{i + 1}.50", brand=["Acme", "", "acme ", "Zed", ""][i]) for i in range(5)]
    for i in (0, 2, 4):
        ProductEmbedding.objects.create(product=products[i], model_name="m", text_hash="x", vector=3 * unit(i))

    # when the catalog is loaded
    catalog = catalog_load()

    # then every product is there once, in pk order, with its price, brand and unit vector
    np.testing.assert_array_equal(catalog.product_pks, sorted(p.pk for p in products))
    np.testing.assert_array_equal(catalog.prices, [1.5, 2.5, 3.5, 4.5, 5.5])
    np.testing.assert_array_equal(catalog.brands, [0, -1, 0, 1, -1])
    np.testing.assert_array_equal(catalog.has_embedding, [True, False, True, False, True])
    np.testing.assert_array_equal(catalog.embeddings[[0, 2, 4]], np.stack([unit(0), unit(2), unit(4)]))
