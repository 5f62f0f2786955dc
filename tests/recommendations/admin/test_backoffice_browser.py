"""The back office in headless Chromium: a merchandiser pins an item and sees it in the preview;
an operator triages a bad case and resolves it with an exclude rule. Screenshots go to
var/screenshots/ for people to look at."""

from __future__ import annotations

import pytest

from recommendations.badcases.models import BadCase
from recommendations.models import MerchRule
from tests.browser import BROWSER_TEST, admin_login, screenshot

pytestmark = BROWSER_TEST


@pytest.fixture
def page(page, live_server, django_user_model):
    """The shared page, signed in to the admin as a merchandiser."""
    admin_login(page, live_server, django_user_model, username="merch")
    return page


def test_pin_rule_created_in_the_admin_shows_in_the_preview(page, live_server, merch_shop, admin_jobs_inline):
    # when a merchandiser pins p6 at position 1 on the home feed
    page.goto(f"{live_server.url}/admin/recommendations/merchrule/add/")
    page.fill("#id_name", "Summer pin")
    page.select_option("#id_kind", "pin")
    page.select_option("#id_placement", "home_feed")
    page.click("[aria-labelledby='select2-id_product-container']")
    page.fill(".select2-search__field", "p6")
    page.click(".select2-results__option:has-text('p6')")
    page.fill("#id_position", "1")
    screenshot(page, "rule_pin_form.png")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    rule = MerchRule.objects.get(name="Summer pin")
    # and opens the preview for alice
    page.goto(f"{live_server.url}/admin/recommendations/merchrule/preview/")
    page.fill("#customer", "ali")
    page.wait_for_selector("#customer-options option[value=alice]", state="attached")
    page.fill("#customer", "alice")
    page.fill("#k", "4")
    page.click("#preview-submit")
    page.wait_for_selector("#preview-table")
    screenshot(page, "preview_with_pin.png")
    # then p6 leads the list and says which rule put it there
    first = page.locator("#preview-table tbody tr").first.locator("td")
    assert first.nth(1).inner_text() == "p6"
    assert first.nth(5).inner_text() == f"#{rule.pk} pin: pinned at 1"
    assert page.locator("#preview-table tbody tr").count() == 4


def test_triage_a_bad_case_and_resolve_it_with_an_exclude_rule(page, live_server, merch_shop, storefront_client):
    # given alice flagged p2 of her feed as irrelevant
    feed = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "k": 4}).json()
    storefront_client.post(
        "/api/v1/feedback/",
        {"recommendation_id": feed["recommendation_id"], "item": "p2", "reason": "irrelevant", "text": "not for me"},
        format="json",
    )
    case = BadCase.objects.get()
    # when an operator triages it from the queue (assign to me) and opens it
    page.goto(f"{live_server.url}/admin/recommendations/badcase/?status__exact=new")
    page.check(f"input[name=_selected_action][value='{case.pk}']")
    page.select_option("select[name=action]", "triage_to_me")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist .success")
    screenshot(page, "badcase_queue.png")
    page.goto(f"{live_server.url}/admin/recommendations/badcase/{case.pk}/change/")
    page.fill("#id_notes", "Garden item in a kitchen feed")
    screenshot(page, "badcase_review.png")
    page.click("#resolve-exclude")
    page.wait_for_selector(".messagelist .success")
    screenshot(page, "badcase_resolved.png")
    # then the case is resolved with a new exclude rule, and p2 leaves alice's feed
    case.refresh_from_db()
    rule = MerchRule.objects.get(kind="exclude")
    assert (case.status, case.assignee.username, case.notes) == ("resolved", "merch", "Garden item in a kitchen feed")
    assert case.resolution_ref == f"rule {rule.pk}"
    assert "Exclude rule" in page.inner_text(".messagelist")
    again = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "k": 4}).json()
    assert "p2" not in [item["id"] for item in again["items"]]
