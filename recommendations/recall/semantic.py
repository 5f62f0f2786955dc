"""Semantic recall: nearest products by embedding (pgvector, cosine distance, HNSW index).

A customer is the recency-weighted mean of the embeddings of their recent items, normalised.
Filters (stock, exclusions, category) go into the same query; pgvector 0.8's iterative index scan
keeps scanning the HNSW graph until enough rows pass them, so a filter never empties the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.db import transaction

from catalog.public import ProductEmbedding, category_subtree_like
from recommendations.contracts import Candidate
from recommendations.embeddings.customers import HISTORY_ITEMS, user_vectors
from recommendations.embeddings.knn import knn_dimension, knn_order_sql
from recommendations.history import History
from recsite.db_router import read_connection

ROUTE = "semantic"
# Candidates the HNSW search keeps in its queue; at least the LIMIT, at most pgvector's 1000. At 1M
# products 200 found 0.858 of the exact top 10 in 4.5 ms p50 (100: 0.779 in 3.8 ms;
# `bench/vector_index.py --vector`, docs/scale.md).
MIN_EF_SEARCH = 200
MAX_EF_SEARCH = 1000
# History weights below this share of the largest are left out of the customer vector.
MIN_RELATIVE_WEIGHT = 1e-9
# The customer's vector as SQL, from (recent product pks, their weights): the weighted sum of their
# embeddings (cosine ignores its length, so it points where `customer_vector` does).
HISTORY_VECTOR_SQL = (
    "(SELECT sum(he.vector * array_fill(h.weight::real, ARRAY[vector_dims(he.vector)])::vector)"
    " FROM catalog_productembedding he"
    " JOIN unnest(%s::bigint[], %s::float8[]) AS h(product_id, weight) ON he.product_id = h.product_id)"
)


@dataclass(frozen=True)
class KnnFilter:
    """What the nearest-neighbour query must leave out or keep to."""

    excluded_pks: tuple[int, ...] = ()
    excluded_external_ids: tuple[str, ...] = ()
    category_path: str | None = None
    in_stock_only: bool = True


def customer_vector(*, history: History) -> np.ndarray | None:
    """The customer's vector from the embeddings of their recent items, or None (one query)."""
    recent = history.product_pks[:HISTORY_ITEMS]
    if not recent:
        return None
    stored = dict(ProductEmbedding.objects.filter(product_id__in=recent).values_list("product_id", "vector"))
    known = [pk for pk in recent if pk in stored]
    if not known:
        return None
    weights = dict(zip(history.product_pks, history.weights, strict=True))
    row = sp.csr_matrix(np.array([[weights[pk] for pk in known]]))
    vector = user_vectors(history=row, embeddings=np.stack([np.asarray(stored[pk]) for pk in known]))[0]
    return vector if vector.any() else None


def customer_semantic_candidates(*, history: History, n: int, knn_filter: KnnFilter) -> list[Candidate]:
    """`semantic_candidates` for the customer's vector, built inside the same query.

    Postgres forms the weighted sum of the recent items' embeddings (cosine ignores its length,
    so it equals `customer_vector`'s direction) and searches the HNSW index with it: no vector
    travels to Python and back. Empty when none of the recent items has an embedding.
    """
    recent, weights = _vector_weights(history=history)
    if not recent:
        return []
    return _knn(vector_sql=HISTORY_VECTOR_SQL, vector_params=[recent, weights], n=n, knn_filter=knn_filter)


def history_similarities(*, history: History, product_pks: Sequence[int]) -> dict[int, float]:
    """Cosine similarity of each of `product_pks` (those with an embedding) to the customer's
    vector, formed inside the query as `customer_semantic_candidates` forms it; empty when none of
    the recent items has an embedding (one query)."""
    recent, weights = _vector_weights(history=history)
    if not recent or not product_pks:
        return {}
    sql = (
        f"SELECT e.product_id, 1 - (e.vector <=> {HISTORY_VECTOR_SQL}) FROM catalog_productembedding e"
        " WHERE e.product_id = ANY(%s)"
    )
    with read_connection().prepared_cursor() as cursor:
        cursor.execute(sql, [recent, weights, list(product_pks)])
        return {pk: float(similarity) for pk, similarity in cursor.fetchall() if similarity is not None}


def knn_filter_sql(*, knn_filter: KnnFilter, pk_column: str) -> tuple[list[str], list]:
    """The filter as SQL conditions on `catalog_product p` and `pk_column`, with their parameters."""
    where = [f"NOT ({pk_column} = ANY(%s))", "NOT (p.external_id = ANY(%s))"]
    params: list = [list(knn_filter.excluded_pks), list(knn_filter.excluded_external_ids)]
    if knn_filter.in_stock_only:
        where.append("p.in_stock")
    if knn_filter.category_path is not None:
        where.append("p.category_id IN (SELECT id FROM catalog_category WHERE path = %s OR path LIKE %s)")
        params += [knn_filter.category_path, category_subtree_like(knn_filter.category_path)]
    return where, params


def _vector_weights(*, history: History) -> tuple[list[int], list[float]]:
    """The recent items and their weights relative to the largest, without the negligible ones.

    Decay can leave a years-old item a weight far below what a float4 (pgvector's element type)
    holds; casting it would fail the query, and it adds nothing to the direction anyway.
    """
    recent = history.product_pks[:HISTORY_ITEMS]
    weights = np.asarray(history.weights[: len(recent)], dtype=np.float64)
    if not recent or not weights.max() > 0:
        return [], []
    relative = weights / weights.max()
    keep = relative >= MIN_RELATIVE_WEIGHT
    return [pk for pk, kept in zip(recent, keep, strict=True) if kept], relative[keep].tolist()


def semantic_candidates(*, vector: np.ndarray, n: int, knn_filter: KnnFilter) -> list[Candidate]:
    """The `n` products nearest to `vector` that pass `knn_filter`; score = cosine similarity."""
    return _knn(vector_sql="%s::vector", vector_params=[_vector_literal(vector)], n=n, knn_filter=knn_filter)


def semantic_neighbors(*, product_pk: int, n: int, knn_filter: KnnFilter) -> list[Candidate]:
    """The `n` products nearest to the stored embedding of `product_pk` (none when it has none)."""
    return _knn(
        vector_sql="(SELECT vector FROM catalog_productembedding WHERE product_id = %s)",
        vector_params=[product_pk],
        n=n,
        knn_filter=KnnFilter(
            excluded_pks=(*knn_filter.excluded_pks, product_pk),
            excluded_external_ids=knn_filter.excluded_external_ids,
            category_path=knn_filter.category_path,
            in_stock_only=knn_filter.in_stock_only,
        ),
    )


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def knn_session_defaults(sender, connection, **kwargs) -> None:
    """On every new PostgreSQL connection: the HNSW knobs most queries want, set for the session,
    so that a usual query needs no transaction and no extra round trip to set them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # relaxed_order: with filters, keep walking the graph instead of returning fewer rows.
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, false),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', false)",
                [str(MIN_EF_SEARCH)],
            )


def _knn(*, vector_sql: str, vector_params: list, n: int, knn_filter: KnnFilter) -> list[Candidate]:
    """One filtered nearest-neighbour query through the HNSW index (a wider search than the
    session's default takes a transaction and one more statement)."""
    if n <= 0:
        return []
    where, params = knn_filter_sql(knn_filter=knn_filter, pk_column="e.product_id")
    # Ordered through the index's halfvec expression; the distance returned is the exact one.
    order = knn_order_sql(column="e.vector", query_sql=vector_sql, dim=knn_dimension())
    sql = (
        f"SELECT e.product_id, e.vector <=> {vector_sql} AS distance"
        " FROM catalog_productembedding e JOIN catalog_product p ON p.id = e.product_id"
        f" WHERE {vector_sql} IS NOT NULL AND {' AND '.join(where)}"
        f" ORDER BY {order} LIMIT %s"
    )
    params = [*vector_params, *vector_params, *params, *vector_params, n]
    ef_search = min(max(n, MIN_EF_SEARCH), MAX_EF_SEARCH)
    reader = read_connection()
    if ef_search == MIN_EF_SEARCH:
        with reader.prepared_cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    else:
        with transaction.atomic(using=reader.alias), reader.prepared_cursor() as cursor:
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef_search)])
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    # Relaxed order may return near-ties slightly out of order; the exact distances decide.
    rows.sort(key=lambda row: (row[1], row[0]))
    return [Candidate(product_pk=pk, route=ROUTE, score=1.0 - float(distance)) for pk, distance in rows]
