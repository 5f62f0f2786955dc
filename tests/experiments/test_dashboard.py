"""The experiment results page in the admin: variant table, SRM banner, chart, sample lists."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from experiments.models import Experiment, Exposure
from experiments.snapshots import experiment_snapshots_build
from experiments.tasks import build_experiment_snapshots
from tests.experiments.traffic import traffic_generate
from tests.factories import ProductFactory, make_experiment

pytestmark = pytest.mark.django_db

START = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=3)


@pytest.fixture
def running() -> Experiment:
    """1,000 customers over 4 days; treatment clicks 12% of its lists, control 6%."""
    ProductFactory(external_id="P1")
    experiment = make_experiment(key="feed", hypothesis="fused routes beat popularity")
    Experiment.objects.filter(pk=experiment.pk).update(started_at=START)
    traffic_generate(
        experiment=experiment, customers=1000, days=4, start=START, ctr={"control": 0.06, "treatment": 0.12}
    )
    experiment_snapshots_build(experiment_id=experiment.pk)
    return experiment


def results_url(experiment: Experiment) -> str:
    return f"/admin/experiments/experiment/{experiment.pk}/results/"


def test_results_page_shows_variants_lift_health_chart_and_samples(
    admin_client, running, django_assert_max_num_queries
):
    # when the operator opens the results page (a fixed number of queries, whatever the traffic)
    with django_assert_max_num_queries(12):
        response = admin_client.get(results_url(running))
    html = response.content.decode()
    dashboard = response.context["dashboard"]
    # then both arms are listed with their customers, the treatment's lift is significant
    assert response.status_code == 200
    rows = {row.key: row for row in dashboard.rows}
    assert rows["control"].customers + rows["treatment"].customers == 1000
    assert rows["control"].exposures + rows["treatment"].exposures == 4000
    assert rows["treatment"].significant is True and rows["treatment"].lift.startswith("+")
    assert rows["control"].lift == "–"
    # and the split is healthy, the chart draws one line per variant over the four days
    assert 'id="srm-banner"' in html and "Sample ratio OK." in html
    metric_chart = html[html.index('class="experiment-chart"') :]
    assert metric_chart[: metric_chart.index("</svg>")].count('<polyline class="series"') == 2
    assert metric_chart[: metric_chart.index("</svg>")].count("<circle") == 8
    # and above the fold: the primary metric's verdict is a win, with the rule that decided it
    primary = dashboard.verdicts[0]
    assert (primary.metric, primary.variant, primary.verdict) == ("CTR", "treatment", "win")
    assert primary.rule.startswith("always-valid p = ") and primary.rule.endswith("< 0.05 and the 95% CI excludes 0")
    assert [v.metric for v in dashboard.verdicts] == [
        "CTR",
        "Add-to-cart rate",
        "Conversion rate",
        "Revenue / customer",
    ]
    # and the lift chart draws one green bar (a win) for CTR, the lift over time one band over the four days
    assert 'class="lift-bar" data-verdict="win"' in html
    lift_over_time = html[html.index('class="lift-over-time-chart"') :]
    assert lift_over_time[: lift_over_time.index("</svg>")].count('<polygon class="band"') == 1
    # and the sample size: 500 customers an arm, fewer needed for the observed doubling than for a 10% lift
    (size,) = dashboard.sample_sizes
    assert 400 < size.customers <= 600
    assert int(size.needed_observed.replace(",", "")) < size.customers < int(size.needed_minimum.replace(",", ""))
    assert 0 < size.progress < 100
    # and the snapshot's age, just built, with a refresh button
    assert dashboard.snapshot_age.startswith("Snapshot computed 0 min ago") and not dashboard.snapshot_stale
    assert 'id="refresh-snapshot"' in html
    # and five sample lists per variant are shown
    assert [s.variant for s in dashboard.samples] == ["control"] * 5 + ["treatment"] * 5


def test_refresh_queues_the_snapshot_task_and_says_so(admin_client, running, monkeypatch):
    queued = []
    monkeypatch.setattr(build_experiment_snapshots, "delay", lambda: queued.append(True))
    # a GET changes nothing
    assert admin_client.get(results_url(running) + "refresh/").status_code == 405
    assert queued == []
    # when the operator presses refresh; then the task is queued and the page says so
    response = admin_client.post(results_url(running) + "refresh/", follow=True)
    assert queued == [True]
    assert response.redirect_chain[-1][0] == results_url(running)
    assert "Snapshot refresh queued" in response.content.decode()


def test_a_skewed_split_raises_the_srm_banner(admin_client, running):
    # given treatment exposures lost for a third of the treatment customers (a logging bug)
    treatment = running.variants.get(key="treatment")
    lost = list(
        Exposure.objects.filter(variant=treatment).values_list("customer_external_id", flat=True).distinct()[:170]
    )
    Exposure.objects.filter(variant=treatment, customer_external_id__in=lost).delete()
    experiment_snapshots_build(experiment_id=running.pk)
    # when the page is opened; then the banner says not to trust the results
    html = admin_client.get(results_url(running)).content.decode()
    assert "Sample-ratio mismatch" in html and "srm-flagged" in html


def test_results_page_before_any_traffic_and_for_an_unknown_experiment(admin_client):
    experiment = make_experiment(key="fresh")
    response = admin_client.get(results_url(experiment))
    assert response.status_code == 200
    assert "No exposures yet." in response.content.decode()
    assert "(no daily snapshot yet)" in response.context["dashboard"].as_of
    assert admin_client.get("/admin/experiments/experiment/999999/results/").status_code == 404


def test_experiment_list_links_to_results(admin_client):
    experiment = make_experiment(key="linked")
    html = admin_client.get("/admin/experiments/experiment/").content.decode()
    assert f'href="/admin/experiments/experiment/{experiment.pk}/results/"' in html
    assert "no data yet" in html


def test_experiment_list_shows_health_from_the_latest_snapshot(admin_client, running):
    # given the running experiment's snapshots built (fixture); then the list shows a healthy split
    running.refresh_from_db()
    assert running.exposed_customers == 1000
    html = admin_client.get("/admin/experiments/experiment/").content.decode()
    assert f"split OK (p={running.srm_p_value:.3g}), 1,000 customers by" in html
    # and after a third of the treatment's exposures go missing, a mismatch
    treatment = running.variants.get(key="treatment")
    lost = list(
        Exposure.objects.filter(variant=treatment).values_list("customer_external_id", flat=True).distinct()[:170]
    )
    Exposure.objects.filter(variant=treatment, customer_external_id__in=lost).delete()
    experiment_snapshots_build(experiment_id=running.pk)
    assert "SAMPLE-RATIO MISMATCH" in admin_client.get("/admin/experiments/experiment/").content.decode()
