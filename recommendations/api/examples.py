"""Examples in the OpenAPI schema of the storefront's placements: one per query parameter (the
same on every placement that takes it) and one answer per placement.

A query serializer's parameters get their examples from `parameter_examples`, which refuses a
field that has none, so a parameter added later cannot reach the schema without one.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import serializers

# A cursor as the API issues them (signed, compressed): only a `next_cursor` the API answered is
# accepted, so this one is a 400 when sent.
EXAMPLE_CURSOR = ".eJyrVipSslIyMjQ0MzI3MDQ0NjI2NTE1UaoFAGaWBsE:1t2Xy4:3pQ0bR8vQm1cW2uJ4kYHsN8o7aTgZr2Xl0c9Jf1S1aU"

# Query parameter -> (label, value) pairs; a list-valued parameter's values are lists.
PARAMETER_EXAMPLES: dict[str, tuple[tuple[str, Any], ...]] = {
    "customer": (("a known customer", "12347"),),
    "session": (("an anonymous session", "s-8f2c"),),
    "k": (("ten items", 10),),
    "exclude": (("two products left out", ["85123A", "71053"]),),
    "category": (("a category and below", "Home > Kitchen"),),
    "include_purchased": (("bought items too", True),),
    "context": (("the product looked at", "85123A"),),
    "q": (("what was searched for", "espresso cups"),),
    "reasons": (("no reasons", False),),
    "price_min": (("from 10", "10"),),
    "price_max": (("up to 49.90", "49.90"),),
    "brand": (("one brand", ["Acme"]), ("either brand", ["Acme", "Globex"])),
    "attr": (("one value", ["color:red"]), ("either value", ["color:red|blue"])),
    "boost": (("red items first", ["color:red"]),),
    "bury": (("blue items last", ["color:blue"]),),
    "page_size": (("twenty per page", 20),),
    "cursor": (("a next_cursor answered before", EXAMPLE_CURSOR),),
    "exclude_served": (("only items the session was not shown", True),),
    "personalize": (("the search order kept", False),),
    "products": (("a cart of two", ["85123A", "71053"]),),
}

# Search's `q` is what the shopper typed: the kinds of query hybrid search is built to find.
SEARCH_QUERY_EXAMPLES: tuple[tuple[str, Any], ...] = (
    ("a SKU", "85123A"),
    ("a brand", "Acme"),
    ("title words with a typo", "chrsitmas lights"),
)


def parameter_examples(
    serializer: type[serializers.Serializer], **overrides: tuple[tuple[str, Any], ...]
) -> list[OpenApiExample]:
    """The examples of every query parameter `serializer` declares (`overrides` replace some);
    raises LookupError naming a parameter without one."""
    examples = []
    for name in serializer().fields:
        pairs = overrides.get(name) or PARAMETER_EXAMPLES.get(name)
        if not pairs:
            raise LookupError(f"the query parameter {name!r} of {serializer.__name__} has no example")
        examples += [
            OpenApiExample(label, value=value, parameter_only=(name, OpenApiParameter.QUERY)) for label, value in pairs
        ]
    return examples


def answer_example(label: str, value: dict[str, Any]) -> OpenApiExample:
    return OpenApiExample(label, value=value, response_only=True, status_codes=["200"])


def _item(product_id: str, title: str, score: float, routes: dict[str, float], reason: str | None) -> dict[str, Any]:
    return {
        "id": product_id,
        "title": title,
        "score": score,
        "routes": routes,
        "rules": [],
        "reason": reason,
        "reason_source": None if reason is None else "grounded",
    }


_LIST = {
    "recommendation_id": "5b0e4f7a-3c1d-4e8b-9a26-0f6d2c9b7e41",
    "experiment": None,
    "variant": None,
}

FEED_WITH_CONTEXT = {
    **_LIST,
    "strategy": "fused",
    "customer": "12347",
    "session": None,
    "history": "customer",
    "ranker": None,
    "items": [
        _item(
            "85099B",
            "JUMBO BAG RED RETROSPOT",
            0.94,
            {"context": 1.0, "itemcf": 0.41},
            "Similar to White Hanging Heart T-Light Holder",
        ),
        _item("22423", "REGENCY CAKESTAND 3 TIER", 0.71, {"itemcf": 1.0}, "Because you bought Jumbo Bag Pink Polkadot"),
    ],
    "next_cursor": EXAMPLE_CURSOR,
}

SIMILAR_ANSWER = {
    **_LIST,
    "strategy": "similar",
    "product": "85123A",
    "session": "s-8f2c",
    "items": [
        _item("21733", "RED HANGING HEART T-LIGHT HOLDER", 0.97, {"semantic": 1.0, "itemcf": 0.62}, None),
        _item("84406B", "CREAM CUPID HEARTS COAT HANGER", 0.58, {"itemcf": 1.0}, None),
    ],
    "next_cursor": None,
}

SEARCH_ANSWER = {
    **_LIST,
    "strategy": "search",
    "query": "chrsitmas lights",
    "session": "s-8f2c",
    "corrected": "christmas lights",
    "personalized": True,
    "matched": "hybrid",
    "facets": {
        "category": {"Home > Lighting": 14, "Home > Seasonal": 6},
        "brand": {"Acme": 9},
        "price": {"0-10": 12, "10-25": 8},
    },
    "fallback": None,
    "items": [
        _item("23084", "RABBIT NIGHT LIGHT", 0.88, {"lexical": 1.0, "semantic": 0.74}, None),
        _item("79321", "CHILLI LIGHTS", 0.65, {"lexical": 0.81}, None),
    ],
    "next_cursor": EXAMPLE_CURSOR,
}

BOUGHT_TOGETHER_ANSWER = {
    **_LIST,
    "strategy": "bought_together",
    "products": ["85123A", "71053"],
    "session": "s-8f2c",
    "cart_added": ["22457"],
    "source": "copurchase",
    "items": [
        _item("21733", "RED HANGING HEART T-LIGHT HOLDER", 1.0, {"copurchase": 1.0}, None),
        _item("22470", "HEART OF WICKER LARGE", 0.47, {"copurchase": 0.47}, None),
    ],
    "next_cursor": None,
}
