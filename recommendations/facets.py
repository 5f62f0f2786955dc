"""Facet counts of a search's matches: how many per category, brand and price band (one query).

Counted over the query's matches (up to the pool search fuses), before the request's own price,
brand and attribute filters, so a storefront can show what each filter would keep.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from catalog.public import Product

# Upper bounds of the price bands (the last band is open); a band's key is `lo-hi` or `lo+`.
PRICE_BANDS = (Decimal(10), Decimal(25), Decimal(50), Decimal(100), Decimal(250))
NO_PRICE = "none"
# The most values listed per facet (the biggest counts).
MAX_VALUES = 20


def price_band(price: Decimal | None) -> str:
    if price is None:
        return NO_PRICE
    low = Decimal(0)
    for high in PRICE_BANDS:
        if price < high:
            return f"{low}-{high}"
        low = high
    return f"{low}+"


def search_facets(*, product_pks: Sequence[int]) -> dict[str, dict[str, int]]:
    """{"category": {path: count}, "brand": {brand: count}, "price": {band: count}}, each by count
    then name; products without a category or brand are not counted under those two."""
    rows = Product.objects.filter(pk__in=list(product_pks)).values_list("category__path", "brand", "price")
    categories: Counter[str] = Counter()
    brands: Counter[str] = Counter()
    prices: Counter[str] = Counter()
    for path, brand, price in rows:
        if path:
            categories[path] += 1
        if brand:
            brands[brand] += 1
        prices[price_band(price)] += 1
    return {name: _top(counter) for name, counter in (("category", categories), ("brand", brands), ("price", prices))}


def _top(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_VALUES])
