"""The experiment results page in headless Chromium, with a screenshot for people to look at."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from experiments.breaches import experiments_guardrails_enforce
from experiments.models import Experiment
from experiments.snapshots import experiment_snapshots_build, experiments_snapshots_refresh
from tests.browser import BROWSER_TEST, admin_login, screenshot
from tests.experiments.traffic import experiment_with_conversion_harm, traffic_generate
from tests.factories import ProductFactory, make_experiment

pytestmark = BROWSER_TEST


def test_results_page_renders_table_banner_and_chart(page, live_server, django_user_model):
    # given an experiment with 2,000 customers over 5 days, treatment clicking twice as often
    from experiments.serving import running_experiments_forget

    running_experiments_forget()
    ProductFactory(external_id="P1")
    experiment = make_experiment(key="fused-vs-popularity", hypothesis="Fused recall raises click-through")
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=4)
    Experiment.objects.filter(pk=experiment.pk).update(started_at=start)
    traffic_generate(
        experiment=experiment, customers=2000, days=5, start=start, ctr={"control": 0.05, "treatment": 0.1}
    )
    experiment_snapshots_build(experiment_id=experiment.pk)
    # when an operator logs in and opens the results page
    admin_login(page, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/results/")
    page.wait_for_selector("#variant-table")
    screenshot(page, "experiment_results.png")
    # then the table lists both arms, the banner says the split is healthy, and the chart is drawn
    assert page.locator("#variant-table tbody tr").count() == 2
    assert "Sample ratio OK." in page.inner_text("#srm-banner")
    chart = page.locator("svg.experiment-chart")
    assert chart.locator("polyline.series").count() == 2
    assert chart.bounding_box()["width"] > 600


def test_results_page_shows_the_guardrail_breach_and_the_chance_to_beat_control(page, live_server, django_user_model):
    # given a guarded experiment whose treatment converts far less, paused by the snapshot task
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=2)
    experiment = experiment_with_conversion_harm(start=start, stop=True)
    experiments_snapshots_refresh()
    experiments_guardrails_enforce()
    # when an operator opens the results page
    admin_login(page, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/results/")
    page.wait_for_selector("#guardrail-table")
    screenshot(page, "experiment_guardrails.png", full_page=True)
    # then the banner says what was found and done
    banner = page.inner_text("#guardrail-banner")
    assert banner.startswith("Guardrail breached: Conversion rate of treatment -")
    assert banner.endswith("— the experiment was paused.")
    # and the guardrail table has one row per guarded metric, conversion breached
    rows = page.locator("#guardrail-table tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").first.inner_text() == "Conversion rate"
    assert rows.nth(0).locator("td.verdict").inner_text() == "BREACHED"
    assert page.locator("#guardrail-table tr.breached").count() >= 1
    # and the treatment's chance to beat control: CTR clearly ahead, conversion clearly behind
    chances = page.locator("#chance-table tbody tr").nth(0).locator("td").all_inner_texts()
    assert chances[0] == "treatment"
    assert chances[1] == "> 99.9%"
    assert chances[3] == "< 0.1%"
    assert "Beta(1, 1) (uniform) prior" in page.inner_text(".experiment-results")
    # and at 1400 px the tables fit the page (no horizontal scrolling)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
