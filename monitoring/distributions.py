"""The distributions drift is measured on, read from one time window of events and the stored
embeddings (so a re-embed with another model shows up as drift).

- customer-to-item similarity: for a (customer, item) pair of the window, the cosine between the
  item and the mean of the customer's *other* items in the window (leave-one-out profile);
- new-item similarity: for an item whose first event falls in the window, the cosine to its
  nearest other item in the catalog (pgvector HNSW, one query). The first event, not the
  embedding's `updated_at`, marks an item new: a re-embed touches every row;
- mean-embedding similarity: the cosine between each interacted item and the reference window's
  mean item embedding (interaction-weighted), plus how far the current mean moved.

Samples are capped (seeded) so a check stays bounded on a large catalog; what is loaded to draw
them is bounded by DRIFT_MEMORY_BUDGET_MB (`monitoring.budget`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db import connection

from monitoring.models import Signal
from recommendations.public import CUSTOMER_SAMPLE, CUSTOMER_SAMPLE_SEED, knn_dimension, knn_order_sql

MAX_SAMPLES = 20_000
MAX_NEW_ITEMS = 2_000


@dataclass(frozen=True)
class Window:
    """Events with `start <= timestamp < end`; no start means from the beginning."""

    start: dt.datetime | None
    end: dt.datetime


@dataclass(frozen=True)
class Measured:
    samples: dict[str, np.ndarray]
    # Interaction-weighted mean of the window's item embeddings (unit rows); empty without events.
    mean_embedding: np.ndarray


def window_pairs_sql(*, window: Window, customer_share: float = 1.0) -> tuple[str, list]:
    """The query of the window's distinct (customer pk, product pk) pairs for embedded products,
    with its parameters; below a share of 1, only the pairs of that seeded share of the customers
    (`CUSTOMER_SAMPLE`, as the neighbour jobs sample)."""
    sql = (
        "SELECT DISTINCT e.customer_id, e.product_id FROM catalog_event e"
        " JOIN catalog_productembedding pe ON pe.product_id = e.product_id"
        " WHERE e.timestamp < %s AND e.customer_id IS NOT NULL"
    )
    params: list = [window.end]
    if window.start is not None:
        sql += " AND e.timestamp >= %s"
        params.append(window.start)
    if customer_share < 1.0:
        sql += f" AND {CUSTOMER_SAMPLE}"
        params += [CUSTOMER_SAMPLE_SEED, round(customer_share * 10_000)]
    return sql, params


def window_pairs(*, window: Window, customer_share: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (customer pk, product pk) pairs with an event in the window, for embedded products
    (of a seeded share of the customers below a share of 1)."""
    sql, params = window_pairs_sql(window=window, customer_share=customer_share)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    pairs = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


# The window's items with their embeddings, by primary key: one join of the distinct items of the
# pairs loaded (not a second run of the pairs' query over the events) with the embeddings. The
# vectors come in pgvector's binary form: exact float32 values without a Python float each.
ITEM_VECTORS_SQL = (
    "SELECT pe.product_id, vector_send(pe.vector) FROM unnest(%s::bigint[]) item(pk)"
    " JOIN catalog_productembedding pe ON pe.product_id = item.pk ORDER BY pe.product_id"
)
# Rows fetched from the server-side cursor at a time, and normalised together.
ITEM_VECTORS_CHUNK = 1_000


def embeddings_load(*, product_pks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique pks of the embedded products among `product_pks`, their unit-length embeddings
    as the rows of one float32 matrix).

    Only these items are read, in chunks from a server-side cursor straight into the matrix: no
    per-item arrays and no normalised copy are held beside it (`monitoring.budget` counts one
    row an item)."""
    pks = np.unique(product_pks)
    found = np.zeros(len(pks), dtype=bool)
    matrix: np.ndarray | None = None
    loaded = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(ITEM_VECTORS_SQL, [pks.tolist()])
        while rows := cursor.fetchmany(ITEM_VECTORS_CHUNK):
            block = _binary_vectors([vector for _, vector in rows])
            if matrix is None:
                # A row for every item asked for; rows ordered by pk fill it from the top, and the
                # few whose embedding went since the pairs were read are cut off after (a view).
                matrix = np.empty((len(pks), block.shape[1]), dtype=np.float32)
            matrix[loaded : loaded + len(rows)] = _unit_rows(block)
            found[np.searchsorted(pks, [pk for pk, _ in rows])] = True
            loaded += len(rows)
    if matrix is None:
        return pks[:0], np.zeros((0, 0), dtype=np.float32)
    return pks[found], matrix[:loaded]


def _binary_vectors(values: list[bytes]) -> np.ndarray:
    """pgvector's binary vectors (`vector_send`: the dimension and a flag as big-endian int16, then
    the big-endian float32 values) as the rows of a native float32 array."""
    dimension = int.from_bytes(values[0][:2], "big")
    layout = np.dtype([("head", ">u4"), ("values", ">f4", (dimension,))])
    return np.frombuffer(b"".join(values), dtype=layout)["values"].astype(np.float32)


def _unit_rows(block: np.ndarray) -> np.ndarray:
    """`block`'s rows scaled to unit length, in place (a chunk at a time gives the same values as
    the whole matrix at once: each row's norm is its own reduction)."""
    block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), np.finfo(np.float32).tiny)
    return block


def customer_item_similarities(
    *, customers: np.ndarray, items: np.ndarray, vectors: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Leave-one-out cosine of each pair's item to the customer's other items (customers with ≥ 2
    items), sampled down to MAX_SAMPLES. `items` index rows of `vectors`."""
    if not len(customers):
        return np.zeros(0)
    customer_index, customer_rows = np.unique(customers, return_inverse=True)
    counts = np.bincount(customer_rows, minlength=len(customer_index))
    keep = counts[customer_rows] >= 2
    if not keep.any():
        return np.zeros(0)
    sums = np.zeros((len(customer_index), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, customer_rows, vectors[items])
    chosen = np.flatnonzero(keep)
    if len(chosen) > MAX_SAMPLES:
        chosen = np.sort(rng.choice(chosen, MAX_SAMPLES, replace=False))
    others = sums[customer_rows[chosen]] - vectors[items[chosen]]
    others /= np.maximum(np.linalg.norm(others, axis=1, keepdims=True), 1e-12)
    return np.einsum("ij,ij->i", others, vectors[items[chosen]].astype(np.float64))


def new_items(*, window: Window) -> list[int]:
    """Products whose first event falls in the window.

    Products with an event in the window and none before it: the window's events (timestamp
    index) each checked on the (product, timestamp) index, never a scan of all history.
    """
    sql = "SELECT DISTINCT e.product_id FROM catalog_event e WHERE e.timestamp < %s"
    params: list = [window.end]
    if window.start is not None:
        sql += (
            " AND e.timestamp >= %s AND NOT EXISTS"
            " (SELECT 1 FROM catalog_event earlier WHERE earlier.product_id = e.product_id AND earlier.timestamp < %s)"
        )
        params += [window.start, window.start]
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY 1", params)
        return [pk for (pk,) in cursor.fetchall()]


def new_item_similarities(*, product_pks: list[int], rng: np.random.Generator) -> np.ndarray:
    """Cosine of each product (sampled down to MAX_NEW_ITEMS) to its nearest other embedded product."""
    if len(product_pks) > MAX_NEW_ITEMS:
        product_pks = sorted(rng.choice(product_pks, MAX_NEW_ITEMS, replace=False).tolist())
    if not product_pks:
        return np.zeros(0)
    # Searched through the serving index (its halfvec order), the exact distance kept.
    order = knn_order_sql(column="other.vector", query_sql="pe.vector", dim=knn_dimension())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 - nn.distance FROM catalog_productembedding pe"
            " CROSS JOIN LATERAL (SELECT other.vector <=> pe.vector AS distance FROM catalog_productembedding other"
            f"  WHERE other.product_id <> pe.product_id ORDER BY {order} LIMIT 1) nn"
            " WHERE pe.product_id = ANY(%s)",
            [list(product_pks)],
        )
        return np.asarray([value for (value,) in cursor.fetchall()], dtype=np.float64)


def signals_measure(
    *, window: Window, reference_mean: np.ndarray | None = None, seed: int = 0, customer_share: float = 1.0
) -> Measured:
    """Every signal's sample in `window` (the pair signals from a seeded share of the customers
    below a share of 1); the mean-embedding signal is measured against `reference_mean` (the
    window's own mean when None: building a reference)."""
    rng = np.random.default_rng(seed)
    customers, products = window_pairs(window=window, customer_share=customer_share)
    pks, vectors = embeddings_load(product_pks=products)
    samples = {signal: np.zeros(0) for signal in Signal.values}
    if not len(pks):
        return Measured(samples=samples, mean_embedding=np.zeros(0))
    items = np.searchsorted(pks, products)
    samples[Signal.CUSTOMER_ITEM] = customer_item_similarities(
        customers=customers, items=items, vectors=vectors, rng=rng
    )
    samples[Signal.NEW_ITEM] = new_item_similarities(product_pks=new_items(window=window), rng=rng)
    mean = vectors[items].mean(axis=0)
    # A reference from a model of another dimension cannot be compared: the window's own mean stands in.
    comparable = reference_mean is not None and len(reference_mean) == vectors.shape[1]
    centre = reference_mean if comparable else mean
    centre = centre / max(float(np.linalg.norm(centre)), 1e-12)
    chosen = items if len(items) <= MAX_SAMPLES else rng.choice(items, MAX_SAMPLES, replace=False)
    samples[Signal.MEAN_EMBEDDING] = vectors[chosen].astype(np.float64) @ centre
    return Measured(samples=samples, mean_embedding=mean)
