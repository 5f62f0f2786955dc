"""Frozen contracts passed between the pipeline's stages and across apps (ids, never model rows)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import overload

import numpy as np

# Where an item's reason came from: a language model's output that passed the guardrails, or the
# template's grounded text (the grounded backend; or the fallback while a generation is not cached
# yet, after it failed, e.g. the endpoint timed out, or when the guardrails rejected it).
REASON_GENERATED = "generated"
REASON_GROUNDED = "grounded"


# The recall route of what a known customer is looking at (`context=`) or typed (`q=`): the
# semantic matches of it, fused with their personal candidates (recommendations.recall.stage).
CONTEXT_ROUTE = "context"

# Which history shaped a home feed: the customer's, the anonymous session's, or none (popularity
# and the request's context).
HISTORY_CUSTOMER = "customer"
HISTORY_SESSION = "session"
HISTORY_NONE = "none"

# What a search's answer matched: text (SKU, brand, title words), meaning, both, or nothing.
MATCH_LEXICAL = "lexical"
MATCH_SEMANTIC = "semantic"
MATCH_HYBRID = "hybrid"
MATCH_NONE = "none"
# What a bought-together list came from: co-purchases of every cart item, the co-occurrence
# routes (no cart item has co-purchases), or both (the co-occurrence routes for the cart items
# without co-purchases).
SOURCE_COPURCHASE = "copurchase"
SOURCE_NEIGHBORS = "neighbors"
SOURCE_MIXED = "mixed"

# Score multipliers of a request's `boost=` and `bury=` (a merchandising rule sets its own).
REQUEST_BOOST = 1.5
REQUEST_BURY = 0.5


@dataclass(frozen=True)
class ItemFilter:
    """A request's own filters and boosters, on every placement; the rules stage applies them in
    its one candidates query (filters) and before the merchandising rules (boosts).

    `attributes`, `boosts` and `buries` are (attribute key, accepted values) pairs: an item
    matches when its value (or one element of its list value) is one of them, as text.
    """

    price_min: Decimal | None = None
    price_max: Decimal | None = None
    # Matched without regard to case.
    brands: tuple[str, ...] = ()
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    boosts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    buries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def reorders(self) -> bool:
        return bool(self.boosts or self.buries)

    @property
    def is_empty(self) -> bool:
        return self == ItemFilter()


@dataclass(frozen=True)
class PlacementRequest:
    """One request to a placement, as the API, the preview and the replay ask it.

    Home feed: `customer_id` and the filters (`context_product` / `query` lead a cold start);
    similar items: `product_id`; search: `query` (and `category`); bought together: `basket`.
    """

    placement: str
    customer_id: str | None
    k: int = 10
    exclude: tuple[str, ...] = ()
    category: str | None = None
    include_purchased: bool = False
    context_product: str | None = None
    query: str | None = None
    reasons: bool = True
    product_id: str | None = None
    basket: tuple[str, ...] = ()
    item_filter: ItemFilter = ItemFilter()
    # Product pks served on the previous pages of this list (pagination): left out, and recall
    # asks for as many more candidates.
    seen: tuple[int, ...] = ()
    # The storefront's anonymous session: its events shape the list for a customer without
    # history (the home feed, search's personalisation, the cart of similar items and bought
    # together); with `customer_id`, serving links the two.
    session_id: str | None = None
    # Search: re-rank towards the shopper's history (None: when they have one).
    personalize: bool | None = None
    # Leave out what the session was served lately, on any placement (recommendations.served).
    exclude_served: bool = False


@dataclass(frozen=True)
class RecRequest:
    """A home-feed request. Product ids here are the catalog's external ids."""

    customer_id: str | None
    k: int = 10
    exclude: tuple[str, ...] = ()
    category: str | None = None
    include_purchased: bool = False
    # What the shopper is looking at (a product id) or typed (a query): its semantic matches
    # lead the list (a customer without history: instead of popularity alone; with history:
    # fused with their personal candidates as the `context` route).
    context_product: str | None = None
    query: str | None = None
    # False: no reasons on this list (a storefront that does not show them skips their cost).
    reasons: bool = True
    item_filter: ItemFilter = ItemFilter()
    seen: tuple[int, ...] = ()
    session_id: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One route's proposal: internal product pk, the route's score (higher is better)."""

    product_pk: int
    route: str
    score: float
    # The customer's history item that proposed it (item-CF: the one contributing most), if any.
    seed_pk: int | None = None


@dataclass(frozen=True)
class FusedItem:
    """One item of the fused list (recall's output, the ranker's and the rules' input)."""

    product_pk: int
    score: float
    # route -> the route's own score divided by its best score in this list (1.0 = its top item)
    routes: dict[str, float]
    # route -> the history item (pk) that route proposed it from (item-CF's strongest seed)
    seeds: dict[str, int] = field(default_factory=dict)


class FusedList(Sequence[FusedItem]):
    """A fused list (`recall.fused.fuse_arrays`), best first, whose items are built when read. A
    request serves its first few candidates of hundreds, and building every candidate's item cost
    about a millisecond a request (bench/request_profile.py); `pks` reads the order without
    building any."""

    def __init__(
        self, *, pks: list[int], scores: list[float], routes: list[tuple[str, list[float], list[bool], list[int]]]
    ) -> None:
        # routes: each route's normalised score by rank, whether the route has the item, its seed (0: none)
        self.pks = pks
        self._scores = scores
        self._routes = routes

    def __len__(self) -> int:
        return len(self.pks)

    @overload
    def __getitem__(self, index: int) -> FusedItem: ...

    @overload
    def __getitem__(self, index: slice) -> list[FusedItem]: ...

    def __getitem__(self, index: int | slice) -> FusedItem | list[FusedItem]:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(len(self.pks)))]
        if index < 0:
            index += len(self.pks)
        if not 0 <= index < len(self.pks):
            raise IndexError("fused list index out of range")
        return self._item(index)

    def __iter__(self) -> Iterator[FusedItem]:
        return (self._item(i) for i in range(len(self.pks)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (FusedList, list)):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # a list's: mutable-looking, compared by value

    def __repr__(self) -> str:
        return f"FusedList({list(self)!r})"

    def columns(self) -> tuple[list[int], list[float], list[tuple[str, list[float], list[bool], list[int]]]]:
        """What the list was made of (`FusedList(pks=, scores=, routes=)`), shared: read, do not change."""
        return self.pks, self._scores, self._routes

    def _item(self, i: int) -> FusedItem:
        routes: dict[str, float] = {}
        seeds: dict[str, int] = {}
        for route, scores, present, route_seeds in self._routes:
            if present[i]:
                routes[route] = scores[i]
            if route_seeds[i]:
                seeds[route] = route_seeds[i]
        return FusedItem(product_pk=self.pks[i], score=self._scores[i], routes=routes, seeds=seeds)


def fused_pks(items: Sequence[FusedItem]) -> list[int]:
    """The product pks of a fused list in order (a `FusedList`'s without building its items)."""
    return items.pks if isinstance(items, FusedList) else [item.product_pk for item in items]


@dataclass(frozen=True)
class RuleTouch:
    """One merchandising rule that changed an item's score or place (recommendations.rules)."""

    rule_id: int
    kind: str
    effect: str


# A catalog row's description is read up to this many characters for reasons (ten times what a
# reason's facts keep of it, so sanitising still has the text to cut at a word boundary).
FACTS_DESCRIPTION_CHARS = 3000


@dataclass(frozen=True)
class CatalogRow:
    """A product's catalog columns that a reason may name, as one query read them (unsanitised;
    the description cut at FACTS_DESCRIPTION_CHARS)."""

    external_id: str
    title: str
    description: str
    brand: str
    price: Decimal | None
    currency: str
    category_path: str


@dataclass(frozen=True)
class ScoredItem:
    product_pk: int
    product_id: str
    title: str
    score: float
    # route name -> that route's (normalised) score for this item
    routes: dict[str, float]
    # The ranker's (or the fusion's) score before the rules; None where no rule stage ran.
    ranked_score: float | None = None
    rules: tuple[RuleTouch, ...] = ()
    # route name -> the history item (pk) that route proposed it from, where it has one
    seeds: dict[str, int] = field(default_factory=dict)
    # Why it is recommended, for the shopper (the reasons stage fills it in), and where that text
    # came from (REASON_GENERATED or REASON_GROUNDED; None with no reason).
    reason: str | None = None
    reason_source: str | None = None
    # In an interleaving experiment: the key of the variant whose list contributed the item.
    team: str | None = None
    # The catalog row the rules stage read with the item, when it was asked for the reasons' facts
    # (the reasons stage builds them from it rather than reading the product again).
    catalog: CatalogRow | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Recommendation:
    recommendation_id: uuid.UUID
    strategy: str
    items: tuple[ScoredItem, ...]
    # The model that ordered the items ("name@vN"), "fused" when its ranker fell back, None when
    # the strategy asked for no ranker.
    ranker: str | None = None
    # Why the list was made in a degraded way (e.g. keyword search while the embedding model is
    # unavailable); None when every stage worked.
    fallback: str | None = None
    # Home feed: the history it was made from (HISTORY_CUSTOMER, HISTORY_SESSION, HISTORY_NONE).
    history: str | None = None
    # Search: what the items matched (MATCH_*), and the facet counts of the matches
    # (facet -> value -> count; recommendations.facets).
    matched: str | None = None
    facets: dict[str, dict[str, int]] | None = None
    # Search: the query as corrected for typos (None when no word was), and whether the matches
    # were re-ranked towards the shopper's history.
    corrected: str | None = None
    personalized: bool = False
    # Bought together: where the list came from (SOURCE_*), and the ids of the session's (or
    # customer's) cart items added to the basket asked about.
    source: str | None = None
    cart_added: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interactions:
    """Events as parallel arrays over dense indices (users 0..n_users-1, items 0..n_items-1).

    `timestamps` are POSIX seconds; `weights` come from `event_weights`.
    """

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    timestamps: np.ndarray
    positive: np.ndarray
    n_users: int
    n_items: int

    def subset(self, mask: np.ndarray) -> Interactions:
        return Interactions(
            users=self.users[mask],
            items=self.items[mask],
            weights=self.weights[mask],
            timestamps=self.timestamps[mask],
            positive=self.positive[mask],
            n_users=self.n_users,
            n_items=self.n_items,
        )
