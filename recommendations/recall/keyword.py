"""Keyword recall: PostgreSQL full-text matching of a query against product titles and descriptions.

The fallback of semantic search when the embedding model cannot be loaded: it needs no model and
no embedding, only the catalog. Any word may match (OR), ranked by `ts_rank`, so a query whose
exact phrase appears nowhere still finds the products sharing its words.
"""

from __future__ import annotations

import re

from recommendations.contracts import Candidate
from recommendations.recall.semantic import KnnFilter

ROUTE = "keyword"
# Words of letters and digits: everything else (tsquery operators included) is dropped, so user
# input can never form a malformed or hostile tsquery.
WORD = re.compile(r"\w+")
MAX_WORDS = 20


def keyword_candidates(*, query: str, n: int, knn_filter: KnnFilter) -> list[Candidate]:
    """The `n` products whose text best matches any word of `query`; score = ts_rank."""
    from django.db import connection

    from recommendations.recall.filters import category_subtree_like

    words = WORD.findall(query.lower())[:MAX_WORDS]
    if not words or n <= 0:
        return []
    document = "to_tsvector('simple', p.title || ' ' || p.description)"
    where = [f"{document} @@ to_tsquery('simple', %s)", "NOT (p.id = ANY(%s))", "NOT (p.external_id = ANY(%s))"]
    tsquery = " | ".join(words)
    params: list = [tsquery, list(knn_filter.excluded_pks), list(knn_filter.excluded_external_ids)]
    if knn_filter.in_stock_only:
        where.append("p.in_stock")
    if knn_filter.category_path is not None:
        where.append("p.category_id IN (SELECT id FROM catalog_category WHERE path = %s OR path LIKE %s)")
        params += [knn_filter.category_path, category_subtree_like(knn_filter.category_path)]
    sql = (
        f"SELECT p.id, ts_rank({document}, to_tsquery('simple', %s)) AS rank FROM catalog_product p"
        f" WHERE {' AND '.join(where)} ORDER BY rank DESC, p.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [tsquery, *params, n])
        return [Candidate(product_pk=pk, route=ROUTE, score=float(rank)) for pk, rank in cursor.fetchall()]
