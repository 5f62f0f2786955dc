"""The serving service: one call per placement request, whoever asks.

`placement_serve` is what the storefront gets: the customer's experiment variant (or the default
strategy) → the pipeline → the exposure and the served list, written after the response. In an
interleaving experiment both variants' lists go through the pipeline and are merged (team-draft). The
API views, the merchandisers' preview (`placement_answer`, nothing recorded) and the bad-case
replay (`record=False`) all come through here, so the three can never disagree.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from catalog.public import session_link
from placements.public import Placement, Strategy
from recommendations.contracts import PlacementRequest, Recommendation, RecRequest
from recommendations.interleaved import interleaved_recommendation
from recommendations.pipeline import bought_together, recommend, search, similar_items
from recommendations.served import served_list_record, session_served_pks
from recommendations.shadow.offer import shadow_offer
from recommendations.variants import ServedVariant, exposure_record, variant_serving


@dataclass(frozen=True)
class Served:
    recommendation: Recommendation
    # `experiment` and `variant` keys (null outside any experiment)
    names: dict[str, str | None]
    # how many items were asked of the pipeline (the variant's k when it sets one)
    k: int


def placement_answer(*, request: PlacementRequest, strategy: Strategy | None = None) -> Recommendation:
    """The list the pipeline makes for `request` under `strategy` (None: the placement's built-in
    strategy); nothing is recorded.

    Raises `UnknownProduct` for the similar items of an unknown product, or a basket of unknown ones.
    """
    if request.placement == Placement.SIMILAR_ITEMS:
        return similar_items(
            product_id=request.product_id or "",
            k=request.k,
            customer_id=request.customer_id,
            session_id=request.session_id,
            strategy=strategy,
            category=request.category,
            item_filter=request.item_filter,
            seen=request.seen,
        )
    if request.placement == Placement.BOUGHT_TOGETHER:
        return bought_together(
            basket=request.basket,
            k=request.k,
            customer_id=request.customer_id,
            session_id=request.session_id,
            category=request.category,
            strategy=strategy,
            item_filter=request.item_filter,
            seen=request.seen,
        )
    if request.placement == Placement.SEARCH:
        return search(
            query=request.query or "",
            k=request.k,
            category=request.category,
            customer_id=request.customer_id,
            session_id=request.session_id,
            personalize=request.personalize,
            strategy=strategy,
            item_filter=request.item_filter,
            seen=request.seen,
        )
    return recommend(
        request=RecRequest(
            customer_id=request.customer_id,
            k=request.k,
            exclude=request.exclude,
            category=request.category,
            include_purchased=request.include_purchased,
            context_product=request.context_product,
            query=request.query,
            reasons=request.reasons,
            item_filter=request.item_filter,
            seen=request.seen,
            session_id=request.session_id,
        ),
        strategy=strategy,
    )


def placement_serve(*, request: PlacementRequest, record: bool = True) -> Served:
    """Serve `request` with the strategy this customer gets now; with `record`, log the exposure
    (inside an experiment), keep the served list and offer it to the placement's shadow. A request
    with a session and a customer links the two first (raises `SessionClaimed` for a session
    another customer holds); with `exclude_served`, what the session was served lately is left
    out as a next page's earlier items are."""
    if record and request.session_id and request.customer_id:
        session_link(session_id=request.session_id, customer_id=request.customer_id)
    left_out = (
        session_served_pks(session_id=request.session_id) if request.exclude_served and request.session_id else ()
    )
    asked = dataclasses.replace(request, seen=tuple(dict.fromkeys((*request.seen, *left_out))))
    served = variant_serving(placement=request.placement, customer_id=request.customer_id, k=request.k)
    recommendation = _served_answer(request=dataclasses.replace(asked, k=served.k), served=served)
    if record:
        exposure_record(served=served, recommendation=recommendation, customer_id=request.customer_id)
        context = served_context(request=request, k=served.k)
        if request.exclude_served:
            context["served_left_out"] = len(left_out)
        served_list_record(
            recommendation=recommendation,
            placement=request.placement,
            customer_id=request.customer_id,
            session_id=request.session_id,
            names=served.names,
            context=context,
        )
        shadow_offer(request=asked, recommendation=recommendation)
    return Served(recommendation=recommendation, names=served.names, k=served.k)


def _served_answer(*, request: PlacementRequest, served: ServedVariant) -> Recommendation:
    """The served strategy's list; in an interleaving experiment, both teams' lists merged."""
    assignment = served.assignment
    if assignment is None or assignment.teams is None:
        return placement_answer(request=request, strategy=served.strategy)
    lists = tuple(placement_answer(request=request, strategy=team.strategy) for team in assignment.teams)
    return interleaved_recommendation(
        experiment_key=assignment.experiment_key, teams=assignment.teams, lists=lists, k=request.k
    )


def served_context(*, request: PlacementRequest, k: int) -> dict[str, Any]:
    """The request's parameters kept with its served list (what a replay asks again); a filtered
    request's filter and a later page's count of earlier items, for the record."""
    context = _placement_context(request=request, k=k)
    if not request.item_filter.is_empty:
        context["filter"] = json.loads(json.dumps(dataclasses.asdict(request.item_filter), default=str))
    if request.seen:
        context["after_items"] = len(request.seen)
    return context


def _placement_context(*, request: PlacementRequest, k: int) -> dict[str, Any]:
    if request.placement == Placement.SIMILAR_ITEMS:
        return {"k": k, "product": request.product_id, **({"category": request.category} if request.category else {})}
    if request.placement == Placement.SEARCH:
        return {"k": k, "query": request.query, "category": request.category}
    if request.placement == Placement.BOUGHT_TOGETHER:
        return {"k": k, "products": list(request.basket), "category": request.category}
    # Not the session id: the served list keeps it in its own column, which erasing the customer
    # the session is linked to reads (recommendations.erasure).
    return {"k": k, "category": request.category, "exclude": list(request.exclude)}
