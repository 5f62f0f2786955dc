"""Django's own Redis cache backend with django-prometheus's cache counters.

django-prometheus ships such a wrapper, but its module imports django-redis, which this project
does not use; this is the same count (gets, hits, misses, failures) over Django's backend.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)

BACKEND_LABEL = "redis"


class MeteredRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        django_cache_get_total.labels(backend=BACKEND_LABEL).inc()
        try:
            value = super().get(key, default=None, version=version)
        except Exception:
            django_cache_get_fail_total.labels(backend=BACKEND_LABEL).inc()
            raise
        if value is None:
            django_cache_misses_total.labels(backend=BACKEND_LABEL).inc()
            return default
        django_cache_hits_total.labels(backend=BACKEND_LABEL).inc()
        return value
