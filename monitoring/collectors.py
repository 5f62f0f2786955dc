"""Monitoring's stored gauges of /metrics (recsite.metrics_export): drift scores and placement
quality, each the latest stored rows, read when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from monitoring.selectors import drift_latest, placement_quality_latest
from recsite.metrics_export import stored_collector_register


def drift_metrics() -> Iterator[Metric]:
    psi = GaugeMetricFamily(
        "recsite_drift_psi", "Population stability index of a signal vs its reference.", labels=["signal"]
    )
    ks = GaugeMetricFamily(
        "recsite_drift_ks_statistic",
        "Kolmogorov-Smirnov statistic of a signal vs its reference.",
        labels=["signal"],
    )
    alert = GaugeMetricFamily(
        "recsite_drift_alert", "1 when a signal's drift is above its threshold.", labels=["signal"]
    )
    for report in drift_latest():
        psi.add_metric([report.signal], report.psi)
        ks.add_metric([report.signal], report.ks_statistic)
        alert.add_metric([report.signal], float(report.alert))
    yield from (psi, ks, alert)


def quality_metrics() -> Iterator[Metric]:
    ctr = GaugeMetricFamily(
        "recsite_placement_ctr",
        "Click-through rate of the latest complete day, per placement.",
        labels=["placement"],
    )
    bad = GaugeMetricFamily(
        "recsite_placement_bad_case_rate",
        "Bad cases per exposure of the latest complete day, per placement.",
        labels=["placement"],
    )
    for row in placement_quality_latest():
        ctr.add_metric([row.placement], row.ctr)
        bad.add_metric([row.placement], row.bad_case_rate)
    yield from (ctr, bad)


def collectors_register() -> None:
    """Add both to /metrics, in this order (from MonitoringConfig.ready)."""
    for collect in (drift_metrics, quality_metrics):
        stored_collector_register(collect)
