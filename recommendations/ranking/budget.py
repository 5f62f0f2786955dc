"""The memory plan of ranker training (`train_ranker`, the `train_ranker` task).

The job loads the customers' events, then per round trains every recall route on the events
before the cuts, builds each customer's candidate lists and their feature rows, and fits
LightGBM. What grows with the events and the customers (the loaded rows and their arrays, the
customer × item matrices, the customers' states, their lists' rows) shrinks with a customer sample;
what grows with the catalog does not: the catalog's arrays and its embedding matrix, the routes'
item × item state (item-CF's block product and neighbours, EASE's dense matrices or ALS's blocks,
popularity's per-time vectors) and the dense users × items score blocks the lists are cut from.
Over RANKER_MEMORY_BUDGET_MB the job keeps a seeded share of the customers, all their events
(`interactions.CUSTOMER_SAMPLE`, the neighbour jobs' rule) before anything is fetched; when the
fixed part alone is over, it refuses.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings

from catalog.public import Event, Product
from recommendations.embeddings.stored import stored_dimension
from recommendations.evaluation.strategies import BLOCK_BYTES as SCORE_BLOCK_BYTES
from recommendations.evaluation.strategies import ROUTES, USER_BLOCK
from recommendations.interactions import CUSTOMER_SAMPLE_SEED
from recommendations.recall import collaborative, itemcf, popularity
from recommendations.recall.budget import sample_rule
from recsite.memory import MB, MemoryPlan, memory_plan

logger = logging.getLogger(__name__)

# What a run adds whatever the data's size: LightGBM and the libraries the fit imports, the
# queries' and numpy's working buffers. The two measured peaks below meet the events axis at 116 MB,
# for the run and the demo's 3,659 products together (for which `items_bytes` alone gives 290 MB:
# item-CF's 256 MB block bound, never reached there), so this is a margin rather than a measure.
RUN_BYTES = 128 * MB
# Peak bytes per loaded event over the process's size when the plan was made, measured with
# `ranker_train` (semantic feature set) on the Online Retail demo (3,659 products, 396,370 events of
# 4,335 customers; one process each, OMP_NUM_THREADS=1): 1,290 MB added with all customers, 728 MB
# at a 50% share (206,586 events of 2,160 customers), about 3,100 bytes an event between them
# (docs/operations.md), rounded up. It holds everything that grows with the sampled customers
# there, their candidate lists' feature rows and LightGBM's copies of them included, at the demo's
# 91 events a customer; `training_data_build` caps a round's lists at MAX_TRAINING_CUSTOMERS too.
EVENT_BYTES = 3_500
# Per product: pk, price, category, brand and has-embedding arrays (catalog and interactions), and
# at the load the brand names (Python strings, their case-folded copies and numpy's fixed-width
# unicode array that `_dense_labels` sorts).
CATALOG_ITEM_BYTES = 512
# The embedding matrix is held once as float32 (`catalog_load` normalises it in place); the semantic
# route's customer vectors and scores are float64, so numpy and scipy make a float64 copy of it
# (8 bytes a value) while they multiply.
EMBEDDING_HELD_BYTES = 4
EMBEDDING_TRANSIENT_BYTES = 8
# ALS holds its factors (with their normalised and candidates' copies) and cuts neighbours from
# blocks of at most `collaborative.BLOCK_BYTES`.
ALS_ITEM_BYTES = 3 * 4 * collaborative.ALS_FACTORS
# A kept neighbour of item-CF or the collaborative route, held in memory (not written out): its CSR
# entry (float64 value, int32 column) and the COO triple it was built from.
NEIGHBOR_BYTES = 12 + 16


def ranker_plan(*, until: dt.datetime | None = None, budget_mb: int | None = None) -> MemoryPlan:
    """How ranker training fits its budget (RANKER_MEMORY_BUDGET_MB unless given) on the events
    before `until` (all when None) and the present catalog; MemoryBudgetError when it cannot even
    by sampling."""
    budget = (budget_mb if budget_mb is not None else settings.RANKER_MEMORY_BUDGET_MB) * MB
    events = Event.objects.filter(customer__isnull=False)
    if until is not None:
        events = events.filter(timestamp__lt=until)
    return memory_plan(
        job="train_ranker",
        budget_bytes=budget,
        # What the job adds, not what the process already holds (the drift and embed jobs' rule):
        # the gpu worker that trains rankers keeps its embedding and reason models loaded, which
        # no sample of the events would shrink, and counting them would refuse every run there.
        fixed_bytes=RUN_BYTES + items_bytes(n_items=Product.objects.count(), dimension=stored_dimension()),
        per_unit_bytes=EVENT_BYTES,
        units=events.count(),
        unit="events",
        seed=CUSTOMER_SAMPLE_SEED,
        setting="RANKER_MEMORY_BUDGET_MB",
    )


def items_bytes(*, n_items: int, dimension: int) -> int:
    """The peak bytes that grow with the catalog, whatever the customers: what is held through the
    run (the catalog, a round's routes), plus the largest of what is built and dropped in turn."""
    held = (
        n_items * (CATALOG_ITEM_BYTES + EMBEDDING_HELD_BYTES * dimension)
        # item-CF's and the collaborative route's kept neighbours
        + 2 * n_items * itemcf.DEFAULT_NEIGHBORS * NEIGHBOR_BYTES
        # popularity's per-time vectors (float32) and its running float64 vector
        + min(popularity.AS_OF_BYTES, popularity.MAX_AS_OF_TIMES * 4 * n_items)
        + 8 * n_items
    )
    # `routes_train` fits the collaborative route with its own default budget, not the ranker's.
    ease = collaborative.cf_algorithm(n_items=n_items) == collaborative.EASE
    collaborative_bytes = 2 * 4 * n_items * n_items if ease else collaborative.BLOCK_BYTES + ALS_ITEM_BYTES * n_items
    scoring = min(SCORE_BLOCK_BYTES, USER_BLOCK * 8 * n_items * len(ROUTES))
    transient = max(
        itemcf.BLOCK_BYTES,
        collaborative_bytes,
        scoring + EMBEDDING_TRANSIENT_BYTES * dimension * n_items,
    )
    return held + transient


def ranker_plan_logged(*, until: dt.datetime | None = None) -> MemoryPlan:
    """The plan at the configured budget, logged as `train_ranker` prints it (what the task runs on)."""
    plan = ranker_plan(until=until)
    logger.info("%s%s", plan.describe(), f"; {sample_rule(plan)}" if plan.sampled else "")
    return plan


def customer_sample(plan: MemoryPlan) -> dict:
    """The customer sample in the words a stored ranker version keeps (its `data_windows`)."""
    return {
        "customer_share": round(plan.share, 6),
        "customer_sample": sample_rule(plan) if plan.sampled else "all customers",
        "memory_plan": plan.describe(),
    }
