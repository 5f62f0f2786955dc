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


# gunicorn's default `limit_request_line`: a longer request line never reaches the API.
REQUEST_LINE_MAX_BYTES = 4094


def server_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Answers that come from outside the views: 414 from gunicorn for a request line (path and
    query) over its limit, with gunicorn's HTML body; and on the API, 503 with Retry-After when
    the database is down or slower than the statement timeout (recsite.api_errors)."""
    for path, item in result.get("paths", {}).items():
        for operation in item.values():
            responses = operation["responses"]
            responses.setdefault(
                "414",
                {"description": f"The request line is over {REQUEST_LINE_MAX_BYTES} bytes (the web server's limit)."},
            )
            if path.startswith("/api/"):
                responses.setdefault(
                    "503",
                    {
                        "description": "The database is unavailable or too slow; retry after `Retry-After` seconds.",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
