"""OpenAPI post-processing that makes the schema say what the API does (SPECTACULAR_SETTINGS)."""

from __future__ import annotations

from typing import Any


def optional_query_text(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """An optional query parameter sent empty (`?q=`) is read as absent (DRF's form-input rule),
    so it is not refused: drop the `minLength: 1` drf-spectacular derives from `allow_blank`."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and not parameter.get("required") and schema.get("minLength") == 1:
                    del schema["minLength"]
    return result
