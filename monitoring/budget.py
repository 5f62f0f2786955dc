"""The memory plan of the drift job (`manage.py drift`, the periodic `check_drift`, the admin's
reference button).

It loads the window's distinct (customer, item) pairs, the embeddings of the items in the pairs it
kept (one float32 row each), and per pair a row of its item's vector (the leave-one-out sums, the
mean); per customer a float64 sum. A seeded share s of the customers keeps about s × P of the
window's P pairs, and so at most min(D, s × P) of its D distinct items: both shrink with the share,
the catalog's other embeddings are never read. Over DRIFT_MEMORY_BUDGET_MB the job keeps the
largest share that fits, all the pairs of its customers (the neighbour jobs' rule); when what a
run adds before any pair is over, it refuses.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection

from monitoring.distributions import Window, window_pairs_sql
from recommendations.public import CUSTOMER_SAMPLE_SEED, sample_rule, stored_dimension
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
# A loaded item: its float32 row of the one matrix `embeddings_load` fills (read in chunks from a
# server-side cursor, normalised in place), plus its pk in the arrays and the query's parameter.
# Measured with `python -m bench.drift_items` (a fresh process per size, peak RSS over the process
# before the load; 60,000 generated products with random 384-d vectors, OMP_NUM_THREADS=1, 2 shared
# cores): +42.0, +71.6, +100.7 MB at 20,000, 40,000, 60,000 items, 1,758 bytes an item (the 1,536 of
# the row + about 220), hence 300 over the row; the ~12 MB a first chunk adds is in RUN_BYTES. The
# loader before (a dict of per-item arrays from the ORM's text, stacked, then a normalised copy;
# counted as 3 rows + 600 bytes) measured 24,067 bytes an item (+419 MB at 20,000, +1,377 at 60,000).
ITEM_VECTOR_COPIES = 1
ITEM_OVERHEAD_BYTES = 300


def window_sizes(*, window: Window) -> tuple[int, int, int]:
    """The window's distinct (customer, item) pairs, customers and items, counted in the database."""
    sql, params = window_pairs_sql(window=window)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(DISTINCT customer_id), count(DISTINCT product_id) FROM ({sql}) pairs", params
        )
        pairs, customers, items = cursor.fetchone()
    return pairs, customers, items


def drift_plan(*, window: Window, budget_mb: int | None = None) -> MemoryPlan:
    """How the drift job fits its budget (DRIFT_MEMORY_BUDGET_MB unless given) on `window`: the
    largest share of the customers whose pairs and items fit; MemoryBudgetError when even a tiny
    share would not (the run's fixed part alone is over)."""
    budget = (budget_mb if budget_mb is not None else settings.DRIFT_MEMORY_BUDGET_MB) * MB
    pairs, customers, items = window_sizes(window=window)
    dimension = stored_dimension()
    per_customer = 8 * dimension
    per_pair = PAIR_BYTES + PAIR_VECTOR_COPIES * 4 * dimension + (per_customer * customers / pairs if pairs else 0)
    return memory_plan(
        job="drift",
        budget_bytes=budget,
        # What the job adds, not what the process already holds: a web worker with its models loaded
        # (the admin's reference button) would otherwise refuse every window.
        fixed_bytes=RUN_BYTES,
        per_unit_bytes=per_pair,
        units=pairs,
        unit="customer-item pairs",
        # Each kept pair brings at most one item not loaded yet, and there are `items` in all.
        per_distinct_bytes=ITEM_VECTOR_COPIES * 4 * dimension + ITEM_OVERHEAD_BYTES,
        distinct=items,
        distinct_unit="items",
        seed=CUSTOMER_SAMPLE_SEED,
        setting="DRIFT_MEMORY_BUDGET_MB",
    )


def drift_share(*, window: Window) -> float:
    """The share of the customers the drift job may load on `window` at the configured budget, the
    plan logged (what `manage.py drift` prints); MemoryBudgetError when it cannot run within it."""
    plan = drift_plan(window=window)
    logger.info("%s%s", plan.describe(), f"; {sample_rule(plan)}" if plan.sampled else "")
    return plan.share
