"""Interaction weights and the customer × item interaction data every route learns from.

The one place that says how much an event is worth. Item-CF, the semantic route's customer
vector, popularity and the offline evaluation all read their weights from here, so a change here
changes all of them together.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from django.db import connection

from catalog.public import Product
from recommendations.contracts import Interactions

# A stronger signal of intent weighs more; a purchase is the strongest.
EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 4.0}
# A rating is worth value / 5 × 4: a 5-star rating counts as much as a purchase, a 1-star one as
# little as a view-and-a-bit; a rating without a value counts as a middling 3 stars.
RATING_SCALE = 4.0 / 5.0
RATING_DEFAULT = 3.0
# Positive events define the evaluation's ground truth (DESIGN.md): engagement beyond a view.
POSITIVE_TYPES = frozenset({"click", "add_to_cart", "purchase"})
POSITIVE_MIN_RATING = 4.0

SECONDS_PER_DAY = 86_400.0


def event_weight(*, type: str, value: float | None) -> float:
    """The weight of one event (0 for an unknown type)."""
    if type == "rating":
        return (RATING_DEFAULT if value is None else max(0.0, min(5.0, value))) * RATING_SCALE
    return EVENT_WEIGHTS.get(type, 0.0)


def event_weights(*, types: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Vectorised `event_weight` over arrays of types (str) and values (float, NaN for none)."""
    weights = np.zeros(len(types), dtype=np.float64)
    for name, weight in EVENT_WEIGHTS.items():
        weights[types == name] = weight
    is_rating = types == "rating"
    ratings = np.where(np.isnan(values), RATING_DEFAULT, np.clip(values, 0.0, 5.0))
    weights[is_rating] = ratings[is_rating] * RATING_SCALE
    return weights


def positive_mask(*, types: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which events are positive: click, add_to_cart, purchase, or a rating of 4 or more."""
    positive = np.isin(types, list(POSITIVE_TYPES))
    with np.errstate(invalid="ignore"):
        positive |= (types == "rating") & (values >= POSITIVE_MIN_RATING)
    return positive


def rank_in_runs(sorted_values: np.ndarray) -> np.ndarray:
    """0, 1, 2, … within each run of equal values of a sorted array (rank inside each group)."""
    if len(sorted_values) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    lengths = np.diff(np.r_[starts, len(sorted_values)])
    return np.arange(len(sorted_values)) - np.repeat(starts, lengths)


def decay(*, age_seconds: np.ndarray, half_life_days: float) -> np.ndarray:
    """Exponential time decay: 1 at age 0, ½ after one half-life."""
    return np.power(0.5, np.asarray(age_seconds, dtype=np.float64) / (half_life_days * SECONDS_PER_DAY))


def interaction_matrix(*, interactions: Interactions) -> sp.csr_matrix:
    """Customer × item matrix of log(1 + summed event weight).

    The log keeps a customer who bought one item twenty times from outweighing twenty customers
    who bought it once (the confidence scaling of Hu, Koren & Volinsky 2008).
    """
    matrix = sp.csr_matrix(
        (interactions.weights, (interactions.users, interactions.items)),
        shape=(interactions.n_users, interactions.n_items),
        dtype=np.float64,
    )
    matrix.sum_duplicates()
    matrix.data = np.log1p(matrix.data)
    matrix.eliminate_zeros()
    return matrix


# A job over budget keeps a share of the customers, all their events: a customer is kept when the
# seeded hash of their pk, mod 10,000, falls below share × 10,000 (PostgreSQL's hashint8extended).
CUSTOMER_SAMPLE = "abs(hashint8extended(customer_id, %s) %% 10000) < %s"
CUSTOMER_SAMPLE_SEED = 42


def interactions_load(*, until=None, customer_share: float = 1.0) -> tuple[Interactions, np.ndarray]:
    """All stored events (before `until` when given) as `Interactions` over the whole catalog; with
    `customer_share` below 1, only the events of that share of the customers (`CUSTOMER_SAMPLE`,
    seeded: the same customers every run).

    Returns the interactions and `product_pks` (item index → Product pk, sorted). Users are indexed
    by Customer pk order. One query for the events, one for the catalog.
    """
    product_pks = np.fromiter(Product.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    # Anonymous sessions' events (no customer until linked) train nothing: users are customers.
    sql = (
        "SELECT customer_id, product_id, type, value, EXTRACT(EPOCH FROM timestamp) FROM catalog_event"
        " WHERE customer_id IS NOT NULL"
    )
    params: list = []
    if until is not None:
        sql += " AND timestamp < %s"
        params.append(until)
    if customer_share < 1.0:
        sql += f" AND {CUSTOMER_SAMPLE}"
        params += [CUSTOMER_SAMPLE_SEED, round(customer_share * 10_000)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return interactions_from_rows(rows=rows, product_pks=product_pks), product_pks


def interactions_from_rows(*, rows: list[tuple], product_pks: np.ndarray) -> Interactions:
    """Rows of (customer pk, product pk, type, value, POSIX seconds) as dense-indexed arrays."""
    if rows:
        customers, products, types, values, seconds = zip(*rows, strict=True)
    else:
        customers, products, types, values, seconds = (), (), (), (), ()
    customer_pks = np.asarray(customers, dtype=np.int64)
    unique_customers, users = np.unique(customer_pks, return_inverse=True)
    types_arr = np.asarray(types, dtype=object).astype(str) if rows else np.asarray([], dtype=str)
    values_arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    return Interactions(
        users=users.astype(np.int64),
        items=np.searchsorted(product_pks, np.asarray(products, dtype=np.int64)),
        weights=event_weights(types=types_arr, values=values_arr),
        timestamps=np.asarray(seconds, dtype=np.float64),
        positive=positive_mask(types=types_arr, values=values_arr),
        n_users=len(unique_customers),
        n_items=len(product_pks),
    )
