"""The admin's inline scripts and styles still work under the Content-Security-Policy, and the
browser reports no violation."""

from __future__ import annotations

import pytest
from django.utils import timezone

from catalog.models import ItemPopularity
from recommendations.recall import popularity
from tests.browser import BROWSER_TEST, admin_login
from tests.factories import CustomerFactory, ProductFactory

pytestmark = BROWSER_TEST

# Records every violation the page sees, before any of its own scripts run.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture
def shop():
    popularity._cache.clear()
    for i in range(1, 4):
        product = ProductFactory(external_id=f"p{i}", title=f"Item {i}")
        ItemPopularity.objects.create(product=product, score=10.0 - i, computed_at=timezone.now())
    CustomerFactory(external_id="alice")
    yield
    popularity._cache.clear()


def test_the_preview_runs_its_scripts_with_no_violation(page, live_server, django_user_model, shop, admin_jobs_inline):
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)
    admin_login(page, live_server, django_user_model)

    response = page.goto(f"{live_server.url}/admin/recommendations/merchrule/preview/")
    # the autocomplete (an inline script) fills the customer list
    page.fill("#customer", "ali")
    page.wait_for_selector("#customer-options option[value=alice]", state="attached")
    page.fill("#customer", "alice")
    page.click("#preview-submit")
    page.wait_for_selector("#preview-table")

    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert page.locator("#preview-table tbody tr").count() == 3
    assert page.evaluate("window.__cspViolations") == []
    assert [e for e in console_errors if "Content Security Policy" in e] == []
