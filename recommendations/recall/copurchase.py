"""Co-purchase neighbours: products bought in the same basket, for the bought-together placement.

A basket is one shopper's purchases of one UTC day: a customer's, or an anonymous session's
(a linked session's purchases are its customer's already). The import format carries no order
id, and on Online Retail a customer's purchases of one day are nearly always one invoice.

The association score is item-CF's cosine (`itemcf_similarity`) over the basket × item matrix
instead of the customer × item one: the cosine c_ij / √(c_i c_j) divides the co-purchase count
by both items' popularity (so a best seller is not everyone's neighbour), the shrink term pulls
down pairs seen in one or two baskets, and a basket of a hundred items (a wholesaler's day)
weighs less than a basket of three (inverse basket size). Each item's top-N list sums to 1, so
every cart item gets an equal say when the cart's scores are summed.

`copurchase_similarity` is pure; `copurchase_rebuild` replaces the stored table (run with the
item-CF neighbours by `build_neighbors`); `copurchase_candidates` serves a cart from it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from django.db import connection, transaction

from catalog.public import EventType, Product
from recommendations.contracts import Candidate
from recommendations.history import History
from recommendations.recall.itemcf import itemcf_blocks, itemcf_similarity, neighbor_sum_candidates
from recommendations.recall.neighbor_rows import NeighborTable, neighbor_rows_write
from recsite.db_router import read_connection

ROUTE = "copurchase"
TABLE = NeighborTable(name="recommendations_copurchaseneighbor", rank_type="int4")
DEFAULT_NEIGHBORS = 50
DEFAULT_SHRINK = 5.0

# One row per (basket, product): the basket is numbered by its owner (customer or session) and
# its UTC day.
BASKETS_SQL = (
    "SELECT DENSE_RANK() OVER (ORDER BY b.owner, b.day) - 1, b.product_id FROM ("
    " SELECT DISTINCT COALESCE('c' || customer_id::text, 's' || session_id) AS owner,"
    " (timestamp AT TIME ZONE 'UTC')::date AS day, product_id FROM catalog_event WHERE type = %s) b"
)


def copurchase_similarity(
    *,
    baskets: np.ndarray,
    items: np.ndarray,
    n_items: int,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    shrink: float = DEFAULT_SHRINK,
) -> sp.csr_matrix:
    """Item × item co-purchase scores from parallel arrays of basket index and item index (one
    pair per purchase; repeats count once), the top `n_neighbors` per item, each row summing to 1."""
    return itemcf_similarity(
        matrix=basket_matrix(baskets=baskets, items=items, n_items=n_items), n_neighbors=n_neighbors, shrink=shrink
    )


def basket_matrix(*, baskets: np.ndarray, items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Basket × item matrix of ones (an item bought twice in a basket counts once)."""
    n_baskets = int(baskets.max()) + 1 if len(baskets) else 0
    matrix = sp.csr_matrix(
        (np.ones(len(items), dtype=np.float64), (baskets, items)), shape=(n_baskets, n_items), dtype=np.float64
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def copurchase_rebuild(*, n_neighbors: int = DEFAULT_NEIGHBORS, shrink: float = DEFAULT_SHRINK) -> int:
    """Recompute every product's co-purchase neighbours from all stored purchases and replace the
    table (delete and COPY in one transaction: readers see the old table until the new one is
    complete). Returns the number of rows written."""
    product_pks = np.fromiter(Product.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    with connection.cursor() as cursor:
        cursor.execute(BASKETS_SQL, [EventType.PURCHASE.value])
        rows = np.asarray(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
    matrix = basket_matrix(baskets=rows[:, 0], items=np.searchsorted(product_pks, rows[:, 1]), n_items=len(product_pks))
    blocks = itemcf_blocks(matrix=matrix, n_neighbors=n_neighbors, shrink=shrink)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE.name}")
        return neighbor_rows_write(cursor=cursor, table=TABLE, blocks=blocks, product_pks=product_pks)


def copurchase_candidates(*, cart: History, n: int) -> tuple[list[Candidate], frozenset[int]]:
    """The cart's top `n` co-purchased products (Σ over cart items of weight × score; `seed_pk`
    the cart item contributing most) and the cart items that have co-purchase neighbours at all
    (the others are left to the co-occurrence routes)."""
    candidates = neighbor_sum_candidates(table=TABLE.name, route=ROUTE, history=cart, n=n)
    if not candidates:
        return [], frozenset()
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT product_id FROM {TABLE.name} WHERE product_id = ANY(%s)", [list(cart.product_pks)]
        )
        covered = frozenset(pk for (pk,) in cursor.fetchall())
    return candidates, covered
