"""The product's metrics: what a request, a fallback, an exposure and a click add, and /metrics."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from catalog.models import ItemPopularity
from experiments.serving import running_experiments_forget
from monitoring.models import DriftReference, DriftReport
from placements.public import Strategy
from recommendations.contracts import RecRequest
from recommendations.pipeline import recommend
from recommendations.ranking import stage as rank_serving
from recommendations.recall import popularity
from recsite.metrics import stage_timer
from tests.factories import ExperimentFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(autouse=True)
def popular_catalog():
    popularity._cache.clear()
    rank_serving.reset()
    running_experiments_forget()
    products = [ProductFactory(external_id=f"p{i}", title=f"Item {i}") for i in range(1, 4)]
    ItemPopularity.objects.bulk_create(
        ItemPopularity(product=p, score=10.0 - i, computed_at=timezone.now()) for i, p in enumerate(products)
    )
    yield products
    popularity._cache.clear()
    running_experiments_forget()


def test_a_home_feed_request_times_each_stage_it_runs_and_counts_candidates():
    # given an unknown customer: cold start, popularity only
    before = {
        stage: sample("recsite_stage_latency_seconds_count", stage=stage)
        for stage in ("recall.popularity", "recall.itemcf", "fuse", "rank", "rules")
    }
    candidates_before = sample("recsite_recall_candidates_sum", route="popularity")
    cold_before = sample("recsite_fallbacks_total", stage="recall", reason="cold_start")
    # when
    recommend(request=RecRequest(customer_id="nobody", k=2))
    # then the stages that ran are observed once each, item-CF (not run) not at all
    after = {stage: sample("recsite_stage_latency_seconds_count", stage=stage) for stage in before}
    assert {stage: after[stage] - before[stage] for stage in before} == {
        "recall.popularity": 1,
        "recall.itemcf": 0,
        "fuse": 1,
        "rank": 1,
        "rules": 1,
    }
    assert sample("recsite_recall_candidates_sum", route="popularity") - candidates_before == 3
    assert sample("recsite_fallbacks_total", stage="recall", reason="cold_start") - cold_before == 1


def test_a_missing_ranker_counts_a_rank_fallback():
    before = sample("recsite_fallbacks_total", stage="rank", reason="missing")

    recommend(request=RecRequest(customer_id=None, k=2), strategy=Strategy(ranker="no-such-ranker"))

    assert sample("recsite_fallbacks_total", stage="rank", reason="missing") - before == 1


def test_stage_timer_times_each_call_of_a_decorated_function():
    @stage_timer("rules")
    def rules() -> str:
        return "done"

    before = sample("recsite_stage_latency_seconds_count", stage="rules")

    assert [rules(), rules()] == ["done", "done"]
    assert sample("recsite_stage_latency_seconds_count", stage="rules") - before == 2


def test_exposures_and_new_clicks_are_counted_per_variant(storefront_client):
    # given a running experiment
    from experiments.services import experiment_launch

    experiment = ExperimentFactory(key="metrics-feed", placement="home_feed")
    VariantFactory(experiment=experiment, key="control", is_control=True, config={"routes": {"popularity": 1}})
    VariantFactory(experiment=experiment, key="treatment", config={"routes": {"popularity": 1}})
    experiment_launch(experiment_id=experiment.pk)
    counters = ("recsite_experiment_exposures_total", "recsite_experiment_clicks_total")
    before = {
        (name, variant): sample(name, experiment="metrics-feed", variant=variant)
        for name in counters
        for variant in ("control", "treatment")
    }
    # when a list is served and clicked, and the click is sent twice
    body = storefront_client.get("/api/v1/recommendations/", {"customer": "C1"}).json()
    click = {
        "event_id": f"click-{uuid.uuid4()}",
        "customer": "C1",
        "product": body["items"][0]["id"],
        "type": "click",
        "timestamp": (timezone.now() - dt.timedelta(minutes=1)).isoformat(),
        "recommendation_id": body["recommendation_id"],
    }
    assert storefront_client.post("/api/v1/events/", click, format="json").status_code == 201
    assert storefront_client.post("/api/v1/events/", click, format="json").status_code == 201
    # then the served arm has one exposure and one click (the duplicate is not new), the other none
    served, other = body["variant"], {"control": "treatment", "treatment": "control"}[body["variant"]]
    after = {key: sample(key[0], experiment="metrics-feed", variant=key[1]) for key in before}
    assert {key: after[key] - before[key] for key in before} == {
        ("recsite_experiment_exposures_total", served): 1,
        ("recsite_experiment_clicks_total", served): 1,
        ("recsite_experiment_exposures_total", other): 0,
        ("recsite_experiment_clicks_total", other): 0,
    }


def scrape(client) -> dict[str, list]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {family.name: family.samples for family in text_string_to_metric_families(response.content.decode())}


def test_metrics_exports_django_and_product_metrics_and_the_stored_drift_scores(api_client, storefront_client):
    # given a request served and a stored drift report
    storefront_client.get("/api/v1/recommendations/", {"customer": "C9"})
    reference = DriftReference.objects.create(window_end=timezone.now(), model_name="m")
    DriftReport.objects.create(
        reference=reference,
        signal="customer_item_similarity",
        window_start=timezone.now() - dt.timedelta(days=1),
        window_end=timezone.now(),
        model_name="m",
        psi=0.31,
        ks_statistic=0.2,
        ks_p_value=0.01,
        n_reference=100,
        n_current=100,
        threshold=0.2,
        alert=True,
    )
    # when Prometheus scrapes
    families = scrape(api_client)
    # then
    assert "django_http_requests_latency_seconds_by_view_method" in families
    assert "recsite_stage_latency_seconds" in families
    assert [(s.labels, s.value) for s in families["recsite_drift_psi"]] == [
        ({"signal": "customer_item_similarity"}, 0.31)
    ]
    assert [s.value for s in families["recsite_drift_alert"]] == [1.0]
    assert {s.labels["queue"] for s in families["recsite_celery_queue_length"]} == {"default", "gpu"}


@override_settings(METRICS_TOKEN="s3cret")
def test_metrics_with_a_token_refuses_a_scrape_without_it(api_client):
    refused = api_client.get("/metrics")
    allowed = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert allowed.status_code == 200


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_metrics_without_a_broker_still_answer_without_queue_depth(api_client):
    families = scrape(api_client)

    assert families["recsite_celery_queue_length"] == []
    assert "recsite_stage_latency_seconds" in families


def test_metrics_lists_the_stored_gauges_the_apps_register_then_queue_depth(api_client):
    families = scrape(api_client)

    stored = [
        name for name in families if name.startswith(("recsite_drift", "recsite_placement", "recsite_experiment_srm"))
    ]
    # In the order the apps are ready (INSTALLED_APPS): experiments, then monitoring.
    assert stored == [
        "recsite_experiment_srm_p_value",
        "recsite_drift_psi",
        "recsite_drift_ks_statistic",
        "recsite_drift_alert",
        "recsite_placement_ctr",
        "recsite_placement_bad_case_rate",
    ]
    assert list(families)[-1] == "recsite_celery_queue_length"
