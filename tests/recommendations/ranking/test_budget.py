"""Ranker training's memory budget: within it every customer; over it a seeded share of the
customers loaded in the database (the same customers every run), said so and stored with the
version; under the part no sample shrinks, a clear refusal before anything is loaded."""

from __future__ import annotations

import datetime as dt
import io
import math

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from recommendations.interactions import interactions_load
from recommendations.models import RankerModel
from recommendations.ranking.budget import EVENT_BYTES, items_bytes, ranker_plan
from recommendations.ranking.features import catalog_load
from recommendations.ranking.training import ranker_fit, ranker_train, training_data_build
from recsite.memory import MB, MemoryBudgetError
from tests.factories import CustomerFactory, ProductFactory, make_purchase_grid
from tests.recommendations.ranking_shop import ranking_shop

pytestmark = pytest.mark.django_db

CUSTOMERS, PRODUCTS, EVENTS_EACH = 100, 20, 20
T = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
# The counts each round adds up: what the lists were built from.
COUNTS = ("customers_with_labels", "customers_sampled", "lists", "rows", "positives")


@pytest.fixture
def events_2k():
    """2,000 purchases: 100 customers × 20 distinct products, one every three days (each a visit
    with a new item after it, so every customer gives labelled lists)."""
    make_purchase_grid(
        customers=CustomerFactory.create_batch(CUSTOMERS),
        products=ProductFactory.create_batch(PRODUCTS),
        each=EVENTS_EACH,
        when=lambda i: T + dt.timedelta(days=3 * i),
    )


def test_over_its_budget_train_ranker_loads_a_seeded_share_of_the_customers_and_says_so(events_2k):
    # given a budget that holds the fixed part and about half the events
    full = ranker_plan(budget_mb=10**6)
    assert full.units == CUSTOMERS * EVENTS_EACH and not full.sampled
    budget_mb = math.ceil((full.fixed_bytes + full.units * EVENT_BYTES / 2) / MB)
    plan = ranker_plan(budget_mb=budget_mb)
    assert 0.4 < plan.share < 0.9

    # when the command trains under it
    out = io.StringIO()
    call_command("train_ranker", "--feature-set", "statistical", memory_budget_mb=budget_mb, stdout=out)

    # then it says it samples, by which rule, and reports its peak
    text = out.getvalue()
    assert f"sampling {plan.share:.1%} of the events (seed 42)" in text
    assert "sample: a customer is kept, with all their events, when abs(hashint8extended(customer pk, 42))" in text
    assert "peak memory" in text
    # and the version was trained on exactly the lists of that share of the customers
    sampled, _ = interactions_load(customer_share=plan.share)
    assert 0 < sampled.n_users < CUSTOMERS
    expected = training_data_build(interactions=sampled, catalog=catalog_load(), memory_budget=plan.budget_bytes)
    ranker = RankerModel.objects.get()
    assert {key: ranker.data_windows[key] for key in COUNTS} == {key: expected.windows[key] for key in COUNTS}
    # and it keeps the sample beside the per-round rule
    assert ranker.data_windows["customer_share"] == round(plan.share, 6)
    assert ranker.data_windows["customer_sample"].endswith(f"< {round(plan.share * 10_000)}")
    assert ranker.data_windows["sample_rule"] == expected.windows["sample_rule"]


def test_under_its_fixed_part_train_ranker_refuses_and_stores_nothing(events_2k):
    with pytest.raises(
        CommandError, match="train_ranker: needs about .* MB before any of its events .* raise RANKER_MEMORY_BUDGET_MB"
    ):
        call_command("train_ranker", "--feature-set", "statistical", memory_budget_mb=1, stdout=io.StringIO())
    # the task's path (no plan handed in) refuses at the setting too
    with override_settings(RANKER_MEMORY_BUDGET_MB=1), pytest.raises(MemoryBudgetError, match="train_ranker"):
        ranker_train(feature_set="statistical")
    assert not RankerModel.objects.exists()


def test_within_its_budget_training_loads_every_customer_and_fits_what_it_did_before(db):
    # given the ranking shop, well within the configured budget
    ranking_shop()
    assert not ranker_plan().sampled

    # when a version is trained
    ranker = ranker_train(feature_set="statistical")

    # then it is the model fitted on every event, as before the plan existed
    interactions, _ = interactions_load()
    data = training_data_build(interactions=interactions, catalog=catalog_load())
    assert ranker.artifact == ranker_fit(data=data, feature_set="statistical").model
    assert (ranker.data_windows["customer_share"], ranker.data_windows["customer_sample"]) == (1.0, "all customers")


def test_a_million_embedded_products_do_not_fit_the_default_budget_whatever_the_sample():
    # the float32 matrix held (1.5 GB at 384 dims) and the float64 copy the semantic route multiplies with
    assert items_bytes(n_items=1_000_000, dimension=384) > 1_000_000 * 384 * 12
    assert items_bytes(n_items=1_000_000, dimension=384) > 2_048 * MB
    # a catalog of a few thousand products leaves room for its events
    assert items_bytes(n_items=4_000, dimension=384) < 512 * MB
