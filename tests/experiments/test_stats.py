"""experiments.stats against scipy's own tests and distributions (to 1e-9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from experiments import stats

TOL = 1e-9


def close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=TOL, abs_tol=TOL)


@pytest.mark.parametrize(
    ("control", "treatment"),
    [((120, 1000), (150, 1000)), ((48, 2217), (31, 1904)), ((5, 40), (5, 40)), ((900, 10000), (1010, 10050))],
)
def test_two_proportion_ztest_matches_chi_square_without_correction(control, treatment):
    # given two arms as (successes, n)
    table = [[control[0], control[1] - control[0]], [treatment[0], treatment[1] - treatment[0]]]
    reference = sps.chi2_contingency(table, correction=False)
    # when the z-test runs
    result = stats.two_proportion_ztest(
        control_successes=control[0], control_n=control[1], treatment_successes=treatment[0], treatment_n=treatment[1]
    )
    # then z² is Pearson's chi-square and the p-values agree
    assert close(result.statistic**2, reference.statistic)
    assert close(result.p_value, reference.pvalue)
    assert close(result.absolute, treatment[0] / treatment[1] - control[0] / control[1])


def test_two_proportion_ci_uses_unpooled_standard_error():
    # given 120/1000 against 150/1000
    result = stats.two_proportion_ztest(
        control_successes=120, control_n=1000, treatment_successes=150, treatment_n=1000
    )
    # then the interval is the difference ± z₀.₉₇₅ · sqrt(p₁q₁/n₁ + p₂q₂/n₂)
    half = sps.norm.ppf(0.975) * math.sqrt(0.12 * 0.88 / 1000 + 0.15 * 0.85 / 1000)
    assert close(result.absolute_ci[0], 0.03 - half)
    assert close(result.absolute_ci[1], 0.03 + half)
    assert close(result.relative, 0.25)


def test_welch_ttest_matches_scipy():
    # given two skewed samples of unequal size and spread
    rng = np.random.default_rng(7)
    control = rng.lognormal(mean=1.0, sigma=1.2, size=400)
    treatment = rng.lognormal(mean=1.1, sigma=0.8, size=650)
    reference = sps.ttest_ind(treatment, control, equal_var=False)
    reference_ci = reference.confidence_interval(0.95)
    # when Welch's test runs on the per-variant estimates
    result = stats.welch_ttest(control=stats.mean_estimate(control), treatment=stats.mean_estimate(treatment))
    # then statistic, p-value, degrees of freedom and interval are scipy's
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)
    assert close(result.df, reference.df)
    assert close(result.absolute_ci[0], reference_ci.low)
    assert close(result.absolute_ci[1], reference_ci.high)


def test_mean_estimate_variance_is_squared_standard_error():
    values = [3.0, 0.0, 12.5, 7.25, 0.0, 1.0]
    estimate = stats.mean_estimate(values)
    assert close(estimate.value, float(np.mean(values)))
    assert close(estimate.variance, sps.sem(values) ** 2)
    assert estimate.n == 6


def test_relative_lift_ci_is_the_delta_method():
    # given control 10 ± sqrt(0.25) and treatment 11 ± sqrt(0.36)
    control = stats.Estimate(value=10.0, variance=0.25, n=1000)
    treatment = stats.Estimate(value=11.0, variance=0.36, n=1000)
    # when compared with a z-test
    result = stats.ztest(control=control, treatment=treatment)
    # then Var(T/C − 1) = Var(T)/C² + T²·Var(C)/C⁴ = 0.0036 + 0.003025
    half = sps.norm.ppf(0.975) * math.sqrt(0.36 / 100 + 121 * 0.25 / 10_000)
    assert close(result.relative, 0.1)
    assert close(result.relative_ci[0], 0.1 - half)
    assert close(result.relative_ci[1], 0.1 + half)
    assert close(result.p_value, 2 * sps.norm.sf(1 / math.sqrt(0.61)))


def test_relative_lift_is_none_when_control_is_zero():
    result = stats.ztest(
        control=stats.Estimate(value=0.0, variance=0.0, n=10), treatment=stats.Estimate(value=1.0, variance=0.1, n=10)
    )
    assert result.relative is None
    assert result.relative_ci is None


def test_ratio_estimate_delta_method_equals_linearised_standard_error():
    # given clicks and exposures per customer
    rng = np.random.default_rng(3)
    exposures = rng.integers(1, 20, size=500).astype(float)
    clicks = rng.binomial(exposures.astype(int), 0.07).astype(float)
    # when the ratio of sums is estimated
    estimate = stats.ratio_estimate(numerators=clicks, denominators=exposures)
    # then R = Σy/Σx and Var(R) = sem(y − R·x)² / x̄² (the linearised form of the delta method)
    ratio = clicks.sum() / exposures.sum()
    assert close(estimate.value, ratio)
    assert close(estimate.variance, sps.sem(clicks - ratio * exposures) ** 2 / exposures.mean() ** 2)


def test_ratio_estimate_with_unit_denominators_is_the_mean():
    values = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    estimate = stats.ratio_estimate(numerators=values, denominators=np.ones_like(values))
    assert close(estimate.variance, sps.sem(values) ** 2)


def test_srm_matches_scipy_chisquare_and_flags_at_one_in_a_thousand():
    # given 50/50 weights and a visibly lopsided split
    reference = sps.chisquare([10_300, 9_700], f_exp=[10_000, 10_000])
    result = stats.srm_test(observed=[10_300, 9_700], weights=[1, 1])
    assert close(result.chi2, reference.statistic)
    assert close(result.p_value, reference.pvalue)
    assert result.flagged is True
    # and a split within chance is not flagged (three arms, weights 2:1:1)
    healthy = stats.srm_test(observed=[5_020, 2_490, 2_490], weights=[0.5, 0.25, 0.25])
    assert close(healthy.p_value, sps.chisquare([5_020, 2_490, 2_490], f_exp=[5_000, 2_500, 2_500]).pvalue)
    assert healthy.flagged is False


def test_holm_adjusts_step_down_in_input_order():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → raised to 0.06
    assert stats.holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=TOL)
    assert stats.holm_adjust([0.6, 0.9]) == [1.0, 1.0]


def test_sample_size_and_warnings():
    # 10% baseline, +10% relative, α 0.05, power 0.8
    assert stats.sample_size_per_variant(baseline=0.1, relative_mde=0.1) == 14_749
    warnings = stats.sample_warnings(units={"control": 80, "b": 500, "c": 500}, events={"control": 3, "b": 4, "c": 40})
    assert warnings == [
        "control: 80 customers, fewer than 100; the result is not reliable yet.",
        "b: 4 successes, fewer than 10; the normal approximation does not hold yet.",
    ]


def test_cuped_theta_is_the_regression_slope_and_variance_shrinks_by_rho_squared():
    # given an in-experiment metric correlated with the same customers' pre-period metric
    rng = np.random.default_rng(11)
    pre = rng.gamma(2.0, 5.0, size=2000)
    post = 0.8 * pre + rng.normal(0, 4.0, size=2000)
    # when CUPED adjusts
    theta = stats.cuped_theta(metric=post, covariate=pre)
    adjusted = stats.cuped_adjust(metric=post, covariate=pre, theta=theta, covariate_mean=float(pre.mean()))
    # then θ is the OLS slope, the mean is unchanged and Var(adjusted) = Var(Y)(1 − ρ²)
    rho = sps.pearsonr(post, pre).statistic
    assert close(theta, sps.linregress(pre, post).slope)
    assert close(adjusted.mean(), post.mean())
    assert close(adjusted.var(ddof=1), post.var(ddof=1) * (1 - rho**2))


def _mixture_likelihood_ratio(diff: float, v: float, tau2: float) -> float:
    """∫ N(θ̂; θ, V) N(θ; 0, τ²) dθ / N(θ̂; 0, V), by quadrature."""
    sd = math.sqrt(v)
    numerator, _ = integrate.quad(
        lambda theta: sps.norm.pdf(diff, theta, sd) * sps.norm.pdf(theta, 0, math.sqrt(tau2)),
        -np.inf,
        np.inf,
        epsabs=0,
        epsrel=1e-13,
    )
    return numerator / sps.norm.pdf(diff, 0, sd)


@pytest.mark.parametrize(("diff", "v", "tau2"), [(0.01, 4e-5, 1e-4), (-0.02, 1e-4, 1e-4), (0.0, 2e-4, 4e-4)])
def test_msprt_likelihood_ratio_is_the_normal_mixture_integral(diff, v, tau2):
    # given a difference of means with variance v split over two arms
    control = stats.Estimate(value=0.1, variance=v / 2, n=1000)
    treatment = stats.Estimate(value=0.1 + diff, variance=v / 2, n=1000)
    # when the mixture SPRT reads it
    result = stats.msprt(control=control, treatment=treatment, tau2=tau2)
    # then Λ equals the mixture integral computed numerically
    assert math.isclose(result.likelihood_ratio, _mixture_likelihood_ratio(diff, v, tau2), rel_tol=TOL)
    assert close(result.p_value, min(1.0, 1 / result.likelihood_ratio))


def test_msprt_confidence_sequence_edge_is_where_lambda_reaches_one_over_alpha():
    # given V and τ², the half-width of the confidence sequence at θ̂ = 0
    v, tau2 = 1e-4, 4e-4
    half = stats.msprt(
        control=stats.Estimate(0.2, v / 2, 500), treatment=stats.Estimate(0.2, v / 2, 500), tau2=tau2
    ).ci[1]
    # when θ̂ sits exactly on that edge
    edge = stats.msprt(
        control=stats.Estimate(0.2, v / 2, 500), treatment=stats.Estimate(0.2 + half, v / 2, 500), tau2=tau2
    )
    # then Λ = 1/α: the interval excludes 0 exactly when the test rejects
    assert math.isclose(edge.likelihood_ratio, 1 / stats.ALPHA, rel_tol=TOL)


def test_cuped_estimates_from_sums_match_adjusting_each_customer():
    # given two arms of (metric, covariate) per customer
    rng = np.random.default_rng(5)
    arms = []
    for shift in (0.0, 0.7):
        x = rng.poisson(4.0, size=1500).astype(float)
        arms.append((1.5 * x + shift + rng.normal(0, 2.0, size=1500), x))
    # when adjusted from sums
    theta, estimates = stats.cuped_estimates_from_sums(
        [
            stats.CupedSums(n=y.size, y=y.sum(), y_sq=(y**2).sum(), x=x.sum(), x_sq=(x**2).sum(), xy=(x * y).sum())
            for y, x in arms
        ]
    )
    # then θ is the pooled slope and each arm's estimate is mean_estimate of its adjusted values
    all_y, all_x = np.concatenate([a[0] for a in arms]), np.concatenate([a[1] for a in arms])
    assert math.isclose(theta, sps.linregress(all_x, all_y).slope, rel_tol=TOL)
    for (y, x), estimate in zip(arms, estimates, strict=True):
        expected = stats.mean_estimate(
            stats.cuped_adjust(metric=y, covariate=x, theta=theta, covariate_mean=float(all_x.mean()))
        )
        assert math.isclose(estimate.value, expected.value, rel_tol=TOL)
        assert math.isclose(estimate.variance, expected.variance, rel_tol=1e-7)


def test_sample_size_for_effect_matches_the_two_proportion_formula_and_scales_with_the_effect():
    # given two proportions 10% and 12%, as estimates of 1,000 customers each
    control = stats.proportion_estimate(successes=100, n=1000)
    treatment = stats.proportion_estimate(successes=120, n=1000)
    # then the customers per arm are the textbook two-proportion number (3,839 at α 0.05, 80% power)
    needed = stats.sample_size_for_effect(control=control, treatment=treatment, effect=0.02)
    assert needed == stats.sample_size_per_variant(baseline=0.1, relative_mde=0.2) == 3839
    # and half the effect needs four times the customers; more power needs more
    assert stats.sample_size_for_effect(control=control, treatment=treatment, effect=0.01) in range(
        4 * 3839 - 4, 4 * 3839 + 1
    )
    assert stats.sample_size_for_effect(control=control, treatment=treatment, effect=0.02, power=0.9) > needed
    # and no effect, or no variance, has no size
    assert stats.sample_size_for_effect(control=control, treatment=treatment, effect=0.0) is None
    flat = stats.Estimate(value=1.0, variance=0.0, n=10)
    assert stats.sample_size_for_effect(control=flat, treatment=flat, effect=0.1) is None
