"""The operator's experiment page, as data: variant table, health, chart and sample lists.

Reads the daily snapshots (a handful of rows whatever the traffic); an experiment without a
snapshot yet is computed live from its exposures, and the page says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from experiments import metrics
from experiments.bayes import PRIORS, chances_to_beat
from experiments.charts import LiftBar, lift_chart_svg, line_chart_svg
from experiments.guardrails import GUARDRAIL_ALPHA, GuardrailCheck, guardrails_check
from experiments.models import Experiment, Exposure, Kind, Metric
from experiments.selectors import PRE_PERIOD_DAYS
from experiments.snapshots import (
    experiment_daily_arms,
    experiment_live_arms,
    experiment_snapshot_arms,
    experiment_snapshot_computed_at,
)
from experiments.stats import MIN_UNITS_PER_VARIANT, SRM_ALPHA, Comparison

SAMPLES_PER_VARIANT = 5
# A snapshot older than this missed a daily run of the beat task: the page says so in colour.
SNAPSHOT_STALE_AFTER = dt.timedelta(hours=26)
RATE_METRICS = (metrics.CTR, metrics.ADD_TO_CART_RATE, metrics.CONVERSION_RATE)
# Column headers; the full definitions are the Metric labels, shown as the primary metric.
SHORT_LABELS = {
    metrics.CTR: "CTR",
    metrics.ADD_TO_CART_RATE: "Add-to-cart rate",
    metrics.CONVERSION_RATE: "Conversion rate",
    metrics.REVENUE_PER_CUSTOMER: "Revenue / customer",
}


@dataclass(frozen=True)
class VariantRow:
    key: str
    is_control: bool
    weight: float
    customers: int
    exposures: int
    values: tuple[str, ...]  # in METRICS order
    lift: str
    lift_ci: str
    relative_lift: str
    relative_ci: str
    p_value: str
    p_holm: str
    p_sequential: str
    cuped_lift: str
    cuped_ci: str
    cuped_p: str
    significant: bool


@dataclass(frozen=True)
class GuardrailRow:
    metric: str
    variant: str
    control: str
    treatment: str
    effect: str
    relative: str
    ci: str  # the always-valid confidence sequence of the effect
    p_value: str
    p_always_valid: str  # Holm-corrected across the guardrails: what decides a breach
    verdict: str
    breached: bool


@dataclass(frozen=True)
class ChanceRow:
    variant: str
    chances: tuple[str, ...]  # in METRICS order


@dataclass(frozen=True)
class VerdictRow:
    metric: str
    variant: str
    is_primary: bool
    verdict: str  # win, lose, inconclusive
    rule: str
    relative: str  # relative lift with its always-valid 95% CI
    chance: str  # Bayesian chance to beat the control


@dataclass(frozen=True)
class SampleSizeRow:
    variant: str
    customers: int  # the smaller arm of the pair: the one that limits the test
    needed_observed: str
    needed_minimum: str
    progress: int  # percent of the customers needed for the minimum effect, capped at 100


@dataclass(frozen=True)
class SampleList:
    variant: str
    customer: str
    served_at: dt.datetime
    items: tuple[str, ...]


@dataclass(frozen=True)
class Dashboard:
    experiment: Experiment
    as_of: str
    metric_labels: tuple[str, ...]
    primary_label: str
    rows: tuple[VariantRow, ...]
    srm_flagged: bool
    srm_text: str
    warnings: tuple[str, ...]
    cuped_text: str
    guardrail_rows: tuple[GuardrailRow, ...]
    # what the snapshot task did about a breach ("" when none was recorded)
    guardrail_banner: str
    guardrail_help: str
    chance_rows: tuple[ChanceRow, ...]
    chance_priors: tuple[tuple[str, str], ...]  # (metric label, prior and posterior)
    chart_svg: str
    samples: tuple[SampleList, ...]
    verdicts: tuple[VerdictRow, ...] = ()
    lift_svg: str = ""
    lift_over_time_svg: str = ""
    sample_sizes: tuple[SampleSizeRow, ...] = ()
    minimum_effect: str = ""
    guardrail_status: str = ""
    guardrail_breached: bool = False
    snapshot_age: str = ""
    snapshot_stale: bool = False


class InterleavingExperiment(ValueError):
    """Raised for an interleaving experiment: its page is experiments.interleaving_dashboard's."""


def experiment_dashboard(*, experiment_id: int) -> Dashboard:
    """Everything the results page of an A/B test shows, formatted for display (raises
    InterleavingExperiment for an interleaving one, Experiment.DoesNotExist for none)."""
    experiment = Experiment.objects.get(pk=experiment_id)
    if experiment.kind == Kind.INTERLEAVING:
        raise InterleavingExperiment(experiment.key)
    day, arms = experiment_snapshot_arms(experiment_id=experiment_id)
    if day is None:
        arms = experiment_live_arms(experiment_id=experiment_id)
        as_of = f"live at {timezone.now():%Y-%m-%d %H:%M} UTC (no daily snapshot yet)"
    else:
        as_of = f"snapshot of {day:%Y-%m-%d} (cumulative to the end of that day, UTC)"
    primary = experiment.primary_metric
    result = metrics.experiment_result(arms=arms, primary_metric=primary) if _has_data(arms) else None
    daily = experiment_daily_arms(experiment_id=experiment_id)
    chances = chances_to_beat(arms=arms) if result else {}
    verdicts = _verdicts(arms, primary, chances) if result else ()
    guardrail_rows = _guardrail_rows(arms, experiment.guardrail_metrics) if result else ()
    computed_at = experiment_snapshot_computed_at(experiment_id=experiment_id) if day else None
    y_format = (lambda v: f"{v:.1%}") if primary in RATE_METRICS else (lambda v: f"{v:,.2f}")
    return Dashboard(
        experiment=experiment,
        as_of=as_of,
        metric_labels=tuple(SHORT_LABELS[m] for m in metrics.METRICS),
        primary_label=Metric(primary).label,
        rows=tuple(_row(v, primary, result.cuped) for v in result.variants) if result else (),
        srm_flagged=bool(result and result.srm.flagged),
        srm_text=(
            f"Sample ratio χ² = {result.srm.chi2:.2f}, p = {result.srm.p_value:.3g} "
            f"(flagged below {SRM_ALPHA:g}) over {sum(a.sums.customers for a in arms):,} exposed customers."
            if result
            else "No exposures yet."
        ),
        warnings=result.warnings if result else (),
        cuped_text=_cuped_text(result, primary),
        guardrail_rows=guardrail_rows,
        guardrail_banner=guardrail_banner(experiment),
        guardrail_help=(
            f"A breach is a treatment worse on a guardrail with the always-valid p-value, Holm-corrected "
            f"across the guardrails, at most {GUARDRAIL_ALPHA:g} (safe to read every hour), each arm having "
            f"at least {MIN_UNITS_PER_VARIANT} customers. The interval is the always-valid 95% confidence "
            "sequence of the effect; p is the fixed-horizon test the primary metric also gets. "
            + (
                "On a breach the snapshot task pauses the experiment."
                if experiment.guardrail_stop
                else "Stop on breach is off: a breach is shown, the experiment keeps running."
            )
        ),
        chance_rows=tuple(
            ChanceRow(variant=key, chances=tuple(_chance(by_metric[m]) for m in metrics.METRICS))
            for key, by_metric in chances.items()
        ),
        chance_priors=tuple((SHORT_LABELS[m], PRIORS[m]) for m in metrics.METRICS),
        chart_svg=line_chart_svg(
            series=_metric_series(daily, primary),
            title=f"Cumulative {Metric(primary).label} per variant",
            y_format=y_format,
        ),
        samples=_samples(experiment=experiment),
        verdicts=verdicts,
        lift_svg=lift_chart_svg(bars=_lift_bars(arms, primary) if result else (), title=_LIFT_TITLE, width=580),
        lift_over_time_svg=_lift_over_time_svg(daily, primary),
        sample_sizes=_sample_sizes(arms, primary) if result else (),
        minimum_effect=f"{metrics.SEQUENTIAL_RELATIVE_EFFECT:.0%}",
        guardrail_status=_guardrail_status(experiment, guardrail_rows),
        guardrail_breached=bool(experiment.guardrail_breach) or any(r.breached for r in guardrail_rows),
        snapshot_age=_snapshot_age(computed_at),
        snapshot_stale=computed_at is None or timezone.now() - computed_at > SNAPSHOT_STALE_AFTER,
    )


_LIFT_TITLE = "Relative lift vs control (always-valid 95% CI)"


def _treatment_pairs(arms: list[metrics.ArmInput]) -> list[tuple[metrics.ArmInput, metrics.ArmInput]]:
    control = next(arm for arm in arms if arm.is_control)
    return [(control, arm) for arm in arms if not arm.is_control]


def _verdicts(
    arms: list[metrics.ArmInput], primary: str, chances: dict[str, dict[str, float | None]]
) -> tuple[VerdictRow, ...]:
    """Per metric and treatment: win / lose / inconclusive with the rule, the primary metric first."""
    order = (primary, *(m for m in metrics.METRICS if m != primary))
    rows = []
    for metric in order:
        for control, arm in _treatment_pairs(arms):
            v = metrics.metric_verdict(metric=metric, control=control.sums, treatment=arm.sums)
            relative = "–"
            if v.relative is not None and v.relative_ci is not None:
                relative = f"{v.relative:+.1%} [{v.relative_ci[0]:+.1%}, {v.relative_ci[1]:+.1%}]"
            rows.append(
                VerdictRow(
                    metric=SHORT_LABELS[metric],
                    variant=arm.key,
                    is_primary=metric == primary,
                    verdict=v.verdict,
                    rule=v.rule,
                    relative=relative,
                    chance=_chance(chances.get(arm.key, {}).get(metric)),
                )
            )
    return tuple(rows)


def _lift_bars(arms: list[metrics.ArmInput], primary: str) -> list[LiftBar]:
    bars = []
    for metric in (primary, *(m for m in metrics.METRICS if m != primary)):
        for control, arm in _treatment_pairs(arms):
            v = metrics.metric_verdict(metric=metric, control=control.sums, treatment=arm.sums)
            if v.relative is not None and v.relative_ci is not None:
                label = f"{SHORT_LABELS[metric]} · {arm.key}"
                bars.append(LiftBar(label, v.relative, v.relative_ci[0], v.relative_ci[1], v.verdict))
    return bars


def _lift_over_time_svg(daily: list[tuple[dt.date, list[metrics.ArmInput]]], primary: str) -> str:
    """The primary metric's cumulative relative lift per treatment, day by day, in its confidence sequence
    (always valid, so the band may be read on every day without inflating false alarms)."""
    series: dict[str, list[tuple[dt.date, float | None]]] = {}
    bands: dict[str, list[tuple[dt.date, float, float]]] = {}
    for day, arms in daily:
        if not any(arm.is_control for arm in arms):
            continue
        for control, arm in _treatment_pairs(arms):
            v = metrics.metric_verdict(metric=primary, control=control.sums, treatment=arm.sums)
            series.setdefault(arm.key, []).append((day, v.relative))
            if v.relative_ci is not None:
                bands.setdefault(arm.key, []).append((day, *v.relative_ci))
    return line_chart_svg(
        series=series,
        bands=bands,
        title=f"Cumulative relative lift in {SHORT_LABELS[primary]}, with its confidence sequence",
        y_format=lambda v: f"{v:+.0%}",
        css_class="lift-over-time-chart",
        width=620,
    )


def _metric_series(
    daily: list[tuple[dt.date, list[metrics.ArmInput]]], metric: str
) -> dict[str, list[tuple[dt.date, float | None]]]:
    series: dict[str, list[tuple[dt.date, float | None]]] = {}
    for day, arms in daily:
        for arm in arms:
            series.setdefault(arm.key, []).append((day, metrics.metric_value(sums=arm.sums, metric=metric)))
    # the control first, so it keeps the first colour
    return dict(sorted(series.items(), key=lambda item: item[0] != _control_key(daily)))


def _control_key(daily: list[tuple[dt.date, list[metrics.ArmInput]]]) -> str | None:
    return next((arm.key for _, arms in daily for arm in arms if arm.is_control), None)


def _sample_sizes(arms: list[metrics.ArmInput], primary: str) -> tuple[SampleSizeRow, ...]:
    rows = []
    for control, arm in _treatment_pairs(arms):
        v = metrics.metric_verdict(metric=primary, control=control.sums, treatment=arm.sums)
        customers = min(control.sums.customers, arm.sums.customers)
        rows.append(
            SampleSizeRow(
                variant=arm.key,
                customers=customers,
                needed_observed=f"{v.needed_observed:,}" if v.needed_observed else "–",
                needed_minimum=f"{v.needed_minimum:,}" if v.needed_minimum else "–",
                progress=min(100, round(100 * customers / v.needed_minimum)) if v.needed_minimum else 0,
            )
        )
    return tuple(rows)


def _guardrail_status(experiment: Experiment, rows: tuple[GuardrailRow, ...]) -> str:
    if not experiment.guardrail_metrics:
        return "No guardrails set."
    breached = sorted({f"{r.metric} of {r.variant}" for r in rows if r.breached})
    if breached:
        return f"Guardrail breached: {', '.join(breached)}."
    if experiment.guardrail_breach:
        return "Guardrail breached (recorded by the snapshot task; see below)."
    names = ", ".join(SHORT_LABELS.get(m, m) for m in experiment.guardrail_metrics)
    return f"Guardrails hold: {names}."


def _snapshot_age(computed_at: dt.datetime | None) -> str:
    if computed_at is None:
        return "No snapshot yet: the numbers are computed live on each view."
    minutes = int((timezone.now() - computed_at).total_seconds() // 60)
    age = f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
    if minutes >= 24 * 60:
        age = f"{minutes // (24 * 60)} d {minutes // 60 % 24} h"
    return f"Snapshot computed {age} ago ({computed_at:%Y-%m-%d %H:%M} UTC)."


def _has_data(arms: list[metrics.ArmInput]) -> bool:
    return any(arm.is_control for arm in arms) and any(arm.sums.customers for arm in arms)


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2%}" if metric in RATE_METRICS else f"{value:,.2f}"


def _cuped_text(result: metrics.ExperimentResult | None, primary: str) -> str:
    if result is None:
        return ""
    if result.cuped is None:
        if primary not in metrics.CUPED_METRICS:
            return "CUPED applies to per-customer metrics; the primary metric is a ratio, shown unadjusted."
        return "CUPED needs at least two customers per variant."
    return (
        f"CUPED with each customer's activity in the {PRE_PERIOD_DAYS} days before the start "
        f"(θ = {result.cuped.theta:.3g}) removes {result.cuped.variance_reduction:.1%} of the variance."
    )


def _lift(comparison: Comparison, primary: str) -> tuple[str, str]:
    points = 100 if primary in RATE_METRICS else 1
    unit = " pp" if primary in RATE_METRICS else ""
    low, high = comparison.absolute_ci
    return f"{comparison.absolute * points:+.3g}{unit}", f"[{low * points:+.3g}, {high * points:+.3g}]{unit}"


def _row(variant: metrics.VariantResult, primary: str, cuped: metrics.CupedResult | None) -> VariantRow:
    comparison: Comparison | None = variant.comparisons.get(primary)
    dash = "–"
    lift = lift_ci = relative = relative_ci = p_value = p_holm = p_sequential = dash
    cuped_lift = cuped_ci = cuped_p = dash
    adjusted = cuped.comparisons.get(variant.key) if cuped else None
    if adjusted is not None:
        cuped_lift, cuped_ci = _lift(adjusted, primary)
        cuped_p = f"{adjusted.p_value:.3g}"
    if comparison is not None:
        lift, lift_ci = _lift(comparison, primary)
        if comparison.relative is not None and comparison.relative_ci is not None:
            relative = f"{comparison.relative:+.1%}"
            relative_ci = f"[{comparison.relative_ci[0]:+.1%}, {comparison.relative_ci[1]:+.1%}]"
        p_value = f"{comparison.p_value:.3g}"
    if variant.primary_p_adjusted is not None:
        p_holm = f"{variant.primary_p_adjusted:.3g}"
    if variant.primary_sequential is not None:
        p_sequential = f"{variant.primary_sequential.p_value:.3g}"
    return VariantRow(
        key=variant.key,
        is_control=variant.is_control,
        weight=variant.weight,
        customers=variant.sums.customers,
        exposures=variant.sums.exposures,
        values=tuple(_fmt(m, variant.values[m]) for m in metrics.METRICS),
        lift=lift,
        lift_ci=lift_ci,
        relative_lift=relative,
        relative_ci=relative_ci,
        p_value=p_value,
        p_holm=p_holm,
        p_sequential=p_sequential,
        cuped_lift=cuped_lift,
        cuped_ci=cuped_ci,
        cuped_p=cuped_p,
        significant=variant.primary_p_adjusted is not None and variant.primary_p_adjusted < 0.05,
    )


def guardrail_banner(experiment: Experiment) -> str:
    """The recorded breach in a sentence, with what was done about it ("" when none)."""
    record = experiment.guardrail_breach
    if not record:
        return ""
    found = "; ".join(
        f"{SHORT_LABELS.get(b['metric'], b['metric'])} of {b['variant']} "
        + (f"{b['relative']:+.1%}" if b.get("relative") is not None else f"{b['effect']:+.3g}")
        + f" against the control (always-valid p = {b['p_value']:.3g})"
        for b in record["breaches"]
    )
    action = "the experiment was paused" if record["paused"] else "not stopped (stop on breach is off)"
    return f"Guardrail breached: {found}, in the snapshot of {record['as_of']} — {action}."


def _guardrail_rows(arms: list[metrics.ArmInput], names: list[str]) -> tuple[GuardrailRow, ...]:
    return tuple(_guardrail_row(check) for check in guardrails_check(arms=arms, guardrail_metrics=names))


def _guardrail_row(check: GuardrailCheck) -> GuardrailRow:
    dash = "–"
    comparison, sequential = check.comparison, check.sequential
    effect = ci = relative = p_value = p_always_valid = dash
    if comparison is not None:
        effect, _ = _lift(comparison, check.metric)
        if comparison.relative is not None:
            relative = f"{comparison.relative:+.1%}"
        p_value = f"{comparison.p_value:.3g}"
    if sequential is not None:
        points, unit = (100, " pp") if check.metric in RATE_METRICS else (1, "")
        ci = f"[{sequential.ci[0] * points:+.3g}, {sequential.ci[1] * points:+.3g}]{unit}"
    if check.p_adjusted is not None:
        p_always_valid = f"{check.p_adjusted:.3g}"
    if comparison is None:
        verdict = "no data yet"
    elif check.breached:
        verdict = "BREACHED"
    elif not check.enough_data:
        verdict = f"too early (under {MIN_UNITS_PER_VARIANT} customers an arm)"
    elif check.harmful:
        verdict = "worse, not significant"
    else:
        verdict = "no harm"
    return GuardrailRow(
        metric=SHORT_LABELS[check.metric],
        variant=check.variant,
        control=_fmt(check.metric, comparison.control if comparison else None),
        treatment=_fmt(check.metric, comparison.treatment if comparison else None),
        effect=effect,
        relative=relative,
        ci=ci,
        p_value=p_value,
        p_always_valid=p_always_valid,
        verdict=verdict,
        breached=check.breached,
    )


def _chance(value: float | None) -> str:
    # Beyond 99.9% the digits are noise of the approximation, not evidence.
    if value is None:
        return "–"
    if value > 0.999:
        return "> 99.9%"
    if value < 0.001:
        return "< 0.1%"
    return f"{value:.1%}"


def _samples(*, experiment: Experiment) -> tuple[SampleList, ...]:
    """The latest few lists served by each variant."""
    samples = []
    for variant_id, variant_key in experiment.variants.order_by("-is_control", "key").values_list("pk", "key"):
        exposures = Exposure.objects.filter(experiment=experiment, variant_id=variant_id).order_by("-created_at")[
            :SAMPLES_PER_VARIANT
        ]
        samples += [
            SampleList(
                variant=variant_key,
                customer=e.customer_external_id,
                served_at=e.created_at,
                items=tuple(item["id"] for item in e.items[:10]),
            )
            for e in exposures
        ]
    return tuple(samples)
