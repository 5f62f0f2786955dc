"""The drift job's memory budget: within it every customer of the window; over it a seeded share
(the same customers every run), said so; under the part no sample shrinks, a clear refusal."""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import tracemalloc

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from catalog.models import Event, Product, ProductEmbedding
from monitoring import distributions
from monitoring.budget import ITEM_OVERHEAD_BYTES, ITEM_VECTOR_COPIES, PAIR_BYTES, RUN_BYTES, drift_plan
from monitoring.distributions import Window, embeddings_load, window_pairs
from monitoring.models import DriftReference
from monitoring.services import drift_check_recent, drift_reference_build
from recsite.memory import MB, MemoryBudgetError, memory_plan
from tests.factories import CustomerFactory, ProductFactory, make_purchase_grid

pytestmark = pytest.mark.django_db

CUSTOMERS, PRODUCTS, ITEMS_EACH = 500, 40, 20
# Embedded products outside the window: as the plan counted every embedded product before (3
# float32 rows and 600 bytes each), 2.7 MB with the window's 40.
OUTSIDE = 500
END = dt.datetime(2012, 1, 1, tzinfo=dt.UTC)
WINDOW = Window(start=None, end=END)


@pytest.fixture
def window_10k():
    """10,000 (customer, item) pairs: 500 customers × 20 of 40 embedded products (a pair part of about 20 MB)."""
    rng = np.random.default_rng(0)
    products = ProductFactory.create_batch(PRODUCTS)
    ProductEmbedding.objects.bulk_create(
        ProductEmbedding(product=p, model_name="m", text_hash=p.text_hash, vector=rng.normal(size=384).tolist())
        for p in products
    )
    make_purchase_grid(
        customers=CustomerFactory.create_batch(CUSTOMERS),
        products=products,
        each=ITEMS_EACH,
        when=lambda i: END - dt.timedelta(days=1 + i),
    )


@pytest.fixture
def catalog_outside(window_10k):
    """500 more embedded products that no customer touches in the window."""
    rng = np.random.default_rng(1)
    ProductEmbedding.objects.bulk_create(
        ProductEmbedding(product=p, model_name="m", text_hash=p.text_hash, vector=rng.normal(size=384).tolist())
        for p in ProductFactory.create_batch(OUTSIDE)
    )


def window_bytes(*, pairs_share: float = 1.0) -> float:
    """The window's pairs (at a share) and its 40 items, as the plan should count them."""
    per_pair = PAIR_BYTES + 4 * 384 + 8 * 384 * CUSTOMERS / (CUSTOMERS * ITEMS_EACH)
    per_item = ITEM_VECTOR_COPIES * 4 * 384 + ITEM_OVERHEAD_BYTES
    return CUSTOMERS * ITEMS_EACH * pairs_share * per_pair + PRODUCTS * per_item


def test_the_plan_counts_the_windows_items_not_the_catalogs(catalog_outside):
    # given a budget that holds a run, the window's 10,000 pairs and its 40 items, and under 1 MB more
    budget_mb = math.ceil((RUN_BYTES + window_bytes()) / MB)

    # when the job plans under it
    plan = drift_plan(window=WINDOW, budget_mb=budget_mb)

    # then the 500 embedded products outside the window count for nothing: every pair is kept
    assert plan.share == 1.0
    assert (plan.units, plan.distinct) == (CUSTOMERS * ITEMS_EACH, PRODUCTS)
    assert plan.estimate_bytes == int(RUN_BYTES + window_bytes())
    assert "for 10,000 customer-item pairs and their 40 items (budget" in plan.describe()


def test_under_a_small_budget_drift_samples_rather_than_refuse(catalog_outside):
    # given a budget 2 MB over what a run adds before any pair (the catalog's 540 vectors, counted
    # whole, would not fit in it)
    budget_mb = RUN_BYTES // MB + 2

    # when the job plans under it
    plan = drift_plan(window=WINDOW, budget_mb=budget_mb)

    # then it keeps the largest share of the customers that fits
    assert 0 < plan.share < 1
    assert plan.planned_bytes <= budget_mb * MB < plan.bytes_at(plan.share + 1e-4)
    # its customers' pairs bring all 40 items (each customer buys 20 of them): counted once
    assert plan.planned_bytes == int(RUN_BYTES + window_bytes(pairs_share=plan.share))
    customers, products = window_pairs(window=WINDOW, customer_share=plan.share)
    assert 0 < len(customers) < CUSTOMERS * ITEMS_EACH
    assert len(np.unique(products)) == PRODUCTS


def test_a_share_counts_as_many_items_as_its_units_can_bring():
    # given 1,000 units of 1 KB over a fixed 100 KB, each unit bringing at most one new thing of 1 KB
    kwargs = dict(job="j", fixed_bytes=100_000, per_unit_bytes=1_000, units=1_000, unit="u", seed=0, setting="S")
    kwargs |= dict(per_distinct_bytes=1_000, distinct_unit="things")

    # when there are as many things as units, each unit kept costs 2 KB: 500 KB of room hold a quarter
    assert memory_plan(budget_bytes=600_000, distinct=1_000, **kwargs).share == 0.25
    # when there are 100, they are all in past a tenth: 400 KB of room for units hold 40%
    assert memory_plan(budget_bytes=600_000, distinct=100, **kwargs).share == 0.4
    # and the whole, when it fits, as before; a fixed part over the budget is refused
    assert memory_plan(budget_bytes=1_200_000, distinct=100, **kwargs).share == 1.0
    with pytest.raises(MemoryBudgetError):
        memory_plan(budget_bytes=100_000, distinct=100, **kwargs)


def test_the_window_items_load_alone_into_one_float32_matrix(catalog_outside, monkeypatch, django_assert_num_queries):
    # given the window's pairs, and chunks of 10 rows (a chunk's rows are what is held beside the matrix)
    monkeypatch.setattr(distributions, "ITEM_VECTORS_CHUNK", 10, raising=False)
    _, products = window_pairs(window=WINDOW)

    # when their items' embeddings are loaded, in one query
    with django_assert_num_queries(1):
        pks, vectors = embeddings_load(product_pks=products)

    # then only the window's 40 items are, as unit rows of one float32 matrix
    assert pks.tolist() == sorted(set(Event.objects.values_list("product_id", flat=True))) and len(pks) == PRODUCTS
    assert (vectors.dtype, vectors.shape) == (np.float32, (PRODUCTS, 384))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    # and loading all 540 holds little beside their matrix: no per-item arrays, no normalised copy
    tracemalloc.start()
    try:
        pks, vectors = embeddings_load(product_pks=np.asarray(Product.objects.values_list("pk", flat=True)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert vectors.shape == (PRODUCTS + OUTSIDE, 384)
    assert peak < 1.5 * vectors.nbytes


def test_over_its_budget_drift_samples_customers_by_a_seeded_rule_and_says_so(window_10k):
    # given a reference from every customer, and a budget that holds the fixed part and about half
    # the pairs (planned after that run: the process is measured as it is then)
    call_command("drift", "reference", "--end", "2012-01-01", memory_budget_mb=10**6, stdout=io.StringIO())
    everyone = DriftReference.objects.get()
    full = drift_plan(window=WINDOW, budget_mb=10**6)
    assert full.units == CUSTOMERS * ITEMS_EACH and not full.sampled
    budget_mb = math.ceil((full.fixed_bytes + full.units * full.per_unit_bytes / 2) / MB)

    # when the command builds a reference under it
    out = io.StringIO()
    call_command("drift", "reference", "--end", "2012-01-01", memory_budget_mb=budget_mb, stdout=out)

    # then it says it samples, and by which rule, and reports its peak
    text = out.getvalue()
    assert "of the customer-item pairs (seed 42)" in text and "sampling" in text
    assert "a customer is kept, with all their events, when abs(hashint8extended(customer pk, 42))" in text
    assert "peak memory" in text
    # and the reference was measured on that share of the customers, the same ones every run
    share = drift_plan(window=WINDOW, budget_mb=budget_mb).share
    customers, _ = window_pairs(window=WINDOW, customer_share=share)
    again, _ = window_pairs(window=WINDOW, customer_share=share)
    assert 0 < len(np.unique(customers)) < CUSTOMERS and (customers == again).all()
    sampled = DriftReference.objects.exclude(pk=everyone.pk).get()
    assert len(sampled.samples["customer_item_similarity"]) == len(customers) < CUSTOMERS * ITEMS_EACH
    assert len(everyone.samples["customer_item_similarity"]) == CUSTOMERS * ITEMS_EACH


def test_within_its_budget_drift_uses_every_customer():
    plan = drift_plan(window=WINDOW, budget_mb=10**6)
    assert plan.share == 1.0 and "runs on all of them" in plan.describe()


def test_under_its_fixed_part_drift_refuses_and_stores_nothing(window_10k, caplog):
    with pytest.raises(
        CommandError,
        match="drift: needs about .* MB before any of its customer-item pairs .* raise DRIFT_MEMORY_BUDGET_MB",
    ):
        call_command("drift", "reference", "--end", "2012-01-01", memory_budget_mb=1, stdout=io.StringIO())
    assert not DriftReference.objects.exists()
    # the periodic task's path, with the setting, logs its plan first
    drift_reference_build(window_start=None, window_end=END)
    with override_settings(DRIFT_MEMORY_BUDGET_MB=1), pytest.raises(MemoryBudgetError, match="DRIFT_MEMORY_BUDGET_MB"):
        drift_check_recent(now=END)
    with caplog.at_level(logging.INFO, logger="monitoring.budget"):
        drift_check_recent(now=END)
    assert "drift: estimated peak" in caplog.text


def test_the_reference_button_over_its_budget_says_why_and_stores_nothing(window_10k, client, django_user_model):
    user = django_user_model.objects.create_user("o", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client.force_login(user)
    with override_settings(DRIFT_MEMORY_BUDGET_MB=1):
        response = client.post("/admin/monitoring/driftreport/set-reference/", follow=True)
    assert response.status_code == 200
    assert "No new reference: drift: needs about" in response.content.decode()
    assert not DriftReference.objects.exists()
