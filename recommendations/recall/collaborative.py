"""The collaborative route: item-to-item weights learned by a linear or factor model.

Two learners, one served form (each item's top-N neighbours with a weight, summed over the
customer's history as item-CF is):

- EASE (Steck 2019), a closed-form linear autoencoder: B = I − P·diag(1/diag(P)) with
  P = (XᵀX + λI)⁻¹ over the binary customer × item matrix. Exact and strong on small and
  mid-sized catalogs, but it inverts a dense items × items matrix (Cholesky, in place): memory
  items² × 4 bytes plus blocks (1.6 GB at 20k items; the rule below keeps room for two) and
  O(items³) time, so it is used while two such matrices fit `memory_budget`.
- ALS (Hu, Koren & Volinsky 2008, the `implicit` package; cuda when present) beyond that limit:
  memory grows with items × factors; an item's neighbours are the items whose factors are most
  similar (cosine), computed in blocks.

Measured on the development sets (`manage.py evaluate`, docs/ranking.md): EASE beat ALS as a
standalone route and as ranker features on both, so EASE is the default wherever it fits.

`cf_fit` is pure (arrays in, sparse matrix out; the offline evaluation scores it in memory with
`itemcf_score_matrix`, the neighbours being summed over the history as item-CF's are);
`collaborative_rebuild` fits on every stored event and stores a new, versioned model;
`cf_candidates` serves the active model's neighbours (one query).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from recommendations.contracts import Candidate
from recommendations.history import History
from recommendations.interactions import interaction_matrix, interactions_load
from recommendations.models import CollaborativeModel
from recommendations.recall.itemcf import neighbor_copy_lines, neighbor_sum_candidates
from recsite.memory import MB
from recsite.snapshot import CachedSnapshot

logger = logging.getLogger(__name__)

ROUTE = "cf"
EASE = "ease"
ALS = "als"
DEFAULT_NEIGHBORS = 100
# EASE's L2 penalty. Steck's λ works on the scale of the item counts (the diagonal of XᵀX); a share
# of the mean count keeps it meaningful from a 2k-item review set to a 20k-item shop.
EASE_LAMBDA_SHARE = 1.0
EASE_MIN_LAMBDA = 10.0
# EASE's dense items × items matrices (two at the peak) must fit this.
MEMORY_BUDGET_BYTES = 4 * 2**30
# Items per block when picking each item's top neighbours from a dense row block.
BLOCK_ROWS = 1024
ALS_FACTORS = 64
ALS_REGULARIZATION = 0.01
ALS_ITERATIONS = 15
ALS_SEED = 42
VERSION_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class CollaborativeFit:
    """items × items weights (row = history item, columns = its neighbours) and how they came."""

    neighbors: sp.csr_matrix
    algorithm: str
    params: dict
    seconds: float
    device: str


def cf_algorithm(*, n_items: int, memory_budget: int = MEMORY_BUDGET_BYTES) -> str:
    """EASE when its two dense items × items float32 matrices fit `memory_budget`, else ALS."""
    return EASE if 2 * 4 * n_items * n_items <= memory_budget else ALS


def cf_fit(
    *,
    matrix: sp.csr_matrix,
    algorithm: str | None = None,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    memory_budget: int = MEMORY_BUDGET_BYTES,
) -> CollaborativeFit:
    """Fit the collaborative route on a customer × item matrix (any positive value = interacted)."""
    started = time.perf_counter()
    binary = sp.csr_matrix(matrix, dtype=np.float32)
    binary.data[:] = 1.0
    binary.eliminate_zeros()
    algorithm = algorithm or cf_algorithm(n_items=binary.shape[1], memory_budget=memory_budget)
    if algorithm == EASE:
        neighbors, params, device = _ease(binary=binary, n_neighbors=n_neighbors)
    elif algorithm == ALS:
        neighbors, params, device = _als(binary=binary, n_neighbors=n_neighbors)
    else:
        raise ValueError(f"unknown collaborative algorithm {algorithm!r}")
    return CollaborativeFit(
        neighbors=neighbors,
        algorithm=algorithm,
        params=params | {"n_neighbors": n_neighbors},
        seconds=time.perf_counter() - started,
        device=device,
    )


def _ease(*, binary: sp.csr_matrix, n_neighbors: int) -> tuple[sp.csr_matrix, dict, str]:
    n_items = binary.shape[1]
    gram = np.asarray((binary.T @ binary).toarray(), dtype=np.float32)
    counts = np.diag(gram).copy()
    used = counts > 0
    lam = max(EASE_MIN_LAMBDA, EASE_LAMBDA_SHARE * float(counts[used].mean()) if used.any() else 0.0)
    gram[np.diag_indices(n_items)] += lam
    precision = symmetric_inverse(gram)
    # B[i, j] = −P[i, j] / P[j, j]: column-wise, in place.
    precision /= -np.diag(precision)[None, :]
    np.fill_diagonal(precision, 0.0)
    # Items nobody touched get no neighbours (their row is λ-only noise).
    precision[~used] = 0.0
    neighbors = _top_per_row(dense_rows=precision, n_neighbors=n_neighbors)
    return neighbors, {"lambda": round(lam, 3), "lambda_rule": f"max({EASE_MIN_LAMBDA}, mean item count)"}, "cpu"


def symmetric_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite float32 matrix, computed in its own memory
    (Cholesky, then the inverse from it: a third of a general inverse's work, no second copy)."""
    factor, info = lapack.spotrf(matrix, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE's Gram matrix is not positive definite (spotrf info {info})")
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE's Gram matrix cannot be inverted (spotri info {info})")
    # spotri fills the upper triangle only: mirror it, a block of rows at a time.
    for start in range(0, len(inverse), BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, len(inverse))
        inverse[start:stop, :start] = inverse[:start, start:stop].T
        block = inverse[start:stop, start:stop]
        block[np.tril_indices(stop - start, -1)] = block.T[np.tril_indices(stop - start, -1)]
    return inverse


def _als(*, binary: sp.csr_matrix, n_neighbors: int) -> tuple[sp.csr_matrix, dict, str]:
    device = "cpu"
    with threadpool_limits(limits=1, user_api="blas"):
        model = None
        try:
            import implicit.gpu  # noqa: PLC0415 - implicit: heavy (and its GPU build optional), loaded by the ALS rebuild only

            if implicit.gpu.HAS_CUDA:
                from implicit.gpu.als import AlternatingLeastSquares as GpuAls  # noqa: PLC0415 - implicit: heavy, loaded by the ALS rebuild only

                model = GpuAls(
                    factors=ALS_FACTORS,
                    regularization=ALS_REGULARIZATION,
                    iterations=ALS_ITERATIONS,
                    random_state=ALS_SEED,
                )
                device = "cuda"
        except ImportError:
            model = None
        if model is None:
            from implicit.cpu.als import AlternatingLeastSquares  # noqa: PLC0415 - implicit: heavy, loaded by the ALS rebuild only

            model = AlternatingLeastSquares(
                factors=ALS_FACTORS, regularization=ALS_REGULARIZATION, iterations=ALS_ITERATIONS, random_state=ALS_SEED
            )
        model.fit(binary, show_progress=False)
        items = model.item_factors
        items = np.asarray(items.to_numpy() if hasattr(items, "to_numpy") else items, dtype=np.float32)
    norms = np.linalg.norm(items, axis=1, keepdims=True)
    items = np.divide(items, norms, out=np.zeros_like(items), where=norms > 0)
    rows_out = []
    for start in range(0, len(items), BLOCK_ROWS):
        block = items[start : start + BLOCK_ROWS] @ items.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = 0.0
        rows_out.append(_top_per_row(dense_rows=block, n_neighbors=n_neighbors))
    neighbors = sp.vstack(rows_out).tocsr() if rows_out else sp.csr_matrix((0, 0))
    params = {"factors": ALS_FACTORS, "regularization": ALS_REGULARIZATION, "iterations": ALS_ITERATIONS}
    return neighbors, params, device


def _top_per_row(*, dense_rows: np.ndarray, n_neighbors: int) -> sp.csr_matrix:
    """Each row's `n_neighbors` largest positive entries as a sparse matrix (ties: lower column)."""
    n_rows, n_cols = dense_rows.shape
    keep = min(n_neighbors, n_cols)
    out_rows, out_cols, out_data = [], [], []
    for start in range(0, n_rows, BLOCK_ROWS):
        block = dense_rows[start : start + BLOCK_ROWS]
        if keep < n_cols:
            cols = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
        else:
            cols = np.tile(np.arange(n_cols), (len(block), 1))
        values = np.take_along_axis(block, cols, axis=1)
        rows = np.repeat(np.arange(start, start + len(block)), keep)
        cols, values = cols.ravel(), values.ravel().astype(np.float64)
        positive = values > 0
        out_rows.append(rows[positive])
        out_cols.append(cols[positive])
        out_data.append(values[positive])
    return sp.csr_matrix(
        (np.concatenate(out_data), (np.concatenate(out_rows), np.concatenate(out_cols))), shape=(n_rows, n_cols)
    )


# --- serving ------------------------------------------------------------------------------------


def _active_model_id_load() -> int | None:
    return CollaborativeModel.objects.filter(is_active=True).values_list("pk", flat=True).first()


_active_model: CachedSnapshot[int | None] = CachedSnapshot(_active_model_id_load, max_age=VERSION_CHECK_SECONDS)


def active_model_id() -> int | None:
    """The active collaborative model's id (looked up at most every VERSION_CHECK_SECONDS)."""
    return _active_model.get()


def reset() -> None:
    """Forget the cached active model (tests, or right after an activation in this process)."""
    _active_model.forget()


def cf_candidates(*, history: History, n: int) -> list[Candidate]:
    """The customer's top `n` candidates from the active model's neighbours (one query; none when
    no model is active). `seed_pk` is the history item contributing most, as for item-CF."""
    model_id = active_model_id()
    if model_id is None:
        return []
    return neighbor_sum_candidates(
        table="recommendations_collaborativeneighbor", route=ROUTE, history=history, n=n, model_id=model_id
    )


def collaborative_rebuild(
    *,
    algorithm: str | None = None,
    activate: bool = True,
    customer_share: float = 1.0,
    until: dt.datetime | None = None,
):
    """Fit the route on every stored event (of `customer_share` of the customers:
    `neighbors_plan`; before `until` when given: an offline measurement's training events), store
    it as a new version (and activate it). EASE when its dense matrices fit
    NEIGHBORS_MEMORY_BUDGET_MB, else ALS.

    Returns the `CollaborativeModel`. The neighbour rows of a version are written once (COPY) and
    never changed; activating another version switches serving at once.
    """
    interactions, product_pks = interactions_load(until=until, customer_share=customer_share)
    fit = cf_fit(
        matrix=interaction_matrix(interactions=interactions),
        algorithm=algorithm,
        memory_budget=settings.NEIGHBORS_MEMORY_BUDGET_MB * MB,
    )
    with transaction.atomic():
        latest = CollaborativeModel.objects.select_for_update().aggregate(v=Max("version"))["v"]
        model = CollaborativeModel.objects.create(
            version=(latest or 0) + 1,
            algorithm=fit.algorithm,
            params=fit.params,
            events=len(interactions.users),
            customers=interactions.n_users,
            items=interactions.n_items,
            neighbor_rows=fit.neighbors.nnz,
            training_seconds=fit.seconds,
            device=fit.device,
        )
        _, lines = neighbor_copy_lines(neighbors=fit.neighbors, product_pks=product_pks, prefix=f"{model.pk}\t")
        with connection.cursor() as cursor:
            columns = "(model_id, product_id, neighbor_id, score, rank)"
            with cursor.cursor.copy(f"COPY recommendations_collaborativeneighbor {columns} FROM STDIN") as copy:
                copy.write(lines)
    if activate:
        model = collaborative_activate(model_id=model.pk)
    logger.info("collaborative model v%s: %s, %s neighbour rows", model.version, fit.algorithm, model.neighbor_rows)
    return model


def collaborative_activate(*, model_id: int):
    """Make version `model_id` the served one (the previous one stops)."""
    with transaction.atomic():
        model = CollaborativeModel.objects.select_for_update().get(pk=model_id)
        CollaborativeModel.objects.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
        if not model.is_active:
            model.is_active = True
            model.save(update_fields=["is_active"])
    reset()
    return model
