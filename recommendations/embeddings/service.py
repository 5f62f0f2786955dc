"""Embed the catalog: find products whose embedding is missing or stale, embed their text, store it.

An embedding is fresh when it was made by the configured model from the product's current text
(same `text_hash`); anything else is re-embedded. Every run works in chunks, each written in one
statement inside its own transaction, so a killed worker leaves whole chunks or nothing, and a
second run only picks up what the first did not finish.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from pgvector.psycopg.vector import register_vector_info
from psycopg import Cursor
from psycopg.types import TypeInfo

from catalog.public import Product, ProductEmbedding, product_text, text_hash
from recommendations.embeddings.model import embedding_dimension, embedding_model_name, encode_texts, pick_device

# Products read, embedded and written per chunk: large enough that encode's length-sorted batching
# and the one-statement write amortise well, small enough that a killed worker loses little.
CHUNK_SIZE = 2048
HNSW_INDEX_NAME = "product_embedding_hnsw"
# A run that embeds at least this many products, and at least half the catalog, rebuilds the index.
BULK_MIN_ROWS = 1000

EMBEDDINGS_TABLE = ProductEmbedding._meta.db_table
PRODUCTS_TABLE = Product._meta.db_table

# The write for one chunk. Rows whose product is gone by now are dropped (the join, with a key-share
# lock so it cannot vanish before commit). An existing row is replaced only while it is stale: a
# worker that embedded an older text never overwrites the fresh row another worker just wrote.
UPSERT_SQL = f"""
INSERT INTO {EMBEDDINGS_TABLE} (product_id, model_name, text_hash, vector, updated_at)
SELECT u.product_id, %(model_name)s, u.text_hash, u.vector, now()
FROM unnest(%(product_ids)b::bigint[], %(hashes)b::text[], %(vectors)b::vector[]) AS u(product_id, text_hash, vector)
JOIN {PRODUCTS_TABLE} p ON p.id = u.product_id
FOR KEY SHARE OF p
ON CONFLICT (product_id) DO UPDATE
SET model_name = EXCLUDED.model_name, text_hash = EXCLUDED.text_hash,
    vector = EXCLUDED.vector, updated_at = EXCLUDED.updated_at
WHERE {EMBEDDINGS_TABLE}.model_name <> EXCLUDED.model_name
   OR {EMBEDDINGS_TABLE}.text_hash IS DISTINCT FROM
      (SELECT p2.text_hash FROM {PRODUCTS_TABLE} p2 WHERE p2.id = EXCLUDED.product_id)
"""

# A product whose stored text_hash is not the hash of its own fields would be re-embedded on every
# run; set it right, but only where nobody changed the product since it was read.
REPAIR_HASH_SQL = f"""
UPDATE {PRODUCTS_TABLE} p SET text_hash = u.new_hash
FROM unnest(%(product_ids)b::bigint[], %(old_hashes)b::text[], %(new_hashes)b::text[])
     AS u(product_id, old_hash, new_hash)
WHERE p.id = u.product_id AND p.text_hash = u.old_hash
"""

PRODUCT_FIELDS = ("pk", "title", "description", "category__path", "brand", "attributes", "text_hash")


@dataclass(frozen=True)
class EmbedReport:
    embedded: int
    # Selected but not written: the product was deleted meanwhile, or another worker stored it first.
    skipped: int
    model_name: str
    device: str
    duration_s: float
    items_per_s: float


@dataclass(frozen=True)
class _Chunk:
    product_ids: list[int]
    texts: list[str]
    hashes: list[str]
    stored_hashes: list[str]


def products_to_embed(*, model_name: str | None = None) -> QuerySet[Product]:
    """Products with no embedding, or one made from other text or by another model."""
    fresh = ProductEmbedding.objects.filter(
        product=OuterRef("pk"),
        text_hash=OuterRef("text_hash"),
        model_name=model_name or embedding_model_name(),
    )
    return Product.objects.filter(~Exists(fresh))


def vector_column_dimension() -> int | None:
    """The dimension the embeddings column is declared with (None when it has none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = 'vector' AND NOT attisdropped",
            [EMBEDDINGS_TABLE],
        )
        (column_type,) = cursor.fetchone()
    match = re.fullmatch(r"vector\((\d+)\)", column_type)
    return int(match.group(1)) if match else None


def ensure_vector_dimension(*, dim: int) -> bool:
    """Re-type the embeddings column to `vector(dim)` when it differs; returns whether it did.

    Switching to a model of another dimension drops every stored embedding (they cannot be
    compared with the new ones anyway) and rebuilds the HNSW cosine index on the new column.
    """
    if dim < 1:
        raise ValueError(f"an embedding dimension must be positive, not {dim}")
    if vector_column_dimension() == dim:
        return False
    qn = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        # Checked again under the lock: two workers may both have seen the old dimension.
        cursor.execute(f"LOCK TABLE {qn(EMBEDDINGS_TABLE)} IN ACCESS EXCLUSIVE MODE")
        if vector_column_dimension() == dim:
            return False
        # ALTER refuses to run while deferred foreign-key checks of an enclosing transaction wait.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DELETE FROM {qn(EMBEDDINGS_TABLE)}")
        cursor.execute(f"DROP INDEX IF EXISTS {qn(HNSW_INDEX_NAME)}")
        cursor.execute(f"ALTER TABLE {qn(EMBEDDINGS_TABLE)} ALTER COLUMN vector TYPE vector({int(dim)})")
        _create_vector_index(cursor)
    return True


def vector_index_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [HNSW_INDEX_NAME])
        return cursor.fetchone()[0]


def ensure_vector_index() -> bool:
    """Build the HNSW cosine index when it is missing (a bulk run killed midway leaves it so)."""
    if vector_index_exists():
        return False
    with transaction.atomic(), connection.cursor() as cursor:
        _create_vector_index(cursor)
    return True


def embed_products(
    *,
    batch_size: int | None = None,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> EmbedReport:
    """Embed every product whose embedding is missing or stale (at most `limit` of them).

    `batch_size` is the model's batch; `progress` is called with the number of products done
    after each chunk. Running it again right away embeds nothing. When most of the catalog needs
    embedding (a new catalog, a new model), the HNSW index is dropped and built again at the end:
    inserting rows one by one into the graph costs several times more than building it.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, not {limit}")
    started = time.perf_counter()
    model_name = embedding_model_name()
    ensure_vector_dimension(dim=embedding_dimension())

    pending = products_to_embed(model_name=model_name).count()
    if limit is not None:
        pending = min(pending, limit)
    if pending >= BULK_MIN_ROWS and pending * 2 >= Product.objects.count():
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(HNSW_INDEX_NAME)}")
    try:
        embedded, skipped = _embed_chunks(model_name=model_name, batch_size=batch_size, limit=limit, progress=progress)
    finally:
        ensure_vector_index()

    duration = time.perf_counter() - started
    return EmbedReport(
        embedded=embedded,
        skipped=skipped,
        model_name=model_name,
        device=pick_device(),
        duration_s=duration,
        items_per_s=embedded / duration if duration > 0 else 0.0,
    )


def _embed_chunks(
    *,
    model_name: str,
    batch_size: int | None,
    limit: int | None,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Read, encode and write chunk by chunk; returns (embedded, skipped)."""
    embedded = skipped = 0
    remaining = limit
    last_pk = 0
    while remaining is None or remaining > 0:
        size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
        chunk = _read_chunk(model_name=model_name, after_pk=last_pk, size=size)
        if not chunk.product_ids:
            break
        # Keyset paging: a product that could not be written is not read again in this run.
        last_pk = chunk.product_ids[-1]
        vectors = encode_texts(chunk.texts, batch_size=batch_size)
        written = _write_chunk(chunk=chunk, vectors=vectors, model_name=model_name)
        embedded += written
        skipped += len(chunk.product_ids) - written
        if remaining is not None:
            remaining -= len(chunk.product_ids)
        if progress is not None:
            progress(len(chunk.product_ids))
    return embedded, skipped


def _create_vector_index(cursor) -> None:
    # Room to build the graph in memory, which is what makes a build fast (used only as needed).
    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    # Like ALTER, CREATE INDEX refuses to run while deferred foreign-key checks of an enclosing
    # transaction wait (only tests wrap a whole run in one transaction).
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(
        f"CREATE INDEX IF NOT EXISTS {connection.ops.quote_name(HNSW_INDEX_NAME)} "
        f"ON {connection.ops.quote_name(EMBEDDINGS_TABLE)} "
        "USING hnsw (vector vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
    )


def _read_chunk(*, model_name: str, after_pk: int, size: int) -> _Chunk:
    rows = (
        products_to_embed(model_name=model_name)
        .filter(pk__gt=after_pk)
        .order_by("pk")
        .values_list(*PRODUCT_FIELDS)[:size]
    )
    product_ids, texts, hashes, stored_hashes = [], [], [], []
    for pk, title, description, category_path, brand, attributes, stored_hash in rows:
        # The text is rebuilt from the fields read in this same row, and the embedding will carry
        # the hash of exactly this text: an edit made while we encode leaves the row stale.
        text = product_text(
            title=title,
            description=description,
            category_path=category_path or "",
            brand=brand,
            attributes=attributes if isinstance(attributes, dict) else None,
        )
        product_ids.append(pk)
        texts.append(text)
        hashes.append(text_hash(text))
        stored_hashes.append(stored_hash)
    return _Chunk(product_ids=product_ids, texts=texts, hashes=hashes, stored_hashes=stored_hashes)


def _write_chunk(*, chunk: _Chunk, vectors: np.ndarray, model_name: str) -> int:
    """Store one chunk in its own transaction; returns how many rows were written."""
    mismatched = [i for i, (new, old) in enumerate(zip(chunk.hashes, chunk.stored_hashes, strict=True)) if new != old]
    connection.ensure_connection()
    with transaction.atomic(), connection.wrap_database_errors:
        # Django's own cursors bind parameters client-side, as text; a plain psycopg cursor sends
        # the vectors as binary arrays, which keeps the write a small share of the run.
        with Cursor(connection.connection) as cursor:
            register_vector_info(cursor, TypeInfo.fetch(cursor.connection, "vector"))
            if mismatched:
                cursor.execute(
                    REPAIR_HASH_SQL,
                    {
                        "product_ids": [chunk.product_ids[i] for i in mismatched],
                        "old_hashes": [chunk.stored_hashes[i] for i in mismatched],
                        "new_hashes": [chunk.hashes[i] for i in mismatched],
                    },
                )
            cursor.execute(
                UPSERT_SQL,
                {
                    "model_name": model_name,
                    "product_ids": chunk.product_ids,
                    "hashes": chunk.hashes,
                    "vectors": list(vectors),
                },
            )
            return cursor.rowcount
