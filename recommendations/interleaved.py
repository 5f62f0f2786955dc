"""An interleaving experiment's list: both variants' lists, made by the normal pipeline, merged by
team-draft (experiments.interleaving) with each item tagged with its variant.

The merge's coin tosses are seeded by the merged list's own recommendation id, so the list can be
reproduced from the two input lists and the id it was served under.
"""

from __future__ import annotations

import dataclasses
import uuid

from experiments.public import TEAM_A, TEAM_B, Team, team_draft
from recommendations.contracts import Recommendation


def interleaved_recommendation(
    *, experiment_key: str, teams: tuple[Team, Team], lists: tuple[Recommendation, Recommendation], k: int
) -> Recommendation:
    """The team-draft merge of `lists` (in `teams` order) to at most `k` items, under a new id."""
    recommendation_id = uuid.uuid4()
    first, second = lists
    # Each item as its picking team's list made it (scores, routes and reasons differ by list).
    picked = {TEAM_A: {i.product_id: i for i in first.items}, TEAM_B: {i.product_id: i for i in second.items}}
    keys = {TEAM_A: teams[0].variant_key, TEAM_B: teams[1].variant_key}
    merged = team_draft(
        a=[item.product_id for item in first.items],
        b=[item.product_id for item in second.items],
        k=k,
        seed=recommendation_id.int,
    )
    items = tuple(dataclasses.replace(picked[side][product_id], team=keys[side]) for product_id, side in merged)
    return dataclasses.replace(
        first,
        recommendation_id=recommendation_id,
        strategy=f"{experiment_key}/interleaved",
        items=items,
        ranker=first.ranker if first.ranker == second.ranker else None,
        fallback=first.fallback or second.fallback,
    )
