"""What a booking means in a real sales team, as the providers document it: the rep is
not the guest, colleagues, rooms and group addresses are not customers, and a meeting long
past is history, not a booking. Each against the sandbox with a real worker process."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sync_workers.sandbox import google_calendar as gcal
from tests.integration.sync_support import CLIENT, REP, link_of, make_pair, settle

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def pair(sandbox, db, redis_db, session_worker):
    return make_pair(sandbox)


def _ui_event(pair, title: str, attendees: list[dict], start: datetime) -> dict:
    """An event made in the calendar's UI: Google lists the organizer among the attendees."""
    body = {"summary": title, "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
            "attendees": attendees}
    return gcal.seed_event(pair.state, REP, body)


def test_the_rep_listed_as_organizer_is_not_taken_for_the_guest(pair, redis_db):
    event = _ui_event(pair, "Intro call", [{"email": CLIENT}], NOW + timedelta(days=2))
    listed = pair.event(event["id"])["attendees"]
    assert {"email": REP, "organizer": True, "self": True}.items() <= listed[0].items()
    pair.poll()
    settle(redis_db, lambda: (pair.crm_event_for(event["id"]) or {}).get("WhoId"),
           "the booking to reach the CRM")
    (contact,) = pair.contacts()
    assert contact["Email"] == CLIENT
    assert pair.crm_event_for(event["id"])["WhoId"] == contact["Id"]


@pytest.mark.parametrize("attendees", [
    [{"email": "colleague@example.com"}],                      # a colleague: same domain
    [{"email": "room-4@resource.calendar.google.com", "resource": True}],  # a room
    [{"email": "sales-team@example.com"}],                     # a group of our own
], ids=["colleague", "room", "group address"])
def test_a_meeting_without_a_guest_creates_nothing(pair, redis_db, attendees):
    event = _ui_event(pair, "Pipeline review", attendees, NOW + timedelta(days=1))
    pair.poll()
    settle(redis_db, lambda: True, "the listing")
    assert link_of(pair, event["id"]) is None
    assert pair.crm_events() == [] and pair.contacts() == []


def test_a_guest_beside_a_room_and_a_colleague_is_the_booking(pair, redis_db):
    event = _ui_event(pair, "Demo", [{"email": "colleague@example.com"},
                                     {"email": "room-4@resource.calendar.google.com",
                                      "resource": True},
                                     {"email": CLIENT}], NOW + timedelta(days=3))
    pair.poll()
    settle(redis_db, lambda: (pair.crm_event_for(event["id"]) or {}).get("WhoId"),
           "the booking to reach the CRM")
    assert [c["Email"] for c in pair.contacts()] == [CLIENT]


def test_the_first_poll_skips_meetings_older_than_the_backfill(pair, redis_db, session_worker):
    old = _ui_event(pair, "Old call", [{"email": "old@client.example"}],
                    NOW - timedelta(days=200))
    recent = _ui_event(pair, "Recent call", [{"email": CLIENT}], NOW - timedelta(days=3))
    pair.poll()
    settle(redis_db, lambda: pair.crm_event_for(recent["id"]) is not None,
           "the recent meeting to reach the CRM")
    assert link_of(pair, old["id"]) is None and pair.crm_event_for(old["id"]) is None
    assert [c["Email"] for c in pair.contacts()] == [CLIENT]
    skipped = [r for r in session_worker.records()
               if r.get("message") == "events outside the sync window skipped"
               and r.get("account_id") == pair.calendar_account]
    assert [r["skipped"] for r in skipped] == [1]
