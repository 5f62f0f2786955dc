"""How an item was chosen (its basis) and the catalog facts a reason may use.

The basis is the route that contributed most to the item's fused score (weight × normalised
score), with the history item that route proposed it from: item-CF's strongest seed (carried from
recall), the nearest history item for semantic (looked up here, only for the items served).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recommendations.contracts import CONTEXT_ROUTE, ScoredItem
from recommendations.reasons.guardrails import ProductFacts
from recsite.db_router import read_connection

RULE = "rule"
PROMOTING_RULES = frozenset({"pin", "boost"})
SEMANTIC = "semantic"


COLLABORATIVE = "cf"


@dataclass(frozen=True)
class Basis:
    route: str
    seed_pk: int | None = None


def basis_of(*, item: ScoredItem, weights: Mapping[str, float]) -> Basis:
    """The item's basis: a merchandising rule when one promoted it (pin, boost), else its
    strongest route (a bury or a diversity move is no reason to show an item)."""
    if any(touch.kind in PROMOTING_RULES for touch in item.rules):
        return Basis(route=RULE)
    if not item.routes:
        return Basis(route="popularity")
    route = max(item.routes, key=lambda r: (weights.get(r, 0.0) * item.routes[r], r))
    if route == CONTEXT_ROUTE:
        # Matched to what the shopper looks at or typed: explained as a semantic match, as the
        # cold-start feed's context items are.
        return Basis(route="semantic")
    if route == COLLABORATIVE:
        # The collaborative route also learns "bought with": its seed is explained as item-CF's is,
        # so templates written for the three original routes stay truthful.
        return Basis(route="itemcf", seed_pk=item.seeds.get(route))
    return Basis(route=route, seed_pk=item.seeds.get(route))


def semantic_seeds(*, product_pks: Sequence[int], history_pks: Sequence[int]) -> dict[int, int]:
    """product pk → the history item whose embedding is nearest to it (one query)."""
    if not product_pks or not history_pks:
        return {}
    sql = (
        "SELECT DISTINCT ON (c.product_id) c.product_id, h.product_id"
        " FROM catalog_productembedding c JOIN catalog_productembedding h ON h.product_id = ANY(%s)"
        " WHERE c.product_id = ANY(%s) AND h.product_id <> c.product_id"
        " ORDER BY c.product_id, c.vector <=> h.vector, h.product_id"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [list(history_pks), list(product_pks)])
        return dict(cursor.fetchall())


def reason_variables(
    *,
    item: ProductFacts,
    basis: Basis,
    seed: ProductFacts | None,
    recent: Sequence[ProductFacts] = (),
    rules: Sequence[str] = (),
) -> dict:
    """The documented template variables for one item (see `templates`)."""
    return {
        "item": item.as_variables(),
        "route": basis.route,
        "seed": seed.as_variables() if seed else None,
        "recent_items": [r.as_variables() for r in recent],
        "rules": list(rules),
    }
