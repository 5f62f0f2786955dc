"""The drift page's reading of the reports: per signal a status (a colour and words), what PSI and
KS mean at these values, and the PSI trend."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from monitoring.models import DriftReference, DriftReport, Signal
from monitoring.selectors import drift_latest

# The usual reading of PSI: below 0.1 the distributions match; up to the alert threshold (0.2 by
# default) a moderate shift worth watching; above it a shift that changes what is recommended.
PSI_WATCH = 0.1
# KS: below this p-value the two samples are unlikely to come from one distribution.
KS_P_SIGNIFICANT = 0.01


# Short names: the chart's legend has about 20 characters of room.
TREND_LABELS = {
    Signal.CUSTOMER_ITEM: "customer → item",
    Signal.NEW_ITEM: "new items",
    Signal.MEAN_EMBEDDING: "mean embedding",
}


@dataclass(frozen=True)
class SignalStatus:
    signal: str
    label: str
    level: str  # ok | watch | drift
    psi: float
    threshold: float
    ks_statistic: float
    ks_p_value: float
    n_reference: int
    n_current: int
    window_start: dt.datetime
    window_end: dt.datetime
    words: str


def drift_level(*, psi: float, threshold: float) -> str:
    if psi > threshold:
        return "drift"
    return "watch" if psi >= min(PSI_WATCH, threshold) else "ok"


def drift_words(report: DriftReport) -> str:
    """What the report's PSI and KS say, in a sentence or two."""
    level = drift_level(psi=report.psi, threshold=report.threshold)
    psi = {
        "ok": f"PSI {report.psi:.3f} is below {PSI_WATCH}: this window looks like the reference.",
        "watch": f"PSI {report.psi:.3f} is between {PSI_WATCH} and the alert threshold {report.threshold:.2f}: "
        "a moderate shift, worth watching.",
        "drift": f"PSI {report.psi:.3f} is above the alert threshold {report.threshold:.2f}: the distribution "
        "has moved enough to change what is recommended; check the catalog and the embedding model.",
    }[level]
    differs = "differ" if report.ks_p_value < KS_P_SIGNIFICANT else "do not clearly differ"
    ks = (
        f"KS {report.ks_statistic:.3f} (the largest gap between the two cumulative distributions), "
        f"p = {report.ks_p_value:.3g}: the samples {differs} (significant below {KS_P_SIGNIFICANT})."
    )
    return f"{psi} {ks}"


def drift_statuses() -> list[SignalStatus]:
    """The newest report per signal, read."""
    return [
        SignalStatus(
            signal=r.signal,
            label=r.get_signal_display(),
            level=drift_level(psi=r.psi, threshold=r.threshold),
            psi=r.psi,
            threshold=r.threshold,
            ks_statistic=r.ks_statistic,
            ks_p_value=r.ks_p_value,
            n_reference=r.n_reference,
            n_current=r.n_current,
            window_start=r.window_start,
            window_end=r.window_end,
            words=drift_words(r),
        )
        for r in drift_latest()
    ]


def drift_trend(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, list[tuple[dt.date, float]]]:
    """Signal label → (day, the day's last PSI) over the last `days` days, for the trend chart."""
    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    labels = TREND_LABELS
    series: dict[str, dict[dt.date, float]] = {}
    for signal, window_end, psi in (
        DriftReport.objects.filter(window_end__gte=since)
        .order_by("window_end")
        .values_list("signal", "window_end", "psi")
    ):
        series.setdefault(labels.get(signal, signal), {})[window_end.date()] = psi
    return {label: sorted(points.items()) for label, points in series.items()}


def drift_reference_current() -> DriftReference | None:
    return DriftReference.objects.first()


def drift_settings() -> dict[str, float]:
    return {"threshold": settings.DRIFT_PSI_THRESHOLD, "window_hours": settings.DRIFT_WINDOW_HOURS}
