"""experiments.guardrails: a breach is a significant harm by the always-valid test, Holm-corrected."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import guardrails, metrics, stats
from tests.experiments.test_bayes import sums


def arms(control: tuple[int, int], *treatments: tuple[int, int]) -> list[metrics.ArmInput]:
    """(customers, purchasers) per arm: the control, then treatments t1, t2, …"""
    return [
        metrics.ArmInput(
            key="control", is_control=True, weight=1.0, sums=sums(customers=control[0], purchasers=control[1])
        )
    ] + [
        metrics.ArmInput(key=f"t{i}", is_control=False, weight=1.0, sums=sums(customers=n, purchasers=k))
        for i, (n, k) in enumerate(treatments, start=1)
    ]


def test_a_clearly_worse_conversion_rate_is_a_breach_and_a_better_one_is_not():
    # given 2,000 customers an arm: t1 converts 6% against 10%, t2 converts 14%
    checks = guardrails.guardrails_check(
        arms=arms((2000, 200), (2000, 120), (2000, 280)), guardrail_metrics=[metrics.CONVERSION_RATE]
    )
    worse, better = checks
    # then the harm is a breach, with the numbers behind it
    assert (worse.variant, worse.metric, worse.harmful, worse.breached) == ("t1", "conversion_rate", True, True)
    assert worse.comparison.absolute == pytest.approx(-0.04)
    assert worse.p_adjusted <= guardrails.GUARDRAIL_ALPHA
    assert worse.sequential.ci[1] < 0
    # and the gain, as significant, is not (a guardrail watches for harm only)
    assert better.p_adjusted <= guardrails.GUARDRAIL_ALPHA
    assert (better.harmful, better.breached) == (False, False)


def test_the_always_valid_p_value_decides_not_the_fixed_horizon_one():
    # given 9.9% against 8.2% over 3,000 customers: fixed-horizon p ≈ 0.02, always-valid p well above
    [check] = guardrails.guardrails_check(arms=arms((3000, 297), (3000, 246)), guardrail_metrics=["conversion_rate"])
    assert check.comparison.p_value < 0.05
    assert check.p_adjusted > 0.05
    assert check.harmful and not check.breached


def test_the_p_values_are_holm_corrected_across_metrics_and_treatments():
    checks = guardrails.guardrails_check(
        arms=arms((2000, 200), (2000, 150), (2000, 185)),
        guardrail_metrics=[metrics.CONVERSION_RATE, metrics.ADD_TO_CART_RATE],
    )
    # four checks (2 metrics × 2 treatments), Holm over their always-valid p-values
    assert [(c.metric, c.variant) for c in checks] == [
        ("conversion_rate", "t1"),
        ("conversion_rate", "t2"),
        ("add_to_cart_rate", "t1"),
        ("add_to_cart_rate", "t2"),
    ]
    assert [c.p_adjusted for c in checks] == stats.holm_adjust([c.sequential.p_value for c in checks])
    assert checks[0].p_adjusted > checks[0].sequential.p_value


def test_nothing_breaches_below_the_minimum_sample():
    # given 90 customers an arm, 33% against 3%: a huge, "significant" drop on a tiny sample
    [check] = guardrails.guardrails_check(arms=arms((90, 30), (90, 3)), guardrail_metrics=["conversion_rate"])
    assert check.harmful and check.p_adjusted < 0.05
    assert not check.enough_data and not check.breached


def test_an_unknown_guardrail_metric_is_refused_by_name():
    with pytest.raises(ValueError, match="'bounce_rate'"):
        guardrails.guardrails_check(arms=arms((200, 20), (200, 20)), guardrail_metrics=["bounce_rate"])


def test_hourly_peeks_at_an_aa_test_rarely_breach():
    # given 400 A/A experiments (10% conversion in both arms) read 30 times as they grow
    rng = np.random.default_rng(11)
    looks, per_look, experiments = 30, 200, 400
    always_valid_stops = fixed_horizon_stops = 0
    for _ in range(experiments):
        control = np.cumsum(rng.binomial(per_look, 0.1, size=looks))
        treatment = np.cumsum(rng.binomial(per_look, 0.1, size=looks))
        stopped_av = stopped_fixed = False
        for look in range(looks):
            n = per_look * (look + 1)
            [check] = guardrails.guardrails_check(
                arms=arms((n, int(control[look])), (n, int(treatment[look]))), guardrail_metrics=["conversion_rate"]
            )
            stopped_av |= check.breached
            stopped_fixed |= check.harmful and check.comparison.p_value <= 0.05
        always_valid_stops += stopped_av
        fixed_horizon_stops += stopped_fixed
    # then the always-valid rule falsely stops at most α of them; fixed-horizon p-values, peeked
    # at as often, would stop several times more
    assert always_valid_stops / experiments <= guardrails.GUARDRAIL_ALPHA
    assert fixed_horizon_stops / experiments > 2 * guardrails.GUARDRAIL_ALPHA
