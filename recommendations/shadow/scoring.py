"""On a worker: the shadow's list for a served request, compared and kept; and the comparison
over all its lists, for the admin."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count

from catalog.public import Event
from placements.public import strategy_parse
from recommendations.contracts import ItemFilter, PlacementRequest
from recommendations.errors import UnknownProduct
from recommendations.serving import placement_answer
from recommendations.shadow.compare import lists_compare
from recommendations.shadow.models import ShadowList, ShadowStrategy


def shadow_score(
    *, shadow_id: int, request: dict[str, Any], recommendation_id: str, served: Sequence[str]
) -> ShadowList | None:
    """Make the shadow's list for `request` (nothing recorded, nobody served) and keep it beside
    the served one; None when the shadow is gone or the request cannot be answered any more."""
    shadow = ShadowStrategy.objects.filter(pk=shadow_id, is_active=True).first()
    if shadow is None:
        return None
    strategy = strategy_parse(shadow.config, name=f"shadow#{shadow.pk}")
    try:
        asked = placement_request_from_json(request)
        # As serving would: a strategy that sets k serves that many.
        made = placement_answer(request=dataclasses.replace(asked, k=strategy.k or asked.k), strategy=strategy)
    except UnknownProduct:
        return None
    shadow_ids = [item.product_id for item in made.items]
    comparison = lists_compare(served=list(served), shadow=shadow_ids)
    row, _ = ShadowList.objects.get_or_create(
        shadow=shadow,
        recommendation_id=recommendation_id,
        defaults={
            "served": list(served),
            "shadow_items": shadow_ids,
            "overlap_at_k": comparison.overlap_at_k,
            "rank_correlation": comparison.rank_correlation,
            "served_positions": comparison.served_positions,
        },
    )
    return row


def placement_request_from_json(data: dict[str, Any]) -> PlacementRequest:
    """The request `shadow_task_kwargs` sent as JSON, rebuilt (lists back to tuples, prices to
    Decimal)."""
    fields = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
    item_filter = dict(data.get("item_filter") or {})
    for price in ("price_min", "price_max"):
        if item_filter.get(price) is not None:
            item_filter[price] = Decimal(str(item_filter[price]))
    for pairs in ("attributes", "boosts", "buries"):
        item_filter[pairs] = tuple((key, tuple(values)) for key, values in item_filter.get(pairs) or ())
    item_filter["brands"] = tuple(item_filter.get("brands") or ())
    fields["item_filter"] = ItemFilter(**item_filter)
    return PlacementRequest(**fields)


@dataclass(frozen=True)
class ShadowReport:
    lists: int
    mean_overlap: float | None
    mean_rank_correlation: float | None
    # Clicks on served items of the compared lists, and the share the shadow's list also held.
    clicks: int
    clicks_shadow_held: float | None


def shadow_report(*, shadow_id: int) -> ShadowReport:
    """The shadow against what was served, over all its lists (a few queries)."""
    lists = ShadowList.objects.filter(shadow_id=shadow_id)
    summary = lists.aggregate(n=Count("id"), overlap=Avg("overlap_at_k"), tau=Avg("rank_correlation"))
    held = {
        str(row.recommendation_id): set(row.shadow_items) for row in lists.only("recommendation_id", "shadow_items")
    }
    clicked = Event.objects.filter(type="click", recommendation_id__in=list(held)).values_list(
        "recommendation_id", "product__external_id"
    )
    hits = [product in held[str(recommendation)] for recommendation, product in clicked]
    return ShadowReport(
        lists=summary["n"],
        mean_overlap=summary["overlap"],
        mean_rank_correlation=summary["tau"],
        clicks=len(hits),
        clicks_shadow_held=sum(hits) / len(hits) if hits else None,
    )
