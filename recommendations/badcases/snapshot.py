"""The snapshot a bad case keeps of its served list: every item with its scores, routes and rules,
the rules' definitions as they were, the variant, the ranker version and its features."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from catalog.public import Product
from recommendations.contracts import FusedItem
from recommendations.models import MerchRule, RankerModel
from recommendations.ranking.features import FEATURE_SETS
from recommendations.ranking.stage import serving_features, snapshot_current

logger = logging.getLogger(__name__)


def badcase_snapshot(*, served, product_id: str = "") -> dict[str, Any]:
    """A self-contained copy of `served` (a `ServedList`), with `product_id`'s position marked.

    Rule definitions are copied because rules get edited after the fact; ranker features are
    computed for the served items when a model ordered them (as of the ranker's current snapshot).
    """
    rule_ids = sorted({touch["rule"] for item in served.items for touch in item.get("rules", [])})
    rules = {
        str(rule.pk): {
            "name": rule.name,
            "kind": rule.kind,
            "multiplier": rule.multiplier,
            "position": rule.position,
            "is_active": rule.is_active,
        }
        for rule in MerchRule.objects.filter(pk__in=rule_ids)
    }
    position = next((item["position"] for item in served.items if item["id"] == product_id), None)
    return {
        "recommendation_id": str(served.recommendation_id),
        "served_at": served.created_at.isoformat(),
        "placement": served.placement,
        "customer": served.customer_external_id,
        "strategy": served.strategy,
        "experiment": served.experiment or None,
        "variant": served.variant or None,
        "context": served.context,
        "items": served.items,
        "flagged": {"id": product_id, "position": position} if product_id else None,
        "rules": rules,
        "versions": {"ranker": served.ranker or None, "embedding_model": _embedding_model()},
        "features": _features(served=served),
    }


def _embedding_model() -> str:
    return settings.EMBEDDING_MODEL or "all-MiniLM-L6-v2"


def _features(*, served) -> dict[str, dict[str, float]]:
    """Item id → feature name → value, for lists a learned ranker ordered (`name@vN`); else {}."""
    if "@v" not in (served.ranker or ""):
        return {}

    name, version = served.ranker.rsplit("@v", 1)
    try:
        feature_set = RankerModel.objects.values_list("feature_set", flat=True).get(name=name, version=int(version))
        pks = dict(
            Product.objects.filter(external_id__in=[i["id"] for i in served.items]).values_list("external_id", "pk")
        )
        fused = [
            FusedItem(product_pk=pks[i["id"]], score=i.get("ranked_score") or i["score"], routes=i["routes"])
            for i in served.items
            if i["id"] in pks
        ]
        known, rows = serving_features(
            customer_id=served.customer_external_id or None,
            fused=fused,
            feature_set=feature_set,
            snapshot=snapshot_current(),
        )
    except Exception:
        # A snapshot without features is still worth keeping; the case must be stored.
        logger.exception("features for bad-case snapshot of %s not computed", served.recommendation_id)
        return {}
    ids = {pk: external_id for external_id, pk in pks.items()}
    names = FEATURE_SETS.get(feature_set, ())
    return {ids[pk]: dict(zip(names, map(float, row), strict=False)) for pk, row in zip(known, rows, strict=True)}
