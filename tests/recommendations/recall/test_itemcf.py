"""Item-CF: neighbours from a hand-made co-purchase pattern, the stored table, serving scores."""

import datetime as dt
import math

import numpy as np
import pytest
import scipy.sparse as sp

from catalog.models import ItemNeighbor
from recommendations.history import History
from recommendations.recall.itemcf import (
    PAIR_BYTES,
    item_blocks,
    itemcf_candidates,
    itemcf_neighbors_rebuild,
    itemcf_similarity,
    product_and_neighbors,
)
from tests.factories import CustomerFactory, EventFactory, ProductFactory

# Items A=0, B=1, C=2, D=3. u0 and u1 bought A and B, u2 bought A and C, u3 bought D only.
CO_PURCHASES = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 2), (3, 3)]


def co_purchase_matrix() -> sp.csr_matrix:
    users, items = zip(*CO_PURCHASES, strict=True)
    return sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(4, 4))


def test_similarity_ranks_the_more_often_co_bought_item_first_with_exact_scores():
    # given: every customer who touched two items weighs 1 / log(3) (IUF)
    a = 1 / math.log(3)
    ab = 2 * a / (math.sqrt(3 * a * 2 * a) + 5.0)
    ac = a / (math.sqrt(3 * a * a) + 5.0)

    # when
    similarity = itemcf_similarity(matrix=co_purchase_matrix(), shrink=5.0).toarray()

    # then: A's neighbours are B then C, each list sums to 1, nobody is their own neighbour
    assert similarity[0].tolist() == pytest.approx([0.0, ab / (ab + ac), ac / (ab + ac), 0.0])
    assert similarity[1].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0])
    assert similarity[2].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0])
    assert similarity[3].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_similarity_keeps_only_the_top_n_neighbours_whatever_the_block_size():
    # when: one neighbour per item, computed one item row at a time
    similarity = itemcf_similarity(matrix=co_purchase_matrix(), n_neighbors=1, block_rows=1).toarray()

    # then
    assert similarity[0].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert np.count_nonzero(similarity, axis=1).tolist() == [1, 1, 1, 0]


def test_blocks_are_cut_by_what_their_rows_may_co_occur_with():
    # given: item 0 is bought by a customer of all 4 items (it may co-occur with 4), items 1-3 by
    # that customer too; room for 5 pairs a block
    matrix = sp.csr_matrix(np.ones((1, 4)))

    # when
    blocks = item_blocks(matrix=matrix, block_rows=1024, block_bytes=5 * PAIR_BYTES)

    # then: one row a block (each row alone may hold 4 pairs), every item in exactly one block
    assert blocks == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert item_blocks(matrix=matrix, block_rows=1024, block_bytes=16 * PAIR_BYTES) == [(0, 4)]
    assert item_blocks(matrix=matrix, block_rows=3, block_bytes=16 * PAIR_BYTES) == [(0, 3), (3, 4)]


def test_small_blocks_give_the_same_similarity():
    matrix = co_purchase_matrix()

    small = itemcf_similarity(matrix=matrix, block_bytes=PAIR_BYTES).toarray()

    np.testing.assert_allclose(small, itemcf_similarity(matrix=matrix).toarray())


def test_a_heavy_customer_counts_less_than_light_ones():
    # given: items 0 and 1 are co-bought by one customer who bought 10 items (0..9);
    # items 0 and 2 by one customer who bought only those two
    rows = [(0, i) for i in range(10)] + [(1, 0), (1, 2)]
    users, items = zip(*rows, strict=True)
    matrix = sp.csr_matrix((np.ones(len(rows)), (users, items)), shape=(2, 10))

    # when
    similarity = itemcf_similarity(matrix=matrix, shrink=0.0).toarray()

    # then: item 2 is item 0's nearest neighbour
    assert int(np.argmax(similarity[0])) == 2


@pytest.mark.django_db
def test_rebuild_stores_ranked_neighbours_and_replaces_the_old_table():
    # given: the co-purchase pattern as purchase events
    products = ProductFactory.create_batch(4)
    customers = CustomerFactory.create_batch(4)
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for user, item in CO_PURCHASES:
        EventFactory(customer=customers[user], product=products[item], timestamp=when)
    ItemNeighbor.objects.create(product=products[3], neighbor=products[0], score=9.0, rank=1)

    # when
    written = itemcf_neighbors_rebuild()

    # then
    a, b, c, _ = (p.pk for p in products)
    stored = list(ItemNeighbor.objects.order_by("product_id", "rank").values_list("product_id", "neighbor_id", "rank"))
    assert written == 4
    assert stored == [(a, b, 1), (a, c, 2), (b, a, 1), (c, a, 1)]


@pytest.mark.django_db
def test_rebuild_until_a_time_sees_only_the_events_before_it():
    # given: A and B co-bought before the cut, A and C only at it and after
    a, b, c = ProductFactory.create_batch(3)
    cut = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
    for other, when in [(b, cut - dt.timedelta(days=1)), (c, cut), (c, cut + dt.timedelta(days=1))]:
        customer = CustomerFactory()
        EventFactory(customer=customer, product=a, timestamp=when)
        EventFactory(customer=customer, product=other, timestamp=when)

    # when
    itemcf_neighbors_rebuild(until=cut)

    # then
    stored = set(ItemNeighbor.objects.values_list("product_id", "neighbor_id"))
    assert stored == {(a.pk, b.pk), (b.pk, a.pk)}


@pytest.mark.django_db
def test_candidates_sum_history_weight_times_similarity():
    # given: neighbours stored by hand
    a, b, c, d = ProductFactory.create_batch(4)
    ItemNeighbor.objects.create(product=a, neighbor=c, score=0.5, rank=1)
    ItemNeighbor.objects.create(product=a, neighbor=d, score=0.25, rank=2)
    ItemNeighbor.objects.create(product=b, neighbor=d, score=1.0, rank=1)
    history = History(product_pks=(a.pk, b.pk), weights=(4.0, 1.0))

    # when
    candidates = itemcf_candidates(history=history, n=10)

    # then: d = 4×0.25 + 1×1.0 = 2.0, c = 4×0.5 = 2.0; ties break by pk
    assert [(x.product_pk, x.score) for x in candidates] == [(c.pk, 2.0), (d.pk, 2.0)]


@pytest.mark.django_db
def test_a_candidates_seed_is_its_largest_contribution_and_the_smaller_pk_among_equals():
    # given: d gets 2 × 0.5 from a and 1 × 1.0 from b (equal), 3 × 0.1 from c; e only from c
    a, b, c, d, e = ProductFactory.create_batch(5)
    for seed, neighbor, score in [(a, d, 0.5), (b, d, 1.0), (c, d, 0.1), (c, e, 1.0)]:
        ItemNeighbor.objects.create(product=seed, neighbor=neighbor, score=score, rank=1)
    history = History(product_pks=(c.pk, b.pk, a.pk), weights=(3.0, 1.0, 2.0))

    # when
    candidates = itemcf_candidates(history=history, n=10)

    # then: e = 3.0 from c; d = 2.3, seeded by a (a's pk is below b's)
    assert [(x.product_pk, x.score, x.seed_pk) for x in candidates] == [
        (e.pk, pytest.approx(3.0), c.pk),
        (d.pk, pytest.approx(2.3), a.pk),
    ]


@pytest.mark.django_db
def test_build_tasks_are_idempotent():
    # given
    from recommendations.tasks import build_neighbors, build_popularity

    products = ProductFactory.create_batch(4)
    customers = CustomerFactory.create_batch(4)
    for user, item in CO_PURCHASES:
        EventFactory(customer=customers[user], product=products[item])

    # when: delivered twice
    first = (build_neighbors.apply().get(), build_popularity.apply().get())
    second = (build_neighbors.apply().get(), build_popularity.apply().get())

    # then
    assert first == second == (4, 4)
    assert ItemNeighbor.objects.count() == 4


@pytest.mark.django_db
def test_a_product_and_its_neighbors_come_in_one_query(django_assert_num_queries):
    # given: a product with three stored neighbours (stored out of rank order), one without any
    a, b, c, d, lonely = ProductFactory.create_batch(5)
    ItemNeighbor.objects.create(product=a, neighbor=d, score=0.2, rank=3)
    ItemNeighbor.objects.create(product=a, neighbor=b, score=0.5, rank=1)
    ItemNeighbor.objects.create(product=a, neighbor=c, score=0.3, rank=2)

    # when
    with django_assert_num_queries(1):
        pk, neighbors = product_and_neighbors(external_id=a.external_id, n=2)

    # then: its pk and its first n neighbours by rank
    assert pk == a.pk
    assert [(n.product_pk, n.score, n.route) for n in neighbors] == [(b.pk, 0.5, "itemcf"), (c.pk, 0.3, "itemcf")]
    assert product_and_neighbors(external_id=lonely.external_id, n=2) == (lonely.pk, [])
    assert product_and_neighbors(external_id="no-such-product", n=2) == (None, [])
