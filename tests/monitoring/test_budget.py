"""The drift job's memory budget: within it every customer of the window; over it a seeded share
(the same customers every run), said so; under the part no sample shrinks, a clear refusal."""

from __future__ import annotations

import datetime as dt
import io
import logging
import math

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from catalog.models import ProductEmbedding
from monitoring.budget import drift_plan
from monitoring.distributions import Window, window_pairs
from monitoring.models import DriftReference
from monitoring.services import drift_check_recent, drift_reference_build
from recsite.memory import MB, MemoryBudgetError
from tests.factories import CustomerFactory, ProductFactory, make_purchase_grid

pytestmark = pytest.mark.django_db

CUSTOMERS, PRODUCTS, ITEMS_EACH = 500, 40, 20
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
