"""The sync scenarios that need more than one worker process, or a process that dies:
two workers on one link at once, a worker killed between the CRM write and the link update.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from sync_workers.celery_app import app
from sync_workers.sandbox.core import FaultRule
from sync_workers.store import links
from tests.fixtures.workers import wait_for
from tests.integration.sync_support import (
    CLIENT,
    dead_letters,
    link_of,
    make_pair,
    settle,
    sync_log,
    utc,
    worker_records,
)
from tests.integration.test_sync_scenarios import NINE, booked

pytestmark = pytest.mark.integration
UPSERT_EVENT = "/sobjects/Event/Calendar_Event_Id__c/"
UPSERT_CONTACT = "/sobjects/Contact/Sync_Contact_Id__c/"


@pytest.fixture
def pair(sandbox, db, redis_db, session_worker):
    return make_pair(sandbox)


def test_two_workers_reconciling_one_link_at_once_write_once(pair, redis_db, session_worker,
                                                             worker_factory):
    workers = [session_worker, worker_factory(), worker_factory()]
    event = booked(pair, redis_db)
    link = link_of(pair, event["id"])
    later = NINE + timedelta(hours=2)
    pair.edit(event["id"], start={"dateTime": later.isoformat()},
              end={"dateTime": (later + timedelta(minutes=30)).isoformat()})
    writes = len(pair.writes())
    # The first reconcile to take the lock reads the event slowly, so the other one
    # certainly runs while the lock is held.
    pair.state.faults.add(FaultRule(kind="hang", provider="google", method="GET",
                                    path=rf"/events/{event['id']}$", seconds=1.0))

    task_ids = {pair.reconcile_now(link.link_id) for _ in range(2)}
    settle(redis_db, lambda: utc(pair.crm_event_for(event["id"])["StartDateTime"]) == later,
           "the CRM event to follow the reschedule")

    assert [e["Id"] for e in pair.crm_events()] == [link.crm_event_id]
    assert len(pair.writes()) == writes + 1  # a single reconcile's: one CRM update
    outcomes = {r["task_id"]: r["result"] for r in worker_records(
        workers, "reconciled", link_id=link.link_id) if r.get("task_id") in task_ids}
    assert sorted(outcomes.values()) == ["converged", "written"]
    busy = [r for r in worker_records(workers, "retrying", error_type="LockBusy")
            if r.get("task_id") in task_ids]
    assert busy, "the second reconcile never met the first one's lock"
    assert {r["task_id"] for r in busy} == {t for t, result in outcomes.items()
                                            if result == "converged"}
    written = {row["task_id"] for row in sync_log(link.link_id)} & task_ids
    assert written == {t for t, result in outcomes.items() if result == "written"}
    assert dead_letters() == []


def test_worker_killed_between_crm_write_and_link_update_retries_without_duplicates(
        pair, redis_db, sole_prefork_worker):
    sole_prefork_worker("reconcile")  # the probe kills the pool process running it
    event = pair.book()
    link_id = links.ensure(pair.calendar_account, pair.crm_account, event["id"],
                           origin="calendar")
    marker = uuid.uuid4().hex
    app.send_task("probe.reconcile_dying_after_crm_write",
                  kwargs={"link_id": link_id, "marker": marker}, queue="reconcile",
                  routing_key="reconcile")

    result = wait_for(lambda: redis_db.get(f"probe:done:{marker}"), timeout=30,
                      what="the redelivered reconcile to finish")
    assert result == b"written"
    assert redis_db.get(f"probe:killed:{marker}"), "the first run was not killed"
    assert int(redis_db.get(f"probe:runs:{marker}")) == 2  # killed once, redelivered once

    (crm,) = pair.crm_events()
    (contact,) = pair.contacts()
    assert crm["Calendar_Event_Id__c"] == event["id"] and crm["WhoId"] == contact["Id"]
    assert contact["Email"] == CLIENT
    upserts = [w["path"] for w in pair.writes() if UPSERT_EVENT in w["path"]]
    contact_creates = [w["path"] for w in pair.writes() if UPSERT_CONTACT in w["path"]]
    assert (len(upserts), len(contact_creates)) == (1, 1)  # the retry found both
    link = links.get(link_id)
    assert (link.crm_event_id, link.crm_contact_id) == (crm["Id"], contact["Id"])
    assert pair.event(event["id"])["extendedProperties"]["private"] == {
        "crm_event_id": crm["Id"], "crm_contact_id": contact["Id"]}

    writes = len(pair.writes())
    pair.poll()
    pair.poll("crm")
    settle(redis_db, lambda: True, "echo polls")
    assert len(pair.writes()) == writes
    assert dead_letters() == []


def test_two_bookings_of_one_new_guest_at_once_make_one_contact(pair, redis_db,
                                                                 worker_factory):
    worker_factory()  # with the session worker: room for both reconciles at once
    first, second = pair.book(title="Intro call"), pair.book(title="Demo")
    # The first contact creation is slow: without a guard the other booking looks the
    # guest up meanwhile, finds no contact and creates one too.
    pair.state.faults.add(FaultRule(kind="hang", provider="salesforce", method="PATCH",
                                    path=UPSERT_CONTACT, seconds=0.5))
    pair.poll()
    settle(redis_db, lambda: pair.crm_event_for(first["id"]) and pair.crm_event_for(
        second["id"]), "both bookings to sync")

    (contact,) = pair.contacts()
    assert {pair.crm_event_for(e["id"])["WhoId"] for e in (first, second)} == {contact["Id"]}
    assert dead_letters() == []
