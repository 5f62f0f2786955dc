"""Interleaving statistics: the sign test, its interval, the always-valid p-value and the decision."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as sps

from experiments.preference import (
    COLLECTING,
    INCONCLUSIVE,
    MIN_DECISIVE_UNITS,
    WIN_A,
    WIN_B,
    Preference,
    preference_always_valid_p,
    preference_counts,
    preference_test,
    preference_verdict,
    sign_test_sample_size,
)


def binomial_two_sided(successes: int, n: int) -> float:
    """The exact two-sided sign-test p-value from the binomial sum (symmetric at ½)."""
    tail = min(successes, n - successes)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(tail + 1)) / 2**n)


def test_a_unit_prefers_the_team_with_more_credited_clicks_and_no_click_says_nothing():
    preferences = [Preference(0, 2), Preference(3, 1), Preference(1, 1), Preference(0, 0), Preference(0, 1)]
    assert [p.winner for p in preferences] == [WIN_B, WIN_A, "tie", None, WIN_B]
    assert preference_counts(preferences) == (1, 2, 1)


def test_sign_test_p_value_and_clopper_pearson_interval_on_a_known_case():
    # given 30 customers preferring B, 10 preferring A and 5 ties
    result = preference_test(wins_a=10, wins_b=30, ties=5)
    # then the p-value is the exact binomial tail, ties left out
    assert result.p_value == pytest.approx(binomial_two_sided(30, 40), rel=1e-9)
    assert result.p_value == pytest.approx(0.002221, abs=1e-6)
    # and the interval is Clopper–Pearson's: Beta quantiles at α/2 and 1 − α/2
    low = sps.beta.ppf(0.025, 30, 11)
    high = sps.beta.ppf(0.975, 31, 10)
    assert result.share_b == 0.75
    assert result.share_b_ci == pytest.approx((low, high), rel=1e-6)
    assert result.share_b_ci[0] > 0.5
    # and Δ_AB counts the ties in its denominator
    assert result.delta == pytest.approx(20 / 45)


def test_no_preference_at_all_gives_p_one_and_no_interval():
    result = preference_test(wins_a=0, wins_b=0, ties=3)
    assert (result.p_value, result.p_always_valid, result.share_b, result.share_b_ci) == (1.0, 1.0, None, None)
    with pytest.raises(ValueError):
        preference_test(wins_a=-1, wins_b=2)


def test_always_valid_p_is_larger_than_the_fixed_horizon_p_and_falls_with_evidence():
    fixed = preference_test(wins_a=10, wins_b=30).p_value
    always = preference_always_valid_p(wins_a=10, wins_b=30)
    assert fixed < always < 1
    assert preference_always_valid_p(wins_a=100, wins_b=300) < 1e-6
    # a balanced record is no evidence
    assert preference_always_valid_p(wins_a=200, wins_b=200) == 1.0


def test_peeking_at_the_always_valid_p_after_every_customer_keeps_false_wins_under_alpha():
    # given 400 experiments with no true preference, each read after every one of 1,000 customers
    rng = random.Random(11)
    false_wins = 0
    for _ in range(400):
        wins_a = wins_b = 0
        for _ in range(1000):
            if rng.random() < 0.5:
                wins_b += 1
            else:
                wins_a += 1
            if preference_always_valid_p(wins_a=wins_a, wins_b=wins_b) <= 0.05:
                false_wins += 1
                break
    # then fewer than 5% ever declared a winner (Ville's inequality); the fixed-horizon test read
    # this often would exceed it many times over
    assert false_wins / 400 <= 0.05


def test_verdict_collects_then_decides_for_the_preferred_side():
    assert preference_verdict(preference_test(wins_a=1, wins_b=MIN_DECISIVE_UNITS - 2)).outcome == COLLECTING
    assert preference_verdict(preference_test(wins_a=30, wins_b=32)).outcome == INCONCLUSIVE
    assert preference_verdict(preference_test(wins_a=100, wins_b=160)).outcome == WIN_B
    assert preference_verdict(preference_test(wins_a=160, wins_b=100)).outcome == WIN_A
    assert "always-valid p ≤ 0.05" in preference_verdict(preference_test(wins_a=1, wins_b=1)).rule


def test_sign_test_sample_size_matches_the_normal_approximation_and_the_simulated_power():
    # given a 60/40 preference: ((1.96·½ + 0.8416·√0.24) / 0.1)² ≈ 193.9
    n = sign_test_sample_size(share=0.6)
    assert n == 194
    # then the exact test at that size has about 80% power
    power = sps.binom.sf(sps.binom.isf(0.025, n, 0.5), n, 0.6) + sps.binom.cdf(sps.binom.ppf(0.025, n, 0.5) - 1, n, 0.6)
    assert 0.75 < power < 0.85
    assert sign_test_sample_size(share=0.55) > n
    with pytest.raises(ValueError):
        sign_test_sample_size(share=0.5)
