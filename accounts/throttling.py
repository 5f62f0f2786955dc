"""Per-key rate limit (a sliding-window counter, see `rate_limit`). It fails open: a cache outage
must not take the API down with it."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey
from accounts.rate_limit import retry_after_header, sliding_window_hit

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"
    _retry_after_s = 0.0

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
        return None  # staff sessions are not throttled

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            key = self.cache.make_and_validate_key(key)
            # Django's Redis backend hands out a client on the key's server; one pipeline round trip.
            client = self.cache._cache.get_client(key, write=True)
            decision = sliding_window_hit(
                client=client, key=key, limit=self.num_requests, window_s=self.duration, now=time.time()
            )
        except Exception:
            logger.warning("rate-limit cache unavailable; request allowed", exc_info=True)
            return True
        self._retry_after_s = decision.retry_after_s
        return decision.allowed

    def wait(self) -> int:
        return retry_after_header(self._retry_after_s)
