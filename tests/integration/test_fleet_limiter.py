"""The fleet-wide limiter: a rate limit on one account pauses every worker's calls to that
account and no other's; a limit without a server hint is waited out for longer each time,
and within a total budget that ends in a dead letter."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sync_workers.sandbox.core import FaultRule
from tests.fixtures.workers import wait_for
from tests.integration.sync_support import (
    colleague_of,
    dead_letters,
    make_pair,
    settle,
    utc,
    worker_records,
)

pytestmark = pytest.mark.integration
START = datetime(2027, 5, 3, 9, 0, tzinfo=timezone.utc)
EVENT_READ = r"/calendars/primary/events/[^/]+$"  # a reconcile's read, not a listing
RATE_LIMITED = {"error": {"code": 429, "message": "Rate Limit Exceeded", "errors": [
    {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]}}


def _calls(sandbox, subject: str) -> list[dict]:
    return [e for e in sandbox.state.log.entries(provider="google") if e["subject"] == subject]


def _book_several(pair, n: int) -> list[str]:
    return [pair.book(f"Call {i}", start=START + timedelta(hours=i))["id"] for i in range(n)]


def _call_starts(workers, event_ids: list[str]) -> list[float]:
    """When the workers sent each Google call about these events: the limiter lets a call
    through just before it is sent (a call's log record is written when it is answered)."""
    return [utc(r["timestamp"]).timestamp() - r["elapsed_ms"] / 1000
            for r in worker_records(workers, "provider call", provider="google")
            if any(event_id in r["url"] for event_id in event_ids)]


def test_a_retry_after_on_one_account_pauses_every_worker_on_it_only(
        sandbox, db, redis_db, session_worker, worker_factory):
    workers = [session_worker, worker_factory(concurrency=4)]
    a = make_pair(sandbox)
    b = colleague_of(a, "robin@example.com")
    for pair in (a, b):
        pair.poll()
    settle(redis_db, lambda: True, "the first listings")
    a_events, b_events = _book_several(a, 6), _book_several(b, 6)
    sandbox.state.faults.add(FaultRule(kind="status", provider="google", path=EVENT_READ,
                                       subject=a.rep, status=429, count=1, body=RATE_LIMITED,
                                       headers={"Retry-After": "3"}))
    a.poll()
    limited = wait_for(lambda: [e for e in _calls(sandbox, a.rep) if e["status"] == 429],
                       what="account A rate-limited")[0]
    b.poll()
    settle(redis_db, lambda: len(a.crm_events()) == 12, "both accounts' bookings", timeout=60)

    # From the moment the worker that met the 429 recorded the pause until Retry-After
    # passed, as the workers sent their calls: a call that got past the limiter before the
    # pause was recorded is on its way, not the limiter's to stop.
    (paused,) = [r for r in worker_records(workers, "provider rate limit: account paused")
                 if r["account_id"] == a.calendar_account]
    paused_at = utc(paused["timestamp"]).timestamp()
    paused_until = limited["at"] + 3
    a_during = [t for t in _call_starts(workers, a_events) if paused_at < t < paused_until]
    b_during = [t for t in _call_starts(workers, b_events) if paused_at < t < paused_until]
    assert a_during == [], "no worker called A while it was paused"
    assert b_during, "B's calls went on meanwhile"
    assert [t for t in _call_starts(workers, a_events) if t >= paused_until], "A resumed"


def test_a_limit_without_hint_waits_longer_each_time_then_dead_letters(
        sandbox, db, redis_db, worker_factory):
    worker_factory(concurrency=2)  # SYNC_RATE_LIMIT_BUDGET=40 in the test environment
    a = make_pair(sandbox)
    a.poll()
    settle(redis_db, lambda: True, "the first listing")
    event = a.book("Throttled")
    sandbox.state.faults.add(FaultRule(kind="status", provider="google", path=EVENT_READ,
                                       subject=a.rep, status=429, count=100,
                                       body=RATE_LIMITED))
    a.poll()
    letter = wait_for(lambda: [d for d in dead_letters()
                               if d["task_name"] == "sync.reconcile_link"], timeout=60,
                      what="the dead letter")[0]
    assert "past the wait budget of 40 s" in letter["error_message"]
    reads = [e["at"] for e in _calls(sandbox, a.rep) if e["status"] == 429]
    gaps = [later - earlier for earlier, later in zip(reads, reads[1:])]
    assert len(reads) == 5, gaps  # waited 2 + 4 + 8 + 16 s; the next 32 s is past 40
    assert all(gap >= wait for gap, wait in zip(gaps, (2, 4, 8, 16))), gaps
    assert a.crm_event_for(event["id"]) is None
