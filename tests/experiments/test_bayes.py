"""experiments.bayes: the chance to beat control, against Monte Carlo and known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from experiments import bayes, metrics, stats


def sums(*, customers: int, purchasers: int, revenue: float = 0.0, revenue_sq: float = 0.0) -> metrics.VariantSums:
    """One arm where each customer saw one list and clicked it iff they bought."""
    return metrics.VariantSums(
        customers=customers,
        exposures=customers,
        exposures_sq=float(customers),
        clicks=purchasers,
        clicks_sq=float(purchasers),
        clicks_x_exposures=float(purchasers),
        clickers=purchasers,
        add_to_carters=purchasers,
        purchasers=purchasers,
        revenue=revenue,
        revenue_sq=revenue_sq,
        pre_activity=0.0,
        pre_activity_sq=0.0,
        pre_x_add_to_carters=0.0,
        pre_x_purchasers=0.0,
        pre_x_revenue=0.0,
    )


@pytest.mark.parametrize(
    ("control", "treatment"),
    [((10, 100), (10, 100)), ((30, 200), (45, 200)), ((5, 50), (12, 60)), ((500, 1000), (480, 1000))],
)
def test_exact_beta_chance_matches_monte_carlo(control, treatment):
    # given two arms' (successes, n) and Beta(1, 1) priors
    exact = bayes.beta_chance_to_beat(
        control_successes=control[0], control_n=control[1], treatment_successes=treatment[0], treatment_n=treatment[1]
    )
    # then the closed form agrees with 400,000 posterior draws (MC standard error < 0.001)
    rng = np.random.default_rng(3)
    draws_c = rng.beta(1 + control[0], 1 + control[1] - control[0], 400_000)
    draws_t = rng.beta(1 + treatment[0], 1 + treatment[1] - treatment[0], 400_000)
    assert exact == pytest.approx((draws_t > draws_c).mean(), abs=0.004)


def test_identical_arms_have_an_even_chance_and_a_clear_winner_almost_certainty():
    same = bayes.beta_chance_to_beat(control_successes=80, control_n=1000, treatment_successes=80, treatment_n=1000)
    better = bayes.beta_chance_to_beat(control_successes=80, control_n=1000, treatment_successes=140, treatment_n=1000)
    worse = bayes.beta_chance_to_beat(control_successes=140, control_n=1000, treatment_successes=80, treatment_n=1000)
    assert same == pytest.approx(0.5, abs=1e-9)
    assert better > 0.999
    # and swapping the arms gives the complement (the sum runs over either arm)
    assert worse == pytest.approx(1 - better, abs=1e-9)


def test_very_large_counts_use_the_normal_approximation_of_the_beta_posteriors():
    # given 1.2 million successes an arm: past the exact sum's limit
    n = 12_000_000
    chance = bayes.beta_chance_to_beat(
        control_successes=1_200_000, control_n=n, treatment_successes=1_201_500, treatment_n=n
    )
    # then it is Φ(Δ / SE) of the two posteriors' means and variances
    p_c, p_t = 1_200_001 / (n + 2), 1_201_501 / (n + 2)
    se = math.sqrt(p_c * (1 - p_c) / (n + 3) + p_t * (1 - p_t) / (n + 3))
    assert chance == pytest.approx(sps.norm.cdf((p_t - p_c) / se), abs=1e-6)
    assert 0.8 < chance < 0.99


def test_normal_chance_is_the_flat_prior_posterior_of_the_difference():
    control = stats.Estimate(value=10.0, variance=0.25, n=500)
    treatment = stats.Estimate(value=10.6, variance=0.11, n=500)
    assert bayes.normal_chance_to_beat(control=control, treatment=treatment) == pytest.approx(
        sps.norm.cdf(0.6 / math.sqrt(0.36)), rel=1e-12
    )
    assert bayes.normal_chance_to_beat(control=control, treatment=control) == 0.5


def test_chances_per_metric_use_the_customer_as_unit():
    # given a treatment with more buyers and more revenue per customer
    control = sums(customers=2000, purchasers=100, revenue=4000.0, revenue_sq=4000.0 * 80)
    treatment = sums(customers=2000, purchasers=160, revenue=6400.0, revenue_sq=6400.0 * 80)
    arms = [
        metrics.ArmInput(key="control", is_control=True, weight=1.0, sums=control),
        metrics.ArmInput(key="treatment", is_control=False, weight=1.0, sums=treatment),
    ]
    # when the chances are computed for every metric
    chances = bayes.chances_to_beat(arms=arms)["treatment"]
    # then conversion is the exact Beta-Binomial one, revenue Φ(Δ / Welch SE), all near certain
    assert chances[metrics.CONVERSION_RATE] == bayes.beta_chance_to_beat(
        control_successes=100, control_n=2000, treatment_successes=160, treatment_n=2000
    )
    revenue = [metrics.metric_estimate(sums=s, metric=metrics.REVENUE_PER_CUSTOMER) for s in (control, treatment)]
    assert chances[metrics.REVENUE_PER_CUSTOMER] == pytest.approx(
        sps.norm.cdf((revenue[1].value - revenue[0].value) / math.sqrt(revenue[0].variance + revenue[1].variance))
    )
    assert set(chances) == set(metrics.METRICS)
    assert all(value > 0.99 for value in chances.values())
    # and every metric's prior is stated
    assert set(bayes.PRIORS) == set(metrics.METRICS)
