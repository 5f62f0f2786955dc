"""The recall stage of the home feed: the strategy's routes propose candidates, fused into one list.

A customer without history (or whose routes find nothing) gets the popular items, led by what
matches the context item or query when the request gives one. A customer with history gets that
match too, as one more route (`context`) weighing CONTEXT_LEAD times the sum of the strategy's
route weights (the most any personal item can score): its best matches lead, its weaker ones mix
with the personal candidates, and an item both propose rises most. An anonymous session's feed
gives popularity more say than a customer's (`session_weights`, applied by the pipeline).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Set

from catalog.public import Product
from placements.public import Strategy
from recommendations.contracts import CONTEXT_ROUTE, Candidate, FusedItem, RecRequest
from recommendations.embeddings.queries import query_vector
from recommendations.errors import EmbeddingModelUnavailable
from recommendations.history import History
from recommendations.recall import collaborative, itemcf, popularity, semantic
from recommendations.recall.ahead import ahead_key, routes_ahead
from recommendations.recall.fused import RouteArrays, fuse_arrays, route_arrays
from recsite.fanout import fan_out
from recsite.metrics import candidates_observe, fallback_count, stage_timer

logger = logging.getLogger(__name__)

COLD_START_WEIGHTS = {popularity.ROUTE: 1.0}
COLD_START_CONTEXT_WEIGHTS = {semantic.ROUTE: 1.0, popularity.ROUTE: 0.1}
# The context route's weight over the sum of the strategy's weights: > 1, so the context leads.
CONTEXT_LEAD = 1.2
# An anonymous session's few events say less than a customer's history: in its feed popularity
# weighs (at least) this share of the personal routes' weights together. Measured with
# bench/session_quality.py on both development sets (README): at the strategy's own 0.1 the session
# feed lost to popularity on Amazon Office (0.05 against 0.08 hit@10, 1,500 sessions); at an
# equal say it beat it on both.
SESSION_POPULARITY_SHARE = 1.0


def recall_stage(
    *,
    request: RecRequest,
    strategy: Strategy,
    history: History,
    excluded_pks: Set[int],
    ahead: bool = False,
    refresh: bool = False,
) -> list[FusedItem]:
    """The fused candidates of the strategy's routes for this request, best first.

    With `ahead`, the personal routes' candidates come from the cache when they were computed
    ahead of this request, and are kept there when they were not (`recall.ahead`; `refresh`:
    computed and kept in any case)."""
    # A next page leaves the earlier pages' items out (`excluded_pks`): as many more candidates.
    n = max(strategy.candidates_per_route, request.k + len(request.seen))
    weights = strategy.routes
    knn_filter = semantic.KnnFilter(
        excluded_pks=tuple(sorted(excluded_pks)), excluded_external_ids=request.exclude, category_path=request.category
    )
    candidates: dict[str, RouteArrays] = {}
    if not history.is_empty:
        routes = {
            route: call
            for route, call in _personal_routes(history=history, n=n, knn_filter=knn_filter).items()
            if weights.get(route, 0.0) > 0
        }
        key = ahead_key(routes=list(routes), n=n, knn_filter=knn_filter, history=history) if ahead else None
        # Independent queries, each a wait on the database: side by side (recsite.fanout).
        computed = routes_ahead(
            key=key,
            compute=lambda: {route: route_arrays(found) for route, found in fan_out(routes).items()},
            refresh=refresh,
        )
        candidates.update(computed)
    has_context = bool(request.context_product or (request.query and request.query.strip()))
    if _any_candidate(candidates) and has_context:
        with stage_timer("recall.context"):
            context_candidates = _context_candidates(request=request, n=n, knn_filter=knn_filter)
        if context_candidates:
            candidates[CONTEXT_ROUTE] = route_arrays(
                [Candidate(product_pk=c.product_pk, route=CONTEXT_ROUTE, score=c.score) for c in context_candidates]
            )
            weights = {**weights, CONTEXT_ROUTE: CONTEXT_LEAD * sum(weights.values())}
    if not _any_candidate(candidates):
        context: list[Candidate] = []
        if request.context_product or request.query:
            with stage_timer("recall.semantic"):
                context = _context_candidates(request=request, n=n, knn_filter=knn_filter)
        candidates = {semantic.ROUTE: route_arrays(context)} if context else {}
        weights = COLD_START_CONTEXT_WEIGHTS if context else COLD_START_WEIGHTS
        fallback_count(stage="recall", reason="cold_start")
    if weights.get(popularity.ROUTE, 0.0) > 0:
        with stage_timer("recall.popularity"):
            popular = popularity.popularity_candidates(n=n, category_path=request.category)
            candidates[popularity.ROUTE] = route_arrays(popular)
    for route, found in candidates.items():
        candidates_observe(route=route, count=len(found.pks))
    with stage_timer("fuse"):
        return fuse_arrays(routes=candidates, weights=weights)


def _any_candidate(candidates: Mapping[str, RouteArrays]) -> bool:
    return any(len(found.pks) for found in candidates.values())


def _personal_routes(
    *, history: History, n: int, knn_filter: semantic.KnnFilter
) -> dict[str, Callable[[], list[Candidate]]]:
    """Each history-based route's call, timed under its stage (in the order fusion sums them)."""
    return {
        itemcf.ROUTE: stage_timer("recall.itemcf")(lambda: itemcf.itemcf_candidates(history=history, n=n)),
        collaborative.ROUTE: stage_timer("recall.cf")(lambda: collaborative.cf_candidates(history=history, n=n)),
        semantic.ROUTE: stage_timer("recall.semantic")(
            lambda: semantic.customer_semantic_candidates(history=history, n=n, knn_filter=knn_filter)
        ),
    }


def session_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The strategy's route weights for an anonymous session: popularity, when the strategy uses
    it at all, weighs at least SESSION_POPULARITY_SHARE of the personal routes together."""
    if weights.get(popularity.ROUTE, 0.0) <= 0:
        return dict(weights)
    personal = sum(weight for route, weight in weights.items() if route != popularity.ROUTE and weight > 0)
    return {**weights, popularity.ROUTE: max(weights[popularity.ROUTE], SESSION_POPULARITY_SHARE * personal)}


def _context_candidates(*, request: RecRequest, n: int, knn_filter: semantic.KnnFilter) -> list[Candidate]:
    """Semantic matches to the request's context product (an unknown id is ignored) or query."""
    if request.context_product:
        pk = Product.objects.filter(external_id=request.context_product).values_list("pk", flat=True).first()
        if pk is not None:
            return semantic.semantic_neighbors(product_pk=pk, n=n, knn_filter=knn_filter)
    if request.query and request.query.strip():
        try:
            vector = query_vector(request.query)
        except EmbeddingModelUnavailable:
            # The feed still answers, with popular items (logged; search says so in its answer).
            logger.exception("the query of a cold-start feed was ignored")
            return []
        return semantic.semantic_candidates(vector=vector, n=n, knn_filter=knn_filter)
    return []
