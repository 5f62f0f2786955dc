"""A conversation's state and what one turn changes in it, pure: plain data and one function that
applies a turn's changes (no Django, no database).

The state is what the list is made from: a query built up over turns, a price range, brands,
attribute filters and exclusion terms. A turn's changes come from a parser (the rule parser or a
language model's validated output); applying them is the same whichever parser answered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PRICE_DOWN = "down"
PRICE_UP = "up"
# "cheaper": at most this share of the current list's median price; "pricier": at least its inverse.
PRICE_STEP = Decimal("0.8")
MAX_QUERY_LENGTH = 200
MAX_EXCLUSIONS = 20


@dataclass(frozen=True)
class TurnChanges:
    """What one turn asks: terms added to the query, a price direction or bounds, brands,
    attribute (key, value) filters, terms to exclude, or a reset of everything."""

    query_terms: tuple[str, ...] = ()
    price_direction: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    brands: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    exclude_terms: tuple[str, ...] = ()
    reset: bool = False

    def as_json(self) -> dict[str, Any]:
        """The non-empty changes, for the response."""
        out: dict[str, Any] = {}
        if self.reset:
            out["reset"] = True
        if self.query_terms:
            out["query_terms"] = list(self.query_terms)
        if self.price_direction:
            out["price_direction"] = self.price_direction
        if self.price_min is not None:
            out["price_min"] = str(self.price_min)
        if self.price_max is not None:
            out["price_max"] = str(self.price_max)
        if self.brands:
            out["brands"] = list(self.brands)
        if self.attributes:
            out["attributes"] = {key: value for key, value in self.attributes}
        if self.exclude_terms:
            out["exclude"] = list(self.exclude_terms)
        return out


@dataclass(frozen=True)
class ConversationState:
    query: str = ""
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    brands: tuple[str, ...] = ()
    # one accepted value per attribute key: a later "in red" replaces an earlier "in blue"
    attributes: tuple[tuple[str, str], ...] = ()
    exclude_terms: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "price_min": None if self.price_min is None else str(self.price_min),
            "price_max": None if self.price_max is None else str(self.price_max),
            "brands": list(self.brands),
            "attributes": {key: value for key, value in self.attributes},
            "exclude": list(self.exclude_terms),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationState:
        return cls(
            query=data.get("query") or "",
            price_min=None if data.get("price_min") is None else Decimal(data["price_min"]),
            price_max=None if data.get("price_max") is None else Decimal(data["price_max"]),
            brands=tuple(data.get("brands") or ()),
            attributes=tuple((key, value) for key, value in (data.get("attributes") or {}).items()),
            exclude_terms=tuple(data.get("exclude") or ()),
        )


def state_apply(
    state: ConversationState, changes: TurnChanges, *, median_price: Decimal | None
) -> tuple[ConversationState, list[str]]:
    """The state after `changes`, and what was ignored (in words). A price direction moves from
    `median_price`, the median price of the list the shopper is looking at."""
    ignored: list[str] = []
    if changes.reset:
        state = ConversationState()
    query = " ".join([state.query, *changes.query_terms]).strip()
    if len(query) > MAX_QUERY_LENGTH:
        ignored.append(f"the query would pass {MAX_QUERY_LENGTH} characters; kept {state.query!r}")
        query = state.query
    price_min = changes.price_min if changes.price_min is not None else state.price_min
    price_max = changes.price_max if changes.price_max is not None else state.price_max
    if changes.price_direction is not None:
        if median_price is None or median_price <= 0:
            ignored.append(f"price {changes.price_direction}: the list has no prices to move from")
        elif changes.price_direction == PRICE_DOWN:
            price_max = _cents(median_price * PRICE_STEP)
            price_min = price_min if price_min is None or price_min <= price_max else None
        else:
            price_min = _cents(median_price / PRICE_STEP)
            price_max = price_max if price_max is None or price_max >= price_min else None
    if price_min is not None and price_max is not None and price_min > price_max:
        ignored.append(f"price from {price_min} to {price_max} is empty; the later bound wins")
        price_min, price_max = (None, price_max) if changes.price_max is not None else (price_min, None)
    attributes = dict(state.attributes)
    attributes.update(dict(changes.attributes))
    exclusions = tuple(dict.fromkeys([*state.exclude_terms, *changes.exclude_terms]))
    if len(exclusions) > MAX_EXCLUSIONS:
        ignored.append(f"at most {MAX_EXCLUSIONS} exclusions are kept; the oldest were dropped")
        exclusions = exclusions[-MAX_EXCLUSIONS:]
    return (
        replace(
            state,
            query=query,
            price_min=price_min,
            price_max=price_max,
            brands=changes.brands or state.brands,
            attributes=tuple(sorted(attributes.items())),
            exclude_terms=exclusions,
        ),
        ignored,
    )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
