"""Per-variant metrics from sufficient statistics, and the experiment result built from them."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from experiments import metrics, stats
from experiments.models import Metric

TOL = 1e-9


def arrays(seed: int, n: int, ctr: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    exposures = rng.integers(1, 8, size=n).astype(float)
    clicks = rng.binomial(exposures.astype(int), ctr).astype(float)
    # active customers before the start buy more during it: what CUPED exploits
    pre_activity = rng.poisson(3.0, size=n).astype(float)
    purchases = rng.binomial(1, np.minimum(0.01 + 0.02 * pre_activity, 1.0)).astype(float)
    return {
        "exposures": exposures,
        "clicks": clicks,
        "add_to_carts": rng.binomial(1, 0.1, size=n).astype(float),
        "purchases": purchases,
        "revenue": purchases * rng.gamma(2.0, 20.0, size=n) + pre_activity * 2.0,
        "pre_activity": pre_activity,
    }


def test_metric_names_match_the_model_choices():
    assert set(Metric.values) == set(metrics.METRICS)


def test_estimates_from_sums_equal_those_from_per_customer_values():
    # given per-customer arrays and their sufficient statistics
    data = arrays(1, 3000, 0.08)
    sums = metrics.variant_sums(**data)
    # then the snapshot-based estimates are the raw-array ones
    from_sums = stats.ratio_estimate_from_sums(
        n=sums.customers,
        num=sums.clicks,
        num_sq=sums.clicks_sq,
        den=sums.exposures,
        den_sq=sums.exposures_sq,
        num_x_den=sums.clicks_x_exposures,
    )
    from_values = stats.ratio_estimate(numerators=data["clicks"], denominators=data["exposures"])
    assert math.isclose(from_sums.value, from_values.value, rel_tol=TOL)
    assert math.isclose(from_sums.variance, from_values.variance, rel_tol=1e-7)
    revenue = stats.mean_estimate_from_sums(n=sums.customers, total=sums.revenue, total_sq=sums.revenue_sq)
    assert math.isclose(revenue.variance, sps.sem(data["revenue"]) ** 2, rel_tol=1e-7)
    assert sums.purchasers == int(data["purchases"].sum())


def test_experiment_result_compares_each_arm_with_the_control_and_corrects_for_two_treatments():
    # given a control and two treatments, one with a clearly higher click-through rate
    arms = [
        metrics.ArmInput(key="control", is_control=True, weight=1, sums=metrics.variant_sums(**arrays(1, 4000, 0.08))),
        metrics.ArmInput(key="same", is_control=False, weight=1, sums=metrics.variant_sums(**arrays(2, 4000, 0.08))),
        metrics.ArmInput(key="better", is_control=False, weight=1, sums=metrics.variant_sums(**arrays(3, 4000, 0.1))),
    ]
    # when the result is computed on CTR
    result = metrics.experiment_result(arms=arms, primary_metric="ctr")
    by_key = {v.key: v for v in result.variants}
    # then the comparisons are the z-test on delta-method CTRs, Holm-adjusted across both treatments
    better = by_key["better"].comparisons["ctr"]
    same = by_key["same"].comparisons["ctr"]
    assert better.p_value < 1e-6 and better.absolute_ci[0] > 0
    assert by_key["better"].primary_p_adjusted == stats.holm_adjust([same.p_value, better.p_value])[1]
    assert by_key["same"].primary_p_adjusted == stats.holm_adjust([same.p_value, better.p_value])[0]
    assert by_key["control"].comparisons == {} and by_key["control"].primary_p_adjusted is None
    assert by_key["control"].values["ctr"] == arms[0].sums.clicks / arms[0].sums.exposures
    # and a 4000/4000/4000 split on equal weights is healthy
    assert result.srm.flagged is False and result.srm.chi2 == 0.0
    assert result.warnings == ()


def test_srm_and_small_sample_warnings_surface_in_the_result():
    control = metrics.variant_sums(**arrays(1, 1000, 0.08))
    treatment = metrics.variant_sums(**arrays(2, 60, 0.08))
    result = metrics.experiment_result(
        arms=[
            metrics.ArmInput(key="control", is_control=True, weight=1, sums=control),
            metrics.ArmInput(key="treatment", is_control=False, weight=1, sums=treatment),
        ],
        primary_metric="conversion_rate",
    )
    assert result.srm.flagged is True
    assert result.warnings[0] == "treatment: 60 customers, fewer than 100; the result is not reliable yet."


def test_primary_metric_gets_an_always_valid_test_scaled_to_a_tenth_of_the_control():
    control = metrics.variant_sums(**arrays(1, 4000, 0.08))
    treatment = metrics.variant_sums(**arrays(3, 4000, 0.1))
    result = metrics.experiment_result(
        arms=[
            metrics.ArmInput(key="control", is_control=True, weight=1, sums=control),
            metrics.ArmInput(key="treatment", is_control=False, weight=1, sums=treatment),
        ],
        primary_metric="conversion_rate",
    )
    control_estimate = stats.proportion_estimate(successes=control.purchasers, n=control.customers)
    expected = stats.msprt(
        control=control_estimate,
        treatment=stats.proportion_estimate(successes=treatment.purchasers, n=treatment.customers),
        tau2=(0.1 * control_estimate.value) ** 2,
    )
    assert result.variants[1].primary_sequential == expected
    assert result.variants[0].primary_sequential is None


def test_cuped_on_sums_equals_cuped_on_per_customer_values_and_removes_variance():
    # given two arms' per-customer revenue and pre-period activity
    control, treatment = arrays(1, 3000, 0.08), arrays(2, 3000, 0.08)
    arms = [
        metrics.ArmInput(key="control", is_control=True, weight=1, sums=metrics.variant_sums(**control)),
        metrics.ArmInput(key="treatment", is_control=False, weight=1, sums=metrics.variant_sums(**treatment)),
    ]
    # when CUPED runs from the sums
    result = metrics.cuped_result(arms=arms, metric="revenue_per_customer")
    # then θ and the comparison are those of the array route: pooled θ, adjusted values, Welch
    pooled_y = np.concatenate([control["revenue"], treatment["revenue"]])
    pooled_x = np.concatenate([control["pre_activity"], treatment["pre_activity"]])
    theta = stats.cuped_theta(metric=pooled_y, covariate=pooled_x)
    adjusted = [
        stats.mean_estimate(
            stats.cuped_adjust(
                metric=arm["revenue"], covariate=arm["pre_activity"], theta=theta, covariate_mean=pooled_x.mean()
            )
        )
        for arm in (control, treatment)
    ]
    expected = stats.welch_ttest(control=adjusted[0], treatment=adjusted[1])
    comparison = result.comparisons["treatment"]
    assert math.isclose(result.theta, theta, rel_tol=1e-9)
    assert math.isclose(comparison.absolute, expected.absolute, rel_tol=1e-7)
    assert math.isclose(comparison.p_value, expected.p_value, rel_tol=1e-7)
    # and the adjustment removes a good share of the variance (pre-activity drives revenue here)
    assert result.variance_reduction > 0.1


def test_ctr_gets_no_cuped_and_the_per_customer_metrics_do():
    arms = [
        metrics.ArmInput(key="control", is_control=True, weight=1, sums=metrics.variant_sums(**arrays(1, 500, 0.08))),
        metrics.ArmInput(key="b", is_control=False, weight=1, sums=metrics.variant_sums(**arrays(2, 500, 0.08))),
    ]
    assert metrics.experiment_result(arms=arms, primary_metric="ctr").cuped is None
    assert set(metrics.experiment_result(arms=arms, primary_metric="conversion_rate").cuped.comparisons) == {"b"}


def test_metric_verdict_wins_loses_and_stays_inconclusive_by_the_always_valid_rule():
    control = metrics.variant_sums(**arrays(11, 3000, 0.05))
    better = metrics.variant_sums(**arrays(12, 3000, 0.10))
    same = metrics.variant_sums(**arrays(13, 3000, 0.05))
    # a doubled click-through rate wins, and the rule that decided it is stated
    win = metrics.metric_verdict(metric=metrics.CTR, control=control, treatment=better)
    assert win.verdict == metrics.WIN
    assert win.rule.endswith("< 0.05 and the 95% CI excludes 0") and win.p_value < 0.05
    assert win.relative_ci[0] > 0 and win.relative_ci[0] < win.relative < win.relative_ci[1]
    # the same comparison the other way round loses
    assert metrics.metric_verdict(metric=metrics.CTR, control=better, treatment=control).verdict == metrics.LOSE
    # no difference: inconclusive, the interval straddles 0
    tie = metrics.metric_verdict(metric=metrics.CTR, control=control, treatment=same)
    assert tie.verdict == metrics.INCONCLUSIVE and tie.relative_ci[0] < 0 < tie.relative_ci[1]
    assert "includes 0" in tie.rule
    # under the minimum sample, inconclusive whatever the numbers
    small = metrics.variant_sums(**arrays(14, 50, 0.3))
    early = metrics.metric_verdict(metric=metrics.CTR, control=control, treatment=small)
    assert early.verdict == metrics.INCONCLUSIVE and early.rule.startswith("too early")
    # the power calculation: fewer customers needed for the large observed effect than for a 10% lift
    assert win.needed_observed < 3000 < win.needed_minimum
