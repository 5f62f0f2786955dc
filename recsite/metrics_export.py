"""`/metrics`: this process's (or, in multiprocess mode, every worker process's) samples, plus
gauges read from stored rows and the broker at scrape time.

Drift scores, daily placement quality and experiments' SRM p-values are computed by periodic tasks
and stored; reading the latest rows here (three small queries per scrape) makes every web process report the same values
and survive restarts. Queue depth is one LLEN per queue on the broker.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, JsonResponse

# Declared on import, which otherwise waits for the first cache call: its series are there from the start.
from django_prometheus.cache import metrics as _cache_metrics  # noqa: F401
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
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
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class StoredCollector(Collector):
    """Drift scores, placement quality and queue depth, read when scraped."""

    def collect(self) -> Iterator[Metric]:
        yield from self._drift()
        yield from self._quality()
        yield from self._srm()
        yield from self._queues()

    def _drift(self) -> Iterator[Metric]:
        from monitoring.selectors import drift_latest

        psi = GaugeMetricFamily(
            "recsite_drift_psi", "Population stability index of a signal vs its reference.", labels=["signal"]
        )
        ks = GaugeMetricFamily(
            "recsite_drift_ks_statistic",
            "Kolmogorov-Smirnov statistic of a signal vs its reference.",
            labels=["signal"],
        )
        alert = GaugeMetricFamily(
            "recsite_drift_alert", "1 when a signal's drift is above its threshold.", labels=["signal"]
        )
        for report in drift_latest():
            psi.add_metric([report.signal], report.psi)
            ks.add_metric([report.signal], report.ks_statistic)
            alert.add_metric([report.signal], float(report.alert))
        yield from (psi, ks, alert)

    def _quality(self) -> Iterator[Metric]:
        from monitoring.selectors import placement_quality_latest

        ctr = GaugeMetricFamily(
            "recsite_placement_ctr",
            "Click-through rate of the latest complete day, per placement.",
            labels=["placement"],
        )
        bad = GaugeMetricFamily(
            "recsite_placement_bad_case_rate",
            "Bad cases per exposure of the latest complete day, per placement.",
            labels=["placement"],
        )
        for row in placement_quality_latest():
            ctr.add_metric([row.placement], row.ctr)
            bad.add_metric([row.placement], row.bad_case_rate)
        yield from (ctr, bad)

    def _srm(self) -> Iterator[Metric]:
        from experiments.models import Experiment, Status

        srm = GaugeMetricFamily(
            "recsite_experiment_srm_p_value",
            "Sample-ratio-mismatch p-value of a running experiment, as of its latest snapshot.",
            labels=["experiment"],
        )
        running = Experiment.objects.filter(status=Status.RUNNING, srm_p_value__isnull=False)
        for key, p_value in running.values_list("key", "srm_p_value"):
            srm.add_metric([key], p_value)
        yield srm

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("recsite_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"])
        for queue, length in queue_lengths().items():
            depth.add_metric([queue], length)
        yield depth


def queue_lengths() -> dict[str, int]:
    """Waiting tasks per queue (a Redis list per queue); empty when the broker does not answer."""
    import redis
    from django.conf import settings

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
    from django.conf import settings

    token = settings.METRICS_TOKEN
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        error = {"code": "not_authenticated", "message": "Send 'Authorization: Bearer <METRICS_TOKEN>'.", "fields": {}}
        return JsonResponse({"error": error}, status=401)
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
