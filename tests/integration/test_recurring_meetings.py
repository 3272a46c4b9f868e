"""Recurring meetings are synced as their occurrences inside the sync window: one CRM
meeting per occurrence that has a guest, each moved, cancelled or edited on its own, a
series edit reaching the future ones and no past one, and the horizon job linking the
occurrences that come into the horizon. Real worker, sandbox Google and Salesforce."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sync_workers.engine import changes
from sync_workers.sandbox import salesforce_admin as sf
from tests.integration.sync_support import CLIENT, make_pair, settle, utc

pytestmark = pytest.mark.integration
WEEK = timedelta(days=7)


def _monday_9am(weeks_from_now: int) -> datetime:
    today = datetime.now(timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)
    return today - timedelta(days=today.weekday()) + weeks_from_now * WEEK


def _series(pair, first: datetime, rule: str, title: str = "Weekly check-in") -> dict:
    return pair.book(title, start=first, attendees=(CLIENT,), time_zone="UTC",
                     recurrence=[rule])


def _occurrence_id(series_id: str, start: datetime) -> str:
    return f"{series_id}_{start.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"


def _meetings(pair, series_id: str) -> dict[str, dict]:
    """The CRM meetings of the series' occurrences, by occurrence id."""
    return {e["Calendar_Event_Id__c"]: e for e in pair.crm_events()
            if (e.get("Calendar_Event_Id__c") or "").startswith(series_id + "_")}


def _scheduled(meetings: dict[str, dict]) -> dict[str, dict]:
    return {k: e for k, e in meetings.items() if e["Appointment_Status__c"] == "Scheduled"}


def _sync(pair, redis_db, predicate, what: str):
    pair.poll()
    settle(redis_db, predicate, what, timeout=60)


@pytest.fixture
def pair(sandbox, db, redis_db, session_worker):
    pair = make_pair(sandbox)
    pair.poll()
    settle(redis_db, lambda: True, "the first listing")
    return pair


def test_a_weekly_series_gives_one_crm_meeting_per_occurrence(pair, redis_db):
    first = _monday_9am(1)
    series = _series(pair, first, "RRULE:FREQ=WEEKLY;COUNT=5")
    _sync(pair, redis_db, lambda: len(_meetings(pair, series["id"])) == 5, "5 meetings")
    meetings = _meetings(pair, series["id"])
    assert sorted(meetings) == [_occurrence_id(series["id"], first + i * WEEK)
                                for i in range(5)]
    for i in range(5):
        meeting = meetings[_occurrence_id(series["id"], first + i * WEEK)]
        assert utc(meeting["StartDateTime"]) == first + i * WEEK
        assert meeting["OwnerId"] == pair.rep_user
    assert not [e for e in pair.crm_events() if e["Calendar_Event_Id__c"] == series["id"]]


def test_moving_and_cancelling_one_occurrence_change_that_meeting_only(pair, redis_db):
    first = _monday_9am(1)
    series = _series(pair, first, "RRULE:FREQ=WEEKLY;COUNT=4")
    _sync(pair, redis_db, lambda: len(_meetings(pair, series["id"])) == 4, "4 meetings")
    before = _meetings(pair, series["id"])
    second, third = (_occurrence_id(series["id"], first + i * WEEK) for i in (1, 2))
    moved_to = first + WEEK + timedelta(hours=5)
    pair.edit(second, start={"dateTime": moved_to.isoformat(), "timeZone": "UTC"},
              end={"dateTime": (moved_to + timedelta(minutes=30)).isoformat(),
                   "timeZone": "UTC"})
    pair.delete(third)
    _sync(pair, redis_db, lambda: utc(_meetings(pair, series["id"])[second]["StartDateTime"])
          == moved_to and len(_scheduled(_meetings(pair, series["id"]))) == 3,
          "one moved, one cancelled")
    after = _meetings(pair, series["id"])
    assert len(after) == 4
    assert after[third]["Appointment_Status__c"] == "Canceled"
    for other in set(after) - {second, third}:
        assert after[other]["StartDateTime"] == before[other]["StartDateTime"]
        assert after[other]["LastModifiedDate"] == before[other]["LastModifiedDate"]


def test_a_series_edit_reaches_the_future_occurrences_and_no_past_one(pair, redis_db):
    first = _monday_9am(-2)  # two occurrences are history already
    series = _series(pair, first, "RRULE:FREQ=WEEKLY;COUNT=6")
    _sync(pair, redis_db, lambda: len(_meetings(pair, series["id"])) == 6, "6 meetings")
    pair.edit(series["id"], summary="Weekly review")
    now = datetime.now(timezone.utc)
    future = {_occurrence_id(series["id"], first + i * WEEK) for i in range(6)
              if first + i * WEEK > now}
    _sync(pair, redis_db, lambda: all(_meetings(pair, series["id"])[k]["Subject"]
                                      == "Weekly review" for k in future), "renamed")
    past = set(_meetings(pair, series["id"])) - future
    assert len(past) >= 2 and len(future) >= 3 and len(past | future) == 6
    assert {_meetings(pair, series["id"])[k]["Subject"] for k in past} == {"Weekly check-in"}


def test_moving_the_whole_series_moves_the_future_meetings(pair, redis_db):
    soon = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    first = soon + timedelta(hours=3) - WEEK  # one occurrence past, three ahead
    series = _series(pair, first, "RRULE:FREQ=WEEKLY;COUNT=4")
    _sync(pair, redis_db, lambda: len(_meetings(pair, series["id"])) == 4, "4 meetings")
    later = first + timedelta(hours=2)
    pair.edit(series["id"], start={"dateTime": later.isoformat(), "timeZone": "UTC"},
              end={"dateTime": (later + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"})
    future = [_occurrence_id(series["id"], later + i * WEEK) for i in (1, 2, 3)]
    _sync(pair, redis_db, lambda: all(k in _meetings(pair, series["id"]) for k in future),
          "the future meetings moved")
    meetings = _meetings(pair, series["id"])
    assert len(meetings) == 4, "moved, not cancelled and re-created"
    assert [utc(meetings[k]["StartDateTime"]) for k in future] == \
        [later + i * WEEK for i in (1, 2, 3)]
    assert _occurrence_id(series["id"], first) in meetings  # the past one stays as it was


def test_an_end_date_cancels_the_rest(pair, redis_db):
    first = _monday_9am(1)
    series = _series(pair, first, "RRULE:FREQ=WEEKLY;COUNT=5")
    _sync(pair, redis_db, lambda: len(_meetings(pair, series["id"])) == 5, "5 meetings")
    until = (first + WEEK + timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    pair.edit(series["id"], recurrence=[f"RRULE:FREQ=WEEKLY;UNTIL={until}"])
    _sync(pair, redis_db, lambda: len(_scheduled(_meetings(pair, series["id"]))) == 2,
          "the last three cancelled")
    meetings = _meetings(pair, series["id"])
    assert len(meetings) == 5
    assert set(_scheduled(meetings)) == {_occurrence_id(series["id"], first + i * WEEK)
                                         for i in (0, 1)}


def test_the_horizon_moving_on_links_the_occurrences_that_enter_it(pair, redis_db):
    horizon_days = 365  # the test environment's SYNC_HORIZON_DAYS default
    first = _monday_9am(50)  # weeks 50..55: those past the horizon wait
    series = _series(pair, first, "RRULE:FREQ=WEEKLY;COUNT=6")
    now = datetime.now(timezone.utc)
    inside = [first + i * WEEK for i in range(6) if first + i * WEEK < now + timedelta(
        days=horizon_days)]
    _sync(pair, redis_db, lambda: len(_meetings(pair, series["id"])) == len(inside),
          "the occurrences inside the horizon")
    assert 0 < len(inside) < 6
    assert changes.extend_horizon(pair.calendar_account) == 0  # nothing new entered it
    queued = changes.extend_horizon(pair.calendar_account, now=now + 3 * WEEK)
    entered = [first + i * WEEK for i in range(6)
               if first + i * WEEK < now + 3 * WEEK + timedelta(days=horizon_days)]
    assert queued == len(entered) - len(inside)
    settle(redis_db, lambda: len(_meetings(pair, series["id"])) == len(entered),
           "the occurrences that entered the horizon", timeout=60)


def test_a_series_made_in_the_crm_stays_in_the_crm(pair, redis_db):
    state = pair.state
    contact = sf.create_as_user(state, "Contact", {"FirstName": "Cleo", "LastName": "Client",
                                                   "Email": "cleo@client.example"})
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)

    def event(subject: str, **extra) -> dict:
        return {"Subject": subject, "WhoId": contact, "StartDateTime": start.isoformat(),
                "EndDateTime": (start + timedelta(hours=1)).isoformat(), **extra}

    master = sf.create_event_as(state, pair.rep_user, event("Classic weekly", IsRecurrence=True))
    sf.add_series_occurrence(state, master, pair.rep_user, event("Classic weekly"))
    sf.create_event_as(state, pair.rep_user,
                       event("Lightning weekly", Recurrence2PatternVersion="1"))
    sf.create_event_as(state, pair.rep_user, event("One-off"))
    pair.poll("crm")
    settle(redis_db, lambda: len(pair.calendar_events()) >= 1, "the one-off on the calendar")
    assert [e["summary"] for e in pair.calendar_events()] == ["One-off"]
