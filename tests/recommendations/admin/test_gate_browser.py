"""The offline gate in headless Chromium: *Evaluate* on a default-strategy version, then the run's
page with the version's numbers beside the serving default's."""

from __future__ import annotations

import pytest

from placements.public import default_strategies_forget, default_strategy_save
from recommendations.evaluation.gate import DEFAULT, STRATEGY
from recommendations.models import EvaluationRun
from recsite.celery import app as celery_app
from tests.browser import BROWSER_TEST, admin_login, screenshot
from tests.recommendations.ranking_shop import ranking_shop

pytestmark = BROWSER_TEST


@pytest.fixture(autouse=True)
def eager_tasks():
    default_strategies_forget()
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False
    default_strategies_forget()


def test_evaluate_a_version_and_read_it_beside_the_serving_default(page, live_server, django_user_model):
    # given a shop, an item-CF version and popularity serving now
    ranking_shop()
    older = default_strategy_save(placement="home_feed", config={"routes": {"itemcf": 1.0}}, note="item-CF only")
    default_strategy_save(placement="home_feed", config={"routes": {"popularity": 1.0}}, note="popularity only")
    admin_login(page, live_server, django_user_model)

    # when the operator evaluates the older version from the list
    page.goto(f"{live_server.url}/admin/placements/defaultstrategy/")
    page.check(f"input[name=_selected_action][value='{older.pk}']")
    page.select_option("select[name=action]", "evaluate_default_versions")
    page.click("button[name=index]")
    assert "Evaluating home_feed@v1 offline against the serving default" in page.inner_text(".messagelist")
    screenshot(page, "admin_gate_queued.png")

    # then the message's link lists the run, and its page shows both strategies and the difference
    page.click(".messagelist a")
    run = EvaluationRun.objects.get()
    assert "home_feed@v1 vs home_feed@v2: NDCG@10" in page.inner_text("#result_list")
    page.goto(f"{live_server.url}/admin/recommendations/evaluationrun/{run.pk}/change/")
    screenshot(page, "admin_gate_result.png")
    table = page.inner_text("table.gate-comparison")
    mine, theirs = run.strategies[STRATEGY]["ndcg@10"], run.strategies[DEFAULT]["ndcg@10"]
    # (the admin's stylesheet writes table headers in capitals)
    assert "home_feed@v1 (evaluated)" in table.lower() and "home_feed@v2 (serving default)" in table.lower()
    assert f"NDCG@10\t{mine:.4f}\t{theirs:.4f}\t{mine - theirs:+.4f}" in table
