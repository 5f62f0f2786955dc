"""Simulated A/A experiments: with no true difference, how often does each test say "significant"?

Seeded numpy simulations; the tests run the module's own functions on every simulated experiment.
"""

from __future__ import annotations

import numpy as np

from experiments import stats

SIMULATIONS = 2000


def test_fixed_horizon_tests_have_a_false_positive_rate_near_five_percent():
    # given 2,000 A/A experiments, 2,000 customers per arm, 10% conversion and skewed revenue
    rng = np.random.default_rng(20261122)
    conversions = rng.binomial(2000, 0.1, size=(SIMULATIONS, 2))
    # when each is tested once at the planned horizon
    z_positives = sum(
        stats.two_proportion_ztest(
            control_successes=int(a), control_n=2000, treatment_successes=int(b), treatment_n=2000
        ).p_value
        < stats.ALPHA
        for a, b in conversions
    )
    welch_positives = 0
    for _ in range(1000):
        control, treatment = rng.lognormal(1.0, 1.0, size=(2, 500))
        welch_positives += (
            stats.welch_ttest(control=stats.mean_estimate(control), treatment=stats.mean_estimate(treatment)).p_value
            < stats.ALPHA
        )
    # then about 5% are false positives (3–7% is ±4 binomial standard errors)
    assert 0.03 <= z_positives / SIMULATIONS <= 0.07
    assert 0.03 <= welch_positives / 1000 <= 0.07


def test_sequential_test_stays_valid_under_peeking_where_the_fixed_test_does_not():
    # given 2,000 A/A experiments read 20 times, every 250 customers per arm, at 10% conversion
    rng = np.random.default_rng(42)
    looks, batch = 20, 250
    cumulative = rng.binomial(batch, 0.1, size=(SIMULATIONS, looks, 2)).cumsum(axis=1)
    sequential_positives = peeking_positives = 0
    for experiment in cumulative:
        sequential_hit = peeking_hit = False
        for look, (a, b) in enumerate(experiment, start=1):
            n = look * batch
            control = stats.proportion_estimate(successes=int(a), n=n)
            treatment = stats.proportion_estimate(successes=int(b), n=n)
            # τ = 0.01: a 10% relative effect on a 10% base rate
            sequential_hit |= stats.msprt(control=control, treatment=treatment, tau2=1e-4).reject
            peeking_hit |= stats.ztest(control=control, treatment=treatment).p_value < stats.ALPHA
        sequential_positives += sequential_hit
        peeking_positives += peeking_hit
    # then stopping at the first "significant" look inflates the fixed test far past 5%,
    # while the always-valid test stays at or under 5% (plus 1 point of simulation noise)
    assert sequential_positives / SIMULATIONS <= 0.06
    assert peeking_positives / SIMULATIONS >= 0.10


def test_sequential_test_detects_a_real_effect():
    # given 200 experiments where treatment converts at 12% against 10%, 20,000 customers per arm
    rng = np.random.default_rng(5)
    control = rng.binomial(20_000, 0.10, size=200)
    treatment = rng.binomial(20_000, 0.12, size=200)
    # when read once at the end
    rejections = sum(
        stats.msprt(
            control=stats.proportion_estimate(successes=int(a), n=20_000),
            treatment=stats.proportion_estimate(successes=int(b), n=20_000),
            tau2=1e-4,
        ).reject
        for a, b in zip(control, treatment, strict=True)
    )
    # then it finds the effect nearly always
    assert rejections / 200 >= 0.95
