"""OpenAPI schema details drf-spectacular cannot infer (a SPECTACULAR_SETTINGS post-processing hook)."""

from __future__ import annotations

from typing import Any

from catalog.api.batches import MAX_BATCH_ROWS

# The request bodies that take one object or a list of them (catalog.api.views._rows_schema).
BATCH_COMPONENTS = ("ProductRowsRequest", "EventRowsRequest")


def batch_limits(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """A batch holds 1 to MAX_BATCH_ROWS rows: say so on the list form of each batch body."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in BATCH_COMPONENTS:
        for variant in schemas.get(name, {}).get("oneOf", []):
            if variant.get("type") == "array":
                variant.update(minItems=1, maxItems=MAX_BATCH_ROWS)
    return result
