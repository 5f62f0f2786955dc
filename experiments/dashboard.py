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
from experiments.charts import line_chart_svg
from experiments.guardrails import GUARDRAIL_ALPHA, GuardrailCheck, guardrails_check
from experiments.models import Experiment, Exposure, Metric
from experiments.selectors import PRE_PERIOD_DAYS
from experiments.snapshots import experiment_live_arms, experiment_metric_series, experiment_snapshot_arms
from experiments.stats import MIN_UNITS_PER_VARIANT, SRM_ALPHA, Comparison

SAMPLES_PER_VARIANT = 5
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


def experiment_dashboard(*, experiment_id: int) -> Dashboard:
    """Everything the results page shows, formatted for display."""
    experiment = Experiment.objects.get(pk=experiment_id)
    day, arms = experiment_snapshot_arms(experiment_id=experiment_id)
    if day is None:
        arms = experiment_live_arms(experiment_id=experiment_id)
        as_of = f"live at {timezone.now():%Y-%m-%d %H:%M} UTC (no daily snapshot yet)"
    else:
        as_of = f"snapshot of {day:%Y-%m-%d} (cumulative to the end of that day, UTC)"
    primary = experiment.primary_metric
    result = metrics.experiment_result(arms=arms, primary_metric=primary) if _has_data(arms) else None
    series = experiment_metric_series(experiment_id=experiment_id, metric=primary)
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
        guardrail_rows=_guardrail_rows(arms, experiment.guardrail_metrics) if result else (),
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
            ChanceRow(variant=key, chances=tuple(_chance(chances[m]) for m in metrics.METRICS))
            for key, chances in chances_to_beat(arms=arms).items()
        )
        if result
        else (),
        chance_priors=tuple((SHORT_LABELS[m], PRIORS[m]) for m in metrics.METRICS),
        chart_svg=line_chart_svg(
            series=series,
            title=f"Cumulative {Metric(primary).label} per variant",
            y_format=(lambda v: f"{v:.1%}") if primary in RATE_METRICS else (lambda v: f"{v:,.2f}"),
        ),
        samples=_samples(experiment=experiment),
    )


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
