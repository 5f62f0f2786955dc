"""The merchandising pages in headless Chromium, as a merchandiser: the rule form shows the fields
of the chosen kind, the preview is linked from the index, and a bad `k` is a form error."""

from __future__ import annotations

from django.urls import reverse

from tests.browser import ROLE_BROWSER_TEST, role_login, screenshot

pytestmark = ROLE_BROWSER_TEST


def test_merchandiser_sees_the_fields_of_the_chosen_kind_and_bad_preview_input_as_an_error(
    page, live_server, django_user_model, admin_jobs_inline
):
    role_login(page, live_server, django_user_model, group="Merchandisers")
    # the index links the preview
    assert page.locator("#preview-link").count() == 1
    # when they add a pin rule
    page.goto(f"{live_server.url}/admin/recommendations/merchrule/add/")
    page.select_option("#id_kind", "pin")
    screenshot(page, "admin_merchrule_pin.png")
    # then the pin's fields show and the boost's multiplier does not
    assert page.locator("#id_position").is_visible()
    assert not page.locator("#id_multiplier").is_visible()
    # and a boost shows targets and multiplier, not the position
    page.select_option("#id_kind", "boost")
    assert page.locator("#id_multiplier").is_visible() and page.locator("#id_item_ids").is_visible()
    assert not page.locator("#id_position").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    # when the preview is asked for k=abc (past the number field, as a hand-made request would)
    page.goto(f"{live_server.url}{reverse('admin:recommendations_preview')}")
    page.evaluate("document.getElementById('k').type = 'text'")
    page.fill("#k", "abc")
    page.click("#preview-submit")
    screenshot(page, "admin_preview_bad_k.png")
    # then it is a form error in words, not Python's
    error = page.inner_text(".errornote")
    assert "enter a whole number from 1 to" in error and "invalid literal" not in error
