"""Interleaving statistics, pure: per-unit preferences in, a test, an interval and a decision out.

Each unit (a customer, pooling all their interleaved lists) prefers the strategy credited with
more of their clicks; equal credit is a tie, and units without a click say nothing. Under "no
difference" a unit with a preference prefers B with probability ½, so the number preferring B
among the decisive units is Binomial(n, ½): the sign test. Its exact two-sided p-value and the
Clopper–Pearson interval on B's share of preferences are the fixed-horizon reading.

The decision reads an always-valid p-value instead, so the page may be looked at every day
without inflating false wins: a Beta(c, c) mixture over the share q gives the likelihood ratio

    Λ_n = B(c + s, c + f) / B(c, c) · 2ⁿ        (s: prefer B, f: prefer A, n = s + f)

a non-negative martingale under q = ½, so P(sup Λ ≥ 1/α) ≤ α (Ville) and min(1, 1/Λ) is an
always-valid p-value — the exact binomial counterpart of the mSPRT in `experiments.stats`. c sets
the scale of plausible preferences: Var(q) = 1 / (4 (2c + 1)), so a prior standard deviation τ
gives c = (1 / (4τ²) − 1) / 2.

References: Chapelle, Joachims, Radlinski & Yue (2012), "Large-scale validation and analysis of
interleaved search evaluation", ACM TOIS 30(1); Clopper & Pearson (1934), Biometrika 26;
Johari et al. (2017) for always-valid inference (as in `experiments.stats.msprt`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special
from scipy import stats as sps

ALPHA = 0.05
# Prior standard deviation of B's preference share around ½ (a 55/45 preference is one τ away).
PREFERENCE_TAU = 0.05
# Below this many units with a preference the page says "collecting", whatever the p-value.
MIN_DECISIVE_UNITS = 20

WIN_A = "a"
WIN_B = "b"
INCONCLUSIVE = "inconclusive"
COLLECTING = "collecting"


@dataclass(frozen=True)
class Preference:
    """One unit's credited clicks."""

    clicks_a: int
    clicks_b: int

    @property
    def winner(self) -> str | None:
        """WIN_A, WIN_B, "tie" (equal credit, at least one click) or None (no click)."""
        if self.clicks_a == self.clicks_b:
            return "tie" if self.clicks_a else None
        return WIN_B if self.clicks_b > self.clicks_a else WIN_A


@dataclass(frozen=True)
class PreferenceResult:
    wins_a: int
    wins_b: int
    ties: int
    # B's share of the decisive units, with the exact (Clopper–Pearson) interval; None without any.
    share_b: float | None
    share_b_ci: tuple[float, float] | None
    # Exact two-sided sign test (fixed horizon).
    p_value: float
    # Always-valid p-value of the Beta mixture (what the decision reads).
    p_always_valid: float
    # Chapelle et al.'s Δ_AB = (wins_B − wins_A) / (wins_A + wins_B + ties), in [−1, 1].
    delta: float | None

    @property
    def decisive(self) -> int:
        return self.wins_a + self.wins_b


@dataclass(frozen=True)
class PreferenceVerdict:
    outcome: str  # WIN_A, WIN_B, INCONCLUSIVE or COLLECTING
    rule: str


def preference_counts(preferences: list[Preference]) -> tuple[int, int, int]:
    """(wins A, wins B, ties) over the units; units without a click are left out."""
    winners = [p.winner for p in preferences]
    return winners.count(WIN_A), winners.count(WIN_B), winners.count("tie")


def preference_test(
    *, wins_a: int, wins_b: int, ties: int = 0, alpha: float = ALPHA, tau: float = PREFERENCE_TAU
) -> PreferenceResult:
    """The sign test, B's preference share with its 1 − α interval, and the always-valid p-value."""
    if min(wins_a, wins_b, ties) < 0:
        raise ValueError("counts cannot be negative")
    n = wins_a + wins_b
    total = n + ties
    if n == 0:
        return PreferenceResult(
            wins_a=wins_a,
            wins_b=wins_b,
            ties=ties,
            share_b=None,
            share_b_ci=None,
            p_value=1.0,
            p_always_valid=1.0,
            delta=0.0 if total else None,
        )
    exact = sps.binomtest(wins_b, n, 0.5)
    interval = exact.proportion_ci(confidence_level=1 - alpha, method="exact")
    return PreferenceResult(
        wins_a=wins_a,
        wins_b=wins_b,
        ties=ties,
        share_b=wins_b / n,
        share_b_ci=(float(interval.low), float(interval.high)),
        p_value=float(min(1.0, exact.pvalue)),
        p_always_valid=preference_always_valid_p(wins_a=wins_a, wins_b=wins_b, tau=tau),
        delta=(wins_b - wins_a) / total,
    )


def preference_always_valid_p(*, wins_a: int, wins_b: int, tau: float = PREFERENCE_TAU) -> float:
    """min(1, 1/Λ) for the Beta(c, c) mixture likelihood ratio against q = ½ (module docstring)."""
    if not 0 < tau < 0.5:
        raise ValueError("tau must be in (0, 0.5)")
    c = (1 / (4 * tau**2) - 1) / 2
    n = wins_a + wins_b
    log_lr = special.betaln(c + wins_b, c + wins_a) - special.betaln(c, c) + n * math.log(2)
    return float(min(1.0, math.exp(-min(log_lr, 700.0))))


def preference_verdict(
    result: PreferenceResult, *, alpha: float = ALPHA, min_decisive: int = MIN_DECISIVE_UNITS
) -> PreferenceVerdict:
    """The decision: a strategy wins once its side's always-valid p-value is at most α with at
    least `min_decisive` units preferring one side; before that it is collecting, after it (with
    no win) inconclusive so far."""
    rule = (
        f"a strategy wins when the always-valid p ≤ {alpha:g} (sign test, Beta mixture, may be read any day) "
        f"with at least {min_decisive} customers preferring one side"
    )
    if result.decisive < min_decisive:
        return PreferenceVerdict(outcome=COLLECTING, rule=rule)
    if result.p_always_valid <= alpha and result.wins_a != result.wins_b:
        return PreferenceVerdict(outcome=WIN_B if result.wins_b > result.wins_a else WIN_A, rule=rule)
    return PreferenceVerdict(outcome=INCONCLUSIVE, rule=rule)


def sign_test_sample_size(*, share: float, alpha: float = ALPHA, power: float = 0.8) -> int:
    """Decisive units a fixed-horizon two-sided sign test needs to detect a preference `share` ≠ ½:
    n = ((z_{1−α/2} · ½ + z_power · √(q(1−q))) / (q − ½))²."""
    if not 0 < share < 1 or share == 0.5:
        raise ValueError("need 0 < share < 1 and share ≠ 0.5")
    z_alpha = float(sps.norm.ppf(1 - alpha / 2))
    z_power = float(sps.norm.ppf(power))
    return math.ceil(((z_alpha * 0.5 + z_power * math.sqrt(share * (1 - share))) / (share - 0.5)) ** 2)
