"""The recommendation endpoints serve the assigned variant's strategy, name it, and log exposures."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import ItemPopularity
from experiments.assignment import assign
from experiments.models import Exposure
from experiments.services import experiment_launch
from recommendations.recall import popularity
from tests.factories import ExperimentFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

RECOMMENDATIONS = "/api/v1/recommendations/"
WEIGHTS = [("control", 1.0), ("treatment", 1.0)]


@pytest.fixture(autouse=True)
def popular_catalog():
    """Five products, popularity p1 > p2 > … > p5."""
    popularity._cache.clear()
    products = [ProductFactory(external_id=f"p{i}", title=f"Item {i}") for i in range(1, 6)]
    ItemPopularity.objects.bulk_create(
        ItemPopularity(product=p, score=10.0 - i, computed_at=timezone.now()) for i, p in enumerate(products)
    )
    yield products
    popularity._cache.clear()


def customer_in(variant: str, *, experiment_key: str = "feed") -> str:
    return next(
        f"C{i}"
        for i in range(1000)
        if assign(experiment_key=experiment_key, salt="salt", customer_id=f"C{i}", traffic_share=1.0, weights=WEIGHTS)
        == variant
    )


def launch(*, placement: str = "home_feed", key: str = "feed") -> None:
    # control serves 2 items, treatment 4: the variant's strategy visibly decides the answer
    experiment = ExperimentFactory(key=key, placement=placement)
    VariantFactory(experiment=experiment, key="control", is_control=True, config={"routes": {"popularity": 1}, "k": 2})
    VariantFactory(experiment=experiment, key="treatment", config={"routes": {"popularity": 1}, "k": 4})
    experiment_launch(experiment_id=experiment.pk)


def test_home_feed_serves_the_variant_and_logs_one_exposure_after_the_response(storefront_client):
    # given a running home-feed experiment and a customer in its treatment arm
    launch()
    customer = customer_in("treatment")
    # when the storefront asks for the feed
    with CaptureQueriesContext(connection) as queries:
        response = storefront_client.get(RECOMMENDATIONS, {"customer": customer, "k": 10})
    # then the list follows the treatment's strategy and names the arm
    body = response.json()
    assert response.status_code == 200
    assert (body["experiment"], body["variant"], body["strategy"]) == ("feed", "treatment", "feed/treatment")
    assert [item["id"] for item in body["items"]] == ["p1", "p2", "p3", "p4"]
    # and one exposure was written, in a single INSERT, after the response (with the served list)
    exposure = Exposure.objects.get()
    assert str(exposure.recommendation_id) == body["recommendation_id"]
    assert (exposure.variant.key, exposure.customer_external_id, exposure.placement) == (
        "treatment",
        customer,
        "home_feed",
    )
    assert exposure.items == [{"id": f"p{i}", "position": i} for i in range(1, 5)]
    inserts = [q["sql"] for q in queries.captured_queries if "experiments_exposure" in q["sql"]]
    assert len(inserts) == 1 and inserts[0].startswith("INSERT")
    after_response = [q["sql"].split(" (")[0] for q in queries.captured_queries[-2:]]
    assert sorted(after_response) == ["INSERT INTO experiments_exposure", "INSERT INTO recommendations_servedlist"]


def test_control_customers_get_the_control_strategy(storefront_client):
    launch()
    body = storefront_client.get(RECOMMENDATIONS, {"customer": customer_in("control")}).json()
    assert (body["variant"], len(body["items"])) == ("control", 2)


def test_without_a_running_experiment_the_answer_names_none_and_logs_nothing(storefront_client):
    body = storefront_client.get(RECOMMENDATIONS, {"customer": "C1", "k": 3}).json()
    assert (body["experiment"], body["variant"], body["strategy"]) == (None, None, "fused")
    assert len(body["items"]) == 3
    assert Exposure.objects.count() == 0


def test_similar_items_with_a_customer_is_served_by_its_placement_experiment(storefront_client):
    # given an experiment on the similar-items placement; p1 has no neighbours
    launch(placement="similar_items", key="similar")
    customer = customer_in("control", experiment_key="similar")
    # when asked with and without a customer
    with_customer = storefront_client.get("/api/v1/products/p1/similar/", {"customer": customer}).json()
    anonymous = storefront_client.get("/api/v1/products/p1/similar/").json()
    # then only the identified shopper is in the experiment and exposed
    assert (with_customer["experiment"], with_customer["variant"]) == ("similar", "control")
    assert (anonymous["experiment"], anonymous["variant"]) == (None, None)
    assert list(Exposure.objects.values_list("customer_external_id", "placement")) == [(customer, "similar_items")]


def test_the_variant_strategy_carries_routes_candidates_and_ranker():
    # given a running experiment whose treatment names a ranker and a candidate count
    from recommendations.models import RankerModel
    from recommendations.variants import variant_serving

    RankerModel.objects.create(name="semantic", version=1, feature_set="semantic", artifact="", is_active=True)
    experiment = ExperimentFactory(key="feed")
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(
        experiment=experiment,
        key="treatment",
        config={"routes": {"itemcf": 1, "semantic": 0.5}, "candidates_per_route": 50, "ranker": "semantic"},
    )
    experiment_launch(experiment_id=experiment.pk)
    # when a treatment customer is served
    served = variant_serving(placement="home_feed", customer_id=customer_in("treatment"), k=7)
    # then the strategy is the variant's, and the requested k stands (the variant sets none)
    assert (served.strategy.name, served.strategy.ranker, served.strategy.candidates_per_route) == (
        "feed/treatment",
        "semantic",
        50,
    )
    assert served.strategy.routes == {"itemcf": 1.0, "semantic": 0.5}
    assert served.k == 7
