"""simulate_traffic: real API sessions that click what customers really bought later."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import ApiKey
from catalog.models import Event, EventType, ItemPopularity
from experiments.models import Exposure, Kind
from experiments.services import experiment_launch
from experiments.simulation import HeldOut, customers_sample, holdout_read
from recommendations.recall import popularity
from recommendations.recall.itemcf import itemcf_neighbors_rebuild
from tests.factories import CustomerFactory, EventFactory, ExperimentFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

SHOPPERS = 30


@pytest.fixture
def shop(tmp_path):
    """Everyone bought p1 before the cutoff; earlier shoppers bought p1 with p5, so item-CF links
    them; p5 is the least popular item. After the cutoff every shopper bought p5 (the holdout)."""
    popularity._cache.clear()
    products = {f"p{i}": ProductFactory(external_id=f"p{i}", title=f"Item {i}") for i in range(1, 7)}
    ItemPopularity.objects.bulk_create(
        ItemPopularity(product=products[pid], score=score, computed_at=timezone.now())
        for pid, score in [("p2", 9.0), ("p3", 8.0), ("p4", 7.0), ("p6", 6.0), ("p1", 5.0), ("p5", 1.0)]
    )
    shoppers = [CustomerFactory(external_id=f"c{i}") for i in range(SHOPPERS)]
    for customer in shoppers:
        EventFactory(customer=customer, product=products["p1"])
    for j in range(5):
        earlier = CustomerFactory(external_id=f"early{j}")
        EventFactory(customer=earlier, product=products["p1"])
        EventFactory(customer=earlier, product=products["p5"])
    itemcf_neighbors_rebuild()
    holdout = tmp_path / "holdout.jsonl"
    rows = [
        {"customer": c.external_id, "product": "p5", "type": "purchase", "timestamp": "2030-01-01T00:00:00", "value": 4}
        for c in shoppers
    ]
    rows.append({"customer": "c0", "product": "p9", "type": "view", "timestamp": "2030-01-01T00:00:00"})
    holdout.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    yield holdout
    popularity._cache.clear()


def launch_experiment(key: str = "itemcf-vs-popular"):
    # control: the two most popular items; treatment: item-CF, which finds p5 from p1
    experiment = ExperimentFactory(key=key, placement="home_feed")
    VariantFactory(experiment=experiment, key="control", is_control=True, config={"routes": {"popularity": 1}, "k": 2})
    VariantFactory(experiment=experiment, key="treatment", config={"routes": {"itemcf": 1}, "k": 2})
    return experiment_launch(experiment_id=experiment.pk)


def test_holdout_read_keeps_positive_events_and_counts_the_rest(shop):
    held_out = holdout_read(path=str(shop))

    assert held_out.purchases["c3"] == {"p5": 4.0}
    assert "p9" not in held_out.purchases["c0"]
    assert (held_out.rows_read, held_out.rows_skipped) == (SHOPPERS + 2, 2)


def test_customers_sample_is_seeded_and_needs_a_history():
    held_out = HeldOut(purchases={"a": {"x": 1.0}, "b": {"x": 1.0}, "c": {"x": 1.0}}, rows_read=3, rows_skipped=0)

    first = customers_sample(held_out=held_out, known=["a", "b", "z"], n=5, seed=3)

    assert sorted(first) == ["a", "b"]
    assert customers_sample(held_out=held_out, known=["a", "b", "z"], n=5, seed=3) == first


def test_the_strategy_that_finds_what_customers_bought_wins_for_a_real_reason(shop, tmp_path):
    # given a running experiment and held-out purchases of p5
    experiment = launch_experiment()
    out = tmp_path / "sim.json"

    # when the simulator drives the real API in-process
    call_command("simulate_traffic", experiment=experiment.key, holdout=shop, customers=SHOPPERS, json=out)

    # then every shopper saw one list, logged as an exposure of their variant
    exposures = Exposure.objects.filter(experiment=experiment)
    assert exposures.count() == SHOPPERS
    treated = set(exposures.filter(variant__key="treatment").values_list("customer_external_id", flat=True))
    assert 0 < len(treated) < SHOPPERS
    # only item-CF surfaced p5, so only the treatment's customers clicked and bought it
    clicks = Event.objects.filter(type=EventType.CLICK, recommendation_id__isnull=False)
    assert set(clicks.values_list("customer__external_id", flat=True)) == treated
    assert Event.objects.filter(type=EventType.PURCHASE, recommendation_id__isnull=False).count() == len(treated)
    report = json.loads(out.read_text())
    assert report["report"]["variants"]["treatment"]["clicks"] == len(treated)
    assert report["report"]["variants"]["control"]["clicks"] == 0
    assert {row["variant"] for row in report["results"]} == {"control", "treatment"}
    # the in-process run's temporary key is revoked
    assert not ApiKey.objects.filter(revoked=False).exists()


def test_simulate_traffic_refuses_an_experiment_that_is_not_running(shop):
    ExperimentFactory(key="draft-one", placement="home_feed")

    with pytest.raises(CommandError, match="launch it first"):
        call_command("simulate_traffic", experiment="draft-one", holdout=shop)
    with pytest.raises(CommandError, match="no experiment"):
        call_command("simulate_traffic", experiment="nope", holdout=shop)


def test_simulated_traffic_on_an_interleaving_experiment_credits_the_strategy_that_found_the_purchase(shop, tmp_path):
    # given the same two strategies as an interleaving experiment
    experiment = ExperimentFactory(key="itemcf-vs-popular-interleaved", placement="home_feed", kind=Kind.INTERLEAVING)
    VariantFactory(experiment=experiment, key="control", is_control=True, config={"routes": {"popularity": 1}, "k": 2})
    VariantFactory(experiment=experiment, key="treatment", config={"routes": {"itemcf": 1}, "k": 2})
    experiment_launch(experiment_id=experiment.pk)
    out = tmp_path / "sim.json"
    # when the simulator drives the real API
    call_command("simulate_traffic", experiment=experiment.key, holdout=shop, customers=SHOPPERS, json=out)
    # then every shopper got one merged list, and each click on p5 (item-CF's pick) was credited to the treatment
    assert Exposure.objects.filter(experiment=experiment, variant__isnull=True).count() == SHOPPERS
    results = json.loads(out.read_text())["results"]
    assert results["preferring"] == {"control": 0, "treatment": SHOPPERS, "tie": 0}
    assert results["clicks"] == {"control": 0, "treatment": SHOPPERS}
    assert results["verdict"] == "treatment"
