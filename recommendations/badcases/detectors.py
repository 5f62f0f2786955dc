"""Detectors: scan the served lists not yet seen and file bad cases for what should not have been
served. Run in batches (a beat task every 5 minutes, or `manage.py detect_bad_cases`), never on
the request path. The generated-reason guardrail is another detector, run where reasons are made.

- out_of_stock_served: an item out of stock whose last change (`updated_at`) came before the list
  was served, i.e. it was out of stock when served;
- purchased_served: on the home feed, an item whose purchase the server had received before it
  served the list (`received_at`, not the client's `timestamp`: a client's clock, or a replay of
  old purchases, must not file cases);
- low_relevance: the top item scores below `BADCASE_MIN_TOP_SCORE[placement]` (home-feed lists a
  learned ranker ordered are skipped: its scores have no fixed scale).

Each (list, detector, item) is filed once, however often the scan runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from catalog.public import Event, EventType, Product
from placements.public import Placement
from recommendations.badcases.cases import badcase_create
from recommendations.badcases.models import BadCase, BadCaseSource
from recommendations.badcases.snapshot import badcase_snapshot
from recommendations.models import ServedList

BATCH = 2000


@dataclass
class DetectionReport:
    lists_scanned: int = 0
    cases: dict[str, int] = field(default_factory=dict)


def badcases_detect(*, limit: int = 20000) -> DetectionReport:
    """Scan up to `limit` undetected served lists, oldest first; file a bad case per finding."""
    report = DetectionReport()
    while report.lists_scanned < limit:
        batch = list(ServedList.objects.filter(detected=False).order_by("created_at")[: min(BATCH, limit)])
        if not batch:
            break
        findings = detections_find(served_lists=batch)
        with transaction.atomic():
            for served, source, product_id, evidence in findings:
                if _badcase_file(served=served, source=source, product_id=product_id, evidence=evidence):
                    report.cases[source] = report.cases.get(source, 0) + 1
            ServedList.objects.filter(pk__in=[s.pk for s in batch]).update(detected=True)
        report.lists_scanned += len(batch)
    return report


def detections_find(*, served_lists: list) -> list[tuple[object, str, str, dict]]:
    """(served list, source, product id, evidence) for every finding in `served_lists` (two queries)."""
    ids = {item["id"] for s in served_lists for item in s.items}
    out_of_stock = dict(
        Product.objects.filter(external_id__in=ids, in_stock=False).values_list("external_id", "updated_at")
    )
    home = [s for s in served_lists if s.placement == Placement.HOME_FEED and s.customer_external_id]
    purchases: dict[tuple[str, str], object] = {}
    if home:
        rows = (
            Event.objects.filter(
                type=EventType.PURCHASE,
                customer__external_id__in={s.customer_external_id for s in home},
                product__external_id__in={i["id"] for s in home for i in s.items},
            )
            .values_list("customer__external_id", "product__external_id", "received_at")
            .order_by("received_at")
        )
        for customer, product, received_at in rows:
            purchases.setdefault((customer, product), received_at)  # the first purchase received
    thresholds = settings.BADCASE_MIN_TOP_SCORE
    found = []
    for served in served_lists:
        for item in served.items:
            changed = out_of_stock.get(item["id"])
            if changed is not None and changed <= served.created_at:
                found.append((served, BadCaseSource.OUT_OF_STOCK_SERVED, item["id"], {"position": item["position"]}))
            bought = purchases.get((served.customer_external_id, item["id"]))
            if served.placement == Placement.HOME_FEED and bought is not None and bought < served.created_at:
                evidence = {"position": item["position"], "purchase_received_at": bought.isoformat()}
                found.append((served, BadCaseSource.PURCHASED_SERVED, item["id"], evidence))
        threshold = thresholds.get(served.placement)
        ranked_by_model = "@v" in served.ranker
        if served.items and threshold is not None and not (served.placement == Placement.HOME_FEED and ranked_by_model):
            top = served.items[0]
            if top["score"] < threshold:
                evidence = {"score": top["score"], "threshold": threshold}
                found.append((served, BadCaseSource.LOW_RELEVANCE, top["id"], evidence))
    return found


def _badcase_file(*, served, source: str, product_id: str, evidence: dict) -> bool:
    if BadCase.objects.filter(recommendation_id=served.pk, source=source, product_external_id=product_id).exists():
        return False
    snapshot = badcase_snapshot(served=served, product_id=product_id)
    badcase_create(
        source=source,
        reason_code=source,
        recommendation_id=served.pk,
        customer_id=served.customer_external_id,
        product_id=product_id,
        placement=served.placement,
        snapshot={**snapshot, "evidence": evidence},
    )
    return True
