"""Served lists, kept so that feedback arriving later with only a `recommendation_id` (and the
bad-case detectors) can see exactly what was served and why.

One compact row per list (ids, scores, routes, rules touched; no titles), collected during the
request and written in one INSERT after the response has gone out (`request_finished`), as
the experiments' exposures are: the storefront waits for no extra round trip. Outside a request
(shell, tasks, tests calling the service) the row is written at once. Rows older than
`SERVED_LIST_RETENTION_DAYS` are deleted by `served_lists_prune` (a daily beat task and
`manage.py prune_served_lists`); bad cases keep their own snapshot copy, so pruning loses none.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from recommendations.contracts import Recommendation, ScoredItem
from recommendations.models import ServedList

logger = logging.getLogger(__name__)

_pending = threading.local()


def served_items(items: Sequence[ScoredItem]) -> list[dict[str, Any]]:
    """The JSON form of served items, shared by the record and the bad-case snapshot."""
    return [
        {
            "id": item.product_id,
            "position": position,
            "score": round(item.score, 6),
            "ranked_score": None if item.ranked_score is None else round(item.ranked_score, 6),
            "routes": {route: round(value, 6) for route, value in item.routes.items()},
            "rules": [{"rule": t.rule_id, "kind": t.kind, "effect": t.effect} for t in item.rules],
            **({"team": item.team} if item.team is not None else {}),
        }
        for position, item in enumerate(items, start=1)
    ]


def served_list_record(
    *,
    recommendation: Recommendation,
    placement: str,
    customer_id: str | None,
    names: Mapping[str, str | None] | None = None,
    context: Mapping[str, Any] | None = None,
    served_at: dt.datetime | None = None,
) -> None:
    """Keep this list (deferred to after the response when called inside a request).

    `names` holds the experiment and variant keys (None outside any), `context` the request's
    parameters (k, category, exclude, product, query).
    """
    names = names or {}
    row = (
        recommendation.recommendation_id,
        served_at or timezone.now(),
        placement,
        customer_id or "",
        recommendation.strategy,
        recommendation.ranker or "",
        names.get("experiment") or "",
        names.get("variant") or "",
        json.dumps(dict(context or {})),
        json.dumps(served_items(recommendation.items)),
    )
    buffer = getattr(_pending, "rows", None)
    if buffer is None:
        served_lists_write([row])
    else:
        buffer.append(row)


def served_lists_write(rows: Sequence[tuple]) -> None:
    """One INSERT in autocommit; a replayed recommendation id is skipped, not an error."""
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, false)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ServedList._meta.db_table} (recommendation_id, created_at, placement,"
            " customer_external_id, strategy, ranker, experiment, variant, context, items, detected)"
            f" VALUES {values} ON CONFLICT (recommendation_id) DO NOTHING",
            [value for row in rows for value in row],
        )


def served_lists_collect(**kwargs: object) -> None:
    """`request_started` receiver: this request's served lists wait for its end."""
    _pending.rows = []


def served_lists_flush(**kwargs: object) -> None:
    """`request_finished` receiver: write this request's served lists in one INSERT."""
    rows = getattr(_pending, "rows", None)
    _pending.rows = None
    if rows:
        try:
            served_lists_write(rows)
        except Exception:
            # The response has gone out; a lost record must not break the worker.
            logger.exception("could not write %d served lists", len(rows))


def served_lists_prune(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Delete served lists older than the retention; returns how many."""
    days = settings.SERVED_LIST_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted, _ = ServedList.objects.filter(created_at__lt=cutoff).delete()
    return deleted
