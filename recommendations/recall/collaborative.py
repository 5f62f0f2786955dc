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
  similar (cosine), among the ALS_NEIGHBOR_CANDIDATES most interacted items, computed in blocks.

Measured on the development sets (`manage.py evaluate`, docs/ranking.md): EASE beat ALS as a
standalone route and as ranker features on both, so EASE is the default wherever it fits.

`cf_fit` is pure (arrays in, the fitted weights out; the offline evaluation scores its
`neighbors` in memory with `itemcf_score_matrix`, summed over the history as item-CF's are);
`collaborative_rebuild` fits on every stored event and stores a new, versioned model, writing its
neighbours a block of items at a time;
`cf_candidates` serves the active model's neighbours (one query).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

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
from recommendations.recall.inputs import recall_inputs_changed
from recommendations.recall.itemcf import neighbor_sum_candidates
from recommendations.recall.neighbor_rows import NeighborBlock, NeighborTable, blocks_matrix, neighbor_rows_write
from recsite.memory import MB
from recsite.snapshot import CachedSnapshot

logger = logging.getLogger(__name__)

ROUTE = "cf"
TABLE = "recommendations_collaborativeneighbor"
EASE = "ease"
ALS = "als"
DEFAULT_NEIGHBORS = 100
# EASE's L2 penalty. Steck's λ works on the scale of the item counts (the diagonal of XᵀX); a share
# of the mean count keeps it meaningful from a 2k-item review set to a 20k-item shop.
EASE_LAMBDA_SHARE = 1.0
EASE_MIN_LAMBDA = 10.0
# EASE's dense items × items matrices (two at the peak) must fit this.
MEMORY_BUDGET_BYTES = 4 * 2**30
# Items per block when picking each item's top neighbours from a dense row block, at most, and
# what one block may hold (`block_rows`).
BLOCK_ROWS = 1024
BLOCK_BYTES = 256 * 2**20
# ALS's neighbours are drawn from at most this many items, the most interacted: each item's search
# is a dense row over them (1M × 1M factors' cosines did not finish in 20 minutes on 2 cores,
# docs/scale.md); EASE, used below about 23k items, searches them all.
ALS_NEIGHBOR_CANDIDATES = 50_000
ALS_FACTORS = 64
ALS_REGULARIZATION = 0.01
ALS_ITERATIONS = 15
ALS_SEED = 42
VERSION_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class CollaborativeFit:
    """A fitted model in the form its neighbours are read from, and how it came.

    `weights`: EASE's items × items matrix B (row = history item), or ALS's L2-normalised item
    factors (items × factors, neighbours by cosine); `candidates`: the items that may be a
    neighbour, `rows`: the items that get neighbours (both: items anyone interacted with; ALS's
    candidates at most ALS_NEIGHBOR_CANDIDATES of them)."""

    weights: np.ndarray
    rows: np.ndarray
    candidates: np.ndarray
    n_neighbors: int
    algorithm: str
    params: dict
    seconds: float
    device: str

    def blocks(self) -> Iterator[NeighborBlock]:
        """Each row item's top `n_neighbors` positive weights, BLOCK_ROWS items at a time (item
        indices; ties: the lower index), so a writer holds one block's rows."""
        is_ease = self.algorithm == EASE
        candidate_factors = None if is_ease else self.weights[self.candidates]
        keep = min(self.n_neighbors, len(self.candidates))
        size = block_rows(n_candidates=len(self.candidates))
        for start in range(0, len(self.rows), size):
            rows = self.rows[start : start + size]
            if is_ease:
                dense = self.weights[np.ix_(rows, self.candidates)]
            else:
                dense = self.weights[rows] @ candidate_factors.T
            # Never an item's own neighbour.
            at = np.minimum(np.searchsorted(self.candidates, rows), len(self.candidates) - 1)
            own = self.candidates[at] == rows
            dense[np.flatnonzero(own), at[own]] = 0.0
            yield _top_per_row(dense_rows=dense, rows=rows, cols=self.candidates, keep=keep)

    @cached_property
    def neighbors(self) -> sp.csr_matrix:
        """Every block as one items × items matrix, each item's neighbours weighted as served (the
        offline evaluation scores it in memory)."""
        return blocks_matrix(blocks=self.blocks(), n_items=len(self.weights))


def block_rows(*, n_candidates: int) -> int:
    """Row items per block: a block's dense float32 weights and argpartition's int64 indices
    (12 bytes a cell) within BLOCK_BYTES, at most BLOCK_ROWS rows."""
    return int(min(BLOCK_ROWS, max(1, BLOCK_BYTES // (12 * max(1, n_candidates)))))


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
        weights, params, device = _ease(binary=binary)
    elif algorithm == ALS:
        weights, params, device = _als(binary=binary)
    else:
        raise ValueError(f"unknown collaborative algorithm {algorithm!r}")
    counts = np.bincount(binary.indices, minlength=binary.shape[1])
    # Items nobody touched get no neighbours and are nobody's (EASE's row for them is λ-only
    # noise, ALS's factors stay at their random start).
    used = np.flatnonzero(counts)
    candidates = used
    if algorithm == ALS and len(used) > ALS_NEIGHBOR_CANDIDATES:
        # The most interacted items, in index order: the cost of each row's search is theirs.
        candidates = np.sort(used[np.argsort(-counts[used], kind="stable")[:ALS_NEIGHBOR_CANDIDATES]])
        params |= {"neighbor_candidates": ALS_NEIGHBOR_CANDIDATES}
    return CollaborativeFit(
        weights=weights,
        rows=used,
        candidates=candidates,
        n_neighbors=n_neighbors,
        algorithm=algorithm,
        params=params | {"n_neighbors": n_neighbors},
        seconds=time.perf_counter() - started,
        device=device,
    )


def _ease(*, binary: sp.csr_matrix) -> tuple[np.ndarray, dict, str]:
    n_items = binary.shape[1]
    gram = np.asarray((binary.T @ binary).toarray(), dtype=np.float32)
    counts = np.diag(gram).copy()
    used = counts > 0
    lam = max(EASE_MIN_LAMBDA, EASE_LAMBDA_SHARE * float(counts[used].mean()) if used.any() else 0.0)
    gram[np.diag_indices(n_items)] += lam
    precision = symmetric_inverse(gram)
    # B[i, j] = −P[i, j] / P[j, j]: column-wise, in place.
    precision /= -np.diag(precision)[None, :]
    return precision, {"lambda": round(lam, 3), "lambda_rule": f"max({EASE_MIN_LAMBDA}, mean item count)"}, "cpu"


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


def _als(*, binary: sp.csr_matrix) -> tuple[np.ndarray, dict, str]:
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
    params = {"factors": ALS_FACTORS, "regularization": ALS_REGULARIZATION, "iterations": ALS_ITERATIONS}
    return items, params, device


def _top_per_row(*, dense_rows: np.ndarray, rows: np.ndarray, cols: np.ndarray, keep: int) -> NeighborBlock:
    """Each row's `keep` largest positive entries (row i is item `rows[i]`, column j item
    `cols[j]`), as item indices."""
    n_cols = dense_rows.shape[1]
    if keep < n_cols:
        # The last `keep` after partitioning at n_cols - keep: the same items as partitioning the
        # negated block, without its copy (a third less time at 50,000 candidates a row).
        top = np.argpartition(dense_rows, n_cols - keep, axis=1)[:, n_cols - keep :]
    else:
        top = np.tile(np.arange(n_cols), (len(dense_rows), 1))
    values = np.take_along_axis(dense_rows, top, axis=1).ravel().astype(np.float64)
    positive = values > 0
    return NeighborBlock(
        rows=np.repeat(rows, top.shape[1])[positive], cols=cols[top.ravel()][positive], scores=values[positive]
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
    return neighbor_sum_candidates(table=TABLE, route=ROUTE, history=history, n=n, model_id=model_id)


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
            neighbor_rows=0,
            training_seconds=fit.seconds,
            device=fit.device,
        )
        with connection.cursor() as cursor:
            table = NeighborTable(name=TABLE, rank_type="int4", model_id=model.pk)
            model.neighbor_rows = neighbor_rows_write(
                cursor=cursor, table=table, blocks=fit.blocks(), product_pks=product_pks
            )
        model.save(update_fields=["neighbor_rows"])
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
        recall_inputs_changed()
    reset()
    return model
