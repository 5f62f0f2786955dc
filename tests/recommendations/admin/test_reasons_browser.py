"""The prompt-template pages in headless Chromium, as an operator: an edit is a draft, previewed
against customers and products with the guardrails' verdicts, published, then rolled back."""

from __future__ import annotations

from recommendations.reasons.pool import active_templates, active_templates_forget
from tests.browser import ROLE_BROWSER_TEST, role_login, screenshot
from tests.recommendations.reasons_fixtures import default_templates, make_shop

pytestmark = ROLE_BROWSER_TEST

NEW_GROUNDED = "{% if seed %}Goes with your {{ seed.title|lower }}{% else %}Popular{% endif %}"


def served_version(template) -> int:
    active_templates_forget()
    return next(t.version_id for t in active_templates() if t.id == template.pk)


def test_operator_saves_a_draft_previews_it_publishes_it_and_rolls_back(
    page, live_server, django_user_model, admin_jobs_inline
):
    # given the default templates and a shop
    template = default_templates()["reason"]
    first = template.active_version
    make_shop()
    role_login(page, live_server, django_user_model, group="Operators", username="olga")
    # when the operator changes the grounded text and saves
    page.goto(f"{live_server.url}/admin/recommendations/prompttemplate/{template.pk}/change/")
    page.fill("#id_grounded", NEW_GROUNDED)
    page.fill("#id_note", "friendlier")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    screenshot(page, "admin_prompt_template.png")
    # then v2 is a draft and v1 is still served
    assert "Draft v2 saved, not served yet" in page.inner_text(".messagelist")
    assert "draft (not served)" in page.inner_text("body")
    draft = template.versions.get(version=2)
    assert draft.published_at is None
    assert served_version(template) == first.pk
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400

    # when they preview the draft against one customer and two products
    page.click("a:has-text('preview it')")
    page.fill("input[name=customer]", "alice")
    page.fill("input[name=product]", "teapot, lamp")
    page.click("form.preview-form button[type=submit]")
    page.wait_for_selector("#verdicts", timeout=5000)
    screenshot(page, "admin_prompt_preview.png")
    # then each pair has a verdict and the text served, and the draft state says how many passed
    rows = page.locator("#verdicts tbody tr")
    assert rows.count() == 2
    assert "accepted" in rows.nth(0).inner_text() and "Goes with your white mug" in rows.nth(0).inner_text()
    assert "The guardrails accepted 2 of 2 previews" in page.inner_text("#version-state")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400

    # when they publish it
    page.click("#publish")
    page.wait_for_selector(".messagelist")
    # then v2 is served, with who and when recorded
    assert "v2 is published by you and now served" in page.inner_text(".messagelist")
    draft.refresh_from_db()
    assert draft.published_by.username == "olga" and draft.published_at is not None
    assert served_version(template) == draft.pk
    assert "by olga" in page.inner_text("body")

    # when they roll back to v1
    page.click("button.rollback")
    page.wait_for_selector(".messagelist")
    screenshot(page, "admin_prompt_rollback.png")
    # then v1 is served again
    assert "v1 is now served" in page.inner_text(".messagelist")
    assert served_version(template) == first.pk
