"""Which strategy serves a request: the customer's experiment variant, else the placement's
default (placements.defaults); the served list is logged as the variant's exposure.

Assignment reads a cached snapshot and hashes (no query, no write); the exposure is written
after the response (see experiments.serving).
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.public import INTERLEAVED, Assignment, experiment_assign, exposure_log
from placements.public import Strategy, default_strategy
from recommendations.contracts import Recommendation
from recsite.metrics import exposure_count


@dataclass(frozen=True)
class ServedVariant:
    """What one request serves: its experiment assignment (None outside any), the strategy to
    use and how many items."""

    placement: str
    assignment: Assignment | None
    strategy: Strategy
    k: int

    @property
    def names(self) -> dict[str, str | None]:
        """`experiment` and `variant` keys for the response (null when none; the variant is null
        in an interleaving experiment too: the list is both variants')."""
        if self.assignment is None:
            return {"experiment": None, "variant": None}
        return {"experiment": self.assignment.experiment_key, "variant": self.assignment.variant_key}


def variant_serving(*, placement: str, customer_id: str | None, k: int) -> ServedVariant:
    """The strategy and k for this customer on this placement: the variant's when assigned, else
    the placement's default (the rolling-out version's for customers in its share); the
    strategy's `k` replaces the requested one when it sets one. An interleaved list is as long
    as the longer of its two lists."""
    assignment = experiment_assign(placement=placement, customer_id=customer_id)
    strategy = default_strategy(placement, customer_id) if assignment is None else assignment.strategy
    if assignment is not None and assignment.teams is not None:
        k = max(team.strategy.k or k for team in assignment.teams)
    else:
        k = strategy.k or k
    return ServedVariant(placement=placement, assignment=assignment, strategy=strategy, k=k)


def exposure_record(*, served: ServedVariant, recommendation: Recommendation, customer_id: str | None) -> None:
    """Log the list as an exposure of the served variant, or of the interleaving experiment with
    each item's team (nothing outside an experiment)."""
    if served.assignment is None or customer_id is None:
        return
    interleaved = served.assignment.teams is not None
    exposure_count(experiment=served.assignment.experiment_key, variant=served.assignment.variant_key or INTERLEAVED)
    exposure_log(
        assignment=served.assignment,
        recommendation_id=recommendation.recommendation_id,
        customer_id=customer_id,
        placement=served.placement,
        product_ids=[item.product_id for item in recommendation.items],
        teams=[item.team for item in recommendation.items] if interleaved else None,
    )
