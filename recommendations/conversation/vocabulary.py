"""The catalog's vocabulary for parsing turns: its brands and the string values of its
attributes (list values element by element). A scan of the products table, kept per process for
VOCABULARY_SECONDS as the attribute keys are (recommendations.filters)."""

from __future__ import annotations

from django.db import connection

from catalog.public import Product
from recommendations.conversation.rules import Vocabulary
from recsite.snapshot import CachedSnapshot

VOCABULARY_SECONDS = 60.0
# Longer values are descriptions, not something a shopper names in a turn.
MAX_VALUE_LENGTH = 40
MAX_VALUES = 5000

_VALUES_SQL = f"""
SELECT DISTINCT kv.key, coalesce(element.value, kv.value #>> '{{}}') AS value
FROM {Product._meta.db_table} p
CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(p.attributes) = 'object' THEN p.attributes ELSE '{{}}' END) kv
LEFT JOIN LATERAL jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(kv.value) = 'array' THEN kv.value ELSE '[]' END
) AS element(value) ON true
WHERE jsonb_typeof(kv.value) IN ('string', 'array')
LIMIT %s
"""


def vocabulary_load() -> Vocabulary:
    """Brands and attribute values, lower-cased for matching (the catalog's spelling kept)."""
    brands = {
        brand.lower(): brand
        for brand in Product.objects.exclude(brand="").values_list("brand", flat=True).distinct()[:MAX_VALUES]
    }
    values: dict[str, list[tuple[str, str]]] = {}
    keys: set[str] = set()
    with connection.cursor() as cursor:
        cursor.execute(_VALUES_SQL, [MAX_VALUES])
        for key, value in cursor.fetchall():
            keys.add(key.lower())
            if value and len(value) <= MAX_VALUE_LENGTH:
                values.setdefault(value.lower(), []).append((key, value))
    return Vocabulary(
        brands=brands,
        values={value: tuple(sorted(pairs)) for value, pairs in values.items()},
        keys=frozenset(keys),
    )


_vocabulary: CachedSnapshot[Vocabulary] = CachedSnapshot(vocabulary_load, max_age=VOCABULARY_SECONDS)


def vocabulary_current() -> Vocabulary:
    return _vocabulary.get()


def vocabulary_forget() -> None:
    """Drop this process's vocabulary (tests; after an import in this process)."""
    _vocabulary.forget()
