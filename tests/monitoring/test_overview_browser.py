"""The overview page in headless Chromium, as an operator would open it from the admin index."""

from __future__ import annotations

from monitoring import overview as overview_module
from tests.browser import BROWSER_TEST, role_login, screenshot
from tests.monitoring.overview_data import overview_data

pytestmark = BROWSER_TEST


def test_overview_answers_at_a_glance_and_fits_1400px(page, live_server, django_user_model, monkeypatch):
    # given a shop with traffic, a running experiment, open bad cases, drift, and a worker answering
    overview_data()
    monkeypatch.setattr(overview_module, "workers_ping", lambda: ["celery@demo"])
    monkeypatch.setattr(overview_module, "queue_lengths", lambda: {"default": 0, "gpu": 0})
    # when an operator opens the admin index and follows the overview link
    role_login(page, live_server, django_user_model, group="Operators")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.click("#overview-link caption a")
    page.wait_for_selector("#overview-cards")
    screenshot(page, "overview_fold.png", full_page=False)
    screenshot(page, "overview.png")
    # then the five boxes are above the fold, the drift box red, each linking to its page
    cards = page.locator(".overview-card")
    assert cards.count() == 5
    for i in range(5):
        box = cards.nth(i).bounding_box()
        assert box["y"] + box["height"] <= 900
    assert "bad" in page.locator(".overview-card[data-title=Drift]").get_attribute("class")
    assert page.inner_text(".overview-card[data-title='Bad cases'] .status") == "3 open"
    # and the three charts draw one line per placement
    for chart in ("#traffic-chart", "#ctr-chart", "#conversion-chart"):
        assert page.locator(f"{chart} polyline.series").count() == 2
    # and nothing scrolls sideways at 1400 px
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    # and the experiments box leads to the running experiments
    page.click(".overview-card[data-title=Experiments] h2 a")
    page.wait_for_selector("#result_list")
    assert "fused-feed" in page.inner_text("#result_list")
