"""Guardrail metrics, pure (numbers in, checks out): has a treatment made a watched metric worse?

Each guardrail metric is compared, for every treatment against the control, with the same tests
the primary metric gets (metrics.metric_compare for the fixed-horizon lift, interval and p, and
metrics.metric_sequential for the always-valid mixture sequential test).

A *breach* is a significant harm: the point estimate moved the bad way (metrics.HIGHER_IS_BETTER)
and the always-valid p-value, Holm-corrected across every (metric, treatment) pair watched, is at
most GUARDRAIL_ALPHA, with each arm past the minimum sample. Why that p-value:
- the snapshot task re-evaluates guardrails every hour, so a fixed-horizon p-value would be
  peeked at hundreds of times and cross α by chance far more often than α (a false stop halts a
  healthy test); the mSPRT's p-value is valid at any stopping time, so reading it hourly is safe;
- several guardrails × several treatments are several chances to stop falsely; Holm on
  always-valid p-values keeps the family-wise error at α at whatever time the check fires.
The mixture test is two-sided and only a harmful sign counts, so the error is at most α/2.
Below MIN_UNITS_PER_VARIANT customers per arm nothing breaches: the normal approximation behind
both tests does not hold yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from experiments import metrics, stats

GUARDRAIL_ALPHA = stats.ALPHA


@dataclass(frozen=True)
class GuardrailCheck:
    """One guardrail metric of one treatment against the control."""

    metric: str
    variant: str
    # the fixed-horizon comparison, as the primary metric's table shows it (None: too little data)
    comparison: stats.Comparison | None
    # the always-valid test and its confidence sequence (None: too little data)
    sequential: stats.SequentialResult | None
    # the always-valid p-value, Holm-corrected across all the checks of the experiment
    p_adjusted: float | None
    # the point estimate moved the bad way
    harmful: bool
    # each arm has the minimum sample for the normal approximation
    enough_data: bool
    breached: bool


def guardrail_metrics_check(names: Sequence[str]) -> None:
    """Raise ValueError naming each unknown guardrail metric."""
    unknown = [name for name in names if name not in metrics.METRICS]
    if unknown:
        raise ValueError(
            f"unknown guardrail metric(s): {', '.join(map(repr, unknown))}; known: {', '.join(metrics.METRICS)}"
        )


def guardrails_check(
    *,
    arms: Sequence[metrics.ArmInput],
    guardrail_metrics: Sequence[str],
    alpha: float = GUARDRAIL_ALPHA,
    min_units: int = stats.MIN_UNITS_PER_VARIANT,
) -> list[GuardrailCheck]:
    """Every (guardrail metric, treatment) check, in the order of the metrics then the arms."""
    guardrail_metrics_check(guardrail_metrics)
    control = next((arm for arm in arms if arm.is_control), None)
    if control is None:
        raise ValueError("guardrails need a control arm")
    pairs = [(m, arm) for m in dict.fromkeys(guardrail_metrics) for arm in arms if not arm.is_control]
    compared = [
        (
            metrics.metric_compare(metric=m, control=control.sums, treatment=arm.sums),
            metrics.metric_sequential(metric=m, control=control.sums, treatment=arm.sums),
        )
        for m, arm in pairs
    ]
    tested = [i for i, (_, sequential) in enumerate(compared) if sequential is not None]
    adjusted = dict(zip(tested, stats.holm_adjust([compared[i][1].p_value for i in tested]), strict=True))
    checks = []
    for i, ((m, arm), (comparison, sequential)) in enumerate(zip(pairs, compared, strict=True)):
        harmful = comparison is not None and (
            comparison.absolute < 0 if metrics.HIGHER_IS_BETTER[m] else comparison.absolute > 0
        )
        enough = min(control.sums.customers, arm.sums.customers) >= min_units
        p = adjusted.get(i)
        checks.append(
            GuardrailCheck(
                metric=m,
                variant=arm.key,
                comparison=comparison,
                sequential=sequential,
                p_adjusted=p,
                harmful=harmful,
                enough_data=enough,
                breached=harmful and enough and p is not None and p <= alpha,
            )
        )
    return checks
