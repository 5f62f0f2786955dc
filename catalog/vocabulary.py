"""The catalog's search vocabulary: the words of the products' search documents (SKU, brand and
title, as full-text search splits them) without digits, and the numbers of one or two digits, each
with the number of products using it.

A materialized view (catalog migrations 0010 and 0012), so that a web process reads a few thousand rows
instead of counting the catalog's words (4.5 s at 1M products). It changes when products do:
`search_vocabulary_refresh` runs on the beat schedule and at the end of the import commands;
until then search corrects typos against the words it had.
"""

from __future__ import annotations

from django.db import connection

VIEW = "catalog_searchvocabulary"


def search_vocabulary_refresh() -> None:
    """Recount the vocabulary; readers keep the old one until the new one is complete."""
    # CONCURRENTLY cannot run inside a transaction block (only tests wrap a refresh in one, where
    # nobody else reads the view).
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY"
    with connection.cursor() as cursor:
        cursor.execute(f"REFRESH MATERIALIZED VIEW {concurrently} {VIEW}")


def search_vocabulary_sql() -> str:
    """The query of the vocabulary's rows: (word, products)."""
    return f"SELECT word, products FROM {VIEW}"
