"""The drift page in headless Chromium, as an operator: a coloured status per signal with PSI / KS
in words, the PSI trend, and the button that sets the reference."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from monitoring.models import DriftReference, DriftReport
from tests.browser import ROLE_BROWSER_TEST, role_login, screenshot

pytestmark = ROLE_BROWSER_TEST


def report(reference: DriftReference, *, signal: str, psi: float, days_ago: int) -> DriftReport:
    end = timezone.now() - dt.timedelta(days=days_ago)
    return DriftReport.objects.create(
        reference=reference,
        signal=signal,
        window_start=end - dt.timedelta(days=1),
        window_end=end,
        model_name="all-MiniLM-L6-v2",
        psi=psi,
        ks_statistic=0.31 if psi > 0.2 else 0.02,
        ks_p_value=0.0 if psi > 0.2 else 0.4,
        n_reference=20000,
        n_current=20000,
        threshold=0.2,
        alert=psi > 0.2,
    )


def test_operator_reads_drift_status_trend_and_sets_the_reference(page, live_server, django_user_model):
    # given a week of reports: customer-to-item similarity drifting, new items watched, the mean stable
    reference = DriftReference.objects.create(window_end=timezone.now(), model_name="all-MiniLM-L6-v2")
    for day in range(7, -1, -1):
        report(reference, signal="customer_item_similarity", psi=0.05 + 0.06 * (7 - day), days_ago=day)
        report(reference, signal="new_item_similarity", psi=0.12, days_ago=day)
        report(reference, signal="mean_embedding_similarity", psi=0.01, days_ago=day)
    # when an operator (not a superuser) opens the drift reports
    role_login(page, live_server, django_user_model, group="Operators")
    response = page.goto(f"{live_server.url}/admin/monitoring/driftreport/")
    screenshot(page, "admin_drift_page.png")
    # then the page opens (no 403), with one coloured card per signal
    assert response.status == 200
    cards = page.locator("#drift-status .signal")
    assert cards.count() == 3
    drifting = page.locator("#drift-status .signal[data-signal=customer_item_similarity]")
    assert "drift" in drifting.get_attribute("class")
    assert "above the alert threshold 0.20" in drifting.inner_text()
    assert "the samples differ" in drifting.inner_text()
    assert "watch" in page.locator(".signal[data-signal=new_item_similarity]").get_attribute("class")
    assert "ok" in page.locator(".signal[data-signal=mean_embedding_similarity]").get_attribute("class")
    color = page.eval_on_selector(".signal.drift", "e => getComputedStyle(e).borderLeftColor")
    assert color == "rgb(198, 40, 40)"
    # and a trend chart with a line per signal
    assert page.locator("#drift-trend svg polyline.series").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400

    # when they set the reference
    page.click("#set-reference")
    page.wait_for_selector(".messagelist .success")
    # then a new reference is stored and named
    assert DriftReference.objects.count() == 2
    assert "New drift reference" in page.inner_text(".messagelist")
