"""The strategies `evaluate` compares, each scoring the whole catalog for a block of users.

Every route is trained on training events only and scores with the same functions serving uses:
`history_aggregate` for the customers' histories, `itemcf_similarity` + `itemcf_score_matrix`,
`user_vectors` over the stored product embeddings, popularity as of each request's time
(`popularity_as_of`), the collaborative route's `cf_fit` + `itemcf_score_matrix`, and `fuse` over the
routes' top candidates. A score of -inf marks an item the strategy cannot rank.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommendations.contracts import Candidate, Interactions
from recommendations.embeddings.customers import HISTORY_ITEMS, user_vectors
from recommendations.evaluation.split import Split
from recommendations.history import history_aggregate
from recommendations.interactions import interaction_matrix, rank_in_runs
from recommendations.recall import collaborative, itemcf, popularity
from recommendations.recall.fused import fuse

# Users scored together: a dense block of USER_BLOCK × catalog scores per route, and at most
# BLOCK_BYTES over all routes (a 1M-item catalog scores a few users at a time).
USER_BLOCK = 256
BLOCK_BYTES = 512 * 2**20

# The rankers (`ranker_<feature set>`) are trained and scored by `recommendations.evaluation.rankers`.
STRATEGIES = ("popularity", "itemcf", "semantic", "cf", "fused", "ranker_statistical", "ranker_semantic")
ROUTES = ("popularity", "itemcf", "semantic", "cf")


@dataclass(frozen=True)
class TrainedRoutes:
    """Everything the strategies learned from the training events."""

    n_items: int
    popularity: popularity.PopularityAsOf
    # n_users: each user's request time (NaN: the latest), which popularity is computed as of.
    clock: np.ndarray
    itemcf_history: sp.csr_matrix
    similarity: sp.csr_matrix
    user_vectors: np.ndarray | None
    item_embeddings: np.ndarray | None
    has_embedding: np.ndarray
    # The collaborative route's item × item weights (None when not fitted), and how it was fitted.
    cf: collaborative.CollaborativeFit | None


def routes_train(
    *, train: Interactions, embeddings: np.ndarray | None, with_cf: bool, clock: np.ndarray | None = None
) -> TrainedRoutes:
    """Fit every route on `train`. `embeddings` is items × dims (zero rows for items without one);
    `clock` gives each user's request time (default: just after the latest training event)."""
    history = history_aggregate(
        users=train.users, items=train.items, weights=train.weights, timestamps=train.timestamps
    )
    shape = (train.n_users, train.n_items)
    itemcf_history = sp.csr_matrix((history.weights, (history.users, history.items)), shape=shape)
    matrix = interaction_matrix(interactions=train)
    has_embedding = np.zeros(train.n_items, dtype=bool) if embeddings is None else np.abs(embeddings).sum(axis=1) > 0
    vectors = None
    if embeddings is not None and has_embedding.any():
        # The semantic customer vector reads only the most recent items of the same history.
        recent = rank_in_runs(history.users) < HISTORY_ITEMS
        semantic_history = sp.csr_matrix(
            (history.weights[recent], (history.users[recent], history.items[recent])), shape=shape
        )
        vectors = user_vectors(history=semantic_history, embeddings=embeddings)
    if clock is None:
        clock = np.full(train.n_users, float(train.timestamps.max(initial=0.0)) + 1.0)
    return TrainedRoutes(
        n_items=train.n_items,
        popularity=popularity.popularity_as_of(
            items=train.items,
            weights=train.weights,
            timestamps=train.timestamps,
            n_items=train.n_items,
            clocks=clock,
        ),
        clock=clock,
        itemcf_history=itemcf_history,
        similarity=itemcf.itemcf_similarity(matrix=matrix),
        user_vectors=vectors,
        item_embeddings=embeddings if vectors is not None else None,
        has_embedding=has_embedding,
        cf=collaborative.cf_fit(matrix=matrix) if with_cf else None,
    )


def route_scores(*, trained: TrainedRoutes, route: str, users: np.ndarray) -> np.ndarray:
    """Scores (len(users) × items) of one route; -inf where the route cannot rank."""
    if route == "popularity":
        return trained.popularity.at(trained.clock[users])
    if route == "itemcf":
        return itemcf.itemcf_score_matrix(
            history=trained.itemcf_history[users], similarity=trained.similarity
        ).toarray()
    if route == "semantic":
        if trained.user_vectors is None:
            return np.full((len(users), trained.n_items), -np.inf)
        return semantic_scores(trained=trained, users=users, start=0, stop=trained.n_items)
    if route == "cf":
        if trained.cf is None:
            return np.full((len(users), trained.n_items), -np.inf)
        # Served like item-CF (stored neighbours summed over the history), so scored the same way.
        return itemcf.itemcf_score_matrix(
            history=trained.itemcf_history[users], similarity=trained.cf.neighbors
        ).toarray()
    raise ValueError(f"unknown route {route!r}")


def route_candidates(*, route: str, scores: np.ndarray, n: int) -> list[Candidate]:
    """A route's top `n` for one user, as serving's route returns them.

    Serving's item-CF, collaborative and popularity routes only propose items with a positive
    score; semantic proposes any embedded item.
    """
    valid = np.isfinite(scores)
    if route in ("itemcf", "popularity", "cf"):
        valid &= scores > 0
    items = top_items(scores=np.where(valid, scores, -np.inf), k=n)
    return [Candidate(product_pk=int(i), route=route, score=float(scores[i])) for i in items]


def semantic_scores(*, trained: TrainedRoutes, users: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The semantic route's scores of `users` for items `start:stop`; -inf for a user without a
    vector and an item without an embedding."""
    vectors = trained.user_vectors[users]
    scores = vectors @ trained.item_embeddings[start:stop].T
    scores[~(np.abs(vectors).sum(axis=1) > 0)] = -np.inf
    scores[:, ~trained.has_embedding[start:stop]] = -np.inf
    return scores


def semantic_route_candidates(
    *, trained: TrainedRoutes, users: np.ndarray, seen: sp.csr_matrix, n: int
) -> list[list[Candidate]]:
    """Each user's `route_candidates` of the semantic route (their `seen` items left out), without
    the users × catalog matrix: the items are scored a tile at a time for all `users` together, and
    each tile's top `n` merged into the running top `n` (the same items: ties still go to the lower
    index). At 1M items a dense block held 16 users, so the float64 embeddings (3 GB) were read
    again for every 16 users; here they are read once for all of them (BLOCK_BYTES a tile)."""
    if trained.user_vectors is None or not len(users):
        return [[] for _ in range(len(users))]
    seen_rows = seen[users].tocsc()
    tile = max(1, BLOCK_BYTES // (8 * len(users)))
    best_items = [np.zeros(0, dtype=np.int64) for _ in range(len(users))]
    best_scores = [np.zeros(0) for _ in range(len(users))]
    for start in range(0, trained.n_items, tile):
        stop = min(start + tile, trained.n_items)
        scores = semantic_scores(trained=trained, users=users, start=start, stop=stop)
        rows, cols = seen_rows[:, start:stop].nonzero()
        scores[rows, cols] = -np.inf
        for row in range(len(users)):
            top = top_items(scores=scores[row], k=n)
            items = np.concatenate([best_items[row], top + start])
            values = np.concatenate([best_scores[row], scores[row, top]])
            keep = np.lexsort((items, -values))[:n]
            best_items[row], best_scores[row] = items[keep], values[keep]
    return [
        [Candidate(product_pk=int(i), route="semantic", score=float(v)) for i, v in zip(items, values, strict=True)]
        for items, values in zip(best_items, best_scores, strict=True)
    ]


def fused_ranking(*, scores: Mapping[str, np.ndarray], weights: Mapping[str, float], n: int) -> list[int]:
    """The fused list for one user from each route's scores (only routes with a weight take part)."""
    candidates = {
        route: route_candidates(route=route, scores=route_scores_row, n=n)
        for route, route_scores_row in scores.items()
        if weights.get(route, 0.0) > 0
    }
    return [item.product_pk for item in fuse(candidates=candidates, weights=weights)]


def user_block(*, n_items: int, routes: int) -> int:
    """Users scored together so that the dense float64 score blocks stay within BLOCK_BYTES."""
    return int(max(1, min(USER_BLOCK, BLOCK_BYTES // max(8 * n_items * max(routes, 1), 1))))


def top_items(*, scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` highest finite scores, best first, ties broken by the lower index."""
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) > k:
        values = scores[finite]
        kth = np.partition(values, len(values) - k)[len(values) - k]
        finite = finite[values >= kth]
    order = np.lexsort((finite, -scores[finite]))
    return finite[order][:k]


def masked_route_blocks(
    *, split: Split, trained: TrainedRoutes, routes: Sequence[str], include_seen: bool
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]]:
    """Per block of evaluated users (`user_block` of them): the users, each route's users × items
    scores (their training items set to -inf unless `include_seen`), and each route's seconds."""
    seen = interaction_matrix(interactions=split.train)
    block_size = user_block(n_items=split.train.n_items, routes=len(routes))
    for start in range(0, len(split.users), block_size):
        users = split.users[start : start + block_size]
        rows, cols = seen[users].nonzero()
        scores: dict[str, np.ndarray] = {}
        seconds: dict[str, float] = {}
        for route in routes:
            began = time.perf_counter()
            scores[route] = route_scores(trained=trained, route=route, users=users)
            if not include_seen:
                scores[route][rows, cols] = -np.inf
            seconds[route] = time.perf_counter() - began
        yield users, scores, seconds
