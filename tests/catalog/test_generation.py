"""The catalog's generation: every statement writing products, embeddings, categories or item
neighbours moves it on, once a statement; another transaction's write in progress is seen."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import DatabaseError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from catalog import generation
from catalog.generation import CatalogState, CatalogStateResting, catalog_state, catalog_state_forget
from catalog.models import Category, ItemNeighbor, Product, ProductEmbedding
from tests.catalog.writers import another_transaction_writing
from tests.factories import CategoryFactory, ProductFactory


def _generation() -> int:
    return catalog_state().generation


@pytest.mark.django_db
def test_each_writing_statement_moves_the_generation_once():
    before = _generation()

    Product.objects.bulk_create([Product(external_id=f"g{i}", title=f"thing {i}", text_hash="h") for i in range(50)])
    after_insert = _generation()
    Product.objects.filter(external_id__startswith="g").update(in_stock=False)
    after_update = _generation()
    Product.objects.filter(external_id="g1").delete()
    after_delete = _generation()

    # one INSERT of 50 rows, one UPDATE, one DELETE (its cascade deletes no other catalog row)
    assert after_insert == before + 1
    assert after_update == after_insert + 1
    assert after_delete > after_update


@pytest.mark.django_db
def test_embeddings_categories_and_neighbours_move_it_and_reads_do_not():
    product, other = ProductFactory(), ProductFactory()
    steps = [
        lambda: ProductEmbedding.objects.create(
            product=product, model_name="m", text_hash="h", vector=np.ones(384, dtype=np.float32) / np.sqrt(384)
        ),
        lambda: CategoryFactory(path="Kitchen"),
        lambda: ItemNeighbor.objects.create(product=product, neighbor=other, score=0.5, rank=1),
    ]
    for step in steps:
        before = _generation()
        step()
        assert _generation() > before

    before = _generation()
    list(Product.objects.all())
    list(Category.objects.all())
    assert _generation() == before


@pytest.mark.django_db(transaction=True)
def test_another_transaction_writing_the_catalog_is_seen_until_it_ends():
    ProductFactory(external_id="w1")

    with another_transaction_writing(lambda: Product.objects.filter(external_id="w1").update(title="renamed")):
        during = catalog_state()
    after = catalog_state()

    assert during.writing and not during.may_keep()
    assert not after.writing and after.may_keep()
    assert after.generation == during.generation  # its UPDATE moved it before the check that saw it writing


def test_with_replicas_a_generation_is_kept_to_only_once_it_stood_their_lag_bound():
    state = CatalogState(generation=3, writing=False, settled_at=100.0)

    with override_settings(DATABASE_REPLICAS=("replica_0",), DATABASE_REPLICA_MAX_LAG_S=5, DATABASE_REPLICA_CHECK_S=2):
        assert not state.may_keep(now=106.0)
        assert state.may_keep(now=107.0)
    with override_settings(DATABASE_REPLICAS=()):
        assert state.may_keep(now=100.0)
    assert not CatalogState(generation=3, writing=True, settled_at=None).may_keep(now=1e9)


@pytest.mark.django_db
def test_a_state_that_cannot_be_read_is_not_asked_for_again_for_a_while(monkeypatch, settings):
    settings.DATABASE_REPLICA_RETRY_S = 60
    product = ProductFactory()
    monkeypatch.setattr(generation, "STATE_SQL", "SELECT no_such_column FROM catalog_product")

    with pytest.raises(DatabaseError):
        catalog_state()
    with CaptureQueriesContext(connection) as queries, pytest.raises(CatalogStateResting):
        catalog_state()

    assert queries.captured_queries == []  # rested: not asked again
    assert Product.objects.get(pk=product.pk) == product  # the test's transaction survived the failure
    monkeypatch.undo()
    with pytest.raises(DatabaseError):
        catalog_state()  # still resting, though it could be read now
    catalog_state_forget()
    assert catalog_state().generation > 0
