"""One JSON error shape for the whole API: {"error": {"code", "message", "fields"}}.

`fields` maps each bad input (body field, query parameter or path parameter) to its messages;
`message` names them too, so a log line of the message alone says what to fix.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from recsite.tasks import TRANSIENT_DB_ERRORS

logger = logging.getLogger(__name__)


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable or too slow right now; retry shortly."
    default_code = "unavailable"


# Seconds a client should wait before retrying a 503.
RETRY_AFTER_S = 1


class BadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Bad request."
    default_code = "bad_request"


class Conflict(APIException):
    """409: the request clashes with what is stored (an event id stored with other content);
    `detail` may be a dict of field -> messages, answered as `fields`."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflicts with what is stored."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, SuspiciousOperation):
        # E.g. more query parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django would answer an
        # HTML 400; API clients get the JSON shape.
        exc = BadRequest(str(exc) or BadRequest.default_detail)
    if isinstance(exc, TRANSIENT_DB_ERRORS):
        # Down, restarting, or a statement timeout: fail fast; the connection is replaced on the
        # next request (CONN_HEALTH_CHECKS), so the web process recovers on its own.
        logger.warning("database unavailable: %s", exc)
        exc = DatabaseUnavailable()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and set(data) == {"detail"}:
        body = {
            "code": getattr(data["detail"], "code", code),
            "message": str(data["detail"]),
            "fields": {},
        }
    else:
        fields = data if isinstance(data, dict) else {api_settings.NON_FIELD_ERRORS_KEY: data}
        if isinstance(exc, Conflict):
            body = {
                "code": Conflict.default_code,
                "message": _invalid_message(fields, prefix="Conflict"),
                "fields": fields,
            }
        else:
            body = {"code": "invalid", "message": _invalid_message(fields), "fields": fields}
    response.data = {"error": body}
    if isinstance(exc, DatabaseUnavailable):
        response["Retry-After"] = str(RETRY_AFTER_S)
    return response


@csrf_exempt
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Any /api/ URL that no route matches (e.g. a product id holding an encoded "/"): the API's
    JSON 404, not Django's HTML page."""
    message = f"No API endpoint at {request.path!r}."
    return JsonResponse({"error": {"code": "not_found", "message": message, "fields": {}}}, status=404)


def _invalid_message(fields: dict[str, Any], *, prefix: str = "Invalid input") -> str:
    """'Invalid input: k: Ensure this value is less than or equal to 100.' (first message per field)."""
    parts = []
    for name, errors in fields.items():
        first = first_message(errors)
        parts.append(first if name == api_settings.NON_FIELD_ERRORS_KEY else f"{name}: {first}")
    return f"{prefix}: " + "; ".join(parts)


def first_message(errors: Any) -> str:
    """The first message of a DRF error structure (nested lists and dicts of messages)."""
    while isinstance(errors, (list, dict)) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return str(errors)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: `invalid`, `not_found`, `not_authenticated`, …")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Each bad field, query or path parameter and its messages; empty when none is at fault.",
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer (documentation only)."""

    error = ErrorBodySerializer()
