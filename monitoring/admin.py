"""Monitoring admin: drift history (with a warning while the newest report of a signal is above its
threshold) and daily placement quality; all read-only, written by the periodic tasks."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from experiments.public import line_chart_svg
from monitoring.drift_summary import (
    KS_P_SIGNIFICANT,
    PSI_WATCH,
    drift_reference_current,
    drift_settings,
    drift_statuses,
    drift_trend,
)
from monitoring.models import DriftReference, DriftReport, PlacementDailyQuality
from monitoring.selectors import drift_latest
from monitoring.services import drift_reference_build
from recsite.memory import MemoryBudgetError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def drift_warn(request: HttpRequest) -> None:
    for report in drift_latest():
        if report.alert:
            messages.warning(
                request,
                f"Drift: {report.get_signal_display()} PSI {report.psi:.3f} is above {report.threshold:.2f} "
                f"(window ending {report.window_end:%Y-%m-%d %H:%M}, model {report.model_name}).",
            )


@admin.register(DriftReport)
class DriftReportAdmin(ReadOnlyAdmin):
    list_display = ["computed_at", "signal", "psi_display", "ks_display", "n_current", "alert_display"]
    list_filter = ["signal", "alert"]

    @admin.display(description="PSI", ordering="psi")
    def psi_display(self, obj: DriftReport) -> str:
        return f"{obj.psi:.3f}"

    @admin.display(description="KS", ordering="ks_statistic")
    def ks_display(self, obj: DriftReport) -> str:
        return f"{obj.ks_statistic:.3f}"

    # Words, not Django's boolean icons: a green tick would read as "fine".
    @admin.display(description="alert", ordering="alert")
    def alert_display(self, obj: DriftReport) -> str:
        return "above threshold" if obj.alert else "-"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        drift_warn(request)
        trend = drift_trend(now=timezone.now())
        chart = (
            line_chart_svg(series=trend, title="PSI per day (last 30 days)", y_format=lambda v: f"{v:.2f}", width=1000)
            if trend
            else ""
        )
        context = {
            "statuses": drift_statuses(),
            # The SVG is built from numbers and our own signal labels, escaped by line_chart_svg.
            "trend_svg": mark_safe(chart),
            "reference": drift_reference_current(),
            "drift": drift_settings(),
            "psi_watch": PSI_WATCH,
            "ks_p": KS_P_SIGNIFICANT,
            "can_set_reference": request.user.has_perm("monitoring.add_driftreference"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def get_urls(self):
        own = [
            path(
                "set-reference/",
                self.admin_site.admin_view(require_POST(self.set_reference_view)),
                name="monitoring_drift_set_reference",
            )
        ]
        return own + super().get_urls()

    def set_reference_view(self, request: HttpRequest) -> HttpResponse:
        """What `manage.py drift reference` does, from a button: every event up to now."""
        if not request.user.has_perm("monitoring.add_driftreference"):
            raise PermissionDenied
        try:
            reference = drift_reference_build(window_start=None, window_end=timezone.now())
        except MemoryBudgetError as exc:
            self.message_user(request, f"No new reference: {exc}.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:monitoring_driftreport_changelist"))
        sizes = ", ".join(f"{len(values)} {signal.replace('_', ' ')}" for signal, values in reference.samples.items())
        self.message_user(
            request,
            f"New drift reference {reference.pk} ({reference.model_name}) from every event up to now: "
            f"{sizes or 'no samples yet'}. The next check compares against it.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:monitoring_driftreport_changelist"))


@admin.register(DriftReference)
class DriftReferenceAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "window_start", "window_end", "model_name"]
    exclude = ["samples", "mean_embedding"]


@admin.register(PlacementDailyQuality)
class PlacementDailyQualityAdmin(ReadOnlyAdmin):
    list_display = ["day", "placement", "exposures", "clicks", "ctr_display", "bad_cases", "bad_case_rate_display"]
    # No filter sidebar: a handful of placements, and the table needs the width.
    date_hierarchy = "day"

    @admin.display(description="CTR")
    def ctr_display(self, obj: PlacementDailyQuality) -> str:
        return f"{obj.ctr:.2%}"

    @admin.display(description="bad-case rate")
    def bad_case_rate_display(self, obj: PlacementDailyQuality) -> str:
        return f"{obj.bad_case_rate:.2%}"
