"""The monitoring admin in headless Chromium: the drift warning and the placement quality list."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from monitoring.models import DriftReference, DriftReport, PlacementDailyQuality
from tests.browser import BROWSER_TEST, admin_login, screenshot

pytestmark = BROWSER_TEST


def report(reference: DriftReference, *, signal: str, psi: float) -> DriftReport:
    now = timezone.now()
    return DriftReport.objects.create(
        reference=reference,
        signal=signal,
        window_start=now - dt.timedelta(days=1),
        window_end=now,
        model_name="all-MiniLM-L6-v2",
        psi=psi,
        ks_statistic=0.4,
        ks_p_value=0.0,
        n_reference=20000,
        n_current=20000,
        threshold=0.2,
        alert=psi > 0.2,
    )


def test_drift_reports_warn_above_threshold_and_quality_shows_rates(page, live_server, django_user_model):
    # given one signal drifting and one stable, and a day of home-feed quality
    reference = DriftReference.objects.create(window_end=timezone.now(), model_name="all-MiniLM-L6-v2")
    report(reference, signal="customer_item_similarity", psi=7.87)
    report(reference, signal="new_item_similarity", psi=0.05)
    PlacementDailyQuality.objects.create(
        day=dt.date(2026, 3, 2), placement="home_feed", exposures=400, clicks=30, bad_cases=2
    )
    # when an operator opens the drift reports
    admin_login(page, live_server, django_user_model)
    page.goto(f"{live_server.url}/admin/monitoring/driftreport/")
    screenshot(page, "admin_drift_reports.png")
    # then one warning names the drifting signal, and both reports are listed
    warnings = page.locator(".messagelist .warning")
    assert warnings.count() == 1
    assert "customer-to-item similarity PSI 7.870 is above 0.20" in warnings.inner_text()
    assert page.locator("#result_list tbody tr").count() == 2
    assert page.inner_text("#result_list").count("above threshold") == 1
    # and the quality list shows the day's rates
    page.goto(f"{live_server.url}/admin/monitoring/placementdailyquality/")
    screenshot(page, "admin_placement_quality.png")
    row = page.inner_text("#result_list tbody tr")
    assert "7.50%" in row and "0.50%" in row
