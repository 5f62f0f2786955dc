"""Erasing a customer (the storefront's right-to-be-forgotten call): every row that names them,
across the apps, each through its own facade.

Gone: the customer and their events, and the events of the anonymous sessions linked to them
(catalog), their exposures (experiments), their served lists and those of their linked sessions
(also the ones served before the link), the reason servings of those lists, their hidden items,
and the personal fields of their bad cases (the id, the feedback text, the served snapshot; the
case stays, anonymous, for the review counts). Kept: what cannot be traced back to a person
(popularity, item neighbours, the collaborative item model, daily experiment snapshots, cached
reason texts, which are keyed by item and seed item, never by customer). The log line names a
keyed hash of the id, never the id.

Idempotent: every step deletes what is there, so erasing twice (or erasing an id the catalog never
stored, whose served lists may still exist) succeeds and reports zero counts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from catalog.public import customer_erase as catalog_customer_erase
from experiments.public import exposures_erase
from recommendations.badcases.models import BadCase
from recommendations.models import HiddenItem, ServedList
from recommendations.reasons.models import ReasonServing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erasure:
    """How many rows of each kind were erased (or anonymised, for bad cases)."""

    customer: int
    events: int
    sessions: int
    exposures: int
    served_lists: int
    reason_servings: int
    hidden_items: int
    bad_cases: int

    @property
    def found(self) -> bool:
        return any(asdict(self).values())


def customer_hash(customer_id: str) -> str:
    """A keyed hash of the id, for logs: the same id always maps to the same value (so two logs of
    one erasure can be matched) but it cannot be reversed by hashing guessed ids without the key."""
    return hmac.new(settings.SECRET_KEY.encode(), customer_id.encode(), hashlib.sha256).hexdigest()[:16]


def customer_erase(*, customer_id: str) -> Erasure:
    """Erase everything that names `customer_id`, in one transaction; the counts per kind."""
    with transaction.atomic():
        catalog = catalog_customer_erase(customer_id=customer_id)
        exposures = exposures_erase(customer_id=customer_id)
        served = ServedList.objects.filter(Q(customer_external_id=customer_id) | Q(session_id__in=catalog.session_ids))
        reason_servings, _ = ReasonServing.objects.filter(
            recommendation_id__in=served.values("recommendation_id")
        ).delete()
        served_lists, _ = served.delete()
        hidden_items, _ = HiddenItem.objects.filter(customer_external_id=customer_id).delete()
        bad_cases = BadCase.objects.filter(customer_external_id=customer_id).update(
            customer_external_id="", text="", snapshot={}
        )
    erasure = Erasure(
        customer=catalog.customer,
        events=catalog.events,
        sessions=catalog.sessions,
        exposures=exposures,
        served_lists=served_lists,
        reason_servings=reason_servings,
        hidden_items=hidden_items,
        bad_cases=bad_cases,
    )
    logger.info("customer erased", extra={"customer_hash": customer_hash(customer_id), **asdict(erasure)})
    return erasure
