"""The experiment results page in headless Chromium, with a screenshot for people to look at."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from experiments.models import Experiment
from experiments.snapshots import experiment_snapshots_build
from tests.browser import BROWSER_TEST, admin_login, screenshot
from tests.experiments.traffic import traffic_generate
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
