"""Webhooks give speed, the poller gives the guarantee: lossy, duplicated webhooks through
a real receiver, then one poll cycle, converge everything; an expired sync token leads to a
full resync that also applies deletions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sync_workers.celery_app import app
from sync_workers.engine.changes import CALENDAR_RESOURCE
from sync_workers.providers.google_calendar import GoogleCalendar
from sync_workers.receiver import create_app
from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox import salesforce_admin as sf
from sync_workers.sandbox.oauth import SALESFORCE_ORG_ID
from sync_workers.sandbox.webhooks import DeliveryFaults
from sync_workers.store import endpoints
from tests.fixtures.receiver import serving
from tests.integration.sync_support import REP, make_pair, settle, utc

pytestmark = pytest.mark.integration
BASE = datetime(2027, 4, 5, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def wired(sandbox, db, redis_db, session_worker):
    """A pair whose providers notify a real receiver: a Google channel, Salesforce Outbound
    Messages for Events and Contacts."""
    pair = make_pair(sandbox)
    with serving(create_app()) as receiver:
        calendar = GoogleCalendar(pair.calendar_account)
        token = endpoints.new_secret()
        info = calendar.watch("chan-" + str(pair.calendar_account),
                              f"{receiver}/webhooks/google/calendar", token, 86400)
        endpoints.add_push_channel(pair.calendar_account, "google", info.channel_id, token,
                                   info.expires_at, info.resource_id)
        secret = endpoints.new_secret()
        endpoint = endpoints.add_webhook_endpoint(pair.crm_account, "salesforce", secret,
                                                  SALESFORCE_ORG_ID)
        url = f"{receiver}/webhooks/salesforce/{endpoint}/{secret}"
        for sobject in ("Event", "Contact"):
            sf.add_outbound_message(sandbox.state, sobject, url)
        # A first listing gives the calendar its sync token, as after a connect.
        app.send_task("sync.poll_account", kwargs={"account_id": pair.calendar_account,
                                                   "resource": CALENDAR_RESOURCE})
        settle(redis_db, lambda: True, "the first listing")
        yield pair


def _contact(state, first, last, email) -> str:
    return sf.create_as_user(state, "Contact", {"FirstName": first, "LastName": last,
                                                "Email": email})


def test_lossy_webhooks_converge_after_one_poll_cycle(wired, sandbox, redis_db):
    pair, state = wired, sandbox.state
    clients = [f"client{i}@example.org" for i in range(6)]
    contacts = {email: _contact(state, "Client", f"Number{i}", email)
                for i, email in enumerate(clients)}
    state.webhooks.set_faults(DeliveryFaults(drop_rate=0.3, duplicate_rate=0.2, seed=7))

    events = [pair.book(title=f"Meeting {i}", start=BASE + timedelta(hours=i),
                        attendees=(email,)) for i, email in enumerate(clients)]
    state.webhooks.wait_idle(timeout=20)
    moved = {events[0]["id"]: BASE + timedelta(days=1), events[1]["id"]: BASE + timedelta(days=2)}
    for event_id, start in moved.items():
        pair.edit(event_id, start={"dateTime": start.isoformat()},
                  end={"dateTime": (start + timedelta(minutes=30)).isoformat()})
    pair.delete(events[2]["id"])
    renamed = {clients[3]: "Grace Hopper", clients[4]: "Mary Somerville"}
    for email, name in renamed.items():
        first, last = name.split()
        sf.update_as_user(state, "Contact", contacts[email], {"FirstName": first,
                                                               "LastName": last})
    state.webhooks.wait_idle(timeout=20)
    outcomes = [o for d in state.webhooks.deliveries for o in d.outcomes]
    assert "dropped" in outcomes  # the faults really cost deliveries
    assert any(len(d.outcomes) > 1 for d in state.webhooks.deliveries if d.provider == "google")
    state.webhooks.set_faults(DeliveryFaults())

    settle(redis_db, lambda: True, "the webhook-driven work", timeout=60)
    app.send_task("sync.poll_all_accounts", kwargs={"all_now": True})  # the hourly cycle
    live = [e for e in events if e["id"] != events[2]["id"]]
    settle(redis_db, lambda: all(pair.crm_event_for(e["id"]) for e in live),
           "every live booking to reach the CRM", timeout=60)

    for event in events:
        calendar = pair.event(event["id"])
        crm = pair.crm_event_for(event["id"])  # asserts there is at most one
        if calendar["status"] == "cancelled":
            # Canceled before the sync ever saw it live: nothing to carry to the CRM.
            assert crm is None or crm["Appointment_Status__c"] == "Canceled"
            continue
        assert crm["Subject"] == calendar["summary"]
        assert utc(crm["StartDateTime"]) == utc(calendar["start"]["dateTime"])
        if event["id"] in moved:
            assert utc(crm["StartDateTime"]) == moved[event["id"]]
        email = next(a["email"] for a in calendar["attendees"] if a["email"] != REP)
        assert crm["WhoId"] == contacts[email]
        if email in renamed:
            assert renamed[email] in calendar["description"]
    assert len(pair.contacts()) == len(clients)


def test_expired_sync_token_full_resync_applies_deletions(wired, sandbox, redis_db):
    pair, state = wired, sandbox.state
    state.webhooks.set_faults(DeliveryFaults(drop_rate=1.0))  # only the poller sees this
    keep = pair.book(title="Keep", start=BASE, attendees=("keep@example.org",))
    gone = pair.book(title="Gone", start=BASE + timedelta(hours=2),
                     attendees=("gone@example.org",))
    pair.poll()
    settle(redis_db, lambda: pair.crm_event_for(keep["id"]) and pair.crm_event_for(gone["id"]),
           "both bookings in the CRM")
    gcal.expire_sync_tokens(state, REP)
    pair.delete(gone["id"])
    writes_before = len(pair.writes())
    pair.poll()
    settle(redis_db,
           lambda: pair.crm_event_for(gone["id"])["Appointment_Status__c"] == "Canceled",
           "the deletion to be found by the full resync")
    assert pair.crm_event_for(keep["id"])["Appointment_Status__c"] == "Scheduled"
    # The resync wrote exactly the one cancellation, and e-mailed nobody.
    assert len(pair.writes()) - writes_before == 1
    assert pair.invitations_sent(keep["id"]) == [] and pair.invitations_sent(gone["id"]) == []
