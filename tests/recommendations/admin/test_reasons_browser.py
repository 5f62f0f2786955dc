"""The prompt-template pages in headless Chromium: edit (a new version), then preview."""

from __future__ import annotations

from tests.browser import BROWSER_TEST, admin_login, screenshot
from tests.recommendations.reasons_fixtures import default_templates, make_shop

pytestmark = BROWSER_TEST


def test_operator_edits_a_template_and_previews_it(page, live_server, django_user_model):
    # given the default templates and a shop
    template = default_templates()["reason"]
    make_shop()
    admin_login(page, live_server, django_user_model)
    # when the operator changes the grounded text and saves
    page.goto(f"{live_server.url}/admin/recommendations/prompttemplate/{template.pk}/change/")
    page.fill("#id_grounded", "{% if seed %}Goes with your {{ seed.title|lower }}{% else %}Popular{% endif %}")
    page.fill("#id_note", "friendlier")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    screenshot(page, "admin_prompt_template.png")
    # then a second version is listed as active
    assert "friendlier" in page.inner_text("body")
    # and rolling back to v1 from the versions list serves it again
    page.click("button:has-text('activate')")
    page.wait_for_selector(".messagelist")
    assert "v1 is now served" in page.inner_text(".messagelist")
    template.refresh_from_db()
    assert template.active_version.version == 1
    # and v2 again, for the preview
    page.click("button:has-text('activate')")
    page.wait_for_selector(".messagelist")
    # and the preview for alice and the teapot shows the prompt and the new reason
    page.goto(f"{live_server.url}/admin/recommendations/prompttemplate/{template.pk}/preview/")
    page.fill("input[name=customer]", "alice")
    page.fill("input[name=product]", "teapot")
    page.click("form.preview-form button[type=submit]")
    page.wait_for_load_state()
    page.wait_for_selector("table.preview", timeout=5000)
    screenshot(page, "admin_prompt_preview.png")
    assert page.inner_text("td.output") == "Goes with your white mug"
    assert "Product: Blue Teapot" in page.inner_text("table.preview")
