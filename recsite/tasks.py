"""The one retry policy of the project's Celery tasks.

Lost connections, deadlocks, serialization failures are worth another try; anything else is a bug
or bad data, and retrying would only repeat it. Every task that touches the database declares
itself with `transient_task(...)`, so the policy is written once here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

TRANSIENT_DB_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)

# Options every transient task gets unless it overrides them (e.g. max_retries).
RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": TRANSIENT_DB_ERRORS,
    "retry_backoff": True,
    "max_retries": 3,
}


def transient_task(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """`celery.shared_task` with RETRY_POLICY; `options` (acks_late, ignore_result, bind, ...) add
    to it or override it. The task's name stays the decorated function's module and name."""
    return shared_task(**{**RETRY_POLICY, **options})
