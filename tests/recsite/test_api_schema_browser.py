"""The API docs page in headless Chromium: rendered offline, listing the endpoints."""

from __future__ import annotations

from tests.browser import BROWSER_TEST, admin_login, screenshot

pytestmark = BROWSER_TEST


def test_api_docs_render_offline(page, live_server, django_user_model):
    # given a staff session
    admin_login(page, live_server, django_user_model)
    requested_hosts: set[str] = set()
    page.on("request", lambda r: requested_hosts.add(r.url.split("/")[2]))
    # when the Swagger UI page loads
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=15000)
    screenshot(page, "api_docs.png", full_page=False)
    # then it lists the recommendation endpoints, and loaded nothing from another host
    text = page.inner_text("body")
    assert "/api/v1/recommendations/" in text
    assert "/api/v1/search/" in text
    assert requested_hosts == {live_server.url.split("/")[2]}
