"""The staff overview, as data: traffic and conversion per placement over 30 days, running
experiments, the models serving now, drift, the bad-case queue and the workers.

It reads every app, which is why it lives in monitoring, the top layer. Each section carries the
admin URL of the page that has the detail.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from catalog.public import Event, EventType
from experiments.public import Experiment, Status, line_chart_svg
from monitoring.selectors import drift_latest
from recommendations.public import (
    BadCase,
    BadCaseStatus,
    CollaborativeModel,
    RankerModel,
    ServedList,
    embedding_model_name,
)
from recsite.celery import app as celery_app
from recsite.metrics_export import queue_lengths

logger = logging.getLogger(__name__)

DAYS = 30
# A page view waits at most this long for the workers to answer a ping.
PING_TIMEOUT_S = 0.5
OPEN_BAD_CASES = (BadCaseStatus.NEW, BadCaseStatus.TRIAGED)


@dataclass(frozen=True)
class Card:
    """One box of the overview: a title, a one-line status, details, a link to the page behind it."""

    title: str
    status: str
    ok: bool | None  # True green, False red, None neutral
    lines: tuple[str, ...]
    url: str


@dataclass(frozen=True)
class Overview:
    cards: tuple[Card, ...]
    traffic_svg: str
    ctr_svg: str
    conversion_svg: str
    totals: str


def overview(*, now: dt.datetime | None = None) -> Overview:
    now = now or timezone.now()
    since = (now - dt.timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    served, clicks, purchases = placement_daily(since=since)
    ctr = _rates(clicks, served)
    conversion = _rates(purchases, served)
    total = sum(n for points in served.values() for _, n in points)
    total_clicks = sum(n for points in clicks.values() for _, n in points)
    total_purchases = sum(n for points in purchases.values() for _, n in points)
    return Overview(
        cards=(experiments_card(), models_card(), drift_card(), bad_cases_card(), workers_card()),
        traffic_svg=line_chart_svg(
            series=served, title=f"Served lists per day, by placement (last {DAYS} days)", y_format=_count, width=480
        ),
        ctr_svg=line_chart_svg(
            series=ctr, title="Click-through: attributed clicks per served list", y_format=_percent, width=480
        ),
        conversion_svg=line_chart_svg(
            series=conversion, title="Conversion: attributed purchases per served list", y_format=_percent, width=480
        ),
        totals=(
            f"{total:,} lists served, {total_clicks:,} clicks and {total_purchases:,} purchases attributed to them "
            f"since {since:%Y-%m-%d}."
        ),
    )


Series = dict[str, list[tuple[dt.date, float | None]]]


def placement_daily(*, since: dt.datetime) -> tuple[Series, Series, Series]:
    """Per placement and UTC day: served lists, and the clicks and purchases attributed to them
    (an event carries the recommendation_id of the list it came from)."""
    served: Series = {}
    for row in (
        ServedList.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("placement", "day")
        .annotate(n=Count("pk"))
        .order_by("placement", "day")
    ):
        served.setdefault(row["placement"], []).append((row["day"], row["n"]))
    placement = ServedList.objects.filter(pk=OuterRef("recommendation_id")).values("placement")[:1]
    events = (
        Event.objects.filter(
            timestamp__gte=since, recommendation_id__isnull=False, type__in=[EventType.CLICK, EventType.PURCHASE]
        )
        .annotate(placement=Subquery(placement), day=TruncDate("timestamp", tzinfo=dt.UTC))
        .exclude(placement=None)
        .values("placement", "day", "type")
        .annotate(n=Count("pk"))
        .order_by("placement", "day")
    )
    clicks: dict[str, dict[dt.date, int]] = {}
    purchases: dict[str, dict[dt.date, int]] = {}
    for row in events:
        target = clicks if row["type"] == EventType.CLICK else purchases
        target.setdefault(row["placement"], {})[row["day"]] = row["n"]
    return served, _on_served_days(clicks, served), _on_served_days(purchases, served)


def _on_served_days(counts: dict[str, dict[dt.date, int]], served: Series) -> Series:
    return {name: [(day, counts.get(name, {}).get(day, 0)) for day, _ in points] for name, points in served.items()}


def _rates(numerators: Series, served: Series) -> Series:
    return {
        name: [
            (day, n / lists if lists else None) for (day, n), (_, lists) in zip(numerators[name], points, strict=True)
        ]
        for name, points in served.items()
    }


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _percent(value: float) -> str:
    return f"{value:.1%}"


def experiments_card() -> Card:
    running = list(
        Experiment.objects.filter(status__in=[Status.RUNNING, Status.PAUSED]).order_by("placement", "key")[:8]
    )
    lines = []
    for e in running:
        health = "guardrail breached" if e.guardrail_breach else "no snapshot yet"
        if not e.guardrail_breach and e.srm_p_value is not None:
            health = (
                "sample-ratio mismatch" if e.srm_p_value < 0.001 else f"{e.exposed_customers:,} customers, split OK"
            )
        lines.append(f"{e.key} ({e.placement}): {e.status}, {health}")
    breached = any(e.guardrail_breach for e in running)
    return Card(
        title="Experiments",
        status=f"{sum(e.status == Status.RUNNING for e in running)} running, "
        f"{sum(e.status == Status.PAUSED for e in running)} paused",
        ok=False if breached else None,
        lines=tuple(lines) or ("No experiment is running.",),
        url=reverse("admin:experiments_experiment_changelist") + "?status__exact=running",
    )


def models_card() -> Card:
    rankers = list(RankerModel.objects.filter(is_active=True).order_by("name"))
    collaborative = CollaborativeModel.objects.filter(is_active=True).order_by("-version").first()
    return Card(
        title="Models serving now",
        status=f"{len(rankers)} active ranker{'s' if len(rankers) != 1 else ''}",
        ok=None,
        lines=(
            f"Embeddings: {embedding_model_name()}",
            "Rankers: " + (", ".join(f"{r.name} v{r.version}" for r in rankers) or "none (recall order)"),
            "Collaborative: "
            + (f"v{collaborative.version} ({collaborative.algorithm})" if collaborative else "none trained"),
        ),
        url=reverse("admin:recommendations_rankermodel_changelist"),
    )


def drift_card() -> Card:
    reports = drift_latest()
    alerts = [r for r in reports if r.alert]
    if not reports:
        status, ok = "no report yet (set a reference, then the daily check runs)", None
    elif alerts:
        status, ok = f"DRIFT on {len(alerts)} of {len(reports)} signals", False
    else:
        status, ok = f"stable on {len(reports)} signals", True
    return Card(
        title="Drift",
        status=status,
        ok=ok,
        lines=tuple(
            f"{r.get_signal_display()}: PSI {r.psi:.3f} (alert above {r.threshold:g}), {r.window_end:%Y-%m-%d}"
            for r in reports
        ),
        url=reverse("admin:monitoring_driftreport_changelist"),
    )


def bad_cases_card() -> Card:
    counts = dict(
        BadCase.objects.filter(status__in=OPEN_BAD_CASES).values_list("status").annotate(n=Count("pk")).order_by()
    )
    waiting = sum(counts.values())
    return Card(
        title="Bad cases",
        status=f"{waiting:,} open",
        ok=None if waiting else True,
        lines=(f"{counts.get(BadCaseStatus.NEW, 0):,} new, {counts.get(BadCaseStatus.TRIAGED, 0):,} triaged",),
        url=reverse("admin:recommendations_badcase_changelist") + "?status__exact=new",
    )


def workers_ping() -> list[str]:
    """Names of the Celery workers that answer within PING_TIMEOUT_S ([] when none or no broker)."""
    try:
        replies = celery_app.control.ping(timeout=PING_TIMEOUT_S) or []
    except Exception as error:  # any broker failure means "no worker answers" on this page
        logger.warning("worker ping failed: %s", error)
        return []
    return sorted(name for reply in replies for name in reply)


def workers_card() -> Card:
    workers = workers_ping()
    queues = queue_lengths()
    waiting = ", ".join(f"{queue} {length:,} waiting" for queue, length in queues.items()) or "broker unreachable"
    return Card(
        title="Workers and queues",
        status=f"{len(workers)} worker{'s' if len(workers) != 1 else ''} answering" if workers else "NO WORKER ANSWERS",
        ok=bool(workers) and bool(queues),
        lines=(f"Queues: {waiting}", *(f"Worker: {name}" for name in workers)),
        url=reverse("readyz"),
    )
