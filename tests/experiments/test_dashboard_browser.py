"""The experiment results page in headless Chromium, with a screenshot for people to look at."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from experiments.models import Experiment
from experiments.snapshots import experiment_snapshots_build
from tests.experiments.traffic import traffic_generate
from tests.factories import ProductFactory, make_experiment

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page(live_server) -> Iterator:
    # Playwright's sync API runs an event loop in this thread; the ORM calls between page
    # actions are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


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
    django_user_model.objects.create_superuser("ops", "ops@example.com", "s3cret-pass")
    # when an operator logs in and opens the results page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto(f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/results/")
    page.wait_for_selector("#variant-table")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "experiment_results.png"), full_page=True)
    # then the table lists both arms, the banner says the split is healthy, and the chart is drawn
    assert page.locator("#variant-table tbody tr").count() == 2
    assert "Sample ratio OK." in page.inner_text("#srm-banner")
    chart = page.locator("svg.experiment-chart")
    assert chart.locator("polyline.series").count() == 2
    assert chart.bounding_box()["width"] > 600
