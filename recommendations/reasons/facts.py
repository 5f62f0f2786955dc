"""The catalog facts a reason may name, and what a cached reason was written from.

A served list's items come with the catalog row the rules stage read for them (`ScoredItem.catalog`,
asked for by the home feed when it attaches reasons), so their facts need no second read; the seeds
(history items, not candidates) and anything else are read in one query. Each process keeps the
facts it built until the catalog changes (`catalog.public.catalog_state`, checked at most every
`CATALOG_CHECK_SECONDS`), so a returning shopper's seeds are not read again either.

A cached reason's key holds a digest of the facts it was written from (`facts_digest`): a product
renamed or repriced gets a reason written from its new facts, never the old text.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping, Sequence

from catalog.public import catalog_state_or_none
from recommendations.contracts import FACTS_DESCRIPTION_CHARS, CatalogRow
from recommendations.reasons.guardrails import FIELD_MAX_CHARS, ProductFacts, prompt_text_sanitize
from recsite.db_router import read_connection
from recsite.lru import LRU

# Facts a process keeps, the least recently used dropped first; all of them whenever the catalog
# changes. About 0.9 KB each with a full description (tracemalloc): 9 MB at most, within the web
# worker's memory budget beside its kept answers (docs/scale.md).
FACTS_KEPT = 10_000
# A cut description ends at its last sentence's end: a sentence cut in half could slip past the
# injection check that a whole one would fail.
_SENTENCE_END = re.compile(r"[.!?\n]")


def facts_of(row: CatalogRow) -> ProductFacts:
    """A row's facts, sanitised and length-limited (the same whoever read the row)."""
    description = row.description
    if len(description) >= FACTS_DESCRIPTION_CHARS:
        ends = [m.end() for m in _SENTENCE_END.finditer(description)]
        description = description[: ends[-1]] if ends else ""
    return ProductFacts(
        id=row.external_id,
        title=prompt_text_sanitize(row.title, max_chars=FIELD_MAX_CHARS["title"]),
        description=prompt_text_sanitize(description, max_chars=FIELD_MAX_CHARS["description"]),
        brand=prompt_text_sanitize(row.brand, max_chars=FIELD_MAX_CHARS["brand"]),
        price="" if row.price is None else f"{row.price:.2f}",
        currency=row.currency or "",
        category=prompt_text_sanitize(row.category_path, max_chars=FIELD_MAX_CHARS["category"]),
    )


def product_facts(*, pks: Sequence[int]) -> dict[int, ProductFacts]:
    """pk → the facts of each product that exists (one query, nothing kept)."""
    if not pks:
        return {}
    sql = (
        f"SELECT p.id, p.external_id, p.title, left(p.description, {FACTS_DESCRIPTION_CHARS}), p.brand, p.price,"
        " p.currency, COALESCE(c.path, '') FROM catalog_product p LEFT JOIN catalog_category c ON c.id = p.category_id"
        " WHERE p.id = ANY(%s)"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [list(set(pks))])
        rows = cursor.fetchall()
    return {pk: facts_of(CatalogRow(*row)) for pk, *row in rows}


class _Kept:
    """This process's facts under the catalog generation they were built in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.facts: LRU[int, ProductFacts] = LRU(lambda: FACTS_KEPT)
        self.generation: int | None = None

    def forget(self) -> None:
        with self.lock:
            self.facts.clear()
            self.generation = None


_kept = _Kept()


def catalog_facts(*, pks: Sequence[int], rows: Mapping[int, CatalogRow] | None = None) -> dict[int, ProductFacts]:
    """pk → facts for the products among `pks` that exist: kept ones first, then from `rows` (read
    with the items already), then one query for the rest. What was built is kept while the catalog
    is not being written; nothing is kept while its state cannot be read."""
    wanted = list(dict.fromkeys(pks))
    # Unreadable: the facts are read all the same, and none kept.
    state = catalog_state_or_none(stage="reasons")
    with _kept.lock:
        if state is None or state.generation != _kept.generation:
            _kept.facts.clear()
            _kept.generation = None if state is None else state.generation
        found = _kept.facts.get_many(wanted)
    built = {pk: facts_of(rows[pk]) for pk in wanted if pk not in found and rows and pk in rows}
    rest = [pk for pk in wanted if pk not in found and pk not in built]
    if rest:
        built.update(product_facts(pks=rest))
    if built and state is not None and state.may_keep():
        with _kept.lock:
            if _kept.generation == state.generation:
                _kept.facts.put_many(built)
    return found | built


def catalog_facts_forget() -> None:
    """Build every product's facts from the catalog again (tests; a process never needs to)."""
    _kept.forget()


def facts_digest(item: ProductFacts | None, seed: ProductFacts | None) -> str:
    """What a reason is written from, for its cache key: the item's and the seed's facts."""
    return hashlib.blake2b(repr((item, seed)).encode(), digest_size=8).hexdigest()
