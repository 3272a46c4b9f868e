"""Durable intent: a reconcile owed to a link is recorded in PostgreSQL before any publish,
with the listing's cursor, and only a reconcile that read the link after the last trigger
clears it; the sweeper queues again what was recorded but never reached a worker."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sync_workers.engine.changes import sync_calendar
from sync_workers.engine.sweep import sweep
from sync_workers.store import accounts, intent, links
from sync_workers.store.db import cursor
from tests.fixtures.workers import wait_for
from tests.integration.sync_support import colleague_of, make_pair, settle

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _dirty_since(link_id: int):
    with cursor() as cur:
        cur.execute("SELECT dirty_since FROM sync_links WHERE id = %s", (link_id,))
        return cur.fetchone()["dirty_since"]


@pytest.fixture
def blackhole():
    """A broker address that accepts connections and never answers: a publish to it hangs,
    as a worker's does when it is killed in the middle of one."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


def test_a_lister_killed_between_intent_and_publish_loses_no_booking(
        sandbox, db, redis_db, session_worker, blackhole):
    pair = make_pair(sandbox)
    pair.poll()  # the first listing: the calendar's sync token
    settle(redis_db, lambda: True, "the first listing")
    event = pair.book("Kill window")

    # A lister that records the intent and the cursor, then dies while publishing.
    lister = subprocess.Popen(
        [sys.executable, "-c",
         "import sync_workers.celery_app\n"
         "from sync_workers.engine.changes import sync_calendar\n"
         f"sync_calendar({pair.calendar_account}, owner='lister-task')\n"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "SYNC_BROKER_URL": blackhole},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        link_id = wait_for(lambda: links.find_by_calendar_event(pair.calendar_account,
                                                                event["id"]),
                           what="the lister's link")
        wait_for(lambda: redis_db.exists(f"sync:pending:link:{link_id}"),
                 what="the lister inside its publish")
    finally:
        lister.send_signal(signal.SIGKILL)
        lister.wait(10)
    assert _dirty_since(link_id) is not None, "the intent was durable before the publish"

    # Its redelivery takes its lock back and lists from the cursor that moved with the
    # intent: past the event. The dead lister's mark says a reconcile is waiting: only the
    # sweeper can save the booking.
    redelivered = sync_calendar(pair.calendar_account, owner="lister-task")
    assert (redelivered.listed, redelivered.queued) == (0, 0)
    assert pair.crm_event_for(event["id"]) is None

    swept = sweep(older_than_seconds=0)
    assert (swept.dirty, swept.requeued) == (1, 1)
    settle(redis_db, lambda: pair.crm_event_for(event["id"]) is not None, "the swept booking")
    wait_for(lambda: _dirty_since(link_id) is None, what="the intent cleared")
    assert sweep(older_than_seconds=0).dirty == 0


def test_a_trigger_during_a_reconcile_keeps_the_intent(sandbox, db):
    pair = make_pair(sandbox)
    link_id = links.ensure(pair.calendar_account, pair.crm_account, "evt1", origin="calendar")
    intent.mark([link_id])
    seen = intent.sequence(link_id)  # a reconcile reads the link...
    intent.mark([link_id])  # ...a change lands meanwhile...
    assert not intent.clear(link_id, seen), "...so its success must not clear the intent"
    assert _dirty_since(link_id) is not None
    assert intent.clear(link_id, intent.sequence(link_id))
    assert _dirty_since(link_id) is None


def test_the_sweeper_leaves_parked_accounts_to_their_reconnect(sandbox, db, redis_db):
    active = make_pair(sandbox)
    parked = colleague_of(active, "robin@example.com")
    ids = [links.ensure(p.calendar_account, p.crm_account, "evt1", origin="calendar")
           for p in (active, parked)]
    intent.mark(ids)
    accounts.set_status(parked.calendar_account, "reauth_required", "revoked")
    assert [d.link_id for d in intent.stale(0, 100)] == [ids[0]]
    # Not yet past the threshold: nothing is swept.
    assert intent.stale(3600, 100) == []


def test_a_queued_reconcile_is_not_swept_twice(sandbox, db, redis_db):
    pair = make_pair(sandbox)
    link_id = links.ensure(pair.calendar_account, pair.crm_account, "evt1", origin="calendar")
    intent.mark([link_id])
    redis_db.set(f"sync:pending:link:{link_id}", "9999999999")  # a retry due far ahead
    assert sweep(older_than_seconds=0).requeued == 0
