"""PSI and KS against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitoring.drift_stats import cosine_distance, drift_score, psi_score


def test_psi_of_a_sample_against_itself_is_zero():
    values = np.linspace(0, 1, 1000)

    assert psi_score(reference=values, current=values) == pytest.approx(0.0, abs=1e-12)


def test_psi_matches_the_hand_computed_value_over_two_bins():
    # reference deciles at 2 bins: edge 0.5; reference shares (0.5, 0.5), current (0.8, 0.2)
    reference = np.array([0.1, 0.2, 0.7, 0.9])
    current = np.array([0.1, 0.2, 0.3, 0.4, 0.9])

    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi_score(reference=reference, current=current, bins=2) == pytest.approx(expected)


def test_psi_floors_an_empty_bin_instead_of_going_infinite():
    reference = np.array([0.1, 0.2, 0.7, 0.9])
    current = np.array([0.1, 0.2])

    expected = (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert psi_score(reference=reference, current=current, bins=2) == pytest.approx(expected)


def test_a_shifted_normal_drifts_and_ks_sees_the_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(0.0, 1.0, 5000)

    same = drift_score(reference=reference, current=rng.normal(0.0, 1.0, 5000))
    shifted = drift_score(reference=reference, current=rng.normal(0.5, 1.0, 5000))

    assert same.psi < 0.02 and same.ks_p_value > 0.01
    # PSI of N(0.5, 1) against N(0, 1) is about 0.25; KS about Φ(0.25) − Φ(−0.25) ≈ 0.197
    assert 0.2 < shifted.psi < 0.3
    assert shifted.ks_statistic == pytest.approx(0.197, abs=0.03)
    assert (shifted.n_reference, shifted.n_current) == (5000, 5000)


def test_psi_needs_both_samples():
    with pytest.raises(ValueError):
        psi_score(reference=np.array([]), current=np.array([1.0]))


def test_cosine_distance():
    assert cosine_distance(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(0.0)
    assert cosine_distance(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(1.0)
