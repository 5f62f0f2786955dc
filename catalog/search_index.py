"""Search's full-text index (the products' `search_document`, GIN) kept without pending entries.

A GIN index takes new entries into a pending list and merges them into its main structure later
(at the list's size limit, or by VACUUM). Every search reads the whole pending list before the
index proper: at 1M products an import left 310 pending pages, which cost each lexical match about
3 ms (`bench/lexical_route.py`: p50 9.1 → 5.6 ms once merged). An insert-only catalog is seldom
vacuumed, so the list stays until its limit. Catalog migration 0014 bounds the list to 256 kB
(what trickling writes may leave between merges), and `search_index_merge_pending` merges it after
imports and on the beat schedule.
"""

from __future__ import annotations

from django.db import connection

INDEX = "catalog_product_search_document_idx"


def search_index_merge_pending() -> int:
    """Merge the search index's pending entries into it; returns the pending pages merged."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [INDEX])
        return cursor.fetchone()[0]
