"""Reason adapters in headless Chromium: the versions' list, an activation refused with both
numbers, a version's page and the train page."""

from __future__ import annotations

from tests.browser import BROWSER_TEST, admin_login, screenshot
from tests.factories import ReasonAdapterFactory

pytestmark = BROWSER_TEST


def test_the_versions_a_refused_activation_and_the_train_page(page, live_server, django_user_model, tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    ReasonAdapterFactory(path=str(tmp_path), state="retired", version=1)
    failed = ReasonAdapterFactory(path=str(tmp_path), state="failed", version=2, adapter_loss=2.61)
    admin_login(page, live_server, django_user_model)

    page.goto(f"{live_server.url}/admin/recommendations/reasonadapter/")
    page.check(f"input[name=_selected_action][value='{failed.pk}']")
    page.select_option("select[name=action]", "activate")
    page.click("button[name=index]")
    message = page.inner_text(".messagelist")
    assert "Reason adapter v2 is not activated: held-out loss 2.6100 against the base model's 2.5000" in message
    screenshot(page, "admin_reason_adapters.png")

    page.goto(f"{live_server.url}/admin/recommendations/reasonadapter/{failed.pk}/change/")
    assert "not passed: held-out loss 2.6100" in page.inner_text("#content")
    screenshot(page, "admin_reason_adapter.png")

    page.goto(f"{live_server.url}/admin/recommendations/reasonadapter/")
    page.click("#train-adapter")
    assert page.is_visible("#train-form")
    screenshot(page, "admin_reason_adapter_train.png")
