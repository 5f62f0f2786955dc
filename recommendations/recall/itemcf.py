"""Item-CF: items are similar when the same customers interact with both.

Similarity is the cosine between item columns of the customer × item matrix, with two standard
corrections:

- inverse user frequency (IUF): each customer's contribution is weighted by
  1 / log(1 + items they touched), so a wholesaler who bought half the catalog does not make
  every pair of items similar (Breese, Heckerman & Kadie 1998; the "ItemCF-IUF" variant);
- a shrink term in the denominator, x_i·x_j / (‖x_i‖‖x_j‖ + shrink), which pulls down pairs
  supported by one or two customers (the ItemKNN baseline of Dacrema, Cremonesi & Jannach 2019).

Each item's top-N list is then normalised to sum to 1 (Deshpande & Karypis 2004), so every
history item gets an equal say when a customer's scores are summed, however dense its
neighbourhood.

`itemcf_similarity` is pure (sparse matrices in and out; the offline evaluation uses it in
memory); `itemcf_neighbors_rebuild` stores its top-N in `catalog.ItemNeighbor`;
`itemcf_candidates` serves a customer from the stored neighbours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from django.db import connection, transaction

from recommendations.contracts import Candidate
from recommendations.history import History
from recommendations.interactions import interaction_matrix, interactions_load, rank_in_runs
from recommendations.recall.inputs import recall_inputs_changed
from recommendations.recall.neighbor_rows import NeighborBlock, NeighborTable, blocks_matrix, neighbor_rows_write
from recsite.db_router import read_connection

ROUTE = "itemcf"
TABLE = NeighborTable(name="catalog_itemneighbor", rank_type="int2")
DEFAULT_NEIGHBORS = 50
DEFAULT_SHRINK = 5.0
# Item rows per block of the item × item product, at most; a block is cut shorter when its rows may
# co-occur with more items than BLOCK_BYTES hold (`item_blocks`).
BLOCK_ROWS = 1024
# What one block's product may hold: each co-occurring pair is a COO triple (two int32, one
# float64) held with its filtered and sorted copies.
BLOCK_BYTES = 256 * 2**20
PAIR_BYTES = 16 * 3


def itemcf_similarity(
    *,
    matrix: sp.csr_matrix,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    shrink: float = DEFAULT_SHRINK,
    block_rows: int = BLOCK_ROWS,
    block_bytes: int = BLOCK_BYTES,
) -> sp.csr_matrix:
    """Item × item similarity from a customer × item matrix, keeping the top `n_neighbors` per row.

    Row i holds item i's neighbours (never i itself), their similarities summing to 1. The whole
    matrix, in memory: the offline evaluation's form of `itemcf_blocks`.
    """
    blocks = itemcf_blocks(
        matrix=matrix, n_neighbors=n_neighbors, shrink=shrink, block_rows=block_rows, block_bytes=block_bytes
    )
    return blocks_matrix(blocks=blocks, n_items=matrix.shape[1])


def itemcf_blocks(
    *,
    matrix: sp.csr_matrix,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    shrink: float = DEFAULT_SHRINK,
    block_rows: int = BLOCK_ROWS,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[NeighborBlock]:
    """`itemcf_similarity`'s rows a block of items at a time (`item_blocks`): each block holds every
    kept neighbour of its items (ties broken by the lower item index), normalised, so its memory
    stays within `block_bytes` whatever the catalog's size and a caller may write it and drop it.
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    items_per_user = np.diff(matrix.indptr)
    iuf = 1.0 / np.log1p(np.maximum(items_per_user, 1))
    weighted = sp.csr_matrix(sp.diags(np.sqrt(iuf)) @ matrix)
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=0)).ravel())
    by_item = sp.csr_matrix(weighted.T)
    for start, stop in item_blocks(matrix=matrix, block_rows=block_rows, block_bytes=block_bytes):
        block = sp.coo_matrix(by_item[start:stop] @ weighted)
        rows, cols = block.row + start, block.col
        keep = rows != cols
        rows, cols = rows[keep], cols[keep]
        scores = block.data[keep] / (norms[rows] * norms[cols] + shrink)
        order = np.lexsort((cols, -scores, rows))
        rows, cols, scores = rows[order], cols[order], scores[order]
        top = rank_in_runs(rows) < n_neighbors
        rows, cols, scores = rows[top], cols[top], scores[top]
        if len(rows):
            row_sums = np.bincount(rows - start, weights=scores, minlength=stop - start)
            yield NeighborBlock(rows=rows, cols=cols, scores=scores / row_sums[rows - start])


def itemcf_score_matrix(*, history: sp.csr_matrix, similarity: sp.csr_matrix) -> sp.csr_matrix:
    """Scores of every item for every user: Σ over history items of (history weight × similarity).

    `history` is users × items (the weights of `history_aggregate`), `similarity` items × items.
    """
    return sp.csr_matrix(history @ similarity)


def itemcf_candidates(*, history: History, n: int) -> list[Candidate]:
    """The customer's top `n` item-CF candidates from stored neighbours (one query).

    The serving form of `itemcf_score_matrix` for one customer: Postgres sums
    history weight × similarity per neighbour and returns only the top `n`, so a long history
    never ships thousands of neighbour rows to Python. Each candidate's `seed_pk` is the history
    item contributing most to its score (what its reason names).
    """
    return neighbor_sum_candidates(table=TABLE.name, route=ROUTE, history=history, n=n)


def product_and_neighbors(*, external_id: str, n: int) -> tuple[int | None, list[Candidate]]:
    """The pk of the product `external_id` (None when there is none) and its top `n` stored
    item-CF neighbours, by rank: one round trip where similar items made two."""
    sql = (
        "SELECT p.id, n.neighbor_id, n.score FROM catalog_product p"
        f" LEFT JOIN LATERAL (SELECT neighbor_id, score, rank FROM {TABLE.name}"
        "  WHERE product_id = p.id ORDER BY rank LIMIT %s) n ON true"
        " WHERE p.external_id = %s ORDER BY n.rank"
    )
    with read_connection().prepared_cursor() as cursor:
        cursor.execute(sql, [n, external_id])
        rows = cursor.fetchall()
    if not rows:
        return None, []
    neighbors = [Candidate(product_pk=pk, route=ROUTE, score=score) for _, pk, score in rows if pk is not None]
    return rows[0][0], neighbors


def item_blocks(*, matrix: sp.csr_matrix, block_rows: int, block_bytes: int) -> list[tuple[int, int]]:
    """(start, stop) ranges of item rows whose block product holds at most `block_bytes`, by an
    upper bound of each row's co-occurring items (the items of every customer of the item, at
    most all of them); at most `block_rows` rows, at least one. A fixed number of rows would bound
    nothing: at 1M items, 1,024 rows that co-occur with everything are 49 GB."""
    pattern = sp.csr_matrix((np.ones_like(matrix.data), matrix.indices, matrix.indptr), shape=matrix.shape)
    items_per_customer = np.diff(pattern.indptr).astype(np.float64)
    bound = np.minimum(pattern.T @ items_per_customer, matrix.shape[1]) * PAIR_BYTES
    blocks, start, held = [], 0, 0.0
    for item, size in enumerate(bound):
        if item > start and (held + size > block_bytes or item - start >= block_rows):
            blocks.append((start, item))
            start, held = item, 0.0
        held += size
    if start < matrix.shape[1]:
        blocks.append((start, matrix.shape[1]))
    return blocks


def neighbor_sum_candidates(
    *, table: str, route: str, history: History, n: int, model_id: int | None = None
) -> list[Candidate]:
    """Top `n` of Σ history weight × neighbour score over a neighbour table (`table` is one of the
    code's own table names, never input), only the rows of `model_id` when given; `seed_pk` is
    the history item contributing most."""
    if history.is_empty or n <= 0:
        return []
    version = " WHERE n.model_id = %s" if model_id is not None else ""
    sql = (
        "SELECT n.neighbor_id, SUM(n.score * h.weight) AS score,"
        # The seed: the largest contribution, the smallest pk among equals. One running maximum a
        # neighbour instead of an ordered array of every contribution (sorted per neighbour).
        " -(max(ARRAY[n.score * h.weight, -h.product_id::float8]))[2]"
        f" FROM {table} n"
        " JOIN unnest(%s::bigint[], %s::float8[]) AS h(product_id, weight) ON n.product_id = h.product_id"
        f"{version} GROUP BY n.neighbor_id HAVING SUM(n.score * h.weight) > 0"
        " ORDER BY score DESC, n.neighbor_id LIMIT %s"
    )
    params = [list(history.product_pks), list(history.weights), *([model_id] if model_id is not None else []), n]
    with read_connection().prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [Candidate(product_pk=pk, route=route, score=float(score), seed_pk=int(seed)) for pk, score, seed in rows]


def itemcf_neighbors_rebuild(
    *,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    shrink: float = DEFAULT_SHRINK,
    customer_share: float = 1.0,
    until: dt.datetime | None = None,
) -> int:
    """Recompute every item's top neighbours from all stored events (of `customer_share` of the
    customers: `neighbors_plan`; before `until` when given: an offline measurement's training
    events) and replace the table.

    Delete and COPY run in one transaction, so readers see the old table until the new one is
    complete; each block of items' rows is written as computed. Returns the number of rows written.
    """
    interactions, product_pks = interactions_load(until=until, customer_share=customer_share)
    blocks = itemcf_blocks(matrix=interaction_matrix(interactions=interactions), n_neighbors=n_neighbors, shrink=shrink)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_itemneighbor")
        recall_inputs_changed()
        return neighbor_rows_write(cursor=cursor, table=TABLE, blocks=blocks, product_pks=product_pks)
