"""Semantic recall with hand-made vectors: exact geometry, filters that never empty the list."""

import numpy as np
import pytest
from django.db import connection

from catalog.models import ProductEmbedding
from recommendations.history import History
from recommendations.recall.semantic import (
    MIN_EF_SEARCH,
    KnnFilter,
    customer_semantic_candidates,
    customer_vector,
    semantic_candidates,
    semantic_neighbors,
)
from tests.factories import CategoryFactory, ProductFactory

DIM = 384


def unit(*pairs):
    """A unit vector with the given (dimension, value) entries."""
    vector = np.zeros(DIM, dtype=np.float32)
    for dim, value in pairs:
        vector[dim] = value
    return vector / np.linalg.norm(vector)


def embed(product, vector):
    ProductEmbedding.objects.create(product=product, model_name="hand-made", text_hash=product.text_hash, vector=vector)


@pytest.fixture
def fan(db):
    """Six products on a fan from dimension 0 towards dimension 1: p0 along 0, p5 along 1."""
    products = ProductFactory.create_batch(6)
    for i, product in enumerate(products):
        angle = i * np.pi / 10
        embed(product, unit((0, np.cos(angle)), (1, np.sin(angle))))
    # Earlier tests' rolled-back rows stay in the HNSW graph as dead entries until a vacuum (these
    # same fan vectors among them): a graph of a few live rows among hundreds of dead ones is what
    # no shop serves from, and the approximate search then missed a live neighbour.
    with connection.cursor() as cursor:
        cursor.execute("REINDEX INDEX product_embedding_hnsw")
    return products


def test_candidates_come_nearest_first_with_cosine_scores(fan):
    # when
    found = semantic_candidates(vector=unit((0, 1.0)), n=3, knn_filter=KnnFilter())

    # then
    assert [c.product_pk for c in found] == [fan[0].pk, fan[1].pk, fan[2].pk]
    assert [c.score for c in found] == pytest.approx([1.0, np.cos(np.pi / 10), np.cos(np.pi / 5)], abs=1e-6)


def test_exclusions_and_stock_filters_still_fill_the_list(fan):
    # given: the two nearest are excluded (one by pk, one by external id), the third is out of stock
    fan[2].in_stock = False
    fan[2].save()

    # when
    found = semantic_candidates(
        vector=unit((0, 1.0)),
        n=3,
        knn_filter=KnnFilter(excluded_pks=(fan[0].pk,), excluded_external_ids=(fan[1].external_id,)),
    )

    # then
    assert [c.product_pk for c in found] == [fan[3].pk, fan[4].pk, fan[5].pk]


def test_category_filter_covers_the_subtree_only(db):
    # given: the nearest item is in "Homeware" (not under "Home")
    home = CategoryFactory(name="Home", path="Home")
    kitchen = CategoryFactory(name="Kitchen", path="Home > Kitchen")
    homeware = CategoryFactory(name="Homeware", path="Homeware")
    near, mid, far = (ProductFactory(category=c) for c in (homeware, kitchen, home))
    embed(near, unit((0, 1.0)))
    embed(mid, unit((0, 1.0), (1, 0.5)))
    embed(far, unit((0, 1.0), (1, 2.0)))

    # when
    found = semantic_candidates(vector=unit((0, 1.0)), n=5, knn_filter=KnnFilter(category_path="Home"))

    # then
    assert [c.product_pk for c in found] == [mid.pk, far.pk]


def test_customer_vector_is_the_weighted_mean_of_recent_items_normalised(fan):
    # given: 3 parts of p0 (along 0) and 1 part of p5 (along 1)
    history = History(product_pks=(fan[0].pk, fan[5].pk), weights=(3.0, 1.0))

    # when
    vector = customer_vector(history=history)

    # then
    assert vector[:2].tolist() == pytest.approx([3 / np.sqrt(10), 1 / np.sqrt(10)], abs=1e-6)


def test_customer_vector_is_none_without_embedded_items(db):
    product = ProductFactory()

    assert customer_vector(history=History(product_pks=(product.pk,), weights=(1.0,))) is None


def test_neighbours_of_a_product_leave_the_product_out(fan):
    found = semantic_neighbors(product_pk=fan[2].pk, n=2, knn_filter=KnnFilter())

    assert sorted(c.product_pk for c in found) == [fan[1].pk, fan[3].pk]


def test_customer_candidates_built_in_sql_match_the_python_customer_vector(fan):
    # given: a history of two embedded items, weighted 3 : 1, and one exclusion
    history = History(product_pks=(fan[0].pk, fan[5].pk), weights=(3.0, 1.0))
    knn_filter = KnnFilter(excluded_pks=(fan[0].pk,))

    # when: the customer vector is formed inside the query
    in_sql = customer_semantic_candidates(history=history, n=4, knn_filter=knn_filter)

    # then: same items, same order, same cosine scores as searching with customer_vector
    in_python = semantic_candidates(vector=customer_vector(history=history), n=4, knn_filter=knn_filter)
    assert [c.product_pk for c in in_sql] == [c.product_pk for c in in_python]
    assert [c.score for c in in_sql] == pytest.approx([c.score for c in in_python], abs=1e-6)


def test_customer_candidates_are_empty_without_embedded_items(db):
    product = ProductFactory()

    found = customer_semantic_candidates(
        history=History(product_pks=(product.pk,), weights=(1.0,)), n=5, knn_filter=KnnFilter()
    )

    assert found == []


def test_a_years_old_item_beside_a_fresh_one_does_not_break_the_query(fan):
    # given a decayed weight far below what a float4 holds (a 2011 purchase beside a click today)
    history = History(product_pks=(fan[0].pk, fan[5].pk), weights=(1.0, 6e-55))

    # when
    found = customer_semantic_candidates(history=history, n=3, knn_filter=KnnFilter())

    # then the old item is left out of the vector: the fresh one's neighbours come first
    only_fresh = customer_semantic_candidates(
        history=History(product_pks=(fan[0].pk,), weights=(1.0,)), n=3, knn_filter=KnnFilter()
    )
    assert [c.product_pk for c in found] == [c.product_pk for c in only_fresh]


def test_new_connections_carry_the_hnsw_settings_most_queries_want(db):
    from django.db import connections

    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan')")
            assert cursor.fetchone() == (str(MIN_EF_SEARCH), "relaxed_order")
    finally:
        fresh.close()


def test_through_the_index_a_filter_that_removes_the_nearest_half_still_fills_the_list(db):
    from django.db import connection

    # given: 300 products on a fan; the 150 nearest to the query are out of stock
    products = ProductFactory.create_batch(300)
    for i, product in enumerate(products):
        angle = i * (np.pi / 2) / 300
        embed(product, unit((0, np.cos(angle)), (1, np.sin(angle)), (2 + i % 50, 0.05)))
    ProductFactory._meta.model.objects.filter(pk__in=[p.pk for p in products[:150]]).update(in_stock=False)

    # when: the planner must order by the HNSW index (sorting every row would fill any list)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
    found = semantic_candidates(vector=unit((0, 1.0)), n=10, knn_filter=KnnFilter())
    wide = semantic_candidates(vector=unit((0, 1.0)), n=120, knn_filter=KnnFilter())

    # then
    assert [c.product_pk for c in found] == [p.pk for p in products[150:160]]
    assert len(wide) == 120
