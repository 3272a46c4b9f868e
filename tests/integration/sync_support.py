"""A paired Google calendar and Salesforce org in the sandbox, and ways to drive and read
them, for the sync scenarios (real worker, real HTTP, real Postgres and Redis)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sync_workers.celery_app import app
from sync_workers.engine.changes import CALENDAR_RESOURCE, CRM_RESOURCE
from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as sf
from sync_workers.store import links
from sync_workers.store.db import cursor
from tests.fixtures.accounts import connected_account
from tests.fixtures.workers import wait_for

REP = "rep@example.com"
CLIENT = "ada@client.example"
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Pair:
    sandbox: Any
    calendar_account: int
    crm_account: int

    @property
    def state(self):
        return self.sandbox.state

    # --- the calendar, as its user ------------------------------------------------------
    def book(self, title: str = "Intro call", start: datetime | None = None,
             minutes: int = 30, attendees=(CLIENT,), **extra) -> dict:
        start = start or datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
        body = {"summary": title, "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat()},
                "attendees": [{"email": REP, "organizer": True},
                              *({"email": a} for a in attendees)], **extra}
        return gcal.seed_event(self.state, REP, body)

    def edit(self, event_id: str, **changes) -> dict:
        return gcal.user_edit_event(self.state, REP, event_id, changes)

    def delete(self, event_id: str) -> dict:
        return gcal.user_delete_event(self.state, REP, event_id)

    def event(self, event_id: str) -> dict:
        return gcal.raw_event(self.state, REP, event_id)["event"]

    def invitations_sent(self, event_id: str) -> list:
        return [w for w in gcal.raw_event(self.state, REP, event_id)["writes"]
                if w.get("sendUpdates") in ("all", "externalOnly")]

    # --- triggers ------------------------------------------------------------------------
    def poll(self, resource: str = "calendar") -> None:
        account = self.calendar_account if resource == "calendar" else self.crm_account
        app.send_task("sync.poll_account", kwargs={
            "account_id": account,
            "resource": CALENDAR_RESOURCE if resource == "calendar" else CRM_RESOURCE})

    # --- the CRM ---------------------------------------------------------------------------
    def crm_events(self) -> list[dict]:
        return sf.records(self.state, "Event")

    def crm_event_for(self, event_id: str) -> dict | None:
        found = [e for e in self.crm_events() if e.get("Calendar_Event_Id__c") == event_id]
        assert len(found) <= 1, f"duplicate CRM events for {event_id}: {found}"
        return found[0] if found else None

    def contacts(self) -> list[dict]:
        return sf.records(self.state, "Contact")

    # --- counting writes ---------------------------------------------------------------
    def writes(self) -> list[dict]:
        """Provider API writes (not token calls, not the control API)."""
        return [e for e in self.state.log.entries()
                if e["method"] in WRITE_METHODS and e["status"] < 400
                and ("/calendar/v3/" in e["path"] or "/services/data/" in e["path"])]


def make_pair(sandbox) -> Pair:
    calendar_account = connected_account(sandbox, "google", REP)
    crm_account = connected_account(sandbox, "salesforce")
    links.pair(calendar_account, crm_account)
    return Pair(sandbox, calendar_account, crm_account)


def link_of(pair: Pair, event_id: str):
    link_id = links.find_by_calendar_event(pair.calendar_account, event_id)
    return links.get(link_id) if link_id else None


def quiet(redis_db) -> bool:
    """No reconcile waiting or running, and no message in the sync queues."""
    busy = [*redis_db.scan_iter("sync:pending:link:*"), *redis_db.scan_iter("sync:lock:*")]
    return not busy and all(
        redis_db.llen(q) == 0 for q in ("events", "reconcile", "poll"))


def settle(redis_db, predicate, what: str, timeout: float = 30):
    """Wait for `predicate` and for the pipeline to have gone quiet."""
    return wait_for(lambda: predicate() and quiet(redis_db) and predicate(), timeout=timeout,
                    what=what)


def sync_log(link_id: int) -> list[dict]:
    with cursor() as cur:
        cur.execute("SELECT * FROM sync_log WHERE link_id = %s ORDER BY id", (link_id,))
        return cur.fetchall()


__all__ = ["CLIENT", "REP", "Pair", "link_of", "make_pair", "oauth", "quiet", "settle",
           "sync_log"]
