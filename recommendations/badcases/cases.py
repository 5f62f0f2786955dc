"""Bad cases: recommendations flagged as wrong by customers (feedback) or by detectors."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from recommendations.badcases.models import BadCase, BadCaseSource


def badcase_create(
    *,
    source: BadCaseSource | str,
    reason_code: str = "",
    text: str = "",
    recommendation_id: uuid.UUID | None = None,
    customer_id: str = "",
    product_id: str = "",
    placement: str = "",
    snapshot: Mapping[str, Any] | None = None,
) -> BadCase:
    """Store one bad case for review (status new). Ids are the catalog's external ids."""
    return BadCase.objects.create(
        source=source,
        reason_code=reason_code,
        text=text,
        recommendation_id=recommendation_id,
        customer_external_id=customer_id or "",
        product_external_id=product_id or "",
        placement=placement,
        snapshot=dict(snapshot or {}),
    )
