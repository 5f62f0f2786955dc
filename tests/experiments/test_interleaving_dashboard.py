"""The interleaving results service and page on a constructed case: preferences per customer from
clicks credited to each variant's items, the sign test, its interval and the decision."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
from django.utils import timezone

from catalog.models import EventType
from experiments import serving
from experiments.interleaving_dashboard import interleaving_dashboard
from experiments.models import Kind
from experiments.services import experiment_launch
from experiments.snapshots import experiments_snapshots_refresh
from tests.factories import CustomerFactory, EventFactory, ExperimentFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def interleaving_experiment(key: str = "inter", launch: bool = True):
    experiment = ExperimentFactory(key=key, kind=Kind.INTERLEAVING)
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(experiment=experiment, key="challenger", config={"routes": {"popularity": 1}, "rules": False})
    return experiment_launch(experiment_id=experiment.pk) if launch else experiment


def serve(customer: str, *, teams: list[str], at: dt.datetime) -> uuid.UUID:
    """Log one merged list of P0.. with the given teams; returns its id."""
    assignment = serving.experiment_assign(placement="home_feed", customer_id=customer)
    rec_id = uuid.uuid4()
    serving.exposure_log(
        assignment=assignment,
        recommendation_id=rec_id,
        customer_id=customer,
        placement="home_feed",
        product_ids=[f"P{i}" for i in range(len(teams))],
        teams=teams,
        served_at=at,
    )
    return rec_id


def click(customer, product: str, rec_id: uuid.UUID, at: dt.datetime) -> None:
    EventFactory(
        customer=customer, product=PRODUCTS[product], type=EventType.CLICK, recommendation_id=rec_id, timestamp=at
    )


PRODUCTS: dict = {}
TEAMS = ["control", "challenger", "control", "challenger"]  # P0, P2: control's; P1, P3: challenger's


@pytest.fixture
def constructed_case():
    """70 customers: 48 prefer the challenger (one of them over two lists), 12 the control, 5 tie,
    5 do not click; plus clicks that must not count (after `now`, on an item not in the list)."""
    PRODUCTS.clear()
    PRODUCTS.update({f"P{i}": ProductFactory(external_id=f"P{i}") for i in range(5)})
    experiment = interleaving_experiment()
    at = NOW - dt.timedelta(hours=1)
    for n in range(70):
        customer = CustomerFactory(external_id=f"C{n}")
        rec_id = serve(customer.external_id, teams=TEAMS, at=at)
        if n < 47:
            click(customer, "P1", rec_id, at)
        elif n == 47:
            # control credited in the first list, the challenger twice in a second: prefers the challenger
            click(customer, "P0", rec_id, at)
            second = serve(customer.external_id, teams=TEAMS, at=at)
            click(customer, "P1", second, at)
            click(customer, "P3", second, at)
        elif n < 60:
            click(customer, "P2", rec_id, at)
            # not credited: P4 is not in the list; a click after `now` is not counted yet
            click(customer, "P4", rec_id, at)
            click(customer, "P1", rec_id, NOW + dt.timedelta(hours=1))
        elif n < 65:
            click(customer, "P0", rec_id, at)
            click(customer, "P3", rec_id, at)
    return experiment


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
