"""Embed the catalog: find products whose embedding is missing or stale, embed their text, store it.

An embedding is fresh when it was made by the configured model from the product's current text
(same `text_hash`); anything else is re-embedded. Every run works in chunks, each written in one
statement inside its own transaction, so a killed worker leaves whole chunks or nothing, and a
second run only picks up what the first did not finish.

Search never goes without its HNSW index: a bulk run writes into the table while the index serves,
then builds a fresh index beside it (CREATE INDEX CONCURRENTLY under another name) and swaps it in
within one short transaction. A run killed during the build leaves the serving index untouched and
an invalid half-built one, which the next run drops before it builds again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from pgvector.psycopg.vector import register_vector_info
from psycopg import Cursor
from psycopg.types import TypeInfo

from catalog.public import Product, ProductEmbedding, product_text, text_hash
from recommendations.embeddings.budget import EmbedPlan, embed_plan_logged
from recommendations.embeddings.knn import (
    OPCLASS,
    column_dimension,
    index_expression,
    knn_dimension_forget,
    required_dimension,
)
from recommendations.embeddings.model import embedding_dimension, embedding_model_name, encode_texts, pick_device
from recommendations.recall.inputs import recall_inputs_changed
from recsite.memory import MB, peak_rss_mb

HNSW_INDEX_NAME = "product_embedding_hnsw"
# The replacement is built under this name beside the serving index, then renamed over it.
HNSW_NEXT_INDEX_NAME = "product_embedding_hnsw_next"
# A run that embeds at least this many products, and at least half the catalog, rebuilds the index:
# the rows it rewrote left as many dead entries in the graph, which a fresh build does not carry.
BULK_MIN_ROWS = 1000
# The swap waits this long at most for its table lock, then steps back and tries again: queries
# queue behind a waiting ACCESS EXCLUSIVE lock, so a long wait would stall search itself.
SWAP_LOCK_TIMEOUT = "2s"
SWAP_ATTEMPTS = 10
# A build whose client died (SIGKILL) stops within this instead of finishing unseen and holding
# the rebuild lock; what it leaves is an invalid index, dropped by the next run.
BUILD_CLIENT_CHECK_INTERVAL = "1s"
# The HNSW graph a build holds per row (384 halfvec dimensions, m = 16): the built index measured
# 1,170 B a row at 1M products (docs/scale.md), plus a quarter for the build's own bookkeeping.
INDEX_BUILD_BYTES_PER_ROW = 1464
INDEX_BUILD_MIN_MB = 64
# Session advisory lock (any constant) held by one rebuild at a time, freed when its session ends.
REBUILD_LOCK_KEY = 0x656D6278

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
    chunk_size: int
    batch_size: int
    peak_rss_mb: float


@dataclass(frozen=True)
class _Chunk:
    product_ids: list[int]
    texts: list[str]
    hashes: list[str]
    stored_hashes: list[str]


def products_to_embed(*, model_name: str | None = None, after_pk: int = 0) -> QuerySet[Product]:
    """Products with no embedding, or one made from other text or by another model (those after
    `after_pk` only).

    The bound is repeated inside the subquery: PostgreSQL plans the anti-join as a merge of both
    tables' primary keys, and without it the embeddings side is read from its first row for every
    chunk (at 660k stored embeddings a chunk's read took seconds, and the run slowed to a crawl).
    """
    fresh = ProductEmbedding.objects.filter(
        product=OuterRef("pk"),
        product_id__gt=after_pk,
        text_hash=OuterRef("text_hash"),
        model_name=model_name or embedding_model_name(),
    )
    return Product.objects.filter(pk__gt=after_pk).filter(~Exists(fresh))


def vector_column_dimension() -> int | None:
    """The dimension the embeddings column is declared with (None when it has none)."""
    return column_dimension(connection)


def ensure_vector_dimension(*, dim: int) -> bool:
    """Re-type the embeddings column to `vector(dim)` when it differs; returns whether it did.

    Switching to a model of another dimension drops every stored embedding (they cannot be
    compared with the new ones anyway) and builds the HNSW cosine index on the new column in the
    same transaction. No shadow of the old vectors is kept: a query embedded by the new model has
    the new dimension and could not be answered from them, so the index on the new column (empty,
    then filled row by row) is the only one that can serve.
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
        for name in vector_indexes():
            cursor.execute(f"DROP INDEX IF EXISTS {qn(name)}")
        cursor.execute(f"ALTER TABLE {qn(EMBEDDINGS_TABLE)} ALTER COLUMN vector TYPE vector({int(dim)})")
        # On an empty column: instant.
        cursor.execute(_index_sql(HNSW_INDEX_NAME, concurrently=False, dim=dim))
    knn_dimension_forget()
    return True


def vector_indexes() -> dict[str, bool]:
    """The embeddings table's HNSW indexes by name, each with whether it is valid (can serve)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam"
            " WHERE i.indrelid = %s::regclass AND a.amname = 'hnsw' ORDER BY c.relname",
            [EMBEDDINGS_TABLE],
        )
        return dict(cursor.fetchall())


def vector_index_exists() -> bool:
    """Whether the serving index is there and valid."""
    return vector_indexes().get(HNSW_INDEX_NAME, False)


def drop_stale_vector_indexes() -> list[str]:
    """Drop what a killed build left: an invalid index, or a replacement never swapped in.

    Returns the names dropped. Call it only while holding the rebuild lock (a replacement being
    built right now looks like a leftover).
    """
    stale = [name for name, valid in vector_indexes().items() if name != HNSW_INDEX_NAME or not valid]
    with connection.cursor() as cursor:
        for name in stale:
            cursor.execute(f"DROP INDEX {_concurrently()} IF EXISTS {connection.ops.quote_name(name)}")
    return stale


def ensure_vector_index() -> bool:
    """Build the serving HNSW index when it is missing or invalid; returns whether it built one.

    Leftovers of a killed build are dropped on the way.
    """
    with _rebuild_lock() as locked:
        if not locked:
            return False
        drop_stale_vector_indexes()
        if vector_index_exists():
            return False
        _build_and_swap()
    return True


def rebuild_vector_index() -> bool:
    """Build a fresh HNSW index beside the serving one and swap it in; the serving one answers
    until the swap. Returns False when another rebuild holds the lock (it does the same work)."""
    with _rebuild_lock() as locked:
        if not locked:
            return False
        drop_stale_vector_indexes()
        _build_and_swap()
    return True


def embed_products(
    *,
    batch_size: int | None = None,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
    plan: EmbedPlan | None = None,
) -> EmbedReport:
    """Embed every product whose embedding is missing or stale (at most `limit` of them).

    `batch_size` is the model's batch at most; `plan` the chunk and batch sizes that fit the
    memory budget (made and logged here when not given; MemoryBudgetError, before anything is
    written, when the model plus one text does not fit). `progress` is called with the number of
    products done after each chunk. Running it again right away embeds nothing. When most of the
    catalog needs embedding (a new catalog, a new model), a fresh HNSW index is built beside the
    serving one at the end and swapped in: the rewritten rows left as many dead entries in the
    old graph.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, not {limit}")
    started = time.perf_counter()
    model_name = embedding_model_name()
    if plan is None:
        plan = embed_plan_logged(pending=products_to_embed(model_name=model_name), batch_size=batch_size, limit=limit)
    ensure_vector_dimension(dim=embedding_dimension())

    pending = products_to_embed(model_name=model_name).count()
    if limit is not None:
        pending = min(pending, limit)
    bulk = pending >= BULK_MIN_ROWS and pending * 2 >= Product.objects.count()
    # A run killed before left a half-built index, or none: set that right first.
    ensure_vector_index()
    embedded, skipped = embed_chunks(model_name=model_name, plan=plan, limit=limit, progress=progress)
    if bulk:
        rebuild_vector_index()
        # Most vectors changed (a new catalog, a new model): every kNN answer kept ahead is stale.
        # A few products embedded reach the answers kept ahead at their customers' next events.
        recall_inputs_changed()

    duration = time.perf_counter() - started
    return EmbedReport(
        embedded=embedded,
        skipped=skipped,
        model_name=model_name,
        device=pick_device(),
        duration_s=duration,
        items_per_s=embedded / duration if duration > 0 else 0.0,
        chunk_size=plan.chunk_size,
        batch_size=plan.batch_size,
        peak_rss_mb=peak_rss_mb(),
    )


def embed_chunks(
    *,
    model_name: str,
    plan: EmbedPlan,
    limit: int | None,
    progress: Callable[[int], None] | None,
    encode: Callable[..., np.ndarray] | None = None,
) -> tuple[int, int]:
    """Read, encode (`encode`: texts to unit vectors; the configured model's `encode_texts` when
    None, or the 1M bench's documented substitute) and write chunk by chunk, leaving the HNSW index
    alone; returns (embedded, skipped)."""
    encode = encode or encode_texts
    embedded = skipped = 0
    remaining = limit
    last_pk = 0
    while remaining is None or remaining > 0:
        size = plan.chunk_size if remaining is None else min(plan.chunk_size, remaining)
        chunk = _read_chunk(model_name=model_name, after_pk=last_pk, size=size)
        if not chunk.product_ids:
            break
        # Keyset paging: a product that could not be written is not read again in this run.
        last_pk = chunk.product_ids[-1]
        vectors = encode(chunk.texts, batch_size=plan.batch_size)
        written = _write_chunk(chunk=chunk, vectors=vectors, model_name=model_name)
        embedded += written
        skipped += len(chunk.product_ids) - written
        if remaining is not None:
            remaining -= len(chunk.product_ids)
        if progress is not None:
            progress(len(chunk.product_ids))
    return embedded, skipped


def _concurrently() -> str:
    # CONCURRENTLY cannot run inside a transaction block: only tests wrap a whole run in one, and
    # there nobody else reads the table.
    return "" if connection.in_atomic_block else "CONCURRENTLY"


def _index_sql(name: str, *, concurrently: bool, dim: int) -> str:
    """The serving index's definition (`recommendations.embeddings.knn`) for `dim` dimensions."""
    qn = connection.ops.quote_name
    return (
        f"CREATE INDEX {'CONCURRENTLY' if concurrently else ''} {qn(name)} ON {qn(EMBEDDINGS_TABLE)} "
        f"USING hnsw ({index_expression(dim)} {OPCLASS}) WITH (m = 16, ef_construction = 64)"
    )


@contextmanager
def _rebuild_lock() -> Iterator[bool]:
    """Session advisory lock: one rebuild at a time; a second caller gets False and goes on."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [REBUILD_LOCK_KEY])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [REBUILD_LOCK_KEY])


def _build_and_swap() -> None:
    """Build the replacement under its own name while the serving index answers, then swap."""
    in_block = connection.in_atomic_block
    with connection.cursor() as cursor:
        # Room to build the graph in memory, which is what makes a build fast (used only as needed).
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, %s), set_config('client_connection_check_interval', %s, %s)",
            [f"{index_build_memory_mb()}MB", in_block, BUILD_CLIENT_CHECK_INTERVAL, in_block],
        )
        if in_block:
            # Like ALTER, CREATE INDEX refuses to run while deferred foreign-key checks wait.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        try:
            cursor.execute(
                _index_sql(HNSW_NEXT_INDEX_NAME, concurrently=not in_block, dim=required_dimension(connection))
            )
        finally:
            if not in_block:
                cursor.execute("RESET maintenance_work_mem")
                cursor.execute("RESET client_connection_check_interval")
    _swap_in_next()


def index_build_memory_mb() -> int:
    """The build's `maintenance_work_mem`: the whole graph of the table's rows (a build whose
    graph outgrows it goes on far slower, on disk), at most EMBEDDING_INDEX_BUILD_MEMORY_MB."""
    with connection.cursor() as cursor:
        # The planner's row estimate: counting 1M rows exactly would take seconds.
        cursor.execute(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", [EMBEDDINGS_TABLE]
        )
        (rows,) = cursor.fetchone()
    graph_mb = rows * INDEX_BUILD_BYTES_PER_ROW // MB + 1
    return int(min(max(graph_mb, INDEX_BUILD_MIN_MB), settings.EMBEDDING_INDEX_BUILD_MEMORY_MB))


def _swap_in_next() -> None:
    """Drop the serving index and rename the replacement over it, in one short transaction."""
    qn = connection.ops.quote_name
    for attempt in range(SWAP_ATTEMPTS):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [SWAP_LOCK_TIMEOUT])
                cursor.execute(f"DROP INDEX IF EXISTS {qn(HNSW_INDEX_NAME)}")
                cursor.execute(f"ALTER INDEX {qn(HNSW_NEXT_INDEX_NAME)} RENAME TO {qn(HNSW_INDEX_NAME)}")
            return
        except OperationalError:
            # Lock timeout: a long query holds the table; the old index serves meanwhile.
            if attempt == SWAP_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def _read_chunk(*, model_name: str, after_pk: int, size: int) -> _Chunk:
    rows = (
        products_to_embed(model_name=model_name, after_pk=after_pk).order_by("pk").values_list(*PRODUCT_FIELDS)[:size]
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
