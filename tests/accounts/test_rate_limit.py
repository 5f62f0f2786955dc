"""The sliding-window counter on a real Redis, at chosen instants."""

from __future__ import annotations

import uuid

import pytest
import redis

from accounts.rate_limit import retry_after_header, sliding_window_hit

LIMIT, WINDOW = 10, 60


@pytest.fixture
def hit(redis_url):
    client = redis.Redis.from_url(redis_url)
    key = f"test-rate-{uuid.uuid4().hex}"
    yield lambda now: sliding_window_hit(client=client, key=key, limit=LIMIT, window_s=WINDOW, now=now)
    client.delete(*client.keys(f"{key}:*") or [key])


def test_the_limit_holds_within_a_window_and_refusals_say_when_to_come_back(hit):
    # the window [600, 660): ten requests in its first seconds pass, the eleventh does not
    assert all(hit(600 + i).allowed for i in range(LIMIT))
    refused = hit(610)

    assert not refused.allowed
    assert refused.estimate == 11
    # nothing fits until the next window, whose estimate starts from the 10 let through, decaying:
    # 10 * (1 - t / 60) + 1 <= 10 from t = 6 on
    assert refused.retry_after_s == pytest.approx(50 + 6)
    assert retry_after_header(refused.retry_after_s) == 56
    # asking again while refused changes nothing
    assert hit(612).retry_after_s == pytest.approx(48 + 6)


def test_the_previous_window_counts_by_its_overlap(hit):
    # given 11 requests (one refused, not counted) at the start of the window [600, 660)
    for i in range(LIMIT + 1):
        hit(600 + i)

    # when: 15 s into the next window, 3/4 of the previous one still overlaps the last 60 s
    early = hit(675)
    # and 30 s in, half of it does
    later = hit(690)

    # then: 10 * 0.75 + 1 = 8.5 fits; 10 * 0.5 + 2 = 7 fits
    assert (early.allowed, early.estimate) == (True, pytest.approx(8.5))
    assert (later.allowed, later.estimate) == (True, pytest.approx(7))


def test_a_refusal_late_in_a_busy_window_waits_only_for_the_decay(hit):
    # given a full previous window and 4 requests 30 s into this one
    for i in range(LIMIT):
        hit(600 + i)
    for _ in range(4):
        hit(690)

    # when: 10 * 0.5 + 5 = 10 fits, 10 * 0.5 + 6 = 11 does not
    assert hit(690).allowed
    refused = hit(690)

    # then: with 5 let through here, one more fits once 10 * (1 - t / 60) + 6 <= 10, at t = 36
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(6)


def test_counters_expire_after_two_windows(hit, redis_url):
    client = redis.Redis.from_url(redis_url)
    hit(600)
    (key,) = [k for k in client.scan_iter("test-rate-*") if client.ttl(k) > 0 and client.get(k) == b"1"][-1:]
    assert 0 < client.ttl(key) <= 2 * WINDOW
