"""The memory plan of the drift job (`manage.py drift`, the periodic `check_drift`, the admin's
reference button).

It loads the window's distinct (customer, item) pairs, the embeddings of their items, and per pair
a row of its item's vector (the leave-one-out sums, the mean); per customer a float64 sum. The pairs
(and the customers with them) shrink with a sample; the process and the item embeddings do not.
Over DRIFT_MEMORY_BUDGET_MB the job keeps a seeded share of the customers, all their pairs (the
neighbour jobs' rule); when the fixed part alone is over, it refuses.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection

from monitoring.distributions import Window, window_pairs_sql
from recommendations.public import CUSTOMER_SAMPLE_SEED, sample_rule
from recsite.memory import MB, MemoryPlan, memory_plan

logger = logging.getLogger(__name__)

# What a run adds whatever the window's size (the working set of the queries, numpy's and
# psycopg's buffers, the stored samples): 110-135 MB over the process at plan time on the Online
# Retail demo (two windows, each at two shares: docs/operations.md), rounded up.
RUN_BYTES = 160 * 2**20
# Peak bytes per loaded pair besides its vector rows, rounded up: the fetched row tuple and the
# index arrays (with the rows and the customers' sums, 0.8-1.2 KB a pair measured on the demo).
PAIR_BYTES = 400
# Vector rows per pair held at once (float32: `vectors[items]` in the sums and in the mean).
PAIR_VECTOR_COPIES = 1
# An item embedding: pgvector's array, the stacked matrix and its normalised copy, the dict entry.
ITEM_VECTOR_COPIES = 3
ITEM_OVERHEAD_BYTES = 600


def window_sizes(*, window: Window) -> tuple[int, int]:
    """The window's distinct (customer, item) pairs and customers, counted in the database."""
    sql, params = window_pairs_sql(window=window)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), count(DISTINCT customer_id) FROM ({sql}) pairs", params)
        pairs, customers = cursor.fetchone()
    return pairs, customers


def embedded_items() -> tuple[int, int]:
    """How many products have an embedding, and its dimension (0 without any)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(max(vector_dims(vector)), 0) FROM catalog_productembedding")
        items, dimension = cursor.fetchone()
    return items, dimension


def drift_plan(*, window: Window, budget_mb: int | None = None) -> MemoryPlan:
    """How the drift job fits its budget (DRIFT_MEMORY_BUDGET_MB unless given) on `window`;
    MemoryBudgetError when it cannot even by sampling."""
    budget = (budget_mb if budget_mb is not None else settings.DRIFT_MEMORY_BUDGET_MB) * MB
    pairs, customers = window_sizes(window=window)
    items, dimension = embedded_items()
    per_customer = 8 * dimension
    per_pair = PAIR_BYTES + PAIR_VECTOR_COPIES * 4 * dimension + (per_customer * customers / pairs if pairs else 0)
    return memory_plan(
        job="drift",
        budget_bytes=budget,
        # What the job adds, not what the process already holds: a web worker with its models loaded
        # (the admin's reference button) would otherwise refuse every window.
        fixed_bytes=RUN_BYTES + items * (ITEM_VECTOR_COPIES * 4 * dimension + ITEM_OVERHEAD_BYTES),
        per_unit_bytes=per_pair,
        units=pairs,
        unit="customer-item pairs",
        seed=CUSTOMER_SAMPLE_SEED,
        setting="DRIFT_MEMORY_BUDGET_MB",
    )


def drift_share(*, window: Window) -> float:
    """The share of the customers the drift job may load on `window` at the configured budget, the
    plan logged (what `manage.py drift` prints); MemoryBudgetError when it cannot run within it."""
    plan = drift_plan(window=window)
    logger.info("%s%s", plan.describe(), f"; {sample_rule(plan)}" if plan.sampled else "")
    return plan.share
