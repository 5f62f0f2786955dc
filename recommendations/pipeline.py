"""The serving pipeline: history → recall routes → fusion → rank → filters → top k.

Three entry points, each one `Recommendation` with a fresh id: `recommend` (the home feed),
`similar_items` (neighbours of a product) and `search` (a text query). A handful of indexed
queries per call, never one per item. The home feed then goes through `recommendations.reasons`:
an optional LLM rerank of its top items (cached orders only) and a reason per item.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.conf import settings

from catalog.public import Product
from placements.public import SEARCH_HYBRID, SEARCH_KEYWORD, SEARCH_SEMANTIC, Placement, Strategy, built_in_strategy
from recommendations.contracts import (
    HISTORY_CUSTOMER,
    HISTORY_NONE,
    HISTORY_SESSION,
    MATCH_HYBRID,
    MATCH_LEXICAL,
    MATCH_NONE,
    MATCH_SEMANTIC,
    SOURCE_COPURCHASE,
    SOURCE_MIXED,
    SOURCE_NEIGHBORS,
    Candidate,
    FusedItem,
    ItemFilter,
    Recommendation,
    RecRequest,
    ScoredItem,
    fused_pks,
)
from recommendations.embeddings.model import embedding_model_name
from recommendations.embeddings.queries import query_vector
from recommendations.errors import EmbeddingModelUnavailable, UnknownProduct
from recommendations.facets import search_facets
from recommendations.history import History, customer_history, session_history
from recommendations.kept_answers import KeptAnswer, counts_freeze, counts_thaw, search_answers, similar_answers
from recommendations.ranking.personal import search_personalize
from recommendations.ranking.stage import rank_stage
from recommendations.reasons.stage import reasons_attach, rerank_stage
from recommendations.recall import copurchase, itemcf, lexical, semantic
from recommendations.recall.fused import fuse, fused_merge, rrf_fuse
from recommendations.recall.keyword import keyword_candidates
from recommendations.recall.lexical import lexical_candidates
from recommendations.recall.spelling import Correction, query_correct
from recommendations.recall.stage import recall_stage, session_weights
from recommendations.rules.stage import rules_stage
from recsite.fanout import fan_out
from recsite.metrics import fallback_count, stage_timer

logger = logging.getLogger(__name__)

KEYWORD_FALLBACK = "keyword search: the embedding model is unavailable"
LEXICAL_FALLBACK = "lexical matches only: the embedding model is unavailable"

# Hybrid search: semantic matches less similar than this to the query are not returned. MiniLM
# gives any text some similarity to every product: on Online Retail (bench/search_quality.py)
# gibberish queries reached 0.28-0.38, title queries at least 0.40, and NDCG@10 peaked from 0.4.
MIN_SEMANTIC_SIMILARITY = 0.4
# Matches each hybrid route proposes at least (fused, and counted in the facets).
SEARCH_POOL = 100

SEARCH_RULES_MARGIN = 20

# Bought together: the co-occurrence routes' best item counts this much against the best
# co-purchase (1) when every cart item has co-purchases, so they only fill the list after them.
NEIGHBORS_FILL_WEIGHT = 0.01
# The most items of the shopper's cart added to a bought-together basket.
CART_MAX_ADDED = 20


def recommend(*, request: RecRequest, strategy: Strategy | None = None) -> Recommendation:
    """The home feed of `request.customer_id` (anyone unknown or anonymous gets popular items).

    Purchased items are left out unless `include_purchased`, and so are `exclude`d ids,
    out-of-stock items and, when `category` is given, items outside that category's subtree.
    """
    strategy = strategy or Strategy()
    found = home_candidates(request=request, strategy=strategy)
    history, excluded_pks = found.history, found.excluded_pks
    with stage_timer("rank"):
        ranked = rank_stage(customer_id=request.customer_id, fused=found.fused, strategy=found.strategy)
    items = rules_stage(
        ranked=ranked.items,
        k=max(request.k, strategy.llm_rerank_top_n or 0),
        placement=Placement.HOME_FEED,
        customer_id=request.customer_id,
        apply_rules=strategy.rules,
        excluded_pks=excluded_pks,
        excluded_external_ids=request.exclude,
        category_path=request.category,
        item_filter=request.item_filter,
        with_facts=request.reasons and strategy.reasons,
    )
    recommendation_id = uuid.uuid4()
    items = rerank_stage(items=items, strategy=strategy, history_pks=history.product_pks, placement=Placement.HOME_FEED)
    if request.reasons:
        with stage_timer("reasons"):
            items = reasons_attach(
                items=items[: request.k],
                strategy=strategy,
                history_pks=history.product_pks,
                recommendation_id=recommendation_id,
                placement=Placement.HOME_FEED,
            )
    return Recommendation(
        recommendation_id=recommendation_id,
        strategy=strategy.name,
        items=items[: request.k],
        ranker=ranked.ranker,
        history=found.history_source,
    )


@dataclass(frozen=True)
class HomeCandidates:
    history: History
    history_source: str
    excluded_pks: frozenset[int]
    # The strategy the candidates were found and are ranked with (a session's: `session_strategy`).
    strategy: Strategy
    fused: Sequence[FusedItem]


def home_candidates(*, request: RecRequest, strategy: Strategy, refresh: bool = False) -> HomeCandidates:
    """The home feed's history and fused candidates for `request`; its personal routes' candidates
    computed ahead when they were (`recall.ahead`), else now and kept for the next request
    (`refresh`: computed now in any case, what `precompute_feeds` does)."""
    history, history_source = request_history(request)
    excluded_pks = (frozenset() if request.include_purchased else history.purchased_pks) | frozenset(request.seen)
    candidates_strategy = session_strategy(strategy) if history_source == HISTORY_SESSION else strategy
    fused = recall_stage(
        request=request,
        strategy=candidates_strategy,
        history=history,
        excluded_pks=excluded_pks,
        ahead=True,
        refresh=refresh,
    )
    return HomeCandidates(
        history=history,
        history_source=history_source,
        excluded_pks=excluded_pks,
        strategy=candidates_strategy,
        fused=fused,
    )


def bought_together(
    *,
    basket: Sequence[str],
    k: int = 10,
    customer_id: str | None = None,
    session_id: str | None = None,
    category: str | None = None,
    strategy: Strategy | None = None,
    item_filter: ItemFilter = ItemFilter(),
    seen: Sequence[int] = (),
) -> Recommendation:
    """Items bought with the products of `basket` and of the shopper's cart (the customer's, else
    the session's: what they added to the cart and have not bought since).

    Each cart item brings its co-purchase neighbours (bought in the same basket); a cart item
    without any brings the strategy's co-occurrence routes instead, which otherwise only fill the
    list after the co-purchases. Then the rank and rules stages; the cart's own items are left out.
    Unknown ids are ignored; raises `UnknownProduct` when none of them exists."""
    strategy = strategy or built_in_strategy(Placement.BOUGHT_TOGETHER)
    known = dict(Product.objects.filter(external_id__in=list(basket)).values_list("external_id", "pk"))
    asked = tuple(known[product_id] for product_id in dict.fromkeys(basket) if product_id in known)
    if not asked:
        raise UnknownProduct(",".join(basket))
    history, _ = request_history(RecRequest(customer_id=customer_id, session_id=session_id))
    added = tuple(sorted(history.carted_pks - set(asked)))[:CART_MAX_ADDED]
    pks = asked + added
    cart = History(product_pks=pks, weights=(1.0,) * len(pks))
    request = RecRequest(customer_id=customer_id, k=k, category=category, seen=tuple(seen))
    excluded = frozenset(pks) | frozenset(seen)
    with stage_timer("recall.copurchase"):
        copurchased, covered = copurchase.copurchase_candidates(
            cart=cart, n=max(strategy.candidates_per_route, k + len(excluded))
        )
    uncovered = tuple(pk for pk in pks if pk not in covered)
    neighbors = recall_stage(
        request=request,
        strategy=strategy,
        history=History(product_pks=uncovered, weights=(1.0,) * len(uncovered)) if uncovered else cart,
        excluded_pks=excluded,
    )
    fused = fused_merge(
        lists=[
            (fuse(candidates={copurchase.ROUTE: copurchased}, weights={copurchase.ROUTE: 1.0}), 1.0),
            (neighbors, 1.0 if uncovered else NEIGHBORS_FILL_WEIGHT),
        ]
    )
    with stage_timer("rank"):
        ranked = rank_stage(customer_id=customer_id, fused=fused, strategy=strategy)
    items = rules_stage(
        ranked=ranked.items,
        k=k,
        placement=Placement.BOUGHT_TOGETHER,
        customer_id=customer_id,
        apply_rules=strategy.rules,
        excluded_pks=excluded,
        category_path=category,
        item_filter=item_filter,
    )
    external = dict(Product.objects.filter(pk__in=added).values_list("pk", "external_id")) if added else {}
    return Recommendation(
        recommendation_id=uuid.uuid4(),
        strategy=strategy.name,
        items=items,
        ranker=ranked.ranker,
        source=SOURCE_NEIGHBORS if not covered else SOURCE_MIXED if uncovered else SOURCE_COPURCHASE,
        cart_added=tuple(external[pk] for pk in added),
    )


def session_strategy(strategy: Strategy) -> Strategy:
    """How an anonymous session's feed finds and orders its candidates: popularity weighs more
    (`session_weights`), and no learned ranker reorders them. A ranker learns from customers'
    histories; ranking a session's few events with one (its features computed from them) lowered
    hit@10 on both development sets (README, session feeds)."""
    return replace(strategy, routes=session_weights(strategy.routes), ranker=None)


def request_history(request: RecRequest) -> tuple[History, str]:
    """The customer's history; when it is empty, the anonymous session's (a linked session's
    events are the customer's already); and which one it is."""
    history = customer_history(customer_id=request.customer_id)
    if not history.is_empty:
        return history, HISTORY_CUSTOMER
    history = session_history(session_id=request.session_id)
    if not history.is_empty:
        return history, HISTORY_SESSION
    return History(), HISTORY_NONE


def similar_items(
    *,
    product_id: str,
    k: int = 10,
    customer_id: str | None = None,
    session_id: str | None = None,
    strategy: Strategy | None = None,
    category: str | None = None,
    item_filter: ItemFilter = ItemFilter(),
    seen: Sequence[int] = (),
) -> Recommendation:
    """Products like `product_id`: its semantic neighbours merged with its item-CF neighbours, by
    the strategy's weights for those two routes (and its rules switch). What the shopper has in
    the cart (the customer's, else the session's) is left out.

    Raises `UnknownProduct` when no product has that external id.
    """
    strategy = strategy or built_in_strategy(Placement.SIMILAR_ITEMS)
    history, _ = request_history(RecRequest(customer_id=customer_id, session_id=session_id))
    seen = (*seen, *sorted(history.carted_pks))
    n = max(strategy.candidates_per_route, k + len(seen))
    weights = {route: strategy.routes.get(route, 0.0) for route in (itemcf.ROUTE, semantic.ROUTE)}
    key = (product_id, n, tuple(seen), category, tuple(weights.items()))
    found = similar_answers.find(key)
    if found.answer is not None:
        ranked, product_pk = found.answer.ranked, found.answer.extra
    else:
        product_pk, neighbors = itemcf.product_and_neighbors(external_id=product_id, n=n)
        if product_pk is None:
            raise UnknownProduct(product_id)
        candidates = {
            itemcf.ROUTE: neighbors,
            semantic.ROUTE: semantic.semantic_neighbors(
                product_pk=product_pk,
                n=n,
                knn_filter=semantic.KnnFilter(excluded_pks=tuple(seen), category_path=category),
            ),
        }
        ranked = fuse(candidates=candidates, weights=weights)
        similar_answers.keep(key, found.ticket, KeptAnswer(ranked=ranked, extra=product_pk))
    items = rules_stage(
        ranked=ranked,
        k=k,
        placement=Placement.SIMILAR_ITEMS,
        customer_id=customer_id,
        apply_rules=strategy.rules,
        excluded_pks={product_pk, *seen},
        category_path=category,
        item_filter=item_filter,
    )
    return Recommendation(recommendation_id=uuid.uuid4(), strategy=strategy.name, items=items)


def search(
    *,
    query: str,
    k: int = 10,
    category: str | None = None,
    customer_id: str | None = None,
    session_id: str | None = None,
    personalize: bool | None = None,
    strategy: Strategy | None = None,
    item_filter: ItemFilter = ItemFilter(),
    seen: Sequence[int] = (),
) -> Recommendation:
    """In-stock products matching the text `query` (within `category`'s subtree when given),
    after the merchandising rules of the search placement (unless the strategy turns them off).

    By the strategy's algorithm: `semantic` scores by the cosine similarity between the query's and
    the product's embeddings (while the embedding model cannot be loaded, full-text keyword
    matching answers and `fallback` says so); `keyword` is full-text matching alone; `hybrid`
    fuses lexical and semantic matches (`hybrid_search`). Keyword and hybrid correct the query's
    typos first (`corrected`). Unless `personalize` is false, the matches of a shopper with
    history (the customer's, else the session's) are re-ranked towards it (`personalized`).
    """
    strategy = strategy or built_in_strategy(Placement.SEARCH)
    items: tuple[ScoredItem, ...] = ()
    fallback = corrected = None
    matched, facets, personalized = MATCH_NONE, None, False
    if query.strip() and k > 0:
        # A few more than k, so that items the rules exclude leave no hole.
        n = k + SEARCH_RULES_MARGIN
        knn_filter = semantic.KnnFilter(excluded_pks=tuple(seen), category_path=category)
        correction = Correction(query=query)
        if strategy.search != SEARCH_SEMANTIC:
            with stage_timer("search.spelling"):
                correction = query_correct(query)
        corrected = correction.query if correction.changes else None
        key = (
            strategy.search,
            query,
            correction.changes,
            n,
            knn_filter,
            embedding_model_name(),
            settings.EMBEDDING_QUERY_PRECISION,
        )
        found = search_answers.find(key)
        if found.answer is not None:
            ranked, (matched, exact, kept_facets) = found.answer.ranked, found.answer.extra
        else:
            ranked, matched, fallback, exact = _search_matches(
                strategy=strategy, query=query, correction=correction, n=n, knn_filter=knn_filter
            )

        def served() -> tuple[tuple[ScoredItem, ...], bool]:
            """The shopper's re-ranking (when asked and possible), then the rules."""
            reordered, personal = ranked, False
            if personalize is not False and ranked:
                history, _ = request_history(RecRequest(customer_id=customer_id, session_id=session_id))
                if not history.is_empty:
                    with stage_timer("search.personalize"):
                        reranked = search_personalize(ranked=ranked, history=history, pinned=exact)
                    if reranked is not None:
                        reordered, personal = reranked, True
            served_items = rules_stage(
                ranked=reordered,
                k=k,
                placement=Placement.SEARCH,
                customer_id=customer_id,
                apply_rules=strategy.rules,
                excluded_pks=seen,
                item_filter=item_filter,
            )
            return served_items, personal

        if found.answer is not None:
            (items, personalized), facets = served(), counts_thaw(kept_facets)
        else:
            # The facets count every match, whatever the shopper and the rules make of the order.
            answer = fan_out({"served": served, "facets": lambda: search_facets(product_pks=fused_pks(ranked))})
            (items, personalized), facets = answer["served"], answer["facets"]
            if fallback is None:
                extra = (matched, exact, counts_freeze(facets))
                search_answers.keep(key, found.ticket, KeptAnswer(ranked=ranked, extra=extra))
    return Recommendation(
        recommendation_id=uuid.uuid4(),
        strategy=strategy.name,
        items=items,
        fallback=fallback,
        matched=matched,
        facets=facets,
        corrected=corrected,
        personalized=personalized,
    )


def _search_matches(
    *, strategy: Strategy, query: str, correction: Correction, n: int, knn_filter: semantic.KnnFilter
) -> tuple[Sequence[FusedItem], str, str | None, frozenset[int]]:
    """A search's matches by the strategy's algorithm: (ranked, matched, fallback, exact)."""
    try:
        if strategy.search == SEARCH_HYBRID:
            found = hybrid_search(query=query, correction=correction, n=max(n, SEARCH_POOL), knn_filter=knn_filter)
            return found.ranked, found.matched, found.fallback, found.exact
        if strategy.search == SEARCH_KEYWORD:
            with stage_timer("search.keyword"):
                ranked = _as_fused(keyword_candidates(query=correction.query, n=n, knn_filter=knn_filter))
            return ranked, MATCH_LEXICAL if ranked else MATCH_NONE, None, frozenset()
        ranked = _as_fused(_semantic_search(query=query, n=n, knn_filter=knn_filter))
        return ranked, MATCH_SEMANTIC if ranked else MATCH_NONE, None, frozenset()
    except EmbeddingModelUnavailable:
        logger.exception("search fell back to keyword matching")
        fallback_count(stage="search", reason="embedding_model_unavailable")
        ranked = _as_fused(keyword_candidates(query=correction.query, n=n, knn_filter=knn_filter))
        return ranked, MATCH_LEXICAL if ranked else MATCH_NONE, KEYWORD_FALLBACK, frozenset()


@dataclass(frozen=True)
class SearchMatches:
    """A hybrid search's fused matches, what they matched (MATCH_*), the fallback if any, and the
    exact SKU or brand matches among them."""

    ranked: list[FusedItem]
    matched: str
    fallback: str | None = None
    exact: frozenset[int] = frozenset()


def hybrid_search(*, query: str, correction: Correction, n: int, knn_filter: semantic.KnnFilter) -> SearchMatches:
    """Lexical matches (SKU, brand, title words; the typed words and their corrections) fused by
    reciprocal rank with the semantic matches of the corrected query at least
    MIN_SEMANTIC_SIMILARITY similar."""

    def lexical_matches() -> list[Candidate]:
        with stage_timer("search.lexical"):
            return lexical_candidates(query=query, n=n, knn_filter=knn_filter, corrections=correction.changes)

    def semantic_matches() -> list[Candidate] | None:
        """None while the embedding model is unavailable."""
        try:
            return [
                c
                for c in _semantic_search(query=correction.query, n=n, knn_filter=knn_filter)
                if c.score >= MIN_SEMANTIC_SIMILARITY
            ]
        except EmbeddingModelUnavailable:
            logger.exception("hybrid search answered with lexical matches only")
            fallback_count(stage="search", reason="embedding_model_unavailable")
            return None

    # The query's encoding and kNN (CPU, then the index) beside the text match (the database).
    matches = fan_out({semantic.ROUTE: semantic_matches, lexical.ROUTE: lexical_matches})
    lexical_found = matches[lexical.ROUTE]
    found = {lexical.ROUTE: lexical_found}
    fallback = None
    if matches[semantic.ROUTE] is None:
        fallback = LEXICAL_FALLBACK
    else:
        found[semantic.ROUTE] = matches[semantic.ROUTE]
    routes = {route for route, candidates in found.items() if candidates}
    if routes == {lexical.ROUTE, semantic.ROUTE}:
        matched = MATCH_HYBRID
    elif routes:
        matched = MATCH_LEXICAL if lexical.ROUTE in routes else MATCH_SEMANTIC
    else:
        matched = MATCH_NONE
    exact = frozenset(c.product_pk for c in lexical_found if c.score >= lexical.EXACT_BONUS)
    return SearchMatches(ranked=rrf_fuse(candidates=found), matched=matched, fallback=fallback, exact=exact)


def _as_fused(candidates: list[Candidate]) -> list[FusedItem]:
    return [FusedItem(product_pk=c.product_pk, score=c.score, routes={c.route: c.score}) for c in candidates]


def _semantic_search(*, query: str, n: int, knn_filter: semantic.KnnFilter) -> list[Candidate]:
    with stage_timer("search.encode"):
        vector = query_vector(query)
    with stage_timer("search.knn"):
        return semantic.semantic_candidates(vector=vector, n=n, knn_filter=knn_filter)
