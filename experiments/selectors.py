"""Reads: events attributed to exposures (catalog.Event ⨝ Exposure on recommendation_id, no copy)
and each exposed customer's outcomes per variant — the unit the statistics need."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np
from django.db import connection

from catalog.public import Event, EventType
from experiments.models import Experiment, Exposure, Variant

# The window before the start whose activity is each customer's CUPED covariate.
PRE_PERIOD_DAYS = 28


@dataclass(frozen=True)
class AttributedEvent:
    event_id: str
    type: str
    product_id: str
    # 1-based position of the product in the served list; None for an item not in it (a
    # purchase of something else in the session the list started).
    position: int | None
    value: float | None
    timestamp: dt.datetime
    # In an interleaving experiment: the variant credited (the one that contributed the item).
    team: str | None = None


@dataclass(frozen=True)
class Attribution:
    recommendation_id: uuid.UUID
    experiment_key: str
    # None for an interleaved list (its events carry their team instead).
    variant_key: str | None
    customer_id: str
    events: tuple[AttributedEvent, ...]


def exposure_attribution(*, recommendation_id: uuid.UUID) -> Attribution | None:
    """The list served under `recommendation_id` and the events sent back with it, in time order."""
    exposure = (
        Exposure.objects.select_related("experiment", "variant").filter(recommendation_id=recommendation_id).first()
    )
    if exposure is None:
        return None
    positions = {item["id"]: item["position"] for item in exposure.items}
    teams = {item["id"]: item.get("team") for item in exposure.items}
    rows = (
        Event.objects.filter(recommendation_id=recommendation_id)
        .order_by("timestamp", "pk")
        .values_list("event_id", "type", "product__external_id", "value", "timestamp")
    )
    return Attribution(
        recommendation_id=recommendation_id,
        experiment_key=exposure.experiment.key,
        variant_key=exposure.variant.key if exposure.variant else None,
        customer_id=exposure.customer_external_id,
        events=tuple(
            AttributedEvent(
                event_id=event_id,
                type=event_type,
                product_id=product_id,
                position=positions.get(product_id),
                value=value,
                timestamp=timestamp,
                team=teams.get(product_id),
            )
            for event_id, event_type, product_id, value, timestamp in rows
        ),
    )


@dataclass(frozen=True)
class VariantOutcomes:
    """One row per exposed customer of one variant (arrays of equal length)."""

    variant_id: int
    key: str
    is_control: bool
    weight: float
    exposures: np.ndarray
    clicks: np.ndarray
    add_to_carts: np.ndarray
    purchases: np.ndarray
    revenue: np.ndarray
    # events of the customer in the PRE_PERIOD_DAYS before the experiment started (CUPED covariate)
    pre_activity: np.ndarray

    @property
    def customers(self) -> int:
        return int(self.exposures.size)


# Per customer and variant: exposures, the events attributed to those exposures, and the
# customer's events of any kind in the pre-period. Revenue is the purchase's amount (`value`),
# or the product's price when the event has none.
_OUTCOMES_SQL = f"""
WITH bounds AS (
    SELECT coalesce(started_at, %(until)s) AS start FROM {Experiment._meta.db_table} WHERE id = %(experiment)s
), exposed AS (
    SELECT variant_id, customer_external_id, count(*) AS exposures
    FROM {Exposure._meta.db_table}
    WHERE experiment_id = %(experiment)s AND created_at < %(until)s
    GROUP BY variant_id, customer_external_id
), attributed AS (
    SELECT x.variant_id, x.customer_external_id,
           count(*) FILTER (WHERE e.type = '{EventType.CLICK}') AS clicks,
           count(*) FILTER (WHERE e.type = '{EventType.ADD_TO_CART}') AS add_to_carts,
           count(*) FILTER (WHERE e.type = '{EventType.PURCHASE}') AS purchases,
           coalesce(sum(coalesce(e.value, p.price::float8)) FILTER (WHERE e.type = '{EventType.PURCHASE}'), 0)
               AS revenue
    FROM {Exposure._meta.db_table} x
    JOIN {Event._meta.db_table} e ON e.recommendation_id = x.recommendation_id
    JOIN catalog_product p ON p.id = e.product_id
    WHERE x.experiment_id = %(experiment)s AND x.created_at < %(until)s AND e.timestamp < %(until)s
    GROUP BY x.variant_id, x.customer_external_id
), pre AS (
    SELECT c.external_id AS customer_external_id, count(*) AS activity
    FROM catalog_customer c
    JOIN {Event._meta.db_table} e ON e.customer_id = c.id
    WHERE c.external_id IN (SELECT customer_external_id FROM exposed)
      AND e.timestamp >= (SELECT start FROM bounds) - make_interval(days => %(pre_days)s)
      AND e.timestamp < (SELECT start FROM bounds)
    GROUP BY c.external_id
)
SELECT exposed.variant_id, exposed.exposures,
       coalesce(a.clicks, 0), coalesce(a.add_to_carts, 0), coalesce(a.purchases, 0), coalesce(a.revenue, 0),
       coalesce(pre.activity, 0)
FROM exposed
LEFT JOIN attributed a USING (variant_id, customer_external_id)
LEFT JOIN pre USING (customer_external_id)
"""


def experiment_outcomes(*, experiment_id: int, until: dt.datetime) -> list[VariantOutcomes]:
    """Every variant of the experiment (control first) with its exposed customers' outcomes from
    exposures and events before `until`, and their activity in the PRE_PERIOD_DAYS before the
    start. One aggregate query; no per-exposure rows leave the database."""
    params = {"experiment": experiment_id, "until": until, "pre_days": PRE_PERIOD_DAYS}
    with connection.cursor() as cursor:
        cursor.execute(_OUTCOMES_SQL, params)
        rows = cursor.fetchall()
    table = np.array(rows, dtype=float).reshape(-1, 7)
    outcomes = []
    for variant in Variant.objects.filter(experiment_id=experiment_id).order_by("-is_control", "key"):
        mine = table[table[:, 0] == variant.pk]
        outcomes.append(
            VariantOutcomes(
                variant_id=variant.pk,
                key=variant.key,
                is_control=variant.is_control,
                weight=variant.weight,
                exposures=mine[:, 1],
                clicks=mine[:, 2],
                add_to_carts=mine[:, 3],
                purchases=mine[:, 4],
                revenue=mine[:, 5],
                pre_activity=mine[:, 6],
            )
        )
    return outcomes


# Per customer of an interleaving experiment: clicks on the items each variant contributed to the
# lists they were served (the item's team, stored on the exposure), before `until`.
_CREDIT_SQL = f"""
SELECT x.customer_external_id,
       count(*) FILTER (WHERE item->>'team' = %(team_a)s) AS clicks_a,
       count(*) FILTER (WHERE item->>'team' = %(team_b)s) AS clicks_b
FROM {Exposure._meta.db_table} x
JOIN {Event._meta.db_table} e ON e.recommendation_id = x.recommendation_id AND e.type = '{EventType.CLICK}'
JOIN catalog_product p ON p.id = e.product_id
CROSS JOIN LATERAL jsonb_array_elements(x.items) AS item
WHERE x.experiment_id = %(experiment)s AND x.created_at < %(until)s AND e.timestamp < %(until)s
  AND item->>'id' = p.external_id
GROUP BY x.customer_external_id
"""

_EXPOSED_SQL = f"""
SELECT count(DISTINCT customer_external_id), count(*) FROM {Exposure._meta.db_table}
WHERE experiment_id = %(experiment)s AND created_at < %(until)s
"""


@dataclass(frozen=True)
class InterleavingCredit:
    """An interleaving experiment's exposed customers and lists, and each clicking customer's
    clicks credited to (control, other) — customer id → (clicks A, clicks B)."""

    customers: int
    lists: int
    credit: dict[str, tuple[int, int]]


def interleaving_credit(*, experiment_id: int, team_a: str, team_b: str, until: dt.datetime) -> InterleavingCredit:
    """Clicks credited per customer and team (two aggregate queries; no exposure rows leave the database)."""
    params = {"experiment": experiment_id, "until": until, "team_a": team_a, "team_b": team_b}
    with connection.cursor() as cursor:
        cursor.execute(_EXPOSED_SQL, params)
        customers, lists = cursor.fetchone()
        cursor.execute(_CREDIT_SQL, params)
        credit = {customer: (int(a), int(b)) for customer, a, b in cursor.fetchall()}
    return InterleavingCredit(customers=customers, lists=lists, credit=credit)
