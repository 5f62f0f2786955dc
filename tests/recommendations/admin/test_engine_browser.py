"""Ranker and collaborative versions in the admin, in headless Chromium: the gate's two numbers
beside each version, a refused activation saying why, the collaborative versions listed."""

from __future__ import annotations

from recommendations.models import CollaborativeModel, RankerModel
from tests.browser import BROWSER_TEST, admin_login, screenshot

pytestmark = BROWSER_TEST


def test_a_ranker_below_the_fused_order_is_refused_with_both_numbers(page, live_server, django_user_model):
    # given a version below the fused order on its held-out lists, and two collaborative versions
    ranker = RankerModel.objects.create(
        name="home",
        version=3,
        feature_set="semantic",
        artifact="",
        validation_metrics={"ndcg@10": 0.1012, "fused_ndcg@10": 0.1190, "best_iteration": 80},
        feature_importance={"cf_score": 30.0, "item_topic_0": 10.0},
    )
    CollaborativeModel.objects.create(version=1, algorithm="ease", items=3659, neighbor_rows=365900)
    CollaborativeModel.objects.create(version=2, algorithm="ease", items=3659, neighbor_rows=365900, is_active=True)
    admin_login(page, live_server, django_user_model)

    # when an operator tries to activate it from the list
    page.goto(f"{live_server.url}/admin/recommendations/rankermodel/")
    page.check(f"input[name=_selected_action][value='{ranker.pk}']")
    page.select_option("select[name=action]", "activate")
    page.click("button[name=index]")
    screenshot(page, "admin_ranker_gate.png")

    # then it stays inactive and the page shows both numbers
    assert "0.1012" in page.inner_text("#result_list") and "0.1190" in page.inner_text("#result_list")
    assert "NDCG@10 0.1012 against the fused order's 0.1190" in page.inner_text(".messagelist")
    ranker.refresh_from_db()
    assert not ranker.is_active

    # and the collaborative versions are listed, the active one marked
    page.goto(f"{live_server.url}/admin/recommendations/collaborativemodel/")
    screenshot(page, "admin_collaborative_versions.png")
    assert page.locator("#result_list tbody tr").count() == 2
