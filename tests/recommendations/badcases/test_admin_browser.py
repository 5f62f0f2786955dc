"""The bad-case queue and a case in headless Chromium, as a merchandiser: one line per case, and
on a case the resolve buttons first, the served list with titles and images, and why in words."""

from __future__ import annotations

import uuid

from recommendations.badcases.models import BadCase, BadCaseSource, BadCaseStatus
from recommendations.models import HiddenItem
from tests.browser import ROLE_BROWSER_TEST, role_login, screenshot
from tests.factories import ProductFactory

pytestmark = ROLE_BROWSER_TEST

# A 1×1 PNG: an image that loads without the network (the CSP allows data: images).
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkaPhfDwAE"
    "hQH/2RRbNwAAAABJRU5ErkJggg=="
)


def served_case(*, source: str, flagged: str, position: int, **fields) -> BadCase:
    items = [
        {"id": f"p{i}", "position": i, "score": 1.0 - i / 10, "routes": {"itemcf": 0.5}, "rules": []}
        for i in range(1, 6)
    ]
    return BadCase.objects.create(
        source=source,
        reason_code=fields.pop("reason_code", source),
        recommendation_id=uuid.uuid4(),
        product_external_id=flagged,
        placement="home_feed",
        snapshot={"items": items, "flagged": {"id": flagged, "position": position}, "variant": "control", **fields},
        customer_external_id="alice",
    )


def test_merchandiser_reads_the_queue_in_one_line_per_case_and_resolves_from_the_top(
    page, live_server, django_user_model
):
    # given five products (one with an image, one with a very long title) and three cases
    long_title = "Set of four hand-painted ceramic breakfast bowls with matching saucers " * 3
    for i in range(1, 6):
        ProductFactory(
            external_id=f"p{i}",
            title=long_title if i == 4 else f"Blue teapot {i}",
            image_url=PIXEL if i == 2 else "",
        )
    case = served_case(source=BadCaseSource.OUT_OF_STOCK_SERVED, flagged="p2", position=2, evidence={"position": 2})
    served_case(source=BadCaseSource.LOW_RELEVANCE, flagged="p1", position=1, evidence={"score": 0.1, "threshold": 0.3})
    served_case(source=BadCaseSource.FEEDBACK, flagged="p4", position=4, reason_code="irrelevant")
    role_login(page, live_server, django_user_model, group="Merchandisers")

    # when the merchandiser opens the queue
    page.goto(f"{live_server.url}/admin/recommendations/badcase/")
    screenshot(page, "admin_badcase_queue.png")
    # then each case is one line with title, placement, detector, age, status and assignee, within 1400 px
    headers = page.inner_text("#result_list thead")
    for column in ("FLAGGED ITEM", "PLACEMENT", "DETECTOR", "AGE", "STATUS", "ASSIGNEE"):
        assert column in headers.upper()
    heights = page.eval_on_selector_all("#result_list tbody tr", "rows => rows.map(r => r.offsetHeight)")
    assert len(heights) == 3 and max(heights) < 45
    assert "Blue teapot 2" in page.inner_text("#result_list")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    # and no column is cut off inside the list's own scroll box
    assert page.evaluate(
        "(() => { const r = document.querySelector('#changelist .results'); return r.scrollWidth <= r.clientWidth; })()"
    )

    # when they open the out-of-stock case
    page.goto(f"{live_server.url}/admin/recommendations/badcase/{case.pk}/change/")
    screenshot(page, "admin_badcase_case.png")
    # then the resolve buttons sit above the fold, before the served list
    assert page.locator("#resolve-hide").bounding_box()["y"] < 300
    # and the reason is in words, the list has titles, an image and a placeholder, the flagged row marked
    assert "“Blue teapot 2” (p2) was served at position 2 in home_feed to alice while it was out of stock" in (
        page.inner_text("#why-flagged")
    )
    flagged = page.locator("#snapshot-items tr.flagged")
    assert flagged.count() == 1 and "Blue teapot 2" in flagged.inner_text()
    assert page.locator("#snapshot-items img.thumb").count() == 1
    assert page.locator("#snapshot-items .placeholder").count() == 4
    # and the raw JSON is collapsed
    assert not page.locator("#raw-snapshot pre").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400

    # when they hide the item for the customer
    page.click("#resolve-hide")
    page.wait_for_selector(".messagelist")
    # then the case is resolved and the item hidden
    case.refresh_from_db()
    assert case.status == BadCaseStatus.RESOLVED
    assert HiddenItem.objects.filter(customer_external_id="alice", product_external_id="p2").exists()
    assert "Resolved" in page.inner_text("#one-click-resolutions")
