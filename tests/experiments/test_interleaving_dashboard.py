"""The interleaving results service and page on a constructed case: preferences per customer from
clicks credited to each variant's items, the sign test, its interval and the decision."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.utils import timezone

from experiments.interleaving_dashboard import interleaving_dashboard
from experiments.models import Kind
from experiments.snapshots import experiments_snapshots_refresh
from tests.experiments.traffic import interleaving_case
from tests.factories import ExperimentFactory, VariantFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def constructed_case():
    return interleaving_case(now=NOW)


def test_results_count_preferences_per_customer_and_test_them(constructed_case):
    dashboard = interleaving_dashboard(experiment_id=constructed_case.pk, now=NOW)
    # then every customer and list is counted, clicks credited to the contributing variant
    assert (dashboard.customers, dashboard.lists) == (70, 71)
    assert (dashboard.clicks_a, dashboard.clicks_b) == (1 + 12 + 5, 47 + 2 + 5)
    result = dashboard.result
    assert (result.wins_a, result.wins_b, result.ties, dashboard.no_click) == (12, 48, 5, 5)
    # and the sign test is the exact binomial tail of 48 of 60
    expected_p = 2 * sum(math.comb(60, i) for i in range(13)) / 2**60
    assert result.p_value == pytest.approx(expected_p, rel=1e-9)
    assert dashboard.share_text == "80.0% [67.7%, 89.2%]"
    # and the always-valid reading decides for the challenger
    assert result.p_always_valid == pytest.approx(0.02025, abs=1e-4)
    assert dashboard.outcome == "challenger"
    assert [label for _, label, _ in dashboard.bar()] == ["control 12", "ties 5", "challenger 48"]
    assert dashboard.samples[0].items[:2] == (("P0", "control"), ("P1", "challenger"))


def test_early_results_are_collecting(constructed_case):
    # as of before any list was served: nothing to read yet
    dashboard = interleaving_dashboard(experiment_id=constructed_case.pk, now=NOW - dt.timedelta(days=1))
    assert (dashboard.customers, dashboard.result.decisive, dashboard.outcome) == (0, 0, "collecting")
    assert dashboard.needed > 0 and dashboard.progress == 0


def test_results_page_shows_the_preference_and_the_decision(constructed_case, admin_client):
    response = admin_client.get(f"/admin/experiments/experiment/{constructed_case.pk}/results/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="wins-b">48<' in page and 'id="wins-a">12<' in page
    assert "challenger wins" in page and "80.0% [67.7%, 89.2%]" in page


def test_results_page_of_an_interleaving_draft_without_two_variants_redirects_with_the_reason(admin_client):
    experiment = ExperimentFactory(key="lonely", kind=Kind.INTERLEAVING)
    VariantFactory(experiment=experiment, key="control", is_control=True)
    response = admin_client.get(f"/admin/experiments/experiment/{experiment.pk}/results/", follow=True)
    assert response.status_code == 200
    assert "has 1 variants; interleaving needs two" in response.content.decode()


def test_admin_form_refuses_guardrails_on_an_interleaving_experiment(admin_client):
    data = {
        "key": "inter-guarded",
        "hypothesis": "",
        "placement": "home_feed",
        "kind": "interleaving",
        "layer": "",
        "traffic_share": "1.0",
        "salt": "s",
        "primary_metric": "ctr",
        "guardrail_metrics": ["conversion_rate"],
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post("/admin/experiments/experiment/add/", data)
    assert response.status_code == 200
    assert "no per-variant customers to guard" in response.content.decode()
    data.pop("guardrail_metrics")
    assert admin_client.post("/admin/experiments/experiment/add/", data).status_code == 302


def test_interleaving_experiments_get_no_daily_snapshots(constructed_case):
    assert "inter" not in experiments_snapshots_refresh(now=NOW)


def test_the_experiment_list_points_an_interleaving_experiment_to_its_results(constructed_case, admin_client):
    page = admin_client.get("/admin/experiments/experiment/").content.decode()
    assert "interleaving: preferences on the results page" in page
