"""Per-variant metrics and their comparison with the control, pure (numbers in, report out).

The unit is the exposed customer. Per variant the metrics are: exposures, exposed customers,
click-through rate (attributed clicks / exposures: a ratio of per-customer sums, delta method),
add-to-cart rate and conversion rate (share of exposed customers with at least one attributed
add-to-cart / purchase: two-proportion z-test), and revenue per exposed customer (Welch).

The three per-customer metrics also get a CUPED comparison: the covariate is each customer's
activity (events of any kind) in the weeks before the start, which the treatment cannot have
changed, so adjusting by it removes variance without bias. CTR, a ratio, is left unadjusted.

Everything is computed from `VariantSums` — sufficient statistics (counts, sums, sums of
squares and cross-products) — so stored daily snapshots give the same answers as the raw rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from experiments import stats

CTR = "ctr"
ADD_TO_CART_RATE = "add_to_cart_rate"
CONVERSION_RATE = "conversion_rate"
REVENUE_PER_CUSTOMER = "revenue_per_customer"
METRICS = (CTR, ADD_TO_CART_RATE, CONVERSION_RATE, REVENUE_PER_CUSTOMER)
# Which way is good, per metric: guardrails call a significant move the other way a breach, and
# the chance to beat control is the chance of a move this way. Every metric today: up is good.
HIGHER_IS_BETTER = {CTR: True, ADD_TO_CART_RATE: True, CONVERSION_RATE: True, REVENUE_PER_CUSTOMER: True}
SEQUENTIAL_RELATIVE_EFFECT = 0.1


@dataclass(frozen=True)
class VariantSums:
    """Sufficient statistics of one variant's exposed customers (field names match the snapshot)."""

    customers: int
    exposures: int
    exposures_sq: float
    clicks: int
    clicks_sq: float
    clicks_x_exposures: float
    clickers: int
    add_to_carters: int
    purchasers: int
    revenue: float
    revenue_sq: float
    # CUPED covariate x (pre-period activity): Σx, Σx² and Σx·y for each per-customer metric y
    pre_activity: float
    pre_activity_sq: float
    pre_x_add_to_carters: float
    pre_x_purchasers: float
    pre_x_revenue: float

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def variant_sums(
    *,
    exposures: np.ndarray,
    clicks: np.ndarray,
    add_to_carts: np.ndarray,
    purchases: np.ndarray,
    revenue: np.ndarray,
    pre_activity: np.ndarray,
) -> VariantSums:
    """Sums over per-customer arrays (one entry per exposed customer)."""
    return VariantSums(
        customers=int(exposures.size),
        exposures=int(exposures.sum()),
        exposures_sq=float((exposures**2).sum()),
        clicks=int(clicks.sum()),
        clicks_sq=float((clicks**2).sum()),
        clicks_x_exposures=float((clicks * exposures).sum()),
        clickers=int((clicks > 0).sum()),
        add_to_carters=int((add_to_carts > 0).sum()),
        purchasers=int((purchases > 0).sum()),
        revenue=float(revenue.sum()),
        revenue_sq=float((revenue**2).sum()),
        pre_activity=float(pre_activity.sum()),
        pre_activity_sq=float((pre_activity**2).sum()),
        pre_x_add_to_carters=float((pre_activity * (add_to_carts > 0)).sum()),
        pre_x_purchasers=float((pre_activity * (purchases > 0)).sum()),
        pre_x_revenue=float((pre_activity * revenue).sum()),
    )


def metric_value(*, sums: VariantSums, metric: str) -> float | None:
    """The metric's point value (None without customers)."""
    if sums.customers == 0:
        return None
    if metric == CTR:
        return sums.clicks / sums.exposures if sums.exposures else None
    if metric == ADD_TO_CART_RATE:
        return sums.add_to_carters / sums.customers
    if metric == CONVERSION_RATE:
        return sums.purchasers / sums.customers
    if metric == REVENUE_PER_CUSTOMER:
        return sums.revenue / sums.customers
    raise ValueError(f"unknown metric {metric!r}")


def metric_estimate(*, sums: VariantSums, metric: str) -> stats.Estimate | None:
    """The metric with its variance, as the tests see it (None below 2 customers or exposures)."""
    if sums.customers < 2:
        return None
    if metric == CTR:
        return _ctr_estimate(sums) if sums.exposures else None
    if metric in (ADD_TO_CART_RATE, CONVERSION_RATE):
        successes = sums.add_to_carters if metric == ADD_TO_CART_RATE else sums.purchasers
        return stats.proportion_estimate(successes=successes, n=sums.customers)
    if metric == REVENUE_PER_CUSTOMER:
        return _revenue_estimate(sums)
    raise ValueError(f"unknown metric {metric!r}")


def metric_compare(*, metric: str, control: VariantSums, treatment: VariantSums) -> stats.Comparison | None:
    """Treatment against control on one metric; None while either arm has fewer than 2 customers."""
    if control.customers < 2 or treatment.customers < 2:
        return None
    if metric == CTR:
        if not control.exposures or not treatment.exposures:
            return None
        return stats.ztest(control=_ctr_estimate(control), treatment=_ctr_estimate(treatment))
    if metric in (ADD_TO_CART_RATE, CONVERSION_RATE):
        attr = "add_to_carters" if metric == ADD_TO_CART_RATE else "purchasers"
        return stats.two_proportion_ztest(
            control_successes=getattr(control, attr),
            control_n=control.customers,
            treatment_successes=getattr(treatment, attr),
            treatment_n=treatment.customers,
        )
    if metric == REVENUE_PER_CUSTOMER:
        return stats.welch_ttest(control=_revenue_estimate(control), treatment=_revenue_estimate(treatment))
    raise ValueError(f"unknown metric {metric!r}")


CUPED_METRICS = (ADD_TO_CART_RATE, CONVERSION_RATE, REVENUE_PER_CUSTOMER)


def cuped_sums(*, sums: VariantSums, metric: str) -> stats.CupedSums:
    """The metric's per-customer values y against the pre-period activity x, as sums."""
    if metric == ADD_TO_CART_RATE:
        y = y_sq = float(sums.add_to_carters)  # a 0/1 value is its own square
        xy = sums.pre_x_add_to_carters
    elif metric == CONVERSION_RATE:
        y = y_sq = float(sums.purchasers)
        xy = sums.pre_x_purchasers
    elif metric == REVENUE_PER_CUSTOMER:
        y, y_sq, xy = sums.revenue, sums.revenue_sq, sums.pre_x_revenue
    else:
        raise ValueError(f"CUPED does not apply to {metric!r}")
    return stats.CupedSums(n=sums.customers, y=y, y_sq=y_sq, x=sums.pre_activity, x_sq=sums.pre_activity_sq, xy=xy)


@dataclass(frozen=True)
class CupedResult:
    theta: float
    # 1 − (adjusted variance / raw variance), summed over the arms: the share of noise removed
    variance_reduction: float
    # treatment key -> Welch comparison of the adjusted means with the control's
    comparisons: dict[str, stats.Comparison]


def cuped_result(*, arms: Sequence[ArmInput], metric: str) -> CupedResult | None:
    """CUPED on one per-customer metric across all arms (None while an arm has < 2 customers)."""
    if any(arm.sums.customers < 2 for arm in arms):
        return None
    per_arm = [cuped_sums(sums=arm.sums, metric=metric) for arm in arms]
    theta, adjusted = stats.cuped_estimates_from_sums(per_arm)
    raw = [stats.mean_estimate_from_sums(n=c.n, total=c.y, total_sq=c.y_sq) for c in per_arm]
    raw_variance = sum(e.variance for e in raw)
    control = next(i for i, arm in enumerate(arms) if arm.is_control)
    return CupedResult(
        theta=theta,
        variance_reduction=1 - sum(e.variance for e in adjusted) / raw_variance if raw_variance else 0.0,
        comparisons={
            arm.key: stats.welch_ttest(control=adjusted[control], treatment=adjusted[i])
            for i, arm in enumerate(arms)
            if i != control
        },
    )


def _ctr_estimate(sums: VariantSums) -> stats.Estimate:
    return stats.ratio_estimate_from_sums(
        n=sums.customers,
        num=sums.clicks,
        num_sq=sums.clicks_sq,
        den=sums.exposures,
        den_sq=sums.exposures_sq,
        num_x_den=sums.clicks_x_exposures,
    )


def _revenue_estimate(sums: VariantSums) -> stats.Estimate:
    return stats.mean_estimate_from_sums(n=sums.customers, total=sums.revenue, total_sq=sums.revenue_sq)


@dataclass(frozen=True)
class VariantResult:
    key: str
    is_control: bool
    weight: float
    sums: VariantSums
    values: dict[str, float | None]
    # metric -> comparison with the control (empty for the control itself)
    comparisons: dict[str, stats.Comparison | None]
    # Holm-adjusted p-value of the primary metric across all treatment arms
    primary_p_adjusted: float | None
    # always-valid test of the primary metric: safe to read at any time
    primary_sequential: stats.SequentialResult | None


@dataclass(frozen=True)
class ExperimentResult:
    primary_metric: str
    variants: tuple[VariantResult, ...]
    srm: stats.SrmResult
    warnings: tuple[str, ...]
    # CUPED on the primary metric; None for CTR (a ratio) or while an arm is too small
    cuped: CupedResult | None


@dataclass(frozen=True)
class ArmInput:
    key: str
    is_control: bool
    weight: float
    sums: VariantSums


def experiment_result(*, arms: Sequence[ArmInput], primary_metric: str) -> ExperimentResult:
    """Every arm's metrics and lift against the control, the SRM check on exposed customers,
    Holm's correction of the primary metric's p-values across treatments, and sample warnings."""
    control = next((arm for arm in arms if arm.is_control), None)
    if control is None:
        raise ValueError("an experiment result needs a control arm")
    comparisons = {
        arm.key: {m: metric_compare(metric=m, control=control.sums, treatment=arm.sums) for m in METRICS}
        for arm in arms
        if not arm.is_control
    }
    tested = [(key, c[primary_metric]) for key, c in comparisons.items() if c[primary_metric] is not None]
    adjusted = dict(zip([key for key, _ in tested], stats.holm_adjust([c.p_value for _, c in tested]), strict=True))
    successes = {arm.key: _primary_successes(arm.sums, primary_metric) for arm in arms}
    return ExperimentResult(
        primary_metric=primary_metric,
        variants=tuple(
            VariantResult(
                key=arm.key,
                is_control=arm.is_control,
                weight=arm.weight,
                sums=arm.sums,
                values={m: metric_value(sums=arm.sums, metric=m) for m in METRICS},
                comparisons=comparisons.get(arm.key, {}),
                primary_p_adjusted=adjusted.get(arm.key),
                primary_sequential=None
                if arm.is_control
                else metric_sequential(metric=primary_metric, control=control.sums, treatment=arm.sums),
            )
            for arm in arms
        ),
        srm=stats.srm_test(observed=[arm.sums.customers for arm in arms], weights=[arm.weight for arm in arms]),
        warnings=tuple(stats.sample_warnings(units={a.key: a.sums.customers for a in arms}, events=successes)),
        cuped=cuped_result(arms=arms, metric=primary_metric) if primary_metric in CUPED_METRICS else None,
    )


def metric_sequential(*, metric: str, control: VariantSums, treatment: VariantSums) -> stats.SequentialResult | None:
    """mSPRT on one metric (the primary, the guardrails); the mixture scale τ is a 10% relative change of the control's
    level (the effect size an operator usually cares about), floored so a zero control works."""
    control_estimate = metric_estimate(sums=control, metric=metric)
    treatment_estimate = metric_estimate(sums=treatment, metric=metric)
    if control_estimate is None or treatment_estimate is None:
        return None
    tau = max(abs(control_estimate.value) * SEQUENTIAL_RELATIVE_EFFECT, 1e-6)
    return stats.msprt(control=control_estimate, treatment=treatment_estimate, tau2=tau**2)


def _primary_successes(sums: VariantSums, metric: str) -> int:
    """The event count behind a metric, for the minimum-sample warning."""
    return {
        CTR: sums.clicks,
        ADD_TO_CART_RATE: sums.add_to_carters,
        CONVERSION_RATE: sums.purchasers,
        REVENUE_PER_CUSTOMER: sums.purchasers,
    }[metric]


WIN, LOSE, INCONCLUSIVE = "win", "lose", "inconclusive"


@dataclass(frozen=True)
class MetricVerdict:
    """One metric of one treatment against the control, decided by the always-valid test (safe to
    read at any time, so a verdict shown every day does not inflate the false-positive rate)."""

    metric: str
    verdict: str  # WIN, LOSE or INCONCLUSIVE
    rule: str  # the rule that decided it, in words
    relative: float | None
    # the always-valid 95% confidence sequence of the effect, divided by the control's level
    relative_ci: tuple[float, float] | None
    p_value: float | None  # always-valid
    # customers per arm needed for 80% power: to detect the observed effect, and the minimum effect
    needed_observed: int | None
    needed_minimum: int | None


def metric_verdict(
    *,
    metric: str,
    control: VariantSums,
    treatment: VariantSums,
    minimum_relative_effect: float = SEQUENTIAL_RELATIVE_EFFECT,
) -> MetricVerdict:
    """Win when the always-valid p < α and its confidence sequence excludes 0 on the good side,
    lose on the bad side, inconclusive otherwise or while an arm is under the minimum sample."""
    control_estimate = metric_estimate(sums=control, metric=metric)
    treatment_estimate = metric_estimate(sums=treatment, metric=metric)
    sequential = metric_sequential(metric=metric, control=control, treatment=treatment)
    if control_estimate is None or treatment_estimate is None or sequential is None:
        return MetricVerdict(
            metric, INCONCLUSIVE, "no data yet (under 2 customers an arm)", None, None, None, None, None
        )
    level, diff = control_estimate.value, treatment_estimate.value - control_estimate.value
    relative = diff / level if level else None
    relative_ci = (sequential.ci[0] / level, sequential.ci[1] / level) if level else None
    needed_observed = stats.sample_size_for_effect(control=control_estimate, treatment=treatment_estimate, effect=diff)
    needed_minimum = stats.sample_size_for_effect(
        control=control_estimate, treatment=treatment_estimate, effect=abs(level) * minimum_relative_effect
    )
    p = sequential.p_value
    excludes_zero = sequential.ci[0] > 0 or sequential.ci[1] < 0
    if level == 0 and diff == 0:
        verdict, rule = INCONCLUSIVE, "no events yet in either arm"
    elif min(control.customers, treatment.customers) < stats.MIN_UNITS_PER_VARIANT:
        verdict, rule = INCONCLUSIVE, f"too early: under {stats.MIN_UNITS_PER_VARIANT} customers an arm"
    elif p < stats.ALPHA and excludes_zero:
        better = (sequential.ci[0] > 0) == HIGHER_IS_BETTER[metric]
        verdict = WIN if better else LOSE
        rule = f"always-valid p = {p:.3g} < {stats.ALPHA:g} and the 95% CI excludes 0"
    else:
        verdict = INCONCLUSIVE
        rule = f"always-valid p = {p:.3g} ≥ {stats.ALPHA:g}: the 95% CI includes 0"
    return MetricVerdict(metric, verdict, rule, relative, relative_ci, p, needed_observed, needed_minimum)
