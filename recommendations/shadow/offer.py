"""On the request path: offer a served list to the placement's shadow, if one is active and the
list falls in its sample. Costs a dict lookup and a hash; the scoring runs on a worker.

The task is sent by name: the scoring side imports the serving service, which imports this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

from recommendations.contracts import PlacementRequest, Recommendation
from recommendations.shadow.models import ShadowStrategy
from recsite.celery import app
from recsite.snapshot import CachedSnapshot

logger = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
SCORE_TASK = "recommendations.tasks.shadow_score"


def shadow_sampled(*, recommendation_id: str, share: float) -> bool:
    """Whether a list is in a shadow's sample: a stable hash of its id, below `share`."""
    digest = hashlib.sha256(f"shadow:{recommendation_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def shadow_offer(*, request: PlacementRequest, recommendation: Recommendation) -> bool:
    """Queue the shadow's scoring of this request; True when queued."""
    shadow = _active.get().get(request.placement)
    if shadow is None or not recommendation.items:
        return False
    shadow_id, share = shadow
    if not shadow_sampled(recommendation_id=str(recommendation.recommendation_id), share=share):
        return False
    try:
        app.send_task(
            SCORE_TASK,
            kwargs=shadow_task_kwargs(shadow_id=shadow_id, request=request, recommendation=recommendation),
            retry=False,
        )
    except Exception:
        # A shadow is an observation: with the broker down the customer is served all the same.
        logger.warning("could not queue a shadow scoring (broker down?)", exc_info=True)
        return False
    return True


def shadow_task_kwargs(*, shadow_id: int, request: PlacementRequest, recommendation: Recommendation) -> dict:
    """What the scoring task is sent: plain JSON (the request's fields, the served ids)."""
    return {
        "shadow_id": shadow_id,
        "request": json.loads(json.dumps(dataclasses.asdict(request), default=str)),
        "recommendation_id": str(recommendation.recommendation_id),
        "served": [item.product_id for item in recommendation.items],
    }


def shadows_forget() -> None:
    _active.forget()


def _active_load() -> dict[str, tuple[int, float]]:
    rows = ShadowStrategy.objects.filter(is_active=True).values_list("placement", "pk", "sample_share")
    return {placement: (pk, share) for placement, pk, share in rows}


_active: CachedSnapshot[dict[str, tuple[int, float]]] = CachedSnapshot(_active_load, max_age=lambda: CACHE_SECONDS)
