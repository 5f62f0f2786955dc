"""Lexical recall for search: PostgreSQL full-text matching of the query's words (as prefixes)
against a product's external id (SKU), brand and title, and an exact SKU or brand match first.

What the embedding misses: SKUs, brand names and exact terms MiniLM has no meaning for. The
embedded PostgreSQL ships no pg_trgm, so typos are corrected before this query
(`recommendations.recall.spelling`). The document is the products' stored `search_document`
column with its GIN index (catalog migration 0009).

All of the query's words are matched first: a common word alone (`vintage`) matches a large share
of a big catalog, and ranking every match is what a search would spend its time on (at 1M
products, hundreds of thousands of rows). Only when fewer than the products asked for hold all the
words does the query widen to any of them (and always when typo corrections add alternative
words). A product holding every word ranks above one holding some with `ts_rank` in nearly every
case, so the first answer is the wider query's best part.
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


def lexical_tsquery(query: str, extra_words: Sequence[str] = (), *, every: bool = False) -> str | None:
    """`word:* | word2 | …` for the query's words and `extra_words` (`&` between them with
    `every`); None when there are none."""
    words = list(dict.fromkeys([*WORD.findall(query.lower()), *(w.lower() for w in extra_words)]))[:MAX_WORDS]
    terms = [f"{word}:*" if len(word) >= PREFIX_MIN_LENGTH else word for word in words]
    return (" & " if every else " | ").join(terms) or None


def lexical_candidates(
    *, query: str, n: int, knn_filter: KnnFilter, extra_words: Sequence[str] = ()
) -> list[Candidate]:
    """The `n` products best matching `query` (or any of `extra_words`: a typo's corrections) by
    text; score = ts_rank, + EXACT_BONUS when the whole query is the product's SKU or brand (any
    case)."""
    any_word = lexical_tsquery(query, extra_words)
    if any_word is None or n <= 0:
        return []
    every_word = None if extra_words else lexical_tsquery(query, every=True)
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
        if len(rows) < n:
            cursor.execute(sql, [exact, exact, any_word, exact, *filter_params, n])
            rows = cursor.fetchall()
    return [Candidate(product_pk=pk, route=ROUTE, score=float(score)) for pk, score in rows]
