"""Shipping a variant from the results page in headless Chromium: the placement's default changes."""

from __future__ import annotations

from placements.defaults import default_strategies_forget, default_strategy
from tests.browser import BROWSER_TEST, role_login, screenshot
from tests.factories import make_experiment

pytestmark = BROWSER_TEST


def test_an_operator_ships_the_treatment_and_sees_the_new_default(page, live_server, django_user_model):
    default_strategies_forget()
    experiment = make_experiment(key="fused-vs-popularity")
    role_login(page, live_server, django_user_model, group="Operators")
    page.goto(f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/results/")
    page.wait_for_selector("#ship")
    screenshot(page, "experiment_ship.png")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#ship-treatment")
    page.wait_for_selector("#result_list")
    screenshot(page, "default_strategies.png")

    assert "home feed now serves this strategy by default (v1)" in page.inner_text(".messagelist")
    assert "itemcf 1, semantic 0.5, popularity 0.1" in page.inner_text("#result_list")
    default_strategies_forget()
    assert default_strategy("home_feed").name == "home_feed@v1"
