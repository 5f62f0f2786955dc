"""Personalised search: a query's matches re-ranked by how close each is to the shopper's history.

The search's own order stays the main signal: an item's score becomes
(1 − PERSONAL_WEIGHT) × its search score over the best one + PERSONAL_WEIGHT × the cosine
similarity of its embedding to the shopper's vector (the recency-weighted mean of their recent
items', as the semantic route forms it). Exact SKU and brand matches are pinned above the rest in
their own order: a shopper who types a SKU wants that product whatever they bought before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from recommendations.contracts import FusedItem
from recommendations.history import History
from recommendations.recall import semantic

ROUTE = "personal"
PERSONAL_WEIGHT = 0.3


def personal_blend(
    *,
    ranked: Sequence[FusedItem],
    similarities: Mapping[int, float],
    pinned: Set[int] = frozenset(),
    weight: float = PERSONAL_WEIGHT,
) -> list[FusedItem]:
    """`ranked` re-scored and re-ordered: the `pinned` items first (in their order), then the rest
    by the blend of their normalised score and their similarity (0 when unknown, negative ones
    count 0); `routes` gains the similarity as `personal`. Ties keep the search's order."""
    best = max((item.score for item in ranked), default=0.0)
    blended = []
    for position, item in enumerate(ranked):
        normalised = item.score / best if best > 0 else 0.0
        similarity = max(similarities.get(item.product_pk, 0.0), 0.0)
        # A blend is at most 1, so a pinned item's 1 + its normalised score keeps it above every
        # other (later stages re-sort by score: a boost, a bury).
        if item.product_pk in pinned:
            score = 1.0 + normalised
        else:
            score = (1 - weight) * normalised + weight * similarity
        routes = {**item.routes, ROUTE: similarity}
        blended.append((-score, position, FusedItem(item.product_pk, score, routes, item.seeds)))
    blended.sort(key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in blended]


def search_personalize(
    *, ranked: Sequence[FusedItem], history: History, pinned: Set[int] = frozenset()
) -> list[FusedItem] | None:
    """`personal_blend` with the similarities to `history`'s vector (one query); None when the
    history has no embedded item to form a vector from."""
    similarities = semantic.history_similarities(history=history, product_pks=[item.product_pk for item in ranked])
    if not similarities:
        return None
    return personal_blend(ranked=ranked, similarities=similarities, pinned=pinned)
