"""The operator's page of an interleaving experiment, as data: per-customer preferences (wins of
each variant, ties), the sign test with its interval on the preference share, the decision and
a few merged lists with each item's team.

Computed live from exposures and clicks (two aggregate queries): an interleaving experiment keeps
no daily snapshots, its unit of analysis being the customer's preference, not per-variant sums.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from experiments.models import Experiment, Exposure, Kind
from experiments.preference import (
    ALPHA,
    COLLECTING,
    INCONCLUSIVE,
    MIN_DECISIVE_UNITS,
    PREFERENCE_TAU,
    WIN_A,
    Preference,
    PreferenceResult,
    preference_counts,
    preference_test,
    preference_verdict,
    sign_test_sample_size,
)
from experiments.selectors import interleaving_credit

SAMPLE_LISTS = 6
# The preference the page sizes the test for while the observed one is even (55 / 45).
MINIMUM_SHARE = 0.5 + PREFERENCE_TAU


@dataclass(frozen=True)
class SampleMerge:
    customer: str
    served_at: dt.datetime
    items: tuple[tuple[str, str], ...]  # (product id, team) in served order


@dataclass(frozen=True)
class InterleavingDashboard:
    experiment: Experiment
    as_of: dt.datetime
    team_a: str  # the control
    team_b: str
    customers: int
    lists: int
    clicks_a: int
    clicks_b: int
    result: PreferenceResult
    outcome: str  # team_a, team_b, INCONCLUSIVE or COLLECTING
    rule: str
    # Customers with a preference a fixed-horizon sign test needs (observed share, else MINIMUM_SHARE)
    needed: int
    needed_share: float
    progress: int  # percent of `needed` reached, capped at 100
    samples: tuple[SampleMerge, ...]

    @property
    def no_click(self) -> int:
        return self.customers - self.result.wins_a - self.result.wins_b - self.result.ties

    @property
    def share_text(self) -> str:
        """B's share of the customers with a preference, with its 95% interval."""
        r = self.result
        if r.share_b is None or r.share_b_ci is None:
            return "–"
        return f"{r.share_b:.1%} [{r.share_b_ci[0]:.1%}, {r.share_b_ci[1]:.1%}]"

    @property
    def p_text(self) -> str:
        return f"{self.result.p_value:.3g}"

    @property
    def p_always_valid_text(self) -> str:
        return f"{self.result.p_always_valid:.3g}"

    @property
    def delta_text(self) -> str:
        return "–" if self.result.delta is None else f"{self.result.delta:+.3f}"

    def bar(self) -> list[tuple[str, str, int]]:
        """(css class, label, percent of the customers with a click) for the preference bar."""
        r = self.result
        total = r.decisive + r.ties
        if not total:
            return []
        return [
            ("win-a", f"{self.team_a} {r.wins_a}", round(100 * r.wins_a / total)),
            ("tie", f"ties {r.ties}", round(100 * r.ties / total)),
            ("win-b", f"{self.team_b} {r.wins_b}", round(100 * r.wins_b / total)),
        ]


def interleaving_dashboard(*, experiment_id: int, now: dt.datetime | None = None) -> InterleavingDashboard:
    """The page's numbers as of `now`. Raises Experiment.DoesNotExist, and ValueError for an A/B
    experiment or one without two variants."""
    experiment = Experiment.objects.get(pk=experiment_id)
    if experiment.kind != Kind.INTERLEAVING:
        raise ValueError(f"{experiment.key} is not an interleaving experiment")
    keys = list(experiment.variants.order_by("-is_control", "key").values_list("key", flat=True))
    if len(keys) != 2:
        raise ValueError(f"{experiment.key} has {len(keys)} variants; interleaving needs two")
    team_a, team_b = keys
    now = now or timezone.now()
    credit = interleaving_credit(experiment_id=experiment.pk, team_a=team_a, team_b=team_b, until=now)
    wins_a, wins_b, ties = preference_counts([Preference(a, b) for a, b in credit.credit.values()])
    result = preference_test(wins_a=wins_a, wins_b=wins_b, ties=ties)
    verdict = preference_verdict(result)
    outcome = verdict.outcome
    if outcome not in (COLLECTING, INCONCLUSIVE):
        outcome = team_a if outcome == WIN_A else team_b
    share = result.share_b if result.share_b not in (None, 0.0, 0.5, 1.0) else MINIMUM_SHARE
    needed = max(sign_test_sample_size(share=share, alpha=ALPHA), MIN_DECISIVE_UNITS)
    return InterleavingDashboard(
        experiment=experiment,
        as_of=now,
        team_a=team_a,
        team_b=team_b,
        customers=credit.customers,
        lists=credit.lists,
        clicks_a=sum(a for a, _ in credit.credit.values()),
        clicks_b=sum(b for _, b in credit.credit.values()),
        result=result,
        outcome=outcome,
        rule=verdict.rule,
        needed=needed,
        needed_share=share,
        progress=min(100, round(100 * result.decisive / needed)),
        samples=_samples(experiment=experiment),
    )


def _samples(*, experiment: Experiment) -> tuple[SampleMerge, ...]:
    """The latest merged lists, each item with its team."""
    exposures = Exposure.objects.filter(experiment=experiment).order_by("-created_at")[:SAMPLE_LISTS]
    return tuple(
        SampleMerge(
            customer=e.customer_external_id,
            served_at=e.created_at,
            items=tuple((item["id"], item.get("team") or "") for item in e.items[:10]),
        )
        for e in exposures
    )
