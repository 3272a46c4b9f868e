"""A paired Google calendar and Salesforce org in the sandbox, and ways to drive and read
them, for the sync scenarios (real worker, real HTTP, real Postgres and Redis)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sync_workers.celery_app import app
from sync_workers.dispatch import RECONCILE_LINK
from sync_workers.engine.changes import CALENDAR_RESOURCE, CRM_RESOURCE
from sync_workers.engine.enqueue import enqueue_reconcile
from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox import oauth
from sync_workers.sandbox import salesforce_admin as sf
from sync_workers.store import links
from sync_workers.store.db import cursor
from tests.fixtures.accounts import connected_account
from tests.fixtures.workers import wait_for

REP = "rep@example.com"


def utc(text: str) -> datetime:
    """A provider's timestamp (Google's Z or offset, Salesforce's +0000) as a datetime."""
    return datetime.fromisoformat(text.replace("+0000", "+00:00").replace("Z", "+00:00"))

CLIENT = "ada@client.example"
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Pair:
    sandbox: Any
    calendar_account: int
    crm_account: int
    rep_user: str  # the rep's Salesforce User id
    rep: str = REP  # whose calendar: the Google user
    @property
    def state(self):
        return self.sandbox.state

    # --- the calendar, as its user ------------------------------------------------------
    def book(self, title: str = "Intro call", start: datetime | None = None,
             minutes: int = 30, attendees=(CLIENT,), time_zone: str | None = None,
             **extra) -> dict:
        """`time_zone`: the IANA zone of start and end (a recurring event needs one)."""
        start = start or datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
        zone = {"timeZone": time_zone} if time_zone else {}
        body = {"summary": title, "start": {"dateTime": start.isoformat(), **zone},
                "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat(), **zone},
                "attendees": [{"email": self.rep, "organizer": True},
                              *({"email": a} for a in attendees)], **extra}
        return gcal.seed_event(self.state, self.rep, body)

    def edit(self, event_id: str, **changes) -> dict:
        return gcal.user_edit_event(self.state, self.rep, event_id, changes)

    def delete(self, event_id: str) -> dict:
        return gcal.user_delete_event(self.state, self.rep, event_id)

    def event(self, event_id: str) -> dict:
        return gcal.raw_event(self.state, self.rep, event_id)["event"]

    def calendar_events(self) -> list[dict]:
        return [raw["event"] for raw in gcal.raw_events(self.state, self.rep)]

    def invitations_sent(self, event_id: str) -> list:
        return [w for w in gcal.raw_event(self.state, self.rep, event_id)["writes"]
                if w.get("sendUpdates") in ("all", "externalOnly")]

    # --- triggers ------------------------------------------------------------------------
    def poll(self, resource: str = "calendar") -> None:
        account = self.calendar_account if resource == "calendar" else self.crm_account
        app.send_task("sync.poll_account", kwargs={
            "account_id": account,
            "resource": CALENDAR_RESOURCE if resource == "calendar" else CRM_RESOURCE})

    def trigger(self, link_id: int) -> bool:
        """What a webhook naming this link does: queue its reconcile (deduplicated)."""
        return enqueue_reconcile(link_id, self.crm_account)

    def reconcile_now(self, link_id: int) -> str:
        """Publish a reconcile of `link_id` directly, past the per-link dedupe."""
        return app.send_task(RECONCILE_LINK.name, kwargs={"link_id": link_id},
                             queue="reconcile", routing_key="reconcile").id

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
        return [e for e in self.api_calls() if e["method"] in WRITE_METHODS]

    def api_calls(self) -> list[dict]:
        """Provider API calls that succeeded (not token calls, not the control API)."""
        return [e for e in self.state.log.entries()
                if e["status"] < 400
                and ("/calendar/v3/" in e["path"] or "/services/data/" in e["path"])]


def make_pair(sandbox) -> Pair:
    """The rep's Google calendar paired with the org, as the rep's Salesforce user."""
    calendar_account = connected_account(sandbox, "google", REP)
    crm_account = connected_account(sandbox, "salesforce")
    rep_user = sf.add_user(sandbox.state, REP, "Riley", "Rep")
    links.pair(calendar_account, crm_account, rep_user)
    return Pair(sandbox, calendar_account, crm_account, rep_user)


def colleague_of(pair: Pair, email: str) -> Pair:
    """Another rep of the same org: their own Google calendar, paired with the same CRM
    account as their own Salesforce user. Reads and writes their calendar as them."""
    calendar_account = connected_account(pair.sandbox, "google", email)
    gcal.raw_events(pair.state, email)  # their primary calendar exists from its first use
    rep_user = sf.add_user(pair.state, email, "Robin", "Colleague")
    links.pair(calendar_account, pair.crm_account, rep_user)
    return Pair(pair.sandbox, calendar_account, pair.crm_account, rep_user, email)


def link_of(pair: Pair, event_id: str):
    link_id = links.find_by_calendar_event(pair.calendar_account, event_id)
    return links.get(link_id) if link_id else None


def quiet(redis_db) -> bool:
    """No reconcile waiting or running, no message in the sync queues, and no sync task
    fetched but unfinished (see `sync_tasks_in_flight`)."""
    busy = [*redis_db.scan_iter("sync:pending:link:*"), *redis_db.scan_iter("sync:lock:*")]
    return not busy and all(redis_db.llen(q) == 0 for q in ("events", "reconcile", "poll")) \
        and sync_tasks_in_flight(redis_db) == 0


def sync_tasks_in_flight(redis_db) -> int:
    """`sync.*` messages a worker has fetched and not yet acked: a poll about to queue
    reconciles, a retry waiting out its countdown in the worker's memory. They are in no
    queue until their task has run (acks_late); kombu keeps them in the `unacked` hash.
    Other tasks (probes of other tests, retrying for a while) are not the sync's work."""
    return sum(1 for raw in redis_db.hvals("unacked")
               if json.loads(raw)[0].get("headers", {}).get("task", "").startswith("sync."))


def settle(redis_db, predicate, what: str, timeout: float = 30):
    """Wait for `predicate` and for the pipeline to have gone quiet."""
    return wait_for(lambda: predicate() and quiet(redis_db) and predicate(), timeout=timeout,
                    what=what)


def sync_log(link_id: int) -> list[dict]:
    with cursor() as cur:
        cur.execute("SELECT * FROM sync_log WHERE link_id = %s ORDER BY id", (link_id,))
        return cur.fetchall()


def reset_world(sandbox, redis_db) -> None:
    """What the `sandbox`, `db` and `redis_db` fixtures do before a test, for a test that
    needs a fresh world more than once (one per Hypothesis example). Call it when the
    pipeline is quiet."""
    sandbox.state.reset()
    with cursor() as cur:
        cur.execute("""SELECT string_agg(quote_ident(tablename), ', ') AS tables
                       FROM pg_tables WHERE schemaname = 'public'
                         AND tablename <> 'schema_migrations'""")
        cur.execute(f"TRUNCATE {cur.fetchone()['tables']} RESTART IDENTITY CASCADE")
    for pattern in ("probe:*", "sync:*"):
        for key in redis_db.scan_iter(pattern, count=500):
            redis_db.delete(key)


def dead_letters() -> list[dict]:
    with cursor() as cur:
        cur.execute("SELECT * FROM dead_letters ORDER BY id")
        return cur.fetchall()


def worker_records(workers, message: str, **match) -> list[dict]:
    """JSON log records with this message (and these field values) from all `workers`."""
    return [r for w in workers for r in w.records()
            if r.get("message") == message and all(r.get(k) == v for k, v in match.items())]


__all__ = ["CLIENT", "REP", "Pair", "colleague_of", "dead_letters", "link_of",
           "make_pair", "oauth", "quiet", "reset_world", "settle", "sync_log",
           "worker_records"]
