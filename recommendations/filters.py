"""A request's filters and boosters (`price_min`, `price_max`, `brand`, `attr`, `boost`, `bury`):
parsing and the check that every attribute named exists in the catalog.

"Unknown" means no product has that attribute key. The catalog's keys are a scan of the products
table, so each process keeps them for ATTRIBUTE_KEYS_SECONDS, as the rules keep their snapshot;
a key first uploaded meanwhile is found by a re-read on the miss, at most one per
RELOAD_ON_MISS_SECONDS (so a stream of bad requests cannot scan the catalog at will).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal

from catalog.public import product_attribute_keys
from recommendations.contracts import ItemFilter
from recsite.snapshot import CachedSnapshot

ATTRIBUTE_KEYS_SECONDS = 60.0
RELOAD_ON_MISS_SECONDS = 5.0
MAX_VALUES = 50

_keys: CachedSnapshot[frozenset[str]] = CachedSnapshot(lambda: product_attribute_keys(), max_age=ATTRIBUTE_KEYS_SECONDS)
_reload_lock = threading.Lock()
_last_reload = [0.0]


class FilterError(ValueError):
    """A malformed or unknown filter; `field` is the query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def attribute_pair_parse(*, field: str, raw: str) -> tuple[str, tuple[str, ...]]:
    """`color:red` or `color:red|blue` → ("color", ("red", "blue")); anything else is malformed."""
    key, sep, values = raw.partition(":")
    accepted = tuple(dict.fromkeys(v.strip() for v in values.split("|") if v.strip()))
    if not sep or not key.strip() or not accepted:
        raise FilterError(field, f"{raw!r} is not `key:value` or `key:value1|value2`.")
    if len(accepted) > MAX_VALUES:
        raise FilterError(field, f"{raw!r} lists more than {MAX_VALUES} values.")
    return key.strip(), accepted


def attribute_keys_unknown(keys: Iterable[str]) -> list[str]:
    """The keys no product has, in the order given."""
    wanted = list(dict.fromkeys(keys))
    missing = [key for key in wanted if key not in _keys.get()]
    if missing:
        with _reload_lock:
            if time.monotonic() - _last_reload[0] >= RELOAD_ON_MISS_SECONDS:
                _last_reload[0] = time.monotonic()
                _keys.forget()
        missing = [key for key in missing if key not in _keys.get()]
    return missing


def attribute_keys_forget() -> None:
    """Drop this process's attribute keys (tests; after an import in this process)."""
    _keys.forget()
    _last_reload[0] = 0.0


def item_filter_build(
    *,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    brands: Sequence[str] = (),
    attr: Sequence[str] = (),
    boost: Sequence[str] = (),
    bury: Sequence[str] = (),
) -> ItemFilter:
    """The request's filter from its query parameters; raises `FilterError` naming the parameter
    for a reversed price range, a malformed pair or an attribute no product has."""
    if price_min is not None and price_max is not None and price_min > price_max:
        raise FilterError("price_min", f"is above price_max ({price_min} > {price_max}).")
    parsed = {
        field: tuple(attribute_pair_parse(field=field, raw=raw) for raw in raws)
        for field, raws in (("attr", attr), ("boost", boost), ("bury", bury))
    }
    for field, pairs in parsed.items():
        unknown = attribute_keys_unknown(key for key, _ in pairs)
        if unknown:
            raise FilterError(field, f"no product has the attribute {unknown[0]!r}.")
    return ItemFilter(
        price_min=price_min,
        price_max=price_max,
        brands=tuple(dict.fromkeys(b.strip() for b in brands if b.strip())),
        attributes=_merged(parsed["attr"]),
        boosts=parsed["boost"],
        buries=parsed["bury"],
    )


def _merged(pairs: Sequence[tuple[str, tuple[str, ...]]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Repeated filters on one key all apply (AND), so they stay separate pairs; a pair repeated
    exactly is kept once."""
    return tuple(dict.fromkeys(pairs))
