"""Celery task metrics (duration by final state, failures, retries), and the worker's own
`/metrics` endpoint: `CELERY_METRICS_PORT` set makes the worker serve them over HTTP.

With the prefork pool, each child process writes its samples under `PROMETHEUS_MULTIPROC_DIR`
(set it for the worker, as deploy/docker-compose.yml does) and the endpoint in the parent merges
them; a child that exits is marked dead so its live gauges drop out.
"""

from __future__ import annotations

import logging
import os
import time

from celery import signals
from prometheus_client import multiprocess, start_http_server

from recsite.metrics import ENABLED, TASK_DURATION, TASK_FAILURES, TASK_RETRIES

logger = logging.getLogger(__name__)

# task id -> perf_counter at start; a worker process runs one task at a time per thread.
_started: dict[str, float] = {}


def _task_started(task_id: str, **kwargs: object) -> None:
    _started[task_id] = time.perf_counter()


def _task_finished(task_id: str, task: object, state: str | None = None, **kwargs: object) -> None:
    started = _started.pop(task_id, None)
    if ENABLED and started is not None:
        TASK_DURATION.labels(task=getattr(task, "name", "unknown"), state=(state or "unknown").lower()).observe(
            time.perf_counter() - started
        )


def _task_failed(sender: object = None, **kwargs: object) -> None:
    if ENABLED:
        TASK_FAILURES.labels(task=getattr(sender, "name", "unknown")).inc()


def _task_retried(sender: object = None, **kwargs: object) -> None:
    if ENABLED:
        TASK_RETRIES.labels(task=getattr(sender, "name", "unknown")).inc()


def _serve_metrics(**kwargs: object) -> None:
    port = os.environ.get("CELERY_METRICS_PORT")
    if not (ENABLED and port):
        return

    # Lazy: recsite.metrics_export imports django_prometheus, which reads the settings on import, and
    # this module loads with the recsite package (recsite/celery.py), before the settings do.
    from recsite.metrics_export import process_registry  # noqa: PLC0415 - Django loading order

    start_http_server(int(port), addr=os.environ.get("CELERY_METRICS_ADDR", "0.0.0.0"), registry=process_registry())
    logger.info("worker metrics on :%s", port)


def _child_exit(**kwargs: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())


def task_metrics_connect() -> None:
    """Connect the receivers to Celery's signals (recsite/celery.py, once the app exists); connecting
    again changes nothing (a receiver is connected once per signal)."""
    signals.task_prerun.connect(_task_started)
    signals.task_postrun.connect(_task_finished)
    signals.task_failure.connect(_task_failed)
    signals.task_retry.connect(_task_retried)
    signals.worker_init.connect(_serve_metrics)
    signals.worker_process_shutdown.connect(_child_exit)
