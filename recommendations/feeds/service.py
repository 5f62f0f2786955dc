"""Home feeds' candidates computed ahead of the request (`recall.ahead` keeps them).

Who gets them: the customers whose events just arrived through the events API (a task per batch,
`feeds.tasks`), and the most recently active customers after a rebuild of the routes' tables
(`manage.py precompute_feeds`, which a rebuild's schedule runs after it). Anyone else's request
computes its own candidates, as before, and keeps them for the next one.

Each customer's candidates are computed under every strategy the home feed serves them now: their
experiment variant (both teams' in an interleaving experiment), else the placement's default.
One customer is held at a time: the job's memory is the process's plus one fused list.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from placements.public import Placement
from recommendations.contracts import PlacementRequest, RecRequest
from recommendations.pipeline import home_candidates
from recommendations.variants import variant_serving


@dataclass(frozen=True)
class PrecomputeReport:
    customers: int
    entries: int
    seconds: float


def feeds_precompute(*, customer_ids: Iterable[str]) -> PrecomputeReport:
    """Compute and keep the home-feed candidates of each customer (see the module)."""
    started = time.perf_counter()
    customers = entries = 0
    k = PlacementRequest.k
    for customer_id in customer_ids:
        served = variant_serving(placement=Placement.HOME_FEED, customer_id=customer_id, k=k)
        teams = served.assignment.teams if served.assignment is not None else None
        for strategy in [team.strategy for team in teams] if teams else [served.strategy]:
            home_candidates(request=RecRequest(customer_id=customer_id, k=served.k), strategy=strategy, refresh=True)
            entries += 1
        customers += 1
    return PrecomputeReport(customers=customers, entries=entries, seconds=time.perf_counter() - started)


def recently_active(*, limit: int) -> list[str]:
    """The external ids of the `limit` customers whose latest event is the most recent (one
    aggregate over the events: a batch job's query, not a request's)."""
    sql = (
        "SELECT c.external_id FROM catalog_customer c JOIN"
        " (SELECT customer_id, max(timestamp) AS latest FROM catalog_event"
        "  WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY latest DESC, customer_id LIMIT %s) e"
        " ON e.customer_id = c.id ORDER BY e.latest DESC, c.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]
