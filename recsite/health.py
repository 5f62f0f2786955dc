"""Probes: `/healthz` says the process answers (no dependency is touched); `/readyz` says it can
serve: the database answers, the broker answers, and what the apps register answers (the
recommendations app: the embedding model loads, once per process)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_S = 0.5


def database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def broker_check() -> None:
    redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=BROKER_TIMEOUT_S, socket_timeout=BROKER_TIMEOUT_S
    ).ping()


# Name -> check, run in this order; apps add theirs from `AppConfig.ready()` (recsite imports
# no app): the recommendations app adds "embedding_model".
READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": database_check,
    "broker": broker_check,
}


def readiness_check_register(name: str, check: Callable[[], None]) -> None:
    """Make `/readyz` run `check` (raising means not ready) under `name`, after those before it."""
    READINESS_CHECKS[name] = check


def readiness_run() -> dict[str, dict[str, object]]:
    """Each check's outcome: {"ok": bool, "ms": float, "error": str (when not ok)}."""
    results: dict[str, dict[str, object]] = {}
    for name, check in READINESS_CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as error:  # any failure of a dependency means "not ready", with its reason
            logger.warning("readiness check %s failed: %s", name, error)
            results[name] = {"ok": False, "ms": _ms(started), "error": f"{type(error).__name__}: {error}"}
        else:
            results[name] = {"ok": True, "ms": _ms(started)}
    return results


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


StatusSerializer = inline_serializer("Health", {"status": serializers.CharField()})
ReadinessSerializer = inline_serializer(
    "Readiness", {"status": serializers.CharField(), "checks": serializers.DictField(child=serializers.DictField())}
)


class ProbeApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class HealthzApi(ProbeApi):
    @extend_schema(operation_id="healthz", responses={200: StatusSerializer}, tags=["operations"])
    def get(self, request: Request) -> Response:
        """Liveness: the process answers."""
        return Response({"status": "ok"})


class ReadyzApi(ProbeApi):
    @extend_schema(
        operation_id="readyz", responses={200: ReadinessSerializer, 503: ReadinessSerializer}, tags=["operations"]
    )
    def get(self, request: Request) -> Response:
        """Readiness: database, broker and embedding model; 503 naming the failed check otherwise."""
        checks = readiness_run()
        ready = all(result["ok"] for result in checks.values())
        return Response({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
