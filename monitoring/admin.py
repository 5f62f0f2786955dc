"""Monitoring admin: drift history (with a warning while the newest report of a signal is above its
threshold) and daily placement quality; all read-only, written by the periodic tasks."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse

from monitoring.models import DriftReference, DriftReport, PlacementDailyQuality
from monitoring.selectors import drift_latest


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
        return super().changelist_view(request, extra_context)


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
