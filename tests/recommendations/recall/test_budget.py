"""The neighbour jobs' memory budget: within it they use every customer; over it a seeded share
(the same customers every run), said so; under the part no sample shrinks, a clear refusal."""

from __future__ import annotations

import datetime as dt
import io
import math

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from catalog.models import ItemNeighbor, ItemPopularity
from recommendations.interactions import interactions_load
from recommendations.recall.budget import EVENT_BYTES, neighbors_plan
from recsite.memory import MB, MemoryBudgetError, memory_plan
from tests.factories import CustomerFactory, ProductFactory, make_purchase_grid

pytestmark = pytest.mark.django_db

CUSTOMERS, PRODUCTS, EVENTS_EACH = 400, 40, 50


@pytest.fixture
def events_20k():
    """20,000 purchases: 400 customers × 50 of 40 products (an event part of about 20 MB)."""
    when = timezone.now() - dt.timedelta(days=1)
    make_purchase_grid(
        customers=CustomerFactory.create_batch(CUSTOMERS),
        products=ProductFactory.create_batch(PRODUCTS),
        each=EVENTS_EACH,
        when=lambda i: when,
    )


def test_the_plan_keeps_the_share_that_fits_and_refuses_under_the_fixed_part():
    kwargs = {"job": "j", "per_unit_bytes": 1_000, "units": 100_000, "unit": "events", "seed": 42, "setting": "X_MB"}
    assert memory_plan(budget_bytes=300 * MB, fixed_bytes=100 * MB, **kwargs).share == 1.0
    half = memory_plan(budget_bytes=150 * MB, fixed_bytes=100 * MB, **kwargs)
    assert half.share == pytest.approx(50 * MB / 100_000_000)
    assert "sampling 52.4% of the events (seed 42)" in half.describe()
    with pytest.raises(MemoryBudgetError, match="needs about 100 MB before any of its events .* raise X_MB"):
        memory_plan(budget_bytes=90 * MB, fixed_bytes=100 * MB, **kwargs)


def test_over_its_budget_build_neighbors_samples_customers_by_a_seeded_rule_and_says_so(events_20k):
    # given a budget that holds the fixed part and about half the events
    full = neighbors_plan(budget_mb=10**6, algorithm="ease")
    assert full.units == CUSTOMERS * EVENTS_EACH and not full.sampled
    budget_mb = math.ceil((full.fixed_bytes + full.units * EVENT_BYTES / 2) / MB)

    # when the command runs under it
    out = io.StringIO()
    call_command("build_neighbors", memory_budget_mb=budget_mb, collaborative="ease", stdout=out)

    # then it says it samples, and by which rule, and reports its peak
    text = out.getvalue()
    assert "of the events (seed 42)" in text and "sampling" in text
    assert "a customer is kept, with all their events, when abs(hashint8extended(customer pk, 42))" in text
    assert "peak memory" in text
    # and it built every table from that share of the customers
    assert ItemNeighbor.objects.exists() and ItemPopularity.objects.exists()
    share = neighbors_plan(budget_mb=budget_mb, algorithm="ease").share
    sampled, _ = interactions_load(customer_share=share)
    again, _ = interactions_load(customer_share=share)
    assert 0 < sampled.n_users < CUSTOMERS
    assert (sampled.users == again.users).all() and sampled.n_users == again.n_users


def test_under_its_fixed_part_build_neighbors_refuses_and_writes_nothing(events_20k):
    with pytest.raises(
        CommandError,
        match="build_neighbors: needs about .* MB before any of its events .* raise NEIGHBORS_MEMORY_BUDGET_MB",
    ):
        call_command("build_neighbors", memory_budget_mb=1, stdout=io.StringIO())
    assert not ItemNeighbor.objects.exists()
