"""What the bad-case pages show: the flagged items' titles, the served list with titles and
images, and why a case was flagged, in words (the snapshot holds the facts, in JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from catalog.public import Product
from recommendations.badcases.models import BadCase, BadCaseSource


@dataclass(frozen=True)
class ServedRow:
    position: int
    product_id: str
    title: str
    image_url: str
    score: float
    flagged: bool
    routes: str
    rules: str


def product_titles(product_ids: Iterable[str]) -> dict[str, str]:
    """External id → title, for the ids still in the catalog."""
    return dict(Product.objects.filter(external_id__in=set(product_ids)).values_list("external_id", "title"))


def badcase_served_rows(case: BadCase) -> list[ServedRow]:
    """The served list of `case`'s snapshot, each item with its current title and image."""
    items = (case.snapshot or {}).get("items") or []
    products = {
        p["external_id"]: p
        for p in Product.objects.filter(external_id__in=[i["id"] for i in items]).values(
            "external_id", "title", "image_url"
        )
    }
    rows = []
    for item in items:
        product = products.get(item["id"], {})
        rows.append(
            ServedRow(
                position=item["position"],
                product_id=item["id"],
                title=product.get("title", "(no longer in the catalog)"),
                image_url=product.get("image_url", ""),
                score=float(item.get("score") or 0.0),
                flagged=item["id"] == case.product_external_id,
                routes=", ".join(f"{route} {score:.2f}" for route, score in item.get("routes", {}).items()),
                rules="; ".join(f"#{t['rule']} {t['kind']}: {t['effect']}" for t in item.get("rules", [])),
            )
        )
    return rows


def badcase_why(case: BadCase, *, title: str = "") -> str:
    """One or two sentences saying why `case` was flagged, from its source and evidence."""
    snapshot: dict[str, Any] = case.snapshot or {}
    evidence = snapshot.get("evidence") or {}
    flagged = snapshot.get("flagged") or {}
    position = evidence.get("position") or flagged.get("position")
    item = f"“{title}” ({case.product_external_id})" if title else case.product_external_id or "the item"
    at = f" at position {position}" if position else ""
    where = f" in {case.placement}" if case.placement else ""
    customer = case.customer_external_id or "an anonymous visitor"
    if case.source == BadCaseSource.FEEDBACK:
        said = f" and wrote: “{case.text}”" if case.text else ""
        return f"{customer} marked {item}{at}{where} as “{case.reason_code or 'bad'}”{said}."
    if case.source == BadCaseSource.OUT_OF_STOCK_SERVED:
        return f"{item} was served{at}{where} to {customer} while it was out of stock."
    if case.source == BadCaseSource.PURCHASED_SERVED:
        bought = evidence.get("purchase_received_at", "")[:16].replace("T", " ")
        when = f" on {bought}" if bought else ""
        return f"{item} was served{at} in the home feed to {customer}, who had already bought it{when}."
    if case.source == BadCaseSource.LOW_RELEVANCE:
        score, threshold = evidence.get("score"), evidence.get("threshold")
        if score is not None and threshold is not None:
            return (
                f"The top item {item}{where} scored {score:.3f}, below the relevance threshold {threshold:.3f}: "
                "the list was probably weak for this customer."
            )
        return f"The top item {item}{where} scored below the relevance threshold."
    if case.source == BadCaseSource.REASON_GUARDRAIL:
        detail = snapshot.get("detail") or ""
        instead = snapshot.get("served_instead")
        text = f"The generated reason “{case.text}” for {item}" if case.text else f"A generated reason for {item}"
        served = f" The grounded reason “{instead}” was served instead." if instead else ""
        return f"{text} failed the “{case.reason_code}” guardrail{': ' + detail if detail else ''}.{served}"
    return f"{item} was flagged ({case.get_source_display()})."
