"""Daily per-variant snapshots: built in batches by a beat task, read by the dashboards.

A snapshot for day D holds the sufficient statistics of each variant's exposed customers from
the start of the experiment to the end of D (UTC), so the latest one answers "where do we
stand" and the series draws the cumulative metric over time — without scanning exposures on
a page view. Past days are computed once; the last two are recomputed on every run, because
today is still filling up and yesterday's late events may still arrive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from experiments.metrics import ArmInput, VariantSums, metric_value, variant_sums
from experiments.models import Experiment, Kind, Status, Variant, VariantDailySnapshot
from experiments.selectors import VariantOutcomes, experiment_outcomes
from experiments.stats import srm_test

RECOMPUTED_DAYS = 2


def outcomes_sums(outcomes: VariantOutcomes) -> VariantSums:
    return variant_sums(
        exposures=outcomes.exposures,
        clicks=outcomes.clicks,
        add_to_carts=outcomes.add_to_carts,
        purchases=outcomes.purchases,
        revenue=outcomes.revenue,
        pre_activity=outcomes.pre_activity,
    )


def experiment_live_arms(*, experiment_id: int, until: dt.datetime | None = None) -> list[ArmInput]:
    """Each variant's sums straight from exposures and events before `until` (default: now)."""
    return [
        ArmInput(key=o.key, is_control=o.is_control, weight=o.weight, sums=outcomes_sums(o))
        for o in experiment_outcomes(experiment_id=experiment_id, until=until or timezone.now())
    ]


def experiment_snapshots_build(*, experiment_id: int, now: dt.datetime | None = None) -> int:
    """Write the missing daily snapshots of one experiment and refresh the last two days;
    returns how many days were computed. Idempotent: a second run rewrites the same rows."""
    now = now or timezone.now()
    experiment = Experiment.objects.get(pk=experiment_id)
    if experiment.started_at is None:
        return 0
    first = experiment.started_at.astimezone(dt.UTC).date()
    last = (experiment.stopped_at or now).astimezone(dt.UTC).date()
    stored = set(VariantDailySnapshot.objects.filter(experiment=experiment).values_list("day", flat=True).distinct())
    all_days = (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    days = [day for day in all_days if day not in stored or (last - day).days < RECOMPUTED_DAYS]
    for day in days:
        until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        outcomes = experiment_outcomes(experiment_id=experiment.pk, until=until)
        with transaction.atomic():
            for o in outcomes:
                VariantDailySnapshot.objects.update_or_create(
                    variant_id=o.variant_id,
                    day=day,
                    defaults={"experiment_id": experiment.pk, **asdict(outcomes_sums(o))},
                )
    if days:
        experiment_health_update(experiment_id=experiment.pk)
    return len(days)


def experiment_health_update(*, experiment_id: int) -> None:
    """Store the latest snapshot's exposed customers and SRM p-value on the experiment."""
    day, arms = experiment_snapshot_arms(experiment_id=experiment_id)
    customers = sum(arm.sums.customers for arm in arms)
    srm = (
        srm_test(observed=[a.sums.customers for a in arms], weights=[a.weight for a in arms]) if len(arms) > 1 else None
    )
    Experiment.objects.filter(pk=experiment_id).update(
        exposed_customers=customers,
        srm_p_value=srm.p_value if srm and customers else None,
        results_as_of=day,
    )


def experiments_snapshots_refresh(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Build snapshots for every launched experiment still collecting data, or stopped within the
    recompute window (its last days settle); experiment key → days computed."""
    now = now or timezone.now()
    recent = now - dt.timedelta(days=RECOMPUTED_DAYS)
    # Interleaving experiments have no per-variant customers to snapshot (experiments.interleaving_dashboard).
    experiments = Experiment.objects.filter(
        Q(status__in=[Status.RUNNING, Status.PAUSED]) | Q(status=Status.COMPLETED, stopped_at__gte=recent)
    ).filter(kind=Kind.AB)
    return {e.key: experiment_snapshots_build(experiment_id=e.pk, now=now) for e in experiments}


def experiment_snapshot_arms(*, experiment_id: int) -> tuple[dt.date | None, list[ArmInput]]:
    """The latest snapshot day and each variant's sums on it (empty before the first build)."""
    day = VariantDailySnapshot.objects.filter(experiment_id=experiment_id).aggregate(day=Max("day"))["day"]
    if day is None:
        return None, []
    rows = {s.variant_id: s for s in VariantDailySnapshot.objects.filter(experiment_id=experiment_id, day=day)}
    names = VariantSums.field_names()
    arms = [
        ArmInput(
            key=v.key,
            is_control=v.is_control,
            weight=v.weight,
            sums=VariantSums(**{name: getattr(rows[v.pk], name) for name in names}),
        )
        for v in Variant.objects.filter(experiment_id=experiment_id).order_by("-is_control", "key")
        if v.pk in rows
    ]
    return day, arms


def experiment_metric_series(*, experiment_id: int, metric: str) -> dict[str, list[tuple[dt.date, float | None]]]:
    """Variant key → the cumulative `metric` at the end of each snapshot day, in day order."""
    names = VariantSums.field_names()
    series: dict[str, list[tuple[dt.date, float | None]]] = {}
    snapshots = (
        VariantDailySnapshot.objects.filter(experiment_id=experiment_id)
        .select_related("variant")
        .order_by("-variant__is_control", "variant__key", "day")
    )
    for s in snapshots:
        sums = VariantSums(**{name: getattr(s, name) for name in names})
        series.setdefault(s.variant.key, []).append((s.day, metric_value(sums=sums, metric=metric)))
    return series


def experiment_daily_arms(*, experiment_id: int) -> list[tuple[dt.date, list[ArmInput]]]:
    """Each snapshot day with every variant's cumulative sums on it, in day order (one query)."""
    names = VariantSums.field_names()
    days: dict[dt.date, list[ArmInput]] = {}
    snapshots = (
        VariantDailySnapshot.objects.filter(experiment_id=experiment_id)
        .select_related("variant")
        .order_by("day", "-variant__is_control", "variant__key")
    )
    for s in snapshots:
        sums = VariantSums(**{name: getattr(s, name) for name in names})
        days.setdefault(s.day, []).append(
            ArmInput(key=s.variant.key, is_control=s.variant.is_control, weight=s.variant.weight, sums=sums)
        )
    return list(days.items())


def experiment_snapshot_computed_at(*, experiment_id: int) -> dt.datetime | None:
    """When the snapshot task last wrote this experiment's snapshots (None before the first)."""
    return VariantDailySnapshot.objects.filter(experiment_id=experiment_id).aggregate(at=Max("computed_at"))["at"]
