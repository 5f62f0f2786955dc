"""The pages people look at, in headless Chromium: the admin and the API docs."""

from __future__ import annotations

from tests.browser import BROWSER_TEST, admin_login, screenshot
from tests.factories import ProductFactory

pytestmark = BROWSER_TEST


def test_admin_product_list_shows_catalog(page, live_server, django_user_model):
    # given a small catalog
    ProductFactory(external_id="85123A", title="WHITE HANGING HEART T-LIGHT HOLDER")
    ProductFactory(external_id="71053", title="WHITE METAL LANTERN")
    # when an operator opens the product list
    admin_login(page, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/catalog/product/")
    screenshot(page, "admin_products.png")
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
    screenshot(page, "api_docs.png", full_page=False)
    # then it lists the recommendation endpoints, and loaded nothing from another host
    text = page.inner_text("body")
    assert "/api/v1/recommendations/" in text
    assert "/api/v1/search/" in text
    assert requested_hosts == {live_server.url.split("/")[2]}
