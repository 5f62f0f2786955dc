"""The regression set: resolved bad cases exported as JSON Lines, and replayed against the current
strategy to see which stay fixed.

A case is replayed by asking the same placement the same question (customer, k, category,
product or query from the snapshot's context), with the strategy serving that customer now (the
running experiment's variant, else the default). It is *fixed* when the flagged item is no longer
served; a low-relevance case is fixed when the top item now scores at or above the threshold
(or nothing is served).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from placements.public import Placement
from recommendations.badcases.models import BadCase, BadCaseSource, BadCaseStatus
from recommendations.contracts import PlacementRequest
from recommendations.errors import UnknownProduct
from recommendations.serving import placement_serve


@dataclass(frozen=True)
class ReplayOutcome:
    case_id: int
    source: str
    placement: str
    product_id: str
    fixed: bool
    detail: str


def regression_case(case: BadCase) -> dict[str, Any]:
    """One line of the regression set."""
    snapshot = case.snapshot or {}
    return {
        "id": case.pk,
        "source": case.source,
        "reason_code": case.reason_code,
        "placement": case.placement,
        "customer": case.customer_external_id,
        "item": case.product_external_id,
        "context": snapshot.get("context", {}),
        "strategy": snapshot.get("strategy"),
        "resolution": case.resolution,
        "resolution_ref": case.resolution_ref,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
    }


def regression_set(*, statuses: Iterable[str] = (BadCaseStatus.RESOLVED,)) -> Iterator[dict[str, Any]]:
    """The cases with these statuses, oldest first, as regression lines."""
    for case in BadCase.objects.filter(status__in=list(statuses)).order_by("created_at", "pk").iterator():
        yield regression_case(case)


def regression_set_write(*, lines: Iterable[dict[str, Any]], path) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line) + "\n")
            count += 1
    return count


def regression_set_read(*, path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


def badcase_replay(*, case: dict[str, Any]) -> ReplayOutcome:
    """Re-run one regression line against the current strategy."""
    context = case.get("context") or {}
    placement = case.get("placement") or Placement.HOME_FEED
    request = PlacementRequest(
        placement=placement,
        customer_id=case.get("customer") or None,
        k=int(context.get("k") or 10),
        exclude=tuple(context.get("exclude") or ()),
        category=context.get("category"),
        include_purchased=bool(context.get("include_purchased", False)),
        query=context.get("query", ""),
        product_id=context.get("product", ""),
        basket=tuple(context.get("products") or ()),
    )
    try:
        items = placement_serve(request=request, record=False).recommendation.items
    except UnknownProduct:
        items = ()
    item = case.get("item", "")
    if case.get("source") == BadCaseSource.LOW_RELEVANCE:
        threshold = settings.BADCASE_MIN_TOP_SCORE.get(placement, 0.0)
        top = items[0].score if items else None
        fixed = top is None or top >= threshold
        detail = "nothing served" if top is None else f"top score {top:.3f} vs threshold {threshold:g}"
    else:
        position = next((pos for pos, it in enumerate(items, start=1) if it.product_id == item), None)
        fixed = position is None
        detail = "no longer served" if fixed else f"still served at position {position}"
    return ReplayOutcome(
        case_id=int(case.get("id") or 0),
        source=case.get("source", ""),
        placement=placement,
        product_id=item,
        fixed=fixed,
        detail=detail,
    )
