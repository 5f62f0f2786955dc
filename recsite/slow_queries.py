"""Slow-query log: with `SLOW_QUERY_LOG_MS` set, every query slower than that many milliseconds is
logged to the logger `recsite.slow_queries` as one JSON line: its duration, its SQL (placeholders,
never the parameters, cut to `SQL_MAX_CHARS`) and what ran it (`GET /path` or `task:<name>`).

`install` (called at app start, see monitoring.apps) hooks every database connection of the
process as it is opened, so web requests, Celery tasks and management commands are all covered.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from celery import signals as celery_signals
from django.core.signals import request_finished, request_started
from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)

SQL_MAX_CHARS = 500

# What the current thread is running: a request or a task ("" outside both).
current_source: ContextVar[str] = ContextVar("slow_query_source", default="")


class SlowQueryLog:
    """A `connection.execute_wrapper` that logs the queries slower than `threshold_ms`."""

    def __init__(self, threshold_ms: float):
        self.threshold_ms = threshold_ms

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        started = time.perf_counter()
        error = ""
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            # A query cut off by the statement timeout is the slowest kind: log it too, named by
            # the driver's error (Django's wrapper says only OperationalError).
            error = type(exc.__cause__ or exc).__name__
            raise
        finally:
            ms = (time.perf_counter() - started) * 1000
            if ms >= self.threshold_ms:
                logger.warning(
                    json.dumps(
                        {
                            "ms": round(ms, 1),
                            "sql": sql[:SQL_MAX_CHARS],
                            "source": current_source.get(),
                            "many": many,
                            "error": error,
                            "pid": os.getpid(),
                        }
                    )
                )


def install(threshold_ms: float) -> None:
    """Log slow queries on every connection this process opens from now on."""
    wrapper = SlowQueryLog(threshold_ms)

    def wrap(sender: object, connection: Any, **kwargs: object) -> None:
        # Called again on each reconnect of the same connection object: wrap it once.
        if not any(isinstance(w, SlowQueryLog) for w in connection.execute_wrappers):
            connection.execute_wrappers.append(wrapper)

    connection_created.connect(wrap, weak=False, dispatch_uid="recsite.slow_queries.wrap")
    request_started.connect(source_from_request, dispatch_uid="recsite.slow_queries.request_started")
    request_finished.connect(source_clear, dispatch_uid="recsite.slow_queries.request_finished")
    celery_signals.task_prerun.connect(source_from_task, dispatch_uid="recsite.slow_queries.task_prerun")
    celery_signals.task_postrun.connect(source_clear, dispatch_uid="recsite.slow_queries.task_postrun")


def source_from_request(sender: object = None, environ: dict | None = None, **kwargs: object) -> None:
    environ = environ or {}
    current_source.set(f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')}".strip())


def source_from_task(sender: object = None, task: object = None, **kwargs: object) -> None:
    current_source.set(f"task:{getattr(task, 'name', 'unknown')}")


def source_clear(**kwargs: object) -> None:
    current_source.set("")
