"""A customer's recent history: the items they touched, each with a recency-decayed weight.

`history_aggregate` is the pure rule (arrays in, arrays out) shared by serving and the offline
evaluation; `customer_history` loads one customer's events for serving.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from catalog.public import EventType
from recommendations.interactions import decay, event_weights, rank_in_runs
from recsite.db_router import read_connection

# Serving reads at most this many recent events per customer (one indexed query).
HISTORY_MAX_EVENTS = 200
# Distinct recent items kept in the history (item-CF sums over these).
HISTORY_MAX_ITEMS = 50
# Recency decay of history weights, relative to the customer's own latest event (not the wall
# clock), so old data and quiet customers keep a usable history.
HISTORY_HALF_LIFE_DAYS = 30.0


@dataclass(frozen=True)
class History:
    """One customer's recent items, most recent first, everything they ever purchased, and what is
    in their cart (added among the recent events and not purchased since)."""

    product_pks: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    purchased_pks: frozenset[int] = frozenset()
    carted_pks: frozenset[int] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not self.product_pks


@dataclass(frozen=True)
class HistoryArrays:
    """Aggregated histories of many users: one row per (user, item), most recent first per user."""

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray


def history_aggregate(
    *,
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    timestamps: np.ndarray,
    max_events: int = HISTORY_MAX_EVENTS,
    max_items: int = HISTORY_MAX_ITEMS,
    half_life_days: float = HISTORY_HALF_LIFE_DAYS,
) -> HistoryArrays:
    """Each user's last `max_events` events → their `max_items` most recent distinct items.

    An item's weight is the sum over its events of event weight × decay(age), the age measured from
    the user's latest event. Ties in time break by item index, so the result is deterministic.
    """
    if len(users) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return HistoryArrays(users=empty, items=empty, weights=np.zeros(0))
    # Newest first per user; keep each user's first `max_events`.
    order = np.lexsort((items, -timestamps, users))
    users, items, weights, timestamps = users[order], items[order], weights[order], timestamps[order]
    keep = rank_in_runs(users) < max_events
    users, items, weights, timestamps = users[keep], items[keep], weights[keep], timestamps[keep]

    latest = np.full(users.max() + 1, -np.inf)
    np.maximum.at(latest, users, timestamps)
    decayed = weights * decay(age_seconds=latest[users] - timestamps, half_life_days=half_life_days)

    # One row per (user, item): the summed weight, and the time of its latest event.
    pairs = np.stack([users, items], axis=1)
    unique_pairs, inverse = np.unique(pairs, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    pair_weight = np.bincount(inverse, weights=decayed, minlength=len(unique_pairs))
    pair_last = np.full(len(unique_pairs), -np.inf)
    np.maximum.at(pair_last, inverse, timestamps)

    pair_users, pair_items = unique_pairs[:, 0], unique_pairs[:, 1]
    order = np.lexsort((pair_items, -pair_last, pair_users))
    pair_users, pair_items, pair_weight = pair_users[order], pair_items[order], pair_weight[order]
    keep = rank_in_runs(pair_users) < max_items
    return HistoryArrays(users=pair_users[keep], items=pair_items[keep], weights=pair_weight[keep])


def customer_history(*, customer_id: str | None) -> History:
    """The history of the customer with external id `customer_id` (empty when unknown or None).

    One round trip: the latest events (index on customer, timestamp) and, after them, the
    distinct purchased items, told apart by the `recent` column.
    """
    if not customer_id:
        return History()
    sql = (
        "WITH c AS (SELECT id FROM catalog_customer WHERE external_id = %s)"
        " (SELECT true AS recent, e.product_id, e.type, e.value, e.timestamp FROM catalog_event e"
        "  WHERE e.customer_id = (SELECT id FROM c) ORDER BY e.timestamp DESC, e.id DESC LIMIT %s)"
        " UNION ALL"
        " (SELECT DISTINCT false, e.product_id, NULL::varchar, NULL::float8, NULL::timestamptz FROM catalog_event e"
        "  WHERE e.customer_id = (SELECT id FROM c) AND e.type = %s)"
    )
    with read_connection().prepared_cursor() as cursor:
        cursor.execute(sql, [customer_id, HISTORY_MAX_EVENTS, EventType.PURCHASE.value])
        rows = cursor.fetchall()
    return _history_from_rows(rows)


def session_history(*, session_id: str | None) -> History:
    """The history of an anonymous session: its latest events, aggregated as a customer's are
    (the same weights and decay), in one query on the session index."""
    if not session_id:
        return History()
    sql = (
        "(SELECT true AS recent, e.product_id, e.type, e.value, e.timestamp FROM catalog_event e"
        " WHERE e.session_id = %s ORDER BY e.timestamp DESC, e.id DESC LIMIT %s)"
        " UNION ALL"
        " (SELECT DISTINCT false, e.product_id, NULL::varchar, NULL::float8, NULL::timestamptz FROM catalog_event e"
        "  WHERE e.session_id = %s AND e.type = %s)"
    )
    with read_connection().prepared_cursor() as cursor:
        cursor.execute(sql, [session_id, HISTORY_MAX_EVENTS, session_id, EventType.PURCHASE.value])
        rows = cursor.fetchall()
    return _history_from_rows(rows)


def _history_from_rows(rows: list[tuple]) -> History:
    """Rows of (recent?, product pk, type, value, time): the recent events, then the purchased items."""
    recent = [row[1:] for row in rows if row[0]]
    if not recent:
        return History()
    purchased = frozenset(row[1] for row in rows if not row[0])
    products, types, values, times = zip(*recent, strict=True)
    aggregated = history_aggregate(
        users=np.zeros(len(recent), dtype=np.int64),
        items=np.asarray(products, dtype=np.int64),
        weights=event_weights(
            types=np.asarray(types, dtype=str),
            values=np.asarray([np.nan if v is None else v for v in values], dtype=np.float64),
        ),
        timestamps=np.asarray([t.timestamp() for t in times], dtype=np.float64),
    )
    return History(
        product_pks=tuple(int(pk) for pk in aggregated.items),
        weights=tuple(float(w) for w in aggregated.weights),
        purchased_pks=purchased,
        carted_pks=_in_cart(recent),
    )


def _in_cart(recent: list[tuple]) -> frozenset[int]:
    """The products whose latest add-to-cart among `recent` (product, type, value, time) came
    after their latest purchase, if any."""
    carted: dict[int, datetime] = {}
    bought: dict[int, datetime] = {}
    for product, type_, _, time in recent:
        latest = carted if type_ == EventType.ADD_TO_CART else bought if type_ == EventType.PURCHASE else None
        if latest is not None and (product not in latest or time > latest[product]):
            latest[product] = time
    return frozenset(pk for pk, time in carted.items() if pk not in bought or time > bought[pk])
