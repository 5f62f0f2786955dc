"""The experiment results page in headless Chromium, with a screenshot for people to look at."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from experiments.breaches import experiments_guardrails_enforce
from experiments.models import Experiment
from experiments.snapshots import experiment_snapshots_build, experiments_snapshots_refresh
from experiments.tasks import build_experiment_snapshots
from tests.browser import BROWSER_TEST, role_login, screenshot
from tests.experiments.traffic import experiment_with_conversion_harm, traffic_generate
from tests.factories import ProductFactory, make_experiment

pytestmark = BROWSER_TEST


def test_results_page_renders_table_banner_and_chart(page, live_server, django_user_model, monkeypatch):
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
    role_login(page, live_server, django_user_model, group="Operators")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/results/")
    page.wait_for_selector("#verdicts")
    screenshot(page, "experiment_results_fold.png", full_page=False)
    # then above the fold (1400 x 900): the verdict with its rule, the lift chart, the split, guardrails,
    # the sample size and the snapshot's age with a refresh button
    for selector in (
        "#verdicts",
        "#lift-chart svg",
        "#srm-pill",
        "#guardrail-pill",
        "#sample-size",
        "#refresh-snapshot",
    ):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, selector
    primary = page.locator("#verdicts tbody tr").first.locator("td").all_inner_texts()
    assert primary[:3] == ["CTR (primary)", "treatment", "win"]
    assert "always-valid p" in page.inner_text("#verdicts")
    assert page.locator("#lift-chart g.lift-bar[data-verdict=win]").count() == 1
    assert page.inner_text("#srm-pill") == "Sample ratio OK"
    assert page.inner_text("#snapshot-age").startswith("Snapshot computed")
    # and the full table is collapsed; opened, it lists both arms and fits the width
    assert not page.locator("#variant-table").is_visible()
    page.click("#full-table summary")
    assert page.locator("#variant-table tbody tr").count() == 2
    assert "Sample ratio OK." in page.inner_text("#srm-banner")
    table = page.locator("#variant-table").bounding_box()
    assert table["x"] + table["width"] <= 1400
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    screenshot(page, "experiment_results.png")
    # and refresh queues the snapshot task (recorded here: no worker) and says so
    queued = []
    monkeypatch.setattr(build_experiment_snapshots, "delay", lambda: queued.append(True))
    page.click("#refresh-snapshot")
    page.wait_for_selector(".messagelist")
    assert "Snapshot refresh queued" in page.inner_text(".messagelist")
    assert queued == [True]
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
    role_login(page, live_server, django_user_model, group="Operators")
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
