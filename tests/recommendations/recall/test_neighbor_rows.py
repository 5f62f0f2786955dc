"""Neighbour tables written block by block through binary COPY: every block's rows land, ranked,
with the column types of each table, and a rebuild never holds more than one block."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from django.db import connection, transaction

from catalog.models import ItemNeighbor
from recommendations.models import CoPurchaseNeighbor
from recommendations.recall import itemcf
from recommendations.recall import neighbor_rows as rows_module
from recommendations.recall.itemcf import itemcf_blocks, itemcf_neighbors_rebuild, itemcf_similarity
from recommendations.recall.neighbor_rows import NeighborBlock, NeighborTable, neighbor_rows_write
from tests.factories import CustomerFactory, EventFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_every_block_is_written_ranked_with_exact_scores():
    # given two blocks of neighbour rows, out of order inside each, over four products
    products = ProductFactory.create_batch(4)
    pks = np.array([p.pk for p in products], dtype=np.int64)
    blocks = [
        NeighborBlock(rows=np.array([0, 0, 1]), cols=np.array([2, 1, 0]), scores=np.array([0.25, 0.75, 1.0])),
        NeighborBlock(rows=np.array([3, 3]), cols=np.array([2, 0]), scores=np.array([0.5, 0.5])),
    ]

    # when
    with transaction.atomic(), connection.cursor() as cursor:
        written = neighbor_rows_write(
            cursor=cursor,
            table=NeighborTable(name="catalog_itemneighbor", rank_type="int2"),
            blocks=blocks,
            product_pks=pks,
        )

    # then: ranked best first within each product, ties by the lower product index
    a, b, c, d = pks.tolist()
    stored = list(
        ItemNeighbor.objects.order_by("product_id", "rank").values_list("product_id", "neighbor_id", "score", "rank")
    )
    assert written == 5
    assert stored == [(a, b, 0.75, 1), (a, c, 0.25, 2), (b, a, 1.0, 1), (d, a, 0.5, 1), (d, c, 0.5, 2)]


def test_an_int4_rank_table_takes_ranks_past_the_smallint_range():
    products = ProductFactory.create_batch(2)
    pks = np.array([p.pk for p in products], dtype=np.int64)
    n = 40_000
    block = NeighborBlock(
        rows=np.zeros(n, dtype=np.int64), cols=np.ones(n, dtype=np.int64), scores=np.linspace(1, 0.5, n)
    )

    with transaction.atomic(), connection.cursor() as cursor:
        neighbor_rows_write(
            cursor=cursor,
            table=NeighborTable(name="recommendations_copurchaseneighbor", rank_type="int4"),
            blocks=[block],
            product_pks=pks,
        )

    assert CoPurchaseNeighbor.objects.order_by("-rank").values_list("rank", flat=True)[0] == n


def test_a_rebuild_consumes_its_blocks_one_at_a_time(monkeypatch):
    # given purchases that item-CF cuts into one block per item
    products = ProductFactory.create_batch(6)
    for i in range(6):
        customer = CustomerFactory()
        for product in (products[i], products[(i + 1) % 6], products[(i + 2) % 6]):
            EventFactory(customer=customer, product=product, type="purchase")
    alive: list[int] = []
    produced = itemcf.itemcf_blocks

    def watched(**kwargs):
        # blocks of one item each
        for block in produced(**kwargs, block_bytes=1):
            alive.append(len(alive))
            yield block

    monkeypatch.setattr(itemcf, "itemcf_blocks", watched)
    written_before: list[int] = []
    records = rows_module.binary_records

    def counting(**kwargs):
        # the block just produced is written before the next one is computed
        written_before.append(len(alive))
        return records(**kwargs)

    monkeypatch.setattr(rows_module, "binary_records", counting)

    # when
    written = itemcf_neighbors_rebuild()

    # then: six blocks, each written right after it was produced, and the table complete
    assert written_before == [1, 2, 3, 4, 5, 6]
    assert written == ItemNeighbor.objects.count() > 0


def test_blocks_hold_the_similarity_rows_of_their_items_normalised():
    rng = np.random.default_rng(3)
    matrix = sp.csr_matrix((rng.random((30, 12)) < 0.3).astype(float))

    blocks = list(itemcf_blocks(matrix=matrix, block_rows=4))

    whole = itemcf_similarity(matrix=matrix).toarray()
    assert len(blocks) == 3
    for block in blocks:
        assert block.rows.max() - block.rows.min() < 4
        np.testing.assert_allclose(
            np.bincount(block.rows, weights=block.scores, minlength=12)[np.unique(block.rows)], 1.0
        )
        np.testing.assert_allclose(block.scores, whole[block.rows, block.cols])


def test_deleting_a_product_deletes_its_rows_in_every_neighbour_table():
    # given rows of `gone` as a product and as a neighbour in the three tables (their foreign keys
    # have no database constraint: the cascade is Django's)
    from recommendations.models import CollaborativeModel, CollaborativeNeighbor

    gone, kept, other = ProductFactory.create_batch(3)
    model = CollaborativeModel.objects.create(version=1, algorithm="ease")
    for product, neighbor in [(gone, kept), (kept, gone), (kept, other)]:
        ItemNeighbor.objects.create(product=product, neighbor=neighbor, score=0.5, rank=1)
        CoPurchaseNeighbor.objects.create(product=product, neighbor=neighbor, score=0.5, rank=1)
        CollaborativeNeighbor.objects.create(model=model, product=product, neighbor=neighbor, score=0.5, rank=1)

    # when
    gone.delete()

    # then only the row between the two others is left in each
    for table in (ItemNeighbor, CoPurchaseNeighbor, CollaborativeNeighbor):
        assert list(table.objects.values_list("product_id", "neighbor_id")) == [(kept.pk, other.pk)]


def test_a_neighbour_whose_product_is_gone_is_never_served():
    # given a row written for a product deleted since (a rebuild that loaded it before the delete)
    from recommendations.contracts import RecRequest
    from recommendations.pipeline import recommend

    seed, alive = ProductFactory.create_batch(2)
    missing_pk = alive.pk + 1000
    ItemNeighbor.objects.create(product=seed, neighbor=alive, score=0.5, rank=2)
    ItemNeighbor.objects.create(product=seed, neighbor_id=missing_pk, score=0.9, rank=1)
    customer = CustomerFactory()
    EventFactory(customer=customer, product=seed)

    # when
    served = recommend(request=RecRequest(customer_id=customer.external_id, k=5))

    # then the route proposes it, and the feed leaves it out
    assert missing_pk in {c.product_pk for c in itemcf.itemcf_candidates(history=_history(customer), n=5)}
    assert missing_pk not in {item.product_pk for item in served.items}
    assert alive.pk in {item.product_pk for item in served.items}


def _history(customer):
    from recommendations.history import customer_history

    return customer_history(customer_id=customer.external_id)
