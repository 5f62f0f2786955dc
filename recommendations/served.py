"""Served lists, kept so that feedback arriving later with only a `recommendation_id` (and the
bad-case detectors) can see exactly what was served and why.

One compact row per list (ids, scores, routes, rules touched; no titles), written after the
response has gone out (`recsite.after_response`), as the experiments' exposures are: the
storefront waits for no extra round trip. Outside a request (shell, tasks, tests calling the
service) the row is written at once. Rows older than
`SERVED_LIST_RETENTION_DAYS` are deleted by `served_lists_prune` (a daily beat task and
`manage.py prune_served_lists`); bad cases keep their own snapshot copy, so pruning loses none.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from recommendations.contracts import Recommendation, ScoredItem
from recommendations.models import ServedList
from recsite.after_response import write_after_response

# `exclude_served` leaves out what a session was shown this long ago at most (a storefront
# session is a visit, not a customer's lifetime), from its latest lists, and at most this many
# items: each one left out is one more candidate recall asks for.
SESSION_SERVED_HOURS = 24
SESSION_SERVED_MAX_LISTS = 50
SESSION_SERVED_MAX_ITEMS = 500


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
    session_id: str | None = None,
    names: Mapping[str, str | None] | None = None,
    context: Mapping[str, Any] | None = None,
    served_at: dt.datetime | None = None,
) -> None:
    """Keep this list (deferred to after the response when called inside a request).

    `names` holds the experiment and variant keys (None outside any), `context` the request's
    parameters (k, category, exclude, product, query); `session_id` the anonymous session asked
    about, if any.
    """
    names = names or {}
    row = (
        recommendation.recommendation_id,
        served_at or timezone.now(),
        placement,
        customer_id or "",
        session_id or "",
        recommendation.strategy,
        recommendation.ranker or "",
        names.get("experiment") or "",
        names.get("variant") or "",
        json.dumps(dict(context or {})),
        json.dumps(served_items(recommendation.items)),
    )
    write_after_response(served_lists_write, row)


def served_lists_write(rows: Sequence[tuple]) -> None:
    """One INSERT in autocommit; a replayed recommendation id is skipped, not an error."""
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, false)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ServedList._meta.db_table} (recommendation_id, created_at, placement,"
            " customer_external_id, session_id, strategy, ranker, experiment, variant, context, items, detected)"
            f" VALUES {values} ON CONFLICT (recommendation_id) DO NOTHING",
            [value for row in rows for value in row],
        )


def session_served_pks(*, session_id: str, now: dt.datetime | None = None) -> tuple[int, ...]:
    """The product pks of the items served to `session_id` on any placement in the last
    SESSION_SERVED_HOURS, at most SESSION_SERVED_MAX_ITEMS, from its latest lists; one query on
    the session index, on the primary (a list is written just after its response: a replica may
    not have it yet)."""
    since = (now or timezone.now()) - dt.timedelta(hours=SESSION_SERVED_HOURS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id FROM (SELECT items, created_at FROM {ServedList._meta.db_table}"
            "  WHERE session_id = %s AND created_at >= %s ORDER BY created_at DESC LIMIT %s) s"
            " CROSS JOIN LATERAL jsonb_array_elements(s.items) AS i(item)"
            " JOIN catalog_product p ON p.external_id = i.item->>'id'"
            " GROUP BY p.id ORDER BY max(s.created_at) DESC, p.id LIMIT %s",
            [session_id, since, SESSION_SERVED_MAX_LISTS, SESSION_SERVED_MAX_ITEMS],
        )
        return tuple(pk for (pk,) in cursor.fetchall())


def served_lists_prune(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Delete served lists older than the retention; returns how many."""
    days = settings.SERVED_LIST_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted, _ = ServedList.objects.filter(created_at__lt=cutoff).delete()
    return deleted
