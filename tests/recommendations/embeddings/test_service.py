"""Product embeddings with the real all-MiniLM-L6-v2 and the real database."""

from __future__ import annotations

import io

import numpy as np
import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test import override_settings

from catalog.models import DEFAULT_EMBEDDING_DIM, Product, ProductEmbedding
from catalog.text import product_text, text_hash
from recommendations import tasks
from recommendations.embeddings import budget, service
from recommendations.embeddings.model import (
    DEFAULT_MODEL_NAME,
    embedding_dimension,
    embedding_model_name,
    encode_texts,
    model_location,
    pick_device,
)
from recommendations.embeddings.service import (
    embed_products,
    ensure_vector_dimension,
    products_to_embed,
    vector_column_dimension,
)
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

HNSW_INDEX = (
    "CREATE INDEX product_embedding_hnsw ON public.catalog_productembedding "
    "USING hnsw (((vector)::halfvec({dim})) halfvec_cosine_ops) WITH (m='16', ef_construction='64')"
)


@pytest.fixture
def kitchen_and_garden() -> dict[str, Product]:
    return {
        "mug": ProductFactory(title="red ceramic coffee mug"),
        "cup": ProductFactory(title="blue porcelain tea cup"),
        "hose": ProductFactory(title="garden hose 20m"),
    }


def stored_vector(product: Product) -> np.ndarray:
    return np.asarray(ProductEmbedding.objects.get(product=product).vector, dtype=np.float32)


def retitle(product: Product, title: str) -> None:
    """Change a product's title the way the catalog does: its text hash follows."""
    product.title = title
    product.text_hash = text_hash(product_text(title=title))
    product.save()


def test_embed_products_stores_unit_vectors_that_place_similar_items_near(kitchen_and_garden):
    # when
    report = embed_products()

    # then
    assert (report.embedded, report.skipped, report.model_name, report.device) == (3, 0, DEFAULT_MODEL_NAME, "cpu")
    rows = ProductEmbedding.objects.order_by("product_id")
    assert [(r.product_id, r.model_name, r.text_hash) for r in rows] == [
        (p.pk, DEFAULT_MODEL_NAME, p.text_hash) for p in kitchen_and_garden.values()
    ]
    mug, cup, hose = (stored_vector(kitchen_and_garden[k]) for k in ("mug", "cup", "hose"))
    for vector in (mug, cup, hose):
        assert vector.shape == (DEFAULT_EMBEDDING_DIM,)
        assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    assert float(mug @ cup) > float(mug @ hose) + 0.1


def test_stored_vector_is_the_model_encoding_of_the_product_text():
    # given
    category = CategoryFactory(name="Mugs", path="Home > Kitchen > Mugs")
    product = ProductFactory(
        title="Enamel camping mug",
        brand="Trail",
        category=category,
        description="Light and tough.",
        attributes={"colour": "green", "volume": "350 ml"},
    )
    text = "\n".join(
        [
            "Enamel camping mug",
            "Brand: Trail",
            "Category: Home > Kitchen > Mugs",
            "colour: green; volume: 350 ml",
            "Light and tough.",
        ]
    )

    # when
    embed_products()

    # then
    assert ProductEmbedding.objects.get(product=product).text_hash == text_hash(text) == product.text_hash
    np.testing.assert_allclose(stored_vector(product), encode_texts([text])[0], atol=1e-6)


def test_second_run_embeds_nothing(kitchen_and_garden):
    # given
    embed_products()

    # when
    report = embed_products()

    # then
    assert (report.embedded, report.skipped) == (0, 0)
    assert products_to_embed().count() == 0


def test_changed_title_reembeds_exactly_that_product(kitchen_and_garden):
    # given
    embed_products()
    hose = kitchen_and_garden["hose"]
    before = stored_vector(hose)

    # when
    retitle(hose, "stainless steel kettle")
    assert list(products_to_embed()) == [hose]
    report = embed_products()

    # then
    assert (report.embedded, report.skipped) == (1, 0)
    assert ProductEmbedding.objects.get(product=hose).text_hash == hose.text_hash
    assert float(stored_vector(hose) @ before) < 0.9
    assert float(stored_vector(hose) @ stored_vector(kitchen_and_garden["mug"])) > float(
        before @ stored_vector(kitchen_and_garden["mug"])
    )


def test_limit_embeds_at_most_that_many_in_product_order(kitchen_and_garden):
    # given
    done: list[int] = []

    # when
    report = embed_products(limit=2, batch_size=1, progress=done.append)

    # then
    assert (report.embedded, done) == (2, [2])
    assert list(ProductEmbedding.objects.order_by("product_id").values_list("product_id", flat=True)) == [
        kitchen_and_garden["mug"].pk,
        kitchen_and_garden["cup"].pk,
    ]


def test_text_edited_while_embedding_leaves_the_row_stale(kitchen_and_garden, monkeypatch):
    # given: the catalog changes the hose while its old text is being encoded
    hose = kitchen_and_garden["hose"]
    old_hash = hose.text_hash

    def encode_during_an_edit(texts, *, batch_size=None):
        retitle(hose, "stainless steel kettle")
        return encode_texts(texts, batch_size=batch_size)

    monkeypatch.setattr(service, "encode_texts", encode_during_an_edit)

    # when
    report = embed_products()

    # then: the row says which text it was made from, so the next run picks it up
    assert report.embedded == 3
    assert ProductEmbedding.objects.get(product=hose).text_hash == old_hash != hose.text_hash
    assert list(products_to_embed()) == [hose]
    monkeypatch.undo()
    assert embed_products().embedded == 1
    assert ProductEmbedding.objects.get(product=hose).text_hash == hose.text_hash


def test_product_deleted_while_embedding_is_skipped(kitchen_and_garden, monkeypatch):
    # given
    hose = kitchen_and_garden["hose"]

    def encode_during_a_delete(texts, *, batch_size=None):
        Product.objects.filter(pk=hose.pk).delete()
        return encode_texts(texts, batch_size=batch_size)

    monkeypatch.setattr(service, "encode_texts", encode_during_a_delete)

    # when
    report = embed_products()

    # then
    assert (report.embedded, report.skipped) == (2, 1)
    assert sorted(ProductEmbedding.objects.values_list("product_id", flat=True)) == sorted(
        [kitchen_and_garden["mug"].pk, kitchen_and_garden["cup"].pk]
    )


def test_wrong_stored_text_hash_is_repaired_so_the_next_run_is_empty():
    # given: a product saved without recomputing its hash
    product = ProductFactory(title="garden hose 20m", text_hash="")

    # when
    first = embed_products()
    second = embed_products()

    # then
    product.refresh_from_db()
    assert product.text_hash == text_hash("garden hose 20m")
    assert ProductEmbedding.objects.get(product=product).text_hash == product.text_hash
    assert (first.embedded, second.embedded) == (1, 0)


def test_changing_the_model_setting_makes_every_embedding_stale(kitchen_and_garden):
    # given
    embed_products()
    bundled_path = model_location(DEFAULT_MODEL_NAME)

    with override_settings(EMBEDDING_MODEL=bundled_path):
        # when
        stale = products_to_embed().count()
        report = embed_products()

        # then
        assert embedding_model_name() == bundled_path
        assert products_to_embed().count() == 0
    assert (stale, report.embedded, report.model_name) == (3, 3, bundled_path)
    assert set(ProductEmbedding.objects.values_list("model_name", flat=True)) == {bundled_path}
    assert products_to_embed().count() == 3


def test_pick_device_is_cpu_here_and_follows_the_setting():
    assert pick_device() == "cpu"
    with override_settings(EMBEDDING_DEVICE="mps"):
        assert pick_device() == "mps"


def test_encode_texts_shapes():
    assert embedding_dimension() == DEFAULT_EMBEDDING_DIM
    empty = encode_texts([])
    assert (empty.shape, empty.dtype) == ((0, DEFAULT_EMBEDDING_DIM), np.float32)
    vectors = encode_texts(["a", "b"], batch_size=1)
    assert (vectors.shape, vectors.dtype) == ((2, DEFAULT_EMBEDDING_DIM), np.float32)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"limit": -1}])
def test_embed_products_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        embed_products(**kwargs)


def hnsw_index_definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'product_embedding_hnsw'")
        return cursor.fetchone()[0]


def test_ensure_vector_dimension_retypes_the_column_and_rebuilds_the_index(kitchen_and_garden):
    # given
    embed_products()
    assert (vector_column_dimension(), hnsw_index_definition()) == (384, HNSW_INDEX.format(dim=384))

    try:
        # when: a model with 8 dimensions
        changed = ensure_vector_dimension(dim=8)

        # then
        assert changed is True
        assert (vector_column_dimension(), hnsw_index_definition()) == (8, HNSW_INDEX.format(dim=8))
        assert ProductEmbedding.objects.count() == 0
        assert ensure_vector_dimension(dim=8) is False
        ProductEmbedding.objects.create(
            product=kitchen_and_garden["mug"], model_name="tiny", text_hash="x", vector=[1, 0, 0, 0, 0, 0, 0, 0]
        )
    finally:
        restored = ensure_vector_dimension(dim=DEFAULT_EMBEDDING_DIM)

    assert restored is True
    assert (vector_column_dimension(), hnsw_index_definition()) == (384, HNSW_INDEX.format(dim=384))
    assert embed_products().embedded == 3


def test_embed_command_prints_the_report(kitchen_and_garden):
    # given
    out = io.StringIO()

    # when
    call_command("embed", "--batch-size", "2", "--limit", "2", stdout=out, verbosity=0)

    # then
    plan, done, peak = out.getvalue().splitlines()
    assert plan.startswith("embed: estimated peak ") and "batches of 2" in plan
    assert done.startswith("embedded 2, skipped 0 with all-MiniLM-L6-v2 on cpu in ") and done.endswith(" items/s)")
    assert peak.startswith("peak memory ")
    assert ProductEmbedding.objects.count() == 2


def test_embed_command_rejects_a_non_positive_limit():
    with pytest.raises(CommandError):
        call_command("embed", "--limit", "0")


def test_embed_task_returns_the_report_as_a_dict(kitchen_and_garden):
    # when: run in this process, as a worker would
    report = tasks.embed_products.apply(kwargs={"batch_size": 4}).get()

    # then
    assert {k: report[k] for k in ("embedded", "skipped", "model_name", "device")} == {
        "embedded": 3,
        "skipped": 0,
        "model_name": DEFAULT_MODEL_NAME,
        "device": "cpu",
    }
    assert set(report) == {
        "embedded",
        "skipped",
        "model_name",
        "device",
        "duration_s",
        "items_per_s",
        "chunk_size",
        "batch_size",
        "peak_rss_mb",
    }
    assert report["batch_size"] == 4 and report["peak_rss_mb"] > 0


def index_oid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'product_embedding_hnsw'::regclass::oid")
        return cursor.fetchone()[0]


def test_embedding_most_of_the_catalog_rebuilds_the_index_beside_the_serving_one(kitchen_and_garden, monkeypatch):
    # given: three products count as a bulk run
    monkeypatch.setattr(service, "BULK_MIN_ROWS", 3)
    index_during_encode: list[bool] = []

    def encode_and_look(texts, *, batch_size=None):
        index_during_encode.append(service.vector_index_exists())
        return encode_texts(texts, batch_size=batch_size)

    monkeypatch.setattr(service, "encode_texts", encode_and_look)
    before = index_oid()

    # when
    report = embed_products()

    # then: the index served throughout, and a fresh one replaced it
    assert (report.embedded, index_during_encode) == (3, [True])
    assert hnsw_index_definition() == HNSW_INDEX.format(dim=384)
    assert service.vector_indexes() == {"product_embedding_hnsw": True}
    rebuilt = index_oid()
    assert rebuilt != before
    # and a small run keeps the index as it is
    retitle(kitchen_and_garden["hose"], "stainless steel kettle")
    assert (embed_products().embedded, index_during_encode) == (1, [True, True])
    assert index_oid() == rebuilt


def test_a_missing_index_is_built_again(kitchen_and_garden):
    # given: the index was dropped by hand
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX product_embedding_hnsw")

    # when
    report = embed_products()

    # then
    assert report.embedded == 3
    assert hnsw_index_definition() == HNSW_INDEX.format(dim=384)


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_rebuild_swaps_in_exactly_one_valid_index(kitchen_and_garden):
    # given: the index serves (outside a transaction, so the build runs CONCURRENTLY)
    embed_products()
    before = index_oid()

    # when
    rebuilt = service.rebuild_vector_index()

    # then
    assert rebuilt is True
    assert service.vector_indexes() == {"product_embedding_hnsw": True}
    assert index_oid() != before
    assert hnsw_index_definition() == HNSW_INDEX.format(dim=384)


@pytest.mark.django_db(transaction=True)
def test_a_half_built_index_left_by_a_killed_build_is_dropped_by_the_next_run(kitchen_and_garden):
    # given: a concurrent build that failed midway, as a killed one does: it waits for a writer's
    # open transaction and gives up, leaving its index INVALID beside the serving one
    embed_products()
    serving = index_oid()
    writer = psycopg.connect(**connection.get_connection_params())
    try:
        writer.execute("UPDATE catalog_productembedding SET updated_at = now()")
        with connection.cursor() as cursor, pytest.raises(OperationalError):
            cursor.execute("SET lock_timeout = '200ms'")
            try:
                cursor.execute(service._index_sql(service.HNSW_NEXT_INDEX_NAME, concurrently=True, dim=384))
            finally:
                cursor.execute("RESET lock_timeout")
    finally:
        writer.rollback()
        writer.close()
    assert service.vector_indexes() == {"product_embedding_hnsw": True, "product_embedding_hnsw_next": False}

    # when
    built = service.ensure_vector_index()

    # then: the leftover is gone, the serving index was never touched
    assert built is False
    assert service.vector_indexes() == {"product_embedding_hnsw": True}
    assert index_oid() == serving


def test_products_are_read_and_written_chunk_by_chunk(kitchen_and_garden, monkeypatch):
    # given
    monkeypatch.setattr(budget, "CHUNK_SIZE", 2)
    done: list[int] = []

    # when
    report = embed_products(progress=done.append)

    # then
    assert (report.embedded, report.skipped, done) == (3, 0, [2, 1])
    assert ProductEmbedding.objects.count() == 3
