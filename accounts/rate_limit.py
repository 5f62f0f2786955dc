"""Per-key rate limiting with a sliding-window counter in Redis.

The rate over the last window is estimated from two counters: this window's and the previous
one's, weighted by how much of it still overlaps the last `window_s` seconds. That is O(1) memory
and one round trip per request. (DRF's stock throttle keeps a log of every request's timestamp
in the last window and reads and rewrites all of it each time: at 6,000 requests a minute that is
a 6,000-entry list per request.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class RedisLike(Protocol):
    def pipeline(self, transaction: bool = ...): ...

    def decr(self, name: str): ...


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    # Seconds until a request would be allowed again (0 when this one was).
    retry_after_s: float = 0.0
    # The estimated number of requests in the last window, this one included.
    estimate: float = 0.0


def sliding_window_hit(*, client: RedisLike, key: str, limit: int, window_s: int, now: float) -> RateDecision:
    """Count one request under `key` at time `now` and say whether it stays within `limit`
    requests per `window_s` seconds. A refused request is not counted (one more round trip), so
    the wait it is told holds however often the client asked in between."""
    window = int(now // window_s)
    current = f"{key}:{window}"
    pipe = client.pipeline(transaction=False)
    pipe.incr(current)
    pipe.expire(current, 2 * window_s)
    pipe.get(f"{key}:{window - 1}")
    count, _, previous = pipe.execute()
    count, previous = int(count), int(previous or 0)
    elapsed = now - window * window_s
    estimate = previous * (1 - elapsed / window_s) + count
    if estimate <= limit:
        return RateDecision(allowed=True, estimate=estimate)
    client.decr(current)
    count -= 1
    return RateDecision(
        allowed=False,
        retry_after_s=_retry_after(count=count, previous=previous, limit=limit, window_s=window_s, elapsed=elapsed),
        estimate=estimate,
    )


def _retry_after(*, count: int, previous: int, limit: int, window_s: int, elapsed: float) -> float:
    """When one more request fits, `count` being those this window let through: later in this
    window, once the previous window's weight has decayed enough, or else in the next one, once
    this window's has (which can be more than `window_s` from now: the estimate assumes the
    counted requests were spread over their window)."""
    room = limit - count - 1
    if room >= 0 and previous > 0:
        return max(window_s * (1 - room / previous) - elapsed, 0.0)
    until_next = window_s - elapsed
    if limit < 1:
        return until_next + window_s
    return until_next + max(window_s * (1 - (limit - 1) / count), 0.0)


def retry_after_header(seconds: float) -> int:
    """Whole seconds for a Retry-After header: rounded up, at least 1."""
    return max(1, math.ceil(seconds))
