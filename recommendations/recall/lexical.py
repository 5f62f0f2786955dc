"""Lexical recall for search: PostgreSQL full-text matching of the query's words (as prefixes)
against a product's external id (SKU), brand and title, and an exact SKU or brand match first.

What the embedding misses: SKUs, brand names and exact terms MiniLM has no meaning for. The
embedded PostgreSQL ships no pg_trgm, so typos are corrected before this query
(`recommendations.recall.spelling`). The document is the products' stored `search_document`
column with its GIN index (catalog migration 0009).

All of the query's words are matched first (a typed word or its correction): a common word alone
(`vintage`) matches a large share of a big catalog, and ranking every match is what a search
would spend its time on (at 1M products, hundreds of thousands of rows: 1.2-1.4 s a query). Only
when fewer than MIN_EVERY_WORD products hold them all does the query widen to any of them; the
semantic route, fused with this one, brings what shares the query's meaning rather than one of
its words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from recommendations.contracts import Candidate
from recommendations.recall.semantic import KnnFilter, knn_filter_sql
from recsite.db_router import read_connection

ROUTE = "lexical"
DOCUMENT = "p.search_document"
# Letters and digits only: tsquery operators in user input can never form a malformed query.
WORD = re.compile(r"\w+")
MAX_WORDS = 20
# Shorter words match whole tokens only: a one-letter prefix matches half the catalog.
PREFIX_MIN_LENGTH = 3
# An exact SKU or brand outranks any text match (ts_rank stays well below 1).
EXACT_BONUS = 1.0
# Products holding every word below which the query widens to any word: a page of results.
MIN_EVERY_WORD = 10


def lexical_tsquery(query: str, corrections: Sequence[tuple[str, str]] = (), *, every: bool = False) -> str | None:
    """`word:* | word2 | …` for the query's words and their corrections ((typed, corrected)
    pairs); with `every`, `word:* & (typo:* | corrected:*) & …`. None when there are no words."""
    corrected = {typed.lower(): fixed.lower() for typed, fixed in corrections}
    words = list(dict.fromkeys(WORD.findall(query.lower())))[:MAX_WORDS]
    if every:
        return (
            " & ".join(
                f"({_term(word)} | {_term(corrected[word])})" if word in corrected else _term(word) for word in words
            )
            or None
        )
    return " | ".join(_term(word) for word in dict.fromkeys([*words, *corrected.values()])) or None


def _term(word: str) -> str:
    return f"{word}:*" if len(word) >= PREFIX_MIN_LENGTH else word


def lexical_candidates(
    *, query: str, n: int, knn_filter: KnnFilter, corrections: Sequence[tuple[str, str]] = ()
) -> list[Candidate]:
    """The `n` products best matching `query` (a typed word or its correction: (typed, corrected)
    pairs) by text; score = ts_rank, + EXACT_BONUS when the whole query is the product's SKU or
    brand (any case)."""
    any_word = lexical_tsquery(query, corrections)
    if any_word is None or n <= 0:
        return []
    every_word = lexical_tsquery(query, corrections, every=True)
    exact = query.strip().lower()
    filters, filter_params = knn_filter_sql(knn_filter=knn_filter, pk_column="p.id")
    sql = (
        f"SELECT p.id, ts_rank({DOCUMENT}, q.tsq) + CASE WHEN lower(p.external_id) = %s OR lower(p.brand) = %s"
        f" THEN {EXACT_BONUS} ELSE 0 END AS score FROM catalog_product p, to_tsquery('simple', %s) q(tsq)"
        f" WHERE ({DOCUMENT} @@ q.tsq OR lower(p.external_id) = %s) AND {' AND '.join(filters)}"
        " ORDER BY score DESC, p.id LIMIT %s"
    )
    with read_connection().cursor() as cursor:
        rows: list = []
        if every_word is not None and every_word != any_word:
            cursor.execute(sql, [exact, exact, every_word, exact, *filter_params, n])
            rows = cursor.fetchall()
        if len(rows) < min(n, MIN_EVERY_WORD):
            cursor.execute(sql, [exact, exact, any_word, exact, *filter_params, n])
            rows = cursor.fetchall()
    return [Candidate(product_pk=pk, route=ROUTE, score=float(score)) for pk, score in rows]
