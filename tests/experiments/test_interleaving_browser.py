"""The interleaving results page in headless Chromium at 1400 px, with a screenshot for people to look at."""

from __future__ import annotations

from django.utils import timezone

from tests.browser import BROWSER_TEST, role_login, screenshot
from tests.experiments.traffic import interleaving_case

pytestmark = BROWSER_TEST


def test_interleaving_results_page_shows_preferences_test_and_verdict_above_the_fold(
    page, live_server, django_user_model
):
    # given an interleaving experiment where 48 customers prefer the challenger and 12 the control
    experiment = interleaving_case(now=timezone.now())
    # when an operator opens its results page at 1400 x 900
    role_login(page, live_server, django_user_model, group="Operators")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/results/")
    page.wait_for_selector("#decision")
    screenshot(page, "experiment_interleaving_results.png")
    # then the preference counts, the bar, the test and the verdict are above the fold
    for selector in ("#preference", "#preference-bar", "#decision", "#verdict", "#sample-size"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, selector
    decision, side = page.locator("#decision").bounding_box(), page.locator("#sample-size").bounding_box()
    assert decision["x"] + decision["width"] <= side["x"], "the decision table runs into the side column"
    assert page.inner_text("#verdict") == "challenger wins"
    assert (page.inner_text("#wins-a"), page.inner_text("#ties"), page.inner_text("#wins-b")) == ("12", "5", "48")
    assert page.inner_text("#share") == "80.0% [67.7%, 89.2%]"
    assert page.locator("#preference-bar span").count() == 3
    # and the merged lists show each item's team, and nothing overflows the width
    assert page.locator("#sample-lists .team-b").count() >= 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
