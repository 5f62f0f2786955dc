"""Reads for `/metrics` and the admin: the newest drift report per signal, the newest day of
quality per placement."""

from __future__ import annotations

from monitoring.models import DriftReport, PlacementDailyQuality


def drift_latest() -> list[DriftReport]:
    return list(DriftReport.objects.order_by("signal", "-computed_at", "-pk").distinct("signal"))


def placement_quality_latest() -> list[PlacementDailyQuality]:
    return list(PlacementDailyQuality.objects.order_by("placement", "-day").distinct("placement"))
