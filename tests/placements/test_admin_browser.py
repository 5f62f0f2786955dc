"""Default strategies in headless Chromium: a rollout started from the form and raised."""

from __future__ import annotations

import json

from placements.defaults import default_strategies_forget, default_strategy_save
from placements.models import DefaultStrategy
from tests.browser import BROWSER_TEST, role_login, screenshot

pytestmark = BROWSER_TEST


def test_an_operator_starts_a_rollout_and_raises_it(page, live_server, django_user_model):
    default_strategies_forget()
    default_strategy_save(placement="home_feed", config={"routes": {"itemcf": 1.0, "popularity": 0.1}}, note="launch")
    role_login(page, live_server, django_user_model, group="Operators")

    page.goto(f"{live_server.url}/admin/placements/defaultstrategy/add/")
    page.select_option("#id_placement", "home_feed")
    page.fill("#id_config", json.dumps({"routes": {"itemcf": 1.0, "cf": 1.0, "semantic": 0.5}, "ranker": "fused"}))
    page.fill("#id_share", "10")
    page.fill("#id_note", "collaborative route, carefully")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    rolling = DefaultStrategy.objects.get(version=2)
    page.goto(f"{live_server.url}/admin/placements/defaultstrategy/{rolling.pk}/change/")
    page.fill("#rollout-share", "50")
    page.click("#rollout-set")
    page.wait_for_selector(".messagelist")
    screenshot(page, "default_strategy_rollout.png")

    assert "it now serves 50% of customers" in page.inner_text(".messagelist")
    assert page.locator("#rollout tbody tr").count() == 2
    page.goto(f"{live_server.url}/admin/placements/defaultstrategy/")
    screenshot(page, "default_strategies_rolling.png")
    assert "rolling out: 50% of customers" in page.inner_text("#result_list")
    assert "serving the other 50%" in page.inner_text("#result_list")
