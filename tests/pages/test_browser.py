"""The pages people look at, in headless Chromium: the admin and the API docs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import ProductFactory

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page(live_server) -> Iterator:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


def admin_login(page, live_server, django_user_model) -> None:
    django_user_model.objects.create_superuser("ops", "ops@example.com", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_admin_product_list_shows_catalog(page, live_server, django_user_model):
    # given a small catalog
    ProductFactory(external_id="85123A", title="WHITE HANGING HEART T-LIGHT HOLDER")
    ProductFactory(external_id="71053", title="WHITE METAL LANTERN")
    # when an operator opens the product list
    admin_login(page, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/catalog/product/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "admin_products.png"), full_page=True)
    # then both products are listed, and the search box finds one of them
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    page.fill("#searchbar", "lantern")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "WHITE METAL LANTERN" in page.inner_text("#result_list")


def test_api_docs_render_offline(page, live_server, django_user_model):
    # given a staff session
    admin_login(page, live_server, django_user_model)
    requested_hosts: set[str] = set()
    page.on("request", lambda r: requested_hosts.add(r.url.split("/")[2]))
    # when the Swagger UI page loads
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=15000)
    page.screenshot(path=str(SCREENSHOTS / "api_docs.png"), full_page=False)
    # then it lists the recommendation endpoints, and loaded nothing from another host
    text = page.inner_text("body")
    assert "/api/v1/recommendations/" in text
    assert "/api/v1/search/" in text
    assert requested_hosts == {live_server.url.split("/")[2]}
