"""OpenAPI post-processing that makes the schema say what the API does (SPECTACULAR_SETTINGS)."""

from __future__ import annotations

from typing import Any


def optional_query_empty(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """An optional query parameter sent empty (`?q=`, `?limit=`) is read as absent (DRF's
    form-input rule), so it is not refused: say `allowEmptyValue`, and drop the `minLength: 1`
    drf-spectacular derives from `allow_blank`."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") != "query" or parameter.get("required"):
                    continue
                parameter["allowEmptyValue"] = True
                schema = parameter.get("schema", {})
                if schema.get("minLength") == 1:
                    del schema["minLength"]
    return result
