"""The memory plan of the neighbour jobs (`build_neighbors`: item-CF, popularity, collaborative).

Each loads every customer's events: the fetched rows, then the arrays and the customer × item
matrix, grow with the events (EVENT_BYTES each at the peak, measured: docs/operations.md). What
grows with the items (item-CF's block products, EASE's two dense items × items matrices) and the
process itself do not shrink with a sample. Over NEIGHBORS_MEMORY_BUDGET_MB the jobs keep a seeded
share of the customers (`interactions.CUSTOMER_SAMPLE`); when the fixed part alone is over, they
refuse.
"""

from __future__ import annotations

import logging

from django.conf import settings

from catalog.public import Event, Product
from recommendations.interactions import CUSTOMER_SAMPLE_SEED
from recommendations.recall import collaborative, itemcf
from recommendations.recall.collaborative import ALS_FACTORS, EASE, cf_algorithm
from recsite.memory import MB, MemoryPlan, memory_plan, rss_mb

logger = logging.getLogger(__name__)

# Peak bytes per loaded event over the process's size before the load, measured with
# `build_neighbors` on the Online Retail demo (about 450 between a 47% sample and all customers;
# docs/operations.md), rounded up.
EVENT_BYTES = 600
# What item-CF holds per item beside its block (`itemcf.item_blocks`; a block's rows are written
# as computed, `neighbor_rows`): a few per-item arrays (norms, weights, the transposed matrix's
# index pointers, the product pks).
ITEM_ARRAY_BYTES = 64
# What ALS holds per item: its float32 factors, their normalised copy and the neighbour
# candidates' copy, besides one block (`collaborative.BLOCK_BYTES`).
ALS_ITEM_BYTES = 3 * 4 * ALS_FACTORS


def neighbors_plan(*, budget_mb: int | None = None, algorithm: str | None = None) -> MemoryPlan:
    """How `build_neighbors` fits its budget (NEIGHBORS_MEMORY_BUDGET_MB unless given) at the
    present events and catalog; MemoryBudgetError when it cannot even by sampling."""
    budget = (budget_mb if budget_mb is not None else settings.NEIGHBORS_MEMORY_BUDGET_MB) * MB
    n_items = Product.objects.count()
    events = Event.objects.filter(customer__isnull=False).count()
    ease = (algorithm or cf_algorithm(n_items=n_items, memory_budget=budget)) == EASE
    itemcf_bytes = itemcf.BLOCK_BYTES + n_items * ITEM_ARRAY_BYTES
    cf_bytes = 2 * 4 * n_items * n_items if ease else collaborative.BLOCK_BYTES + n_items * ALS_ITEM_BYTES
    items_bytes = max(cf_bytes, itemcf_bytes)
    return memory_plan(
        job="build_neighbors",
        budget_bytes=budget,
        fixed_bytes=int(rss_mb() * MB) + items_bytes,
        per_unit_bytes=EVENT_BYTES,
        units=events,
        unit="events",
        seed=CUSTOMER_SAMPLE_SEED,
        setting="NEIGHBORS_MEMORY_BUDGET_MB",
    )


def sample_rule(plan: MemoryPlan) -> str:
    """The sampling rule in words, for a command to print and a task to log."""
    return (
        f"a customer is kept, with all their events, when abs(hashint8extended(customer pk, {plan.seed})) "
        f"mod 10,000 < {round(plan.share * 10_000)}"
    )


def neighbors_share(*, algorithm: str | None = None) -> float:
    """The share of the customers a periodic neighbour task may load, the plan logged (what
    `build_neighbors` prints); MemoryBudgetError when it cannot run within the budget."""
    plan = neighbors_plan(algorithm=algorithm)
    logger.info("%s%s", plan.describe(), f"; {sample_rule(plan)}" if plan.sampled else "")
    return plan.share
