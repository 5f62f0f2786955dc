"""`/metrics`: this process's (or, in multiprocess mode, every worker process's) samples, plus
gauges read from stored rows and the broker at scrape time.

Values computed by periodic tasks and stored (drift scores, daily placement quality, experiments'
SRM p-values: see monitoring.collectors) are read from the latest rows by collectors the apps
register (`stored_collector_register`), so every web process reports the same values and they
survive restarts. Queue depth is one LLEN per queue on the broker.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Iterator

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# Declared on import, which otherwise waits for the first cache call: its series are there from the start.
from django_prometheus.cache import metrics as _cache_metrics  # noqa: F401
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

QUEUES = ("default", "gpu")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_registry() -> CollectorRegistry:
    """The live samples: merged from every process's files in multiprocess mode, else this process's."""
    if multiprocess_dir() is None:
        return REGISTRY

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


# Apps' gauges read from stored rows at scrape time, in registration order (each app's
# `AppConfig.ready()`): recsite imports no app, the apps register here.
STORED_COLLECTORS: list[Callable[[], Iterable[Metric]]] = []


def stored_collector_register(collect: Callable[[], Iterable[Metric]]) -> None:
    """Add `collect` (yields metric families, read when scraped) to /metrics; once per function."""
    if collect not in STORED_COLLECTORS:
        STORED_COLLECTORS.append(collect)


class StoredCollector(Collector):
    """The registered stored gauges, then queue depth, read when scraped."""

    def collect(self) -> Iterator[Metric]:
        for collect in STORED_COLLECTORS:
            yield from collect()
        yield from self._queues()

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("recsite_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"])
        for queue, length in queue_lengths().items():
            depth.add_metric([queue], length)
        yield depth


def queue_lengths() -> dict[str, int]:
    """Waiting tasks per queue (a Redis list per queue); empty when the broker does not answer."""
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=0.2, socket_timeout=0.2)
        with client.pipeline() as pipe:
            for queue in QUEUES:
                pipe.llen(queue)
            return dict(zip(QUEUES, pipe.execute(), strict=True))
    except redis.RedisError as error:
        logger.warning("queue depth unavailable: %s", error)
        return {}


def metrics_text() -> bytes:
    stored = CollectorRegistry(auto_describe=False)
    stored.register(StoredCollector())
    return generate_latest(process_registry()) + generate_latest(stored)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition (scraped by Prometheus; not part of the storefront API). With
    `METRICS_TOKEN` set, only a request bearing it gets the metrics."""
    token = settings.METRICS_TOKEN
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        error = {"code": "not_authenticated", "message": "Send 'Authorization: Bearer <METRICS_TOKEN>'.", "fields": {}}
        return JsonResponse({"error": error}, status=401)
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
