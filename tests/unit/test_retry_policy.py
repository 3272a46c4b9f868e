"""The retry policy: bounded, jittered, capped, and never earlier than the server said."""
from __future__ import annotations

from email.utils import formatdate

import pytest

from sync_workers.reliability.retry import RetryPolicy, TooLongWait, parse_retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize("attempt, ceiling", [(1, 2), (2, 4), (3, 8), (4, 16), (8, 256),
                                              (9, 300), (30, 300)])
def test_backoff_doubles_up_to_the_cap(attempt, ceiling):
    top = RetryPolicy(base_delay=2, max_delay=300, rng=lambda: 0.999999)
    bottom = RetryPolicy(base_delay=2, max_delay=300, rng=lambda: 0.0)
    assert top.backoff(attempt) == pytest.approx(ceiling, rel=1e-5)
    assert bottom.backoff(attempt) == 0.0  # full jitter reaches down to zero


def test_full_jitter_spreads_delays_within_the_ceiling():
    policy = RetryPolicy(base_delay=1, max_delay=100)
    delays = [policy.backoff(5) for _ in range(2000)]
    assert all(0 <= d <= 16 for d in delays)
    assert max(delays) - min(delays) > 10  # spread out, not clustered
    assert len({round(d, 3) for d in delays}) > 1000


def test_without_jitter_delay_is_the_ceiling():
    assert RetryPolicy(base_delay=3, max_delay=50, jitter=False).backoff(3) == 12


@pytest.mark.parametrize("retry_after", [0, 5, 30, 299.5])
def test_retry_after_is_a_floor(retry_after):
    policy = RetryPolicy(base_delay=1, max_delay=300, rng=lambda: 0.0)
    assert policy.next_delay(1, retry_after) >= retry_after


def test_backoff_wins_when_longer_than_retry_after():
    policy = RetryPolicy(base_delay=10, max_delay=300, jitter=False)
    assert policy.next_delay(3, retry_after=1) == 40


def test_a_wait_longer_than_the_cap_is_not_squeezed_into_a_countdown():
    with pytest.raises(TooLongWait) as info:
        RetryPolicy(max_delay=60).next_delay(1, retry_after=3600)
    assert info.value.wait == 3600 and info.value.cap == 60


@pytest.mark.parametrize("attempt, allowed", [(1, True), (4, True), (5, False), (9, False)])
def test_attempts_are_bounded(attempt, allowed):
    assert RetryPolicy(max_attempts=5).can_retry(attempt) is allowed


def test_invalid_policy_is_rejected():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=10, max_delay=5)


@pytest.mark.parametrize("headers, expected", [
    ({"Retry-After": "30"}, 30.0),
    ({"Retry-After": " 7 "}, 7.0),
    ({"Retry-After": formatdate(NOW + 45, usegmt=True)}, 45.0),
    ({"Retry-After": formatdate(NOW - 45, usegmt=True)}, 0.0),  # a date in the past: now
    ({"X-RateLimit-Reset": "12"}, 12.0),  # seconds from now
    ({"X-RateLimit-Reset": str(int(NOW + 90))}, 90.0),  # epoch seconds
    ({"Retry-After": "5", "X-RateLimit-Reset": "20"}, 20.0),  # the longest wait wins
    ({"Retry-After": "soon"}, None),
    ({}, None),
])
def test_parse_retry_after(headers, expected):
    got = parse_retry_after(headers, now=NOW)
    assert got == (pytest.approx(expected, abs=1) if expected is not None else None)
