"""Listings coalesce: one per account and resource at a time, any number of triggers during
it cause one more, and a lister that died gives its lock back to its own redelivery; a
listed change the link has seen (our own write coming back) queues nothing."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sync_workers.celery_app import app
from sync_workers.dispatch import INGEST_EVENT
from sync_workers.engine.changes import (
    CALENDAR_RESOURCE,
    listing_lock,
    sync_calendar,
)
from sync_workers.reliability.coalesce import coalesced, waiting
from sync_workers.reliability.locks import redis_client
from tests.fixtures.workers import wait_for
from tests.integration.sync_support import make_pair, settle

pytestmark = pytest.mark.integration


def _abandoned_lock(name: str, owner: str) -> None:
    """What a lister killed mid-listing leaves: its lock, held under its task id."""
    assert redis_client().lock(f"sync:lock:{name}", timeout=300).acquire(token=owner)


def test_requests_during_a_run_cause_one_more_run(redis_db):
    started, release = threading.Event(), threading.Event()
    runs = []

    def body():
        runs.append(len(runs))
        if len(runs) == 1:
            started.set()
            assert release.wait(10)
        return len(runs)

    with ThreadPoolExecutor(12) as pool:
        holder = pool.submit(coalesced, "test:coalesce", body)
        assert started.wait(10)
        others = [pool.submit(coalesced, "test:coalesce", body) for _ in range(10)]
        assert [o.result(10) for o in others] == [[]] * 10  # none waited for the lock
        release.set()
        assert holder.result(10) == [1, 2]
    assert len(runs) == 2
    assert coalesced("test:coalesce", body) == [3]  # a later request runs again


def test_a_dead_listers_lock_goes_back_to_its_redelivery(sandbox, db, redis_db):
    pair = make_pair(sandbox)
    name = listing_lock(pair.calendar_account, CALENDAR_RESOURCE)
    _abandoned_lock(name, owner="task-1")
    assert sync_calendar(pair.calendar_account, owner="task-2").coalesced
    assert name in waiting(0), "the request stays for the sweeper"
    redelivered = sync_calendar(pair.calendar_account, owner="task-1")
    assert not redelivered.coalesced and name not in waiting(0)


def test_a_burst_of_pushes_during_a_listing_causes_one_more_listing(
        sandbox, db, redis_db, session_worker):
    pair = make_pair(sandbox)
    pair.poll()
    settle(redis_db, lambda: True, "the first listing")
    pair.book("During the listing")
    name = listing_lock(pair.calendar_account, CALENDAR_RESOURCE)
    _abandoned_lock(name, owner="the-listing")  # a listing in flight
    listings_before = _listings(sandbox)
    pushes = [app.send_task(INGEST_EVENT.name, kwargs={"event": {
        "provider": "google", "kind": "calendar_changed", "account_id": pair.calendar_account,
        "channel_id": "chan", "resource_state": "exists", "message_number": n}},
        queue="events", routing_key="events") for n in range(100)]
    wait_for(lambda: redis_db.llen("events") == 0 and not _unacked_ingests(redis_db),
             what="the 100 pushes handled", timeout=60)
    assert _listings(sandbox) == listings_before, "no push listed while the listing ran"
    assert not [r for r in session_worker.records() if r.get("message") == "retrying"
                and r.get("task_id") in {p.id for p in pushes}], "no push waited on the lock"
    # The listing in flight ends and serves the pushes' request: one more listing.
    assert not sync_calendar(pair.calendar_account, owner="the-listing").coalesced
    assert _listings(sandbox) == listings_before + 1
    settle(redis_db, lambda: len(pair.crm_events()) == 1, "the booking synced")


def _listings(sandbox) -> int:
    return sum(1 for e in sandbox.state.log.entries()
               if e["method"] == "GET" and e["path"].endswith("/events")
               and "/calendar/v3/" in e["path"])


def _unacked_ingests(redis_db) -> int:
    import json
    return sum(1 for raw in redis_db.hvals("unacked")
               if json.loads(raw)[0].get("headers", {}).get("task") == INGEST_EVENT.name)


def test_an_echo_of_our_own_write_queues_nothing_and_reads_nothing(
        sandbox, db, redis_db, session_worker):
    pair = make_pair(sandbox)
    pair.poll()
    settle(redis_db, lambda: True, "the first listing")
    event = pair.book("Echo")
    pair.poll()
    settle(redis_db, lambda: pair.crm_event_for(event["id"]) is not None, "the booking")
    assert pair.event(event["id"])["extendedProperties"]["private"], "we wrote to the event"
    calls = len(sandbox.state.log.entries())
    summary = sync_calendar(pair.calendar_account)  # the listing our write's push causes
    assert (summary.listed, summary.echoes, summary.queued) == (1, 1, 0)
    after = sandbox.state.log.entries()[calls:]
    assert [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in after] == [("GET", "events")]

