"""Bayesian chance to beat control, pure (numbers in, numbers out): a second view of the evidence
beside the frequentist tests, read as "how likely is this arm better than the control".

- Add-to-cart and conversion rate (shares of customers): each arm's rate has a Beta(1, 1) prior
  (uniform on [0, 1]) and a Beta(1 + successes, 1 + failures) posterior; P(treatment > control)
  is exact (Miller 2015, "Formulas for Bayesian A/B Testing"), a sum over one arm's successes.
- CTR (a ratio of per-customer sums) and revenue per customer (a mean): a flat prior on the
  difference, whose posterior is then approximately Normal(observed difference, SE²) with the
  same standard error the tests use (delta method for CTR, Welch's for revenue), so
  P(treatment > control) = Φ(difference / SE). A Beta on clicks / exposures would treat every
  exposure as independent and overstate the certainty; the customer stays the unit here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

from experiments import metrics, stats

RATE_PRIOR = (1, 1)
# Above this many terms the exact sum is replaced by the normal approximation of the two Beta
# posteriors (at such counts they are normal to many digits, and the sum would cost memory).
MAX_EXACT_TERMS = 1_000_000
PRIORS = {
    metrics.CTR: "flat prior on the difference; posterior ≈ Normal(difference, delta-method SE²)",
    metrics.ADD_TO_CART_RATE: "Beta(1, 1) (uniform) prior on each arm's rate; Beta–Binomial posterior, exact",
    metrics.CONVERSION_RATE: "Beta(1, 1) (uniform) prior on each arm's rate; Beta–Binomial posterior, exact",
    metrics.REVENUE_PER_CUSTOMER: "flat prior on the difference; posterior ≈ Normal(difference, Welch SE²)",
}


def beta_chance_to_beat(
    *,
    control_successes: int,
    control_n: int,
    treatment_successes: int,
    treatment_n: int,
    prior: tuple[int, int] = RATE_PRIOR,
) -> float:
    """P(p_treatment > p_control) for independent Beta(prior + successes, prior + failures) posteriors.

    With T ~ Beta(a_t, b_t) and C ~ Beta(a_c, b_c) and a_t an integer,
        P(T > C) = Σ_{i=0}^{a_t−1} B(a_c + i, b_c + b_t) / ((b_t + i) B(1 + i, b_t) B(a_c, b_c)),
    summed in log space; the sum runs over the arm with fewer successes (P(T > C) = 1 − P(C > T)).
    """
    if not (0 <= control_successes <= control_n and 0 <= treatment_successes <= treatment_n):
        raise ValueError("need 0 <= successes <= n in both arms")
    if any(not isinstance(p, int) or p < 1 for p in prior):
        raise ValueError("the exact formula needs a Beta prior with integer parameters >= 1")
    a_c, b_c = prior[0] + control_successes, prior[1] + control_n - control_successes
    a_t, b_t = prior[0] + treatment_successes, prior[1] + treatment_n - treatment_successes
    if min(a_t, a_c) > MAX_EXACT_TERMS:
        return _normal_beta_chance(a_c=a_c, b_c=b_c, a_t=a_t, b_t=b_t)
    if a_t <= a_c:
        return _beta_sum(a_c=a_c, b_c=b_c, a_t=a_t, b_t=b_t)
    return 1.0 - _beta_sum(a_c=a_t, b_c=b_t, a_t=a_c, b_t=b_c)


def _beta_sum(*, a_c: int, b_c: int, a_t: int, b_t: int) -> float:
    i = np.arange(a_t, dtype=float)
    log_terms = (
        special.betaln(a_c + i, b_c + b_t) - np.log(b_t + i) - special.betaln(1 + i, b_t) - special.betaln(a_c, b_c)
    )
    return float(min(max(np.exp(log_terms).sum(), 0.0), 1.0))


def _normal_beta_chance(*, a_c: int, b_c: int, a_t: int, b_t: int) -> float:
    def moments(a: int, b: int) -> tuple[float, float]:
        return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))

    (mean_c, var_c), (mean_t, var_t) = moments(a_c, b_c), moments(a_t, b_t)
    return normal_chance_to_beat(
        control=stats.Estimate(value=mean_c, variance=var_c, n=a_c + b_c),
        treatment=stats.Estimate(value=mean_t, variance=var_t, n=a_t + b_t),
    )


def normal_chance_to_beat(*, control: stats.Estimate, treatment: stats.Estimate) -> float:
    """P(treatment > control) when the difference's posterior is Normal(difference, Var_t + Var_c)."""
    diff = treatment.value - control.value
    se = math.sqrt(control.variance + treatment.variance)
    if se == 0:
        return 0.5 if diff == 0 else float(diff > 0)
    return 0.5 * math.erfc(-diff / se / math.sqrt(2))


def metric_chance_to_beat(*, metric: str, control: metrics.VariantSums, treatment: metrics.VariantSums) -> float | None:
    """The chance the treatment is better than the control on `metric` ("better" per
    metrics.HIGHER_IS_BETTER); None while an arm has too little data for the metric."""
    if metric in (metrics.ADD_TO_CART_RATE, metrics.CONVERSION_RATE):
        if not control.customers or not treatment.customers:
            return None
        attr = "add_to_carters" if metric == metrics.ADD_TO_CART_RATE else "purchasers"
        higher = beta_chance_to_beat(
            control_successes=getattr(control, attr),
            control_n=control.customers,
            treatment_successes=getattr(treatment, attr),
            treatment_n=treatment.customers,
        )
    else:
        control_estimate = metrics.metric_estimate(sums=control, metric=metric)
        treatment_estimate = metrics.metric_estimate(sums=treatment, metric=metric)
        if control_estimate is None or treatment_estimate is None:
            return None
        higher = normal_chance_to_beat(control=control_estimate, treatment=treatment_estimate)
    return higher if metrics.HIGHER_IS_BETTER[metric] else 1.0 - higher


def chances_to_beat(*, arms: Sequence[metrics.ArmInput]) -> dict[str, dict[str, float | None]]:
    """Treatment key → metric → chance to beat the control, for every metric."""
    control = next((arm for arm in arms if arm.is_control), None)
    if control is None:
        raise ValueError("a chance to beat control needs a control arm")
    return {
        arm.key: {m: metric_chance_to_beat(metric=m, control=control.sums, treatment=arm.sums) for m in metrics.METRICS}
        for arm in arms
        if not arm.is_control
    }
