"""Which template writes a request's reasons: the named one, or one of the placement's pool.

A per-process snapshot of the active templates (refreshed every few seconds) keeps the request
path free of queries. With several active reason templates on a placement, each request draws one
by Thompson sampling: a Beta(1 + clicks, 1 + impressions − clicks) sample per template, the
highest wins, so templates that earn clicks are served more while the others keep being tried.
Impressions are logged per served list (`ReasonServing`, written after the response) and
`pool_stats_refresh` counts them and their clicks back onto the templates.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from recommendations.reasons.models import PromptTemplate, Purpose
from recsite.after_response import write_after_response
from recsite.snapshot import CachedSnapshot

logger = logging.getLogger(__name__)
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class ActiveTemplate:
    id: int
    name: str
    purpose: str
    placement: str
    version_id: int
    body: str
    grounded: str
    impressions: int
    clicks: int


_rng = random.Random()


def active_templates() -> tuple[ActiveTemplate, ...]:
    """The active templates with an active version, from a snapshot at most CACHE_SECONDS old."""
    return _templates.get()


def active_templates_forget() -> None:
    _templates.forget()


def _load() -> tuple[ActiveTemplate, ...]:
    # Published versions only: a draft is previewed, never served.
    rows = PromptTemplate.objects.filter(is_active=True, active_version__published_at__isnull=False).select_related(
        "active_version"
    )
    return tuple(
        ActiveTemplate(
            id=t.pk,
            name=t.name,
            purpose=t.purpose,
            placement=t.placement,
            version_id=t.active_version.pk,
            body=t.active_version.body,
            grounded=t.active_version.grounded,
            impressions=t.impressions,
            clicks=t.clicks,
        )
        for t in rows
    )


_templates: CachedSnapshot[tuple[ActiveTemplate, ...]] = CachedSnapshot(_load, max_age=CACHE_SECONDS)


def thompson_pick(*, arms: Sequence[tuple[int, int]], rng: random.Random) -> int:
    """Index of the arm (impressions, clicks) with the highest Beta posterior sample."""
    samples = [rng.betavariate(1 + clicks, 1 + max(impressions - clicks, 0)) for impressions, clicks in arms]
    return max(range(len(arms)), key=samples.__getitem__)


def template_choose(
    *, placement: str, purpose: str = Purpose.REASON, name: str | None = None, rng: random.Random | None = None
) -> tuple[ActiveTemplate | None, bool]:
    """(the template to use, whether it was drawn from a pool of several)."""
    templates = active_templates()
    if name is not None:
        named = next((t for t in templates if t.name == name and t.purpose == purpose), None)
        return named, False
    pool = [t for t in templates if t.purpose == purpose and t.placement == placement]
    if len(pool) <= 1:
        return (pool[0] if pool else None), False
    index = thompson_pick(arms=[(t.impressions, t.clicks) for t in pool], rng=rng or _rng)
    return pool[index], True


def posterior_mean(*, impressions: int, clicks: int) -> float:
    return (1 + clicks) / (2 + max(impressions, clicks))


def reason_serving_log(*, recommendation_id: uuid.UUID, template_id: int) -> None:
    """Record which pool template served this list (after the response, like exposures)."""
    write_after_response(reason_servings_write, (recommendation_id, template_id))


def reason_servings_write(rows: Sequence[tuple[uuid.UUID, int]]) -> None:
    now = timezone.now()
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO recommendations_reasonserving (recommendation_id, template_id, created_at)"
            f" VALUES {values} ON CONFLICT (recommendation_id) DO NOTHING",
            [v for rid, tid in rows for v in (rid, tid, now)],
        )


def pool_stats_refresh() -> int:
    """Count each template's served lists and the lists that got a click; returns templates updated."""
    sql = (
        "UPDATE recommendations_prompttemplate t SET impressions = s.impressions, clicks = s.clicks FROM ("
        " SELECT r.template_id, count(*) AS impressions,"
        "  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM catalog_event e"
        "   WHERE e.recommendation_id = r.recommendation_id AND e.type = 'click')) AS clicks"
        " FROM recommendations_reasonserving r GROUP BY r.template_id) s WHERE s.template_id = t.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        updated = cursor.rowcount
    active_templates_forget()
    return updated
