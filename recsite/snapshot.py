"""A per-process snapshot of something read from the database, reloaded once it is too old.

The request path reads the snapshot without a lock (replacing a tuple is atomic); only a reload
takes the lock, and the second check inside it means concurrent requests that all found it stale
trigger one load, not one each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CachedSnapshot(Generic[T]):
    """`loader()`'s result, kept for `max_age` seconds from the end of the load (from its start
    with `aged_from_start`, for data whose as-of time is when its load began and whose load may
    take seconds: the ranker's item statistics).

    `max_age` may be a callable, read at each load: a module constant patched by a test or a
    setting changed at run time applies from the next load on. `clock` is for tests.
    """

    def __init__(
        self,
        loader: Callable[[], T],
        *,
        max_age: float | Callable[[], float],
        aged_from_start: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._max_age = max_age
        self._clock = clock
        self._aged_from_start = aged_from_start
        self._lock = threading.Lock()
        # (monotonic expiry, value); expiry 0.0: nothing loaded yet.
        self._state: tuple[float, T | None] = (0.0, None)

    def get(self) -> T:
        """The snapshot, loaded now if it is missing or expired."""
        expires, value = self._state
        if self._clock() < expires:
            return value  # type: ignore[return-value]  # expires > 0 only once a value is stored
        with self._lock:
            expires, value = self._state
            if self._clock() >= expires:
                started = self._clock()
                value = self._loader()
                self.put(value, max_age=self._age() - (self._clock() - started) if self._aged_from_start else None)
        return value  # type: ignore[return-value]

    def put(self, value: T, *, max_age: float | None = None) -> None:
        """Serve `value` for `max_age` seconds (the snapshot's own age when None; inf pins it)."""
        age = self._age() if max_age is None else max_age
        self._state = (self._clock() + age, value)

    def peek(self) -> T | None:
        """The snapshot held now, however old, without loading (None before the first load)."""
        return self._state[1]

    def forget(self) -> None:
        """Drop the snapshot: the next `get` loads (after an edit made in this process)."""
        self._state = (0.0, None)

    def _age(self) -> float:
        return self._max_age() if callable(self._max_age) else self._max_age
