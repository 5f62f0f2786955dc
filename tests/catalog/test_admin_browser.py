"""The catalog admin in headless Chromium: the product list and its search."""

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
