"""Lexical recall for search: PostgreSQL full-text matching of the query's words (as prefixes)
against a product's external id (SKU), brand and title, and an exact SKU or brand match first.

What the embedding misses: SKUs, brand names and exact terms MiniLM has no meaning for. The
embedded PostgreSQL ships no pg_trgm, so typos are corrected before this query
(`recommendations.recall.spelling`); the document is the expression of the GIN index
`catalog_product_lexical_idx` (catalog migration 0006), which this query must repeat exactly to
use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from recommendations.contracts import Candidate
from recommendations.recall.semantic import KnnFilter, knn_filter_sql
from recsite.db_router import read_connection

ROUTE = "lexical"
DOCUMENT = "to_tsvector('simple', p.external_id || ' ' || p.brand || ' ' || p.title)"
# Letters and digits only: tsquery operators in user input can never form a malformed query.
WORD = re.compile(r"\w+")
MAX_WORDS = 20
# Shorter words match whole tokens only: a one-letter prefix matches half the catalog.
PREFIX_MIN_LENGTH = 3
# An exact SKU or brand outranks any text match (ts_rank stays well below 1).
EXACT_BONUS = 1.0


def lexical_tsquery(query: str, extra_words: Sequence[str] = ()) -> str | None:
    """`word:* | word2 | …` for the query's words and `extra_words`; None when there are none."""
    words = list(dict.fromkeys([*WORD.findall(query.lower()), *(w.lower() for w in extra_words)]))[:MAX_WORDS]
    terms = [f"{word}:*" if len(word) >= PREFIX_MIN_LENGTH else word for word in words]
    return " | ".join(terms) or None


def lexical_candidates(
    *, query: str, n: int, knn_filter: KnnFilter, extra_words: Sequence[str] = ()
) -> list[Candidate]:
    """The `n` products best matching `query` (or any of `extra_words`: a typo's corrections) by
    text; score = ts_rank, + EXACT_BONUS when the whole query is the product's SKU or brand (any
    case)."""
    tsquery = lexical_tsquery(query, extra_words)
    if tsquery is None or n <= 0:
        return []
    exact = query.strip().lower()
    filters, filter_params = knn_filter_sql(knn_filter=knn_filter, pk_column="p.id")
    sql = (
        f"SELECT p.id, ts_rank({DOCUMENT}, q.tsq) + CASE WHEN lower(p.external_id) = %s OR lower(p.brand) = %s"
        f" THEN {EXACT_BONUS} ELSE 0 END AS score FROM catalog_product p, to_tsquery('simple', %s) q(tsq)"
        f" WHERE ({DOCUMENT} @@ q.tsq OR lower(p.external_id) = %s) AND {' AND '.join(filters)}"
        " ORDER BY score DESC, p.id LIMIT %s"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [exact, exact, tsquery, exact, *filter_params, n])
        return [Candidate(product_pk=pk, route=ROUTE, score=float(score)) for pk, score in cursor.fetchall()]
