"""Keyword recall: PostgreSQL full-text matching of a query against product titles and descriptions.

The fallback of semantic search when the embedding model cannot be loaded: it needs no model and
no embedding, only the catalog. Any word may match (OR), ranked by `ts_rank`, so a query whose
exact phrase appears nowhere still finds the products sharing its words.
"""

from __future__ import annotations

import re

from recommendations.contracts import Candidate
from recommendations.recall.semantic import KnnFilter, knn_filter_sql
from recsite.db_router import read_connection

ROUTE = "keyword"
# Words of letters and digits: everything else (tsquery operators included) is dropped, so user
# input can never form a malformed or hostile tsquery.
WORD = re.compile(r"\w+")
MAX_WORDS = 20


def keyword_candidates(*, query: str, n: int, knn_filter: KnnFilter) -> list[Candidate]:
    """The `n` products whose text best matches any word of `query`; score = ts_rank."""
    words = WORD.findall(query.lower())[:MAX_WORDS]
    if not words or n <= 0:
        return []
    document = "to_tsvector('simple', p.title || ' ' || p.description)"
    tsquery = " | ".join(words)
    filters, filter_params = knn_filter_sql(knn_filter=knn_filter, pk_column="p.id")
    where = [f"{document} @@ to_tsquery('simple', %s)", *filters]
    params = [tsquery, *filter_params]
    sql = (
        f"SELECT p.id, ts_rank({document}, to_tsquery('simple', %s)) AS rank FROM catalog_product p"
        f" WHERE {' AND '.join(where)} ORDER BY rank DESC, p.id LIMIT %s"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [tsquery, *params, n])
        return [Candidate(product_pk=pk, route=ROUTE, score=float(rank)) for pk, rank in cursor.fetchall()]
