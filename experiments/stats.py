"""Experiment statistics, pure: numbers in, numbers out (no Django, no database).

Every metric reaches this module as an `Estimate` of one variant — a point value and the
variance of that value — so one comparison serves means (Welch), proportions (z) and ratio
metrics (delta method). The unit is the customer: per-customer values go in, never per-exposure
rows, so that repeated exposures of one customer do not shrink the variance falsely.

References:
- Welch–Satterthwaite degrees of freedom: Welch (1947), Biometrika 34.
- Delta method for ratio metrics: Deng, Knoblich & Lu (2018), "Applying the Delta Method in
  Metric Analytics", KDD.
- CUPED: Deng, Xu, Kohavi & Walker (2013), "Improving the Sensitivity of Online Controlled
  Experiments by Utilizing Pre-Experiment Data", WSDM.
- mSPRT and always-valid p-values: Johari, Koomen, Pekelis & Walsh (2017/2022), "Always Valid
  Inference: Continuous Monitoring of A/B Tests", Operations Research.
- Holm (1979), "A Simple Sequentially Rejective Multiple Test Procedure", Scand. J. Statistics.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
# Sample-ratio mismatch is flagged only at strong evidence: a false alarm halts a healthy test.
SRM_ALPHA = 0.001
# Below these the normal approximation (and the operator's intuition) is not to be trusted.
MIN_UNITS_PER_VARIANT = 100
MIN_EVENTS_PER_VARIANT = 10


@dataclass(frozen=True)
class Estimate:
    """One variant's metric: its value, the variance of that value (SE²) and the units behind it."""

    value: float
    variance: float
    n: int


@dataclass(frozen=True)
class Comparison:
    """Treatment against control: absolute and relative lift with their confidence intervals.

    `relative` and `relative_ci` are None when the control's value is 0 (no ratio exists).
    `df` is the Welch–Satterthwaite degrees of freedom for a t-test, None for a z-test.
    """

    control: float
    treatment: float
    absolute: float
    absolute_ci: tuple[float, float]
    relative: float | None
    relative_ci: tuple[float, float] | None
    statistic: float
    p_value: float
    df: float | None


@dataclass(frozen=True)
class SrmResult:
    chi2: float
    p_value: float
    flagged: bool


@dataclass(frozen=True)
class SequentialResult:
    """An always-valid look: the mixture likelihood ratio, its p-value and confidence interval."""

    likelihood_ratio: float
    p_value: float
    ci: tuple[float, float]
    reject: bool


# --- per-variant estimates ----------------------------------------------------------------------


def mean_estimate(values: Sequence[float] | np.ndarray) -> Estimate:
    """The mean of per-customer values, with variance s²/n (sample variance, ddof=1)."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        raise ValueError("a mean estimate needs at least two units")
    return Estimate(value=float(x.mean()), variance=float(x.var(ddof=1) / n), n=n)


def proportion_estimate(*, successes: int, n: int) -> Estimate:
    """A share of units (customers who clicked, converted): p with variance p(1-p)/n."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    p = successes / n
    return Estimate(value=p, variance=p * (1 - p) / n, n=n)


def ratio_estimate(*, numerators: Sequence[float] | np.ndarray, denominators: Sequence[float] | np.ndarray) -> Estimate:
    """A ratio of sums over customers (clicks / exposures, revenue / orders) by the delta method.

    R = ȳ / x̄ and Var(R) ≈ (s_y² − 2 R s_xy + R² s_x²) / (n x̄²) (Deng et al. 2018, eq. 3): the
    customer, not the exposure, is the independent unit.
    """
    y = np.asarray(numerators, dtype=float)
    x = np.asarray(denominators, dtype=float)
    n = y.size
    if n < 2 or x.size != n:
        raise ValueError("a ratio estimate needs two equal-length arrays of at least two units")
    mean_x = x.mean()
    if mean_x == 0:
        raise ValueError("the denominator sums to zero")
    ratio = y.mean() / mean_x
    cov = np.cov(y, x, ddof=1)
    variance = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * mean_x**2)
    return Estimate(value=float(ratio), variance=float(max(variance, 0.0)), n=n)


# --- fixed-horizon tests ----------------------------------------------------------------------


def welch_ttest(*, control: Estimate, treatment: Estimate, alpha: float = ALPHA) -> Comparison:
    """Welch's unequal-variance t-test on two means; CIs use the same t quantile."""
    se2 = control.variance + treatment.variance
    df = (
        se2**2 / (control.variance**2 / (control.n - 1) + treatment.variance**2 / (treatment.n - 1))
        if se2
        else math.inf
    )
    quantile = float(sps.t.ppf(1 - alpha / 2, df))
    diff = treatment.value - control.value
    if se2 == 0:
        statistic = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p_value = 1.0 if diff == 0 else 0.0
    else:
        statistic = diff / math.sqrt(se2)
        p_value = float(2 * sps.t.sf(abs(statistic), df))
    return _comparison(control, treatment, statistic, p_value, quantile, df)


def ztest(*, control: Estimate, treatment: Estimate, alpha: float = ALPHA) -> Comparison:
    """Normal test on two independent estimates (ratio metrics from the delta method)."""
    se2 = control.variance + treatment.variance
    diff = treatment.value - control.value
    if se2 == 0:
        statistic = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    else:
        statistic = diff / math.sqrt(se2)
    return _comparison(control, treatment, statistic, _normal_p_value(statistic), _normal_quantile(alpha), None)


def two_proportion_ztest(
    *, control_successes: int, control_n: int, treatment_successes: int, treatment_n: int, alpha: float = ALPHA
) -> Comparison:
    """Two-proportion z-test: pooled standard error for the test (equal under the null), unpooled
    for the confidence intervals (the lift is estimated, not assumed zero).

    z² equals Pearson's chi-square on the 2×2 table without continuity correction.
    """
    control = proportion_estimate(successes=control_successes, n=control_n)
    treatment = proportion_estimate(successes=treatment_successes, n=treatment_n)
    pooled = (control_successes + treatment_successes) / (control_n + treatment_n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / control_n + 1 / treatment_n))
    diff = treatment.value - control.value
    statistic = diff / se_pooled if se_pooled else 0.0
    return _comparison(control, treatment, statistic, _normal_p_value(statistic), _normal_quantile(alpha), None)


def _normal_p_value(statistic: float) -> float:
    """Two-sided normal p-value; erfc keeps precision in the far tail and costs no scipy call."""
    return math.erfc(abs(statistic) / math.sqrt(2))


@functools.lru_cache(maxsize=16)
def _normal_quantile(alpha: float) -> float:
    return float(sps.norm.ppf(1 - alpha / 2))


def _comparison(
    control: Estimate, treatment: Estimate, statistic: float, p_value: float, quantile: float, df: float | None
) -> Comparison:
    diff = treatment.value - control.value
    half = quantile * math.sqrt(control.variance + treatment.variance)
    relative = relative_ci = None
    if control.value != 0:
        # Delta method for T/C − 1: Var ≈ Var(T)/C² + T² Var(C)/C⁴ (independent arms).
        relative = treatment.value / control.value - 1
        rel_se = math.sqrt(
            treatment.variance / control.value**2 + treatment.value**2 * control.variance / control.value**4
        )
        relative_ci = (relative - quantile * rel_se, relative + quantile * rel_se)
    return Comparison(
        control=control.value,
        treatment=treatment.value,
        absolute=diff,
        absolute_ci=(diff - half, diff + half),
        relative=relative,
        relative_ci=relative_ci,
        statistic=statistic,
        p_value=p_value,
        df=df,
    )


# --- health checks and corrections ----------------------------------------------------------------


def srm_test(*, observed: Sequence[int], weights: Sequence[float], alpha: float = SRM_ALPHA) -> SrmResult:
    """Sample-ratio mismatch: Pearson's chi-square of the units per variant against the weights."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("need one weight per variant and at least two variants")
    total = sum(observed)
    weight_sum = sum(weights)
    if total == 0 or weight_sum <= 0:
        return SrmResult(chi2=0.0, p_value=1.0, flagged=False)
    expected = [total * w / weight_sum for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True) if e > 0)
    p_value = float(sps.chi2.sf(chi2, len(observed) - 1))
    return SrmResult(chi2=float(chi2), p_value=p_value, flagged=p_value < alpha)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (controls the family-wise error)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def sample_size_per_variant(*, baseline: float, relative_mde: float, alpha: float = ALPHA, power: float = 0.8) -> int:
    """Customers per variant for a two-proportion test to detect `baseline × (1 + relative_mde)`."""
    if not 0 < baseline < 1 or relative_mde == 0:
        raise ValueError("need 0 < baseline < 1 and a non-zero effect")
    p2 = baseline * (1 + relative_mde)
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    return math.ceil(z**2 * (baseline * (1 - baseline) + p2 * (1 - p2)) / (p2 - baseline) ** 2)


def sample_size_for_effect(
    *, control: Estimate, treatment: Estimate, effect: float, alpha: float = ALPHA, power: float = 0.8
) -> int | None:
    """Customers per arm a two-sided test needs to detect an absolute `effect` with `power`.

    n = (z_{1−α/2} + z_power)² (σ_c² + σ_t²) / effect², where σ² is the per-customer variance behind
    each estimate (its variance × n), so means, proportions and delta-method ratios all work.
    None when the effect is 0 or the arms have no variance (nothing to size against).
    """
    if effect == 0 or control.n <= 0 or treatment.n <= 0:
        return None
    unit_variance = control.variance * control.n + treatment.variance * treatment.n
    if unit_variance <= 0:
        return None
    z = _normal_quantile(alpha) + float(sps.norm.ppf(power))
    return math.ceil(z**2 * unit_variance / effect**2)


def sample_warnings(
    *,
    units: dict[str, int],
    events: dict[str, int],
    min_units: int = MIN_UNITS_PER_VARIANT,
    min_events: int = MIN_EVENTS_PER_VARIANT,
) -> list[str]:
    """Plain-language warnings for variants too small to read (units: customers; events: successes)."""
    warnings = []
    for variant, n in units.items():
        if n < min_units:
            warnings.append(f"{variant}: {n} customers, fewer than {min_units}; the result is not reliable yet.")
        elif events.get(variant, 0) < min_events:
            warnings.append(
                f"{variant}: {events.get(variant, 0)} successes, fewer than {min_events}; "
                "the normal approximation does not hold yet."
            )
    return warnings


# --- variance reduction -------------------------------------------------------------------------


def cuped_theta(*, metric: Sequence[float] | np.ndarray, covariate: Sequence[float] | np.ndarray) -> float:
    """θ = Cov(Y, X) / Var(X), from all variants pooled (X: the pre-period value of the metric)."""
    y = np.asarray(metric, dtype=float)
    x = np.asarray(covariate, dtype=float)
    var_x = x.var(ddof=1)
    if var_x == 0:
        return 0.0
    return float(np.cov(y, x, ddof=1)[0, 1] / var_x)


def cuped_adjust(
    *,
    metric: Sequence[float] | np.ndarray,
    covariate: Sequence[float] | np.ndarray,
    theta: float,
    covariate_mean: float,
) -> np.ndarray:
    """Y − θ (X − E[X]): same expectation as Y, variance shrunk by ρ²(X, Y).

    `covariate_mean` is the pooled mean over all variants, so every arm shifts by the same amount
    and the difference between arms stays unbiased.
    """
    return np.asarray(metric, dtype=float) - theta * (np.asarray(covariate, dtype=float) - covariate_mean)


# --- sequential (always-valid) testing ------------------------------------------------------------


def msprt(*, control: Estimate, treatment: Estimate, tau2: float, alpha: float = ALPHA) -> SequentialResult:
    """Mixture sequential probability ratio test with a normal mixture N(0, τ²) on the effect.

    With θ̂ = treatment − control and V = Var(θ̂) (Johari et al., eq. 11–12, H0: θ = 0):

        Λ = sqrt(V / (V + τ²)) · exp( θ̂² τ² / (2 V (V + τ²)) )

    Λ is a non-negative martingale under H0, so by Ville's inequality P(sup Λ ≥ 1/α) ≤ α: the
    test may be read after every customer. The always-valid p-value is min(1, 1/Λ) (callers keep
    the running minimum across looks), and the matching confidence sequence is

        θ̂ ± sqrt( V (V + τ²) / τ² · (2 log(1/α) + log((V + τ²) / V)) ).

    τ² is the prior scale of plausible effects; the square of the smallest effect worth
    detecting is a good choice.
    """
    if tau2 <= 0:
        raise ValueError("tau2 must be positive")
    diff = treatment.value - control.value
    v = control.variance + treatment.variance
    if v == 0:
        return SequentialResult(likelihood_ratio=1.0, p_value=1.0, ci=(diff, diff), reject=False)
    log_lr = 0.5 * math.log(v / (v + tau2)) + diff**2 * tau2 / (2 * v * (v + tau2))
    likelihood_ratio = math.exp(min(log_lr, 700.0))
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    p_value = min(1.0, 1 / likelihood_ratio)
    return SequentialResult(
        likelihood_ratio=likelihood_ratio, p_value=p_value, ci=(diff - half, diff + half), reject=p_value <= alpha
    )


# --- estimates from sufficient statistics (stored daily snapshots) ----------------------------------


def mean_estimate_from_sums(*, n: int, total: float, total_sq: float) -> Estimate:
    """`mean_estimate` from n, Σx and Σx² — what a snapshot stores instead of every customer's value."""
    if n < 2:
        raise ValueError("a mean estimate needs at least two units")
    mean = total / n
    sample_var = max((total_sq - n * mean**2) / (n - 1), 0.0)
    return Estimate(value=mean, variance=sample_var / n, n=n)


def ratio_estimate_from_sums(
    *, n: int, num: float, num_sq: float, den: float, den_sq: float, num_x_den: float
) -> Estimate:
    """`ratio_estimate` from n, Σy, Σy², Σx, Σx² and Σxy (same delta-method variance)."""
    if n < 2:
        raise ValueError("a ratio estimate needs at least two units")
    if den == 0:
        raise ValueError("the denominator sums to zero")
    mean_y, mean_x = num / n, den / n
    ratio = num / den
    var_y = (num_sq - n * mean_y**2) / (n - 1)
    var_x = (den_sq - n * mean_x**2) / (n - 1)
    cov = (num_x_den - n * mean_x * mean_y) / (n - 1)
    variance = (var_y - 2 * ratio * cov + ratio**2 * var_x) / (n * mean_x**2)
    return Estimate(value=ratio, variance=max(variance, 0.0), n=n)


@dataclass(frozen=True)
class CupedSums:
    """One arm's sums for CUPED: n, Σy, Σy², Σx, Σx², Σxy (y: the metric, x: the pre-period covariate)."""

    n: int
    y: float
    y_sq: float
    x: float
    x_sq: float
    xy: float


def cuped_estimates_from_sums(arms: Sequence[CupedSums]) -> tuple[float, list[Estimate]]:
    """θ from all arms pooled, and each arm's CUPED-adjusted mean with its variance.

    The adjusted mean is ȳ − θ (x̄_arm − x̄_pooled) and its variance (s_y² − 2θ s_xy + θ² s_x²)/n,
    the same numbers `cuped_adjust` followed by `mean_estimate` gives on per-customer values.
    """
    n = sum(a.n for a in arms)
    sum_x, sum_y = sum(a.x for a in arms), sum(a.y for a in arms)
    var_x = (sum(a.x_sq for a in arms) - sum_x**2 / n) / (n - 1)
    cov = (sum(a.xy for a in arms) - sum_x * sum_y / n) / (n - 1)
    theta = cov / var_x if var_x > 0 else 0.0
    pooled_x = sum_x / n
    estimates = []
    for a in arms:
        mean_x, mean_y = a.x / a.n, a.y / a.n
        s_yy = (a.y_sq - a.n * mean_y**2) / (a.n - 1)
        s_xx = (a.x_sq - a.n * mean_x**2) / (a.n - 1)
        s_xy = (a.xy - a.n * mean_x * mean_y) / (a.n - 1)
        variance = max(s_yy - 2 * theta * s_xy + theta**2 * s_xx, 0.0) / a.n
        estimates.append(Estimate(value=mean_y - theta * (mean_x - pooled_x), variance=variance, n=a.n))
    return theta, estimates
