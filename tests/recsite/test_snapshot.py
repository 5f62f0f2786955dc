"""recsite.snapshot.CachedSnapshot: one load per max age, per forget, and per concurrent miss."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from recsite.snapshot import CachedSnapshot


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def counting_loader() -> tuple[list[int], Callable[[], int]]:
    calls: list[int] = []

    def load() -> int:
        calls.append(1)
        return len(calls)

    return calls, load


def test_loads_once_within_the_age_and_again_once_it_expires(clock: Clock) -> None:
    calls, load = counting_loader()
    cached = CachedSnapshot(load, max_age=5.0, clock=clock)
    assert cached.get() == 1
    clock.now += 4.0
    assert cached.get() == 1
    assert len(calls) == 1
    clock.now += 1.0  # exactly max_age after the load: stale
    assert cached.get() == 2
    assert len(calls) == 2


def test_forget_makes_the_next_get_load(clock: Clock) -> None:
    calls, load = counting_loader()
    cached = CachedSnapshot(load, max_age=5.0, clock=clock)
    assert cached.get() == 1
    cached.forget()
    assert cached.get() == 2
    assert cached.get() == 2
    assert len(calls) == 2


def test_a_callable_age_is_read_at_each_load(clock: Clock) -> None:
    age = {"s": 5.0}
    calls, load = counting_loader()
    cached = CachedSnapshot(load, max_age=lambda: age["s"], clock=clock)
    cached.get()
    age["s"] = 60.0
    clock.now += 10.0
    cached.get()  # expired under the old age; stored under the new one
    clock.now += 30.0
    cached.get()
    assert len(calls) == 2


def test_put_pins_a_value(clock: Clock) -> None:
    calls, load = counting_loader()
    cached = CachedSnapshot(load, max_age=5.0, clock=clock)
    cached.put(42, max_age=float("inf"))
    clock.now += 1e9
    assert cached.get() == 42
    assert calls == []


def test_a_failed_load_stores_nothing(clock: Clock) -> None:
    outcomes = iter([RuntimeError("db down"), 7])

    def load() -> int:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    cached = CachedSnapshot(load, max_age=5.0, clock=clock)
    with pytest.raises(RuntimeError):
        cached.get()
    assert cached.get() == 7


def test_concurrent_misses_load_once() -> None:
    calls: list[int] = []

    def slow_load() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "loaded"

    cached = CachedSnapshot(slow_load, max_age=60.0)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cached.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["loaded"] * 8
    assert len(calls) == 1


def test_aged_from_start_counts_the_load_time_against_the_age(clock: Clock) -> None:
    loads: list[float] = []

    def slow_load() -> int:
        loads.append(clock.now)
        clock.now += 4.0  # a load that takes 4 s of the snapshot's 10
        return len(loads)

    snapshot = CachedSnapshot(slow_load, max_age=10.0, aged_from_start=True, clock=clock)
    assert snapshot.peek() is None
    assert snapshot.get() == 1
    clock.now += 5.9  # 9.9 s since the load began
    assert snapshot.get() == 1
    clock.now += 0.2  # 10.1 s since the load began, 6.1 s since it ended
    assert snapshot.get() == 2
    assert snapshot.peek() == 2
