"""The serving pipeline: history → recall routes → fusion → rank → filters → top k.

Three entry points, each one `Recommendation` with a fresh id: `recommend` (the home feed),
`similar_items` (neighbours of a product) and `search` (a text query). A handful of indexed
queries per call, never one per item. The home feed then goes through `recommendations.reasons`:
an optional LLM rerank of its top items (cached orders only) and a reason per item.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence

from recommendations.contracts import Candidate, Recommendation, RecRequest, ScoredItem, Strategy
from recommendations.errors import UnknownProduct
from recommendations.history import customer_history
from recommendations.ranking.serving import rank_stage
from recommendations.reasons.rerank import rerank_stage
from recommendations.reasons.stage import HOME_FEED, reasons_attach
from recommendations.recall import itemcf, popularity, semantic
from recommendations.recall.fused import FusedItem, fuse

# A customer without history (or whose routes find nothing) gets the popular items.
COLD_START_WEIGHTS = {popularity.ROUTE: 1.0}


def recommend(*, request: RecRequest, strategy: Strategy | None = None) -> Recommendation:
    """The home feed of `request.customer_id` (anyone unknown or anonymous gets popular items).

    Purchased items are left out unless `include_purchased`, and so are `exclude`d ids,
    out-of-stock items and, when `category` is given, items outside that category's subtree.
    """
    strategy = strategy or Strategy()
    history = customer_history(customer_id=request.customer_id)
    excluded_pks = frozenset() if request.include_purchased else history.purchased_pks
    n = max(strategy.candidates_per_route, request.k)
    weights = strategy.routes
    candidates: dict[str, list[Candidate]] = {}
    if not history.is_empty:
        if weights.get(itemcf.ROUTE, 0.0) > 0:
            candidates[itemcf.ROUTE] = itemcf.itemcf_candidates(history=history, n=n)
        if weights.get(semantic.ROUTE, 0.0) > 0:
            candidates[semantic.ROUTE] = semantic.customer_semantic_candidates(
                history=history,
                n=n,
                knn_filter=semantic.KnnFilter(
                    excluded_pks=tuple(sorted(excluded_pks)),
                    excluded_external_ids=request.exclude,
                    category_path=request.category,
                ),
            )
    if not any(candidates.values()):
        weights = COLD_START_WEIGHTS
    if weights.get(popularity.ROUTE, 0.0) > 0:
        candidates[popularity.ROUTE] = popularity.popularity_candidates(n=n, category_path=request.category)
    ranked = rank_stage(
        customer_id=request.customer_id, fused=fuse(candidates=candidates, weights=weights), strategy=strategy
    )
    items = _top_available(
        fused=ranked.items,
        k=max(request.k, strategy.llm_rerank_top_n or 0),
        excluded_pks=excluded_pks,
        excluded_external_ids=request.exclude,
        category_path=request.category,
    )
    recommendation_id = uuid.uuid4()
    items = rerank_stage(items=items, strategy=strategy, history_pks=history.product_pks, placement=HOME_FEED)
    if request.reasons:
        items = reasons_attach(
            items=items[: request.k],
            strategy=strategy,
            history_pks=history.product_pks,
            recommendation_id=recommendation_id,
            placement=HOME_FEED,
        )
    return Recommendation(
        recommendation_id=recommendation_id, strategy=strategy.name, items=items[: request.k], ranker=ranked.ranker
    )


def similar_items(*, product_id: str, k: int = 10) -> Recommendation:
    """Products like `product_id`: its semantic neighbours merged with its item-CF neighbours.

    Raises `UnknownProduct` when no product has that external id.
    """
    from catalog.models import ItemNeighbor, Product

    product_pk = Product.objects.filter(external_id=product_id).values_list("pk", flat=True).first()
    if product_pk is None:
        raise UnknownProduct(product_id)
    strategy = Strategy()
    n = max(strategy.candidates_per_route, k)
    neighbors = ItemNeighbor.objects.filter(product_id=product_pk).order_by("rank").values_list("neighbor_id", "score")
    candidates = {
        itemcf.ROUTE: [Candidate(product_pk=pk, route=itemcf.ROUTE, score=score) for pk, score in neighbors[:n]],
        semantic.ROUTE: semantic.semantic_neighbors(product_pk=product_pk, n=n, knn_filter=semantic.KnnFilter()),
    }
    weights = {route: strategy.routes.get(route, 0.0) for route in candidates}
    items = _top_available(fused=fuse(candidates=candidates, weights=weights), k=k, excluded_pks={product_pk})
    return Recommendation(recommendation_id=uuid.uuid4(), strategy="similar", items=items)


def search(*, query: str, k: int = 10, category: str | None = None) -> Recommendation:
    """In-stock products nearest to the text `query` (within `category`'s subtree when given).

    The score is the cosine similarity between the query's and the product's embeddings.
    """
    from recommendations.embeddings.model import encode_texts

    items: tuple[ScoredItem, ...] = ()
    if query.strip() and k > 0:
        vector = encode_texts([query.strip()])[0]
        found = semantic.semantic_candidates(vector=vector, n=k, knn_filter=semantic.KnnFilter(category_path=category))
        titles = _titles(pks=[c.product_pk for c in found])
        items = tuple(
            ScoredItem(
                product_pk=c.product_pk,
                product_id=titles[c.product_pk][0],
                title=titles[c.product_pk][1],
                score=c.score,
                routes={semantic.ROUTE: c.score},
            )
            for c in found
            if c.product_pk in titles
        )
    return Recommendation(recommendation_id=uuid.uuid4(), strategy="search", items=items)


def _top_available(
    *,
    fused: Sequence[FusedItem],
    k: int,
    excluded_pks: Iterable[int] = (),
    excluded_external_ids: Sequence[str] = (),
    category_path: str | None = None,
) -> tuple[ScoredItem, ...]:
    """The first `k` fused items that pass the filters, with their ids and titles (one query)."""
    excluded = set(excluded_pks)
    ordered = [item for item in fused if item.product_pk not in excluded]
    if not ordered or k <= 0:
        return ()
    titles = _available_titles(
        pks=[item.product_pk for item in ordered],
        excluded_external_ids=excluded_external_ids,
        category_path=category_path,
    )
    return tuple(
        itertools.islice((_scored(item=item, titles=titles) for item in ordered if item.product_pk in titles), k)
    )


def _available_titles(
    *, pks: Sequence[int], excluded_external_ids: Sequence[str], category_path: str | None
) -> dict[int, tuple[str, str]]:
    """pk → (external id, title) of the in-stock products among `pks` that pass the filters.

    Raw SQL with array parameters: hundreds of candidates bind as one value, not one each.
    """
    from django.db import connection

    from recommendations.recall.filters import category_subtree_like

    sql = "SELECT id, external_id, title FROM catalog_product WHERE id = ANY(%s) AND in_stock"
    params: list = [list(pks)]
    if excluded_external_ids:
        sql += " AND NOT (external_id = ANY(%s))"
        params.append(list(excluded_external_ids))
    if category_path is not None:
        sql += " AND category_id IN (SELECT id FROM catalog_category WHERE path = %s OR path LIKE %s)"
        params += [category_path, category_subtree_like(category_path)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {pk: (external_id, title) for pk, external_id, title in cursor.fetchall()}


def _scored(*, item: FusedItem, titles: Mapping[int, tuple[str, str]]) -> ScoredItem:
    external_id, title = titles[item.product_pk]
    return ScoredItem(
        product_pk=item.product_pk,
        product_id=external_id,
        title=title,
        score=item.score,
        routes=item.routes,
        seeds=item.seeds,
    )


def _titles(*, pks: Sequence[int]) -> dict[int, tuple[str, str]]:
    from catalog.models import Product

    return {
        pk: (eid, title)
        for pk, eid, title in Product.objects.filter(pk__in=pks).values_list("pk", "external_id", "title")
    }
