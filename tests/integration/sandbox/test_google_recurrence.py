"""Google Calendar emulator, recurring events: series, instances and exceptions.

Real HTTP against the session's sandbox, as a client of Google would see it: instance ids
`<series id>_<original start>`, get/patch/delete of one occurrence, events.instances,
events.list with singleEvents false and true, incremental sync, DST, guests' copies.
Every Event and Events answer is checked against Google's discovery document.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox.google_calendar_recurrence import ENDLESS_CAP
from sync_workers.sandbox.google_calendar_schema import schema_errors

ALICE, BOB = "alice@example.com", "bob@example.com"
BERLIN = "Europe/Berlin"  # the sandbox calendars' default zone; DST starts 2026-03-29


def weekly(event_id: str = "series0001", count: int | None = 6, **extra) -> dict:
    """Mondays 09:00-09:30 Berlin time from 2026-03-02 (08:00Z before DST, 07:00Z after)."""
    rule = "RRULE:FREQ=WEEKLY" + (f";COUNT={count}" if count else "")
    return {"id": event_id, "summary": "Standup",
            "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": BERLIN},
            "end": {"dateTime": "2026-03-02T09:30:00", "timeZone": BERLIN},
            "recurrence": [rule], **extra}


def iid(day: str, series: str = "series0001") -> str:
    """The instance id of the Monday `day` (MMDD) of `weekly()`."""
    hour = "08" if day < "0329" else "07"
    return f"{series}_2026{day}T{hour}0000Z"


class Api:
    """Calendar v3 over HTTP as one user; every event and list answer is schema-checked."""

    def __init__(self, sandbox, subject: str) -> None:
        self.base = f"{sandbox.urls['google_api']}/calendars/primary/events"
        self.headers = gcal.bearer_headers(sandbox.state, subject)

    def call(self, method: str, path: str = "", body=None, headers=None, **params):
        resp = requests.request(method, self.base + path, json=body, params=params,
                                headers={**self.headers, **(headers or {})}, timeout=5)
        if resp.status_code == 200 and not path.endswith("/watch"):
            listing = method == "GET" and (not path or path.endswith("/instances"))
            assert schema_errors(resp.json(), "Events" if listing else "Event") == [], resp.text
        return resp

    def insert(self, body) -> dict:
        resp = self.call("POST", "", body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def get(self, event_id: str, **params) -> dict:
        resp = self.call("GET", f"/{event_id}", **params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def patch(self, event_id: str, body, **kw) -> dict:
        resp = self.call("PATCH", f"/{event_id}", body, **kw)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def delete(self, event_id: str, **kw):
        return self.call("DELETE", f"/{event_id}", **kw)

    def items(self, path: str = "", **params) -> list[dict]:
        """Every item, following nextPageToken."""
        page = self.call("GET", path, **params).json()
        items = list(page["items"])
        while "nextPageToken" in page:
            page = self.call("GET", path, **{**params, "pageToken": page["nextPageToken"]}).json()
            items += page["items"]
        return items

    def full_sync(self) -> str:
        return self.call("GET", showDeleted="false", maxResults=2500).json()["nextSyncToken"]

    def changes(self, token: str) -> tuple[list[dict], str]:
        page = self.call("GET", syncToken=token).json()
        return page["items"], page["nextSyncToken"]


@pytest.fixture
def alice(sandbox):
    return Api(sandbox, ALICE)


@pytest.fixture
def bob(sandbox):
    return Api(sandbox, BOB)


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


# --- instances: ids, fields, get ----------------------------------------------------------


def test_an_instance_has_the_series_id_its_original_start_and_the_masters_fields(alice):
    master = alice.insert(weekly(attendees=[{"email": "carol@other.org"}],
                                 location="Room 1"))
    instance = alice.get(iid("0309"))
    assert instance["id"] == "series0001_20260309T080000Z"
    assert instance["recurringEventId"] == "series0001"
    assert instance["originalStartTime"] == {"dateTime": "2026-03-09T09:00:00+01:00",
                                             "timeZone": BERLIN}
    assert instance["start"] == instance["originalStartTime"]
    assert instance["end"] == {"dateTime": "2026-03-09T09:30:00+01:00", "timeZone": BERLIN}
    assert "recurrence" not in instance and master["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=6"]
    for name in ("iCalUID", "summary", "location", "attendees", "organizer", "creator",
                 "etag", "updated", "created", "sequence", "status"):
        assert instance[name] == master[name], name
    # After the change to summer time the id's UTC hour moves; the local time does not.
    late = alice.get("series0001_20260330T070000Z")
    assert late["start"]["dateTime"] == "2026-03-30T09:00:00+02:00"


@pytest.mark.parametrize("event_id", [
    "series0001_20260310T080000Z",  # a Tuesday: not in the rule
    "series0001_20260309T090000Z",  # the right day at the wrong time
    "series0001_20260413T070000Z",  # the seventh Monday: past COUNT=6
    "series0001_20260309",          # a date for a timed series
    "nosuch0001_20260309T080000Z",  # no such series
    "series0001_tomorrow",
])
def test_an_id_that_is_no_occurrence_is_404(alice, event_id):
    alice.insert(weekly())
    resp = alice.call("GET", f"/{event_id}")
    assert resp.status_code == 404 and resp.json()["error"]["errors"][0]["reason"] == "notFound"


def test_all_day_series_have_date_instance_ids_and_honour_until(alice):
    alice.insert({"id": "offsite01", "summary": "Offsite",
                  "start": {"date": "2026-05-01"}, "end": {"date": "2026-05-02"},
                  "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20260503"]})
    second = alice.get("offsite01_20260502")
    assert second["originalStartTime"] == {"date": "2026-05-02"}
    assert (second["start"], second["end"]) == ({"date": "2026-05-02"}, {"date": "2026-05-03"})
    assert alice.call("GET", "/offsite01_20260503").status_code == 200  # UNTIL is inclusive
    assert alice.call("GET", "/offsite01_20260504").status_code == 404


def test_exdate_and_rdate_lines_shape_the_set(alice):
    alice.insert(weekly(recurrence=["RRULE:FREQ=WEEKLY;COUNT=3",
                                    "EXDATE;TZID=Europe/Berlin:20260309T090000",
                                    "RDATE:20260311T080000Z"]))
    assert alice.call("GET", f"/{iid('0309')}").status_code == 404
    extra = alice.get("series0001_20260311T080000Z")
    assert extra["start"]["dateTime"] == "2026-03-11T09:00:00+01:00"
    listed = alice.items("/series0001/instances")
    assert ids(listed) == [iid("0302"), "series0001_20260311T080000Z", iid("0316")]


def test_a_bad_recurrence_rule_is_refused(alice):
    resp = alice.call("POST", "", weekly(recurrence=["RRULE:FREQ=SOMETIMES"]))
    assert resp.status_code == 400 and resp.json()["error"]["errors"][0]["reason"] == "invalid"
    dtstart = alice.call("POST", "", weekly(recurrence=["DTSTART:20260302T080000Z",
                                                        "RRULE:FREQ=WEEKLY"]))
    assert dtstart.status_code == 400


def test_a_weekly_series_in_new_york_keeps_its_local_time_across_dst(alice):
    alice.insert({"id": "eastcoast1", "summary": "Call",
                  "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "America/New_York"},
                  "end": {"dateTime": "2026-03-02T10:00:00", "timeZone": "America/New_York"},
                  "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"]})
    instances = alice.items("/eastcoast1/instances")
    # US summer time starts 2026-03-08: 14:00Z before it, 13:00Z after, 09:00 local always.
    assert ids(instances) == ["eastcoast1_20260302T140000Z", "eastcoast1_20260309T130000Z",
                              "eastcoast1_20260316T130000Z"]
    assert [i["start"]["dateTime"] for i in instances] == [
        "2026-03-02T09:00:00-05:00", "2026-03-09T09:00:00-04:00", "2026-03-16T09:00:00-04:00"]
    assert [i["end"]["dateTime"][11:19] for i in instances] == ["10:00:00"] * 3
    utc = alice.get("eastcoast1_20260309T130000Z", timeZone="UTC")
    assert utc["originalStartTime"] == {"dateTime": "2026-03-09T13:00:00Z",
                                        "timeZone": "America/New_York"}


# --- exceptions: patch, put, delete -------------------------------------------------------


def test_patching_an_instance_changes_that_occurrence_only(alice):
    master = alice.insert(weekly())
    moved = alice.patch(iid("0309"), {"summary": "Standup (moved)",
                                      "start": {"dateTime": "2026-03-10T11:00:00+01:00"},
                                      "end": {"dateTime": "2026-03-10T11:30:00+01:00"},
                                      "recurrence": ["RRULE:FREQ=DAILY"]})
    assert moved["id"] == iid("0309") and moved["recurringEventId"] == "series0001"
    assert moved["originalStartTime"]["dateTime"] == "2026-03-09T09:00:00+01:00"
    assert moved["start"]["dateTime"] == "2026-03-10T11:00:00+01:00"
    assert moved["summary"] == "Standup (moved)" and "recurrence" not in moved
    assert moved["sequence"] == master["sequence"] + 1  # a reschedule, as for any event
    assert alice.get(iid("0309")) == moved
    assert alice.get(iid("0316"))["summary"] == "Standup"
    after = alice.get("series0001")
    assert after["summary"] == "Standup" and after["recurrence"] == master["recurrence"]
    # Unmodified instances follow the master's etag; the exception has its own.
    assert alice.get(iid("0316"))["etag"] == after["etag"] != moved["etag"]


def test_put_on_an_instance_replaces_the_exception(alice):
    alice.insert(weekly(location="Room 1"))
    instance = alice.get(iid("0316"))
    body = {k: v for k, v in instance.items() if k not in ("location",)}
    replaced = alice.call("PUT", f"/{iid('0316')}", {**body, "summary": "Retro"}).json()
    assert replaced["summary"] == "Retro" and "location" not in replaced
    assert replaced["originalStartTime"] == instance["originalStartTime"]
    assert alice.get(iid("0323"))["location"] == "Room 1"


def test_if_match_works_on_instances(alice):
    alice.insert(weekly())
    old = alice.get(iid("0309"))["etag"]
    alice.patch("series0001", {"description": "agenda"})  # the master's etag moves on
    stale = alice.call("PATCH", f"/{iid('0309')}", {"summary": "x"}, headers={"If-Match": old})
    assert stale.status_code == 412
    fresh = alice.get(iid("0309"))["etag"]
    assert fresh != old
    ok = alice.patch(iid("0309"), {"summary": "x"}, headers={"If-Match": fresh})
    stale_exception = alice.call("DELETE", f"/{iid('0309')}", headers={"If-Match": fresh})
    assert stale_exception.status_code == 412
    assert alice.delete(iid("0309"), headers={"If-Match": ok["etag"]}).status_code == 204
    assert alice.call("GET", f"/{iid('0309')}", headers={"If-None-Match": ok["etag"]}
                      ).status_code == 200  # the deletion changed the etag


def test_deleting_an_instance_cancels_that_occurrence_only(alice):
    alice.insert(weekly())
    assert alice.delete(iid("0316")).status_code == 204
    cancelled = alice.get(iid("0316"))  # get always returns cancelled events
    assert cancelled["status"] == "cancelled" and cancelled["recurringEventId"] == "series0001"
    assert cancelled["originalStartTime"]["dateTime"] == "2026-03-16T09:00:00+01:00"
    again = alice.delete(iid("0316"))
    assert again.status_code == 410 and again.json()["error"]["errors"][0]["reason"] == "deleted"
    assert alice.get(iid("0323"))["status"] == "confirmed"
    assert alice.get("series0001")["status"] == "confirmed"
    assert iid("0316") not in ids(alice.items("/series0001/instances"))


# --- events.instances -------------------------------------------------------------------


def test_the_instances_endpoint_lists_a_window_with_exceptions_applied(alice):
    alice.insert(weekly())
    alice.patch(iid("0309"), {"summary": "Moved"})
    alice.delete(iid("0316"))
    window = {"timeMin": "2026-03-08T00:00:00Z", "timeMax": "2026-03-31T00:00:00Z"}
    listed = alice.items("/series0001/instances", **window)
    assert ids(listed) == [iid("0309"), iid("0323"), iid("0330")]
    assert [i["summary"] for i in listed] == ["Moved", "Standup", "Standup"]
    shown = alice.items("/series0001/instances", showDeleted="true", **window)
    assert [(i["id"], i["status"]) for i in shown] == [
        (iid("0309"), "confirmed"), (iid("0316"), "cancelled"), (iid("0323"), "confirmed"),
        (iid("0330"), "confirmed")]
    page = alice.call("GET", "/series0001/instances", maxResults=2).json()
    assert ids(page["items"]) == [iid("0302"), iid("0309")] and "nextSyncToken" not in page
    # Pages may come back short (the cancelled 03-16 is left out) while more follow.
    paged = alice.items("/series0001/instances", maxResults=2)
    assert ids(paged) == [iid(d) for d in ("0302", "0309", "0323", "0330", "0406")]
    one = alice.items("/series0001/instances", originalStart="2026-03-23T08:00:00Z")
    assert ids(one) == [iid("0323")]
    utc = alice.items("/series0001/instances", timeZone="UTC", maxResults=1)
    assert utc[0]["start"]["dateTime"] == "2026-03-02T08:00:00Z"


def test_instances_of_unknown_and_of_one_off_events(alice):
    assert alice.call("GET", "/nosuch0001/instances").status_code == 404
    single = alice.insert({"id": "single001", "start": {"dateTime": "2026-03-02T09:00:00Z"},
                           "end": {"dateTime": "2026-03-02T10:00:00Z"}})
    assert alice.items("/single001/instances") == [single]
    bad = alice.call("GET", "/single001/instances", originalStart="next week")
    assert bad.status_code == 400


# --- events.list ------------------------------------------------------------------------


def test_a_list_without_single_events_has_masters_and_exceptions_only(alice):
    alice.insert(weekly())
    alice.patch(iid("0309"), {"summary": "Moved"})
    alice.delete(iid("0316"))
    items = {i["id"]: i for i in alice.items()}
    assert set(items) == {"series0001", iid("0309"), iid("0316")}
    assert items["series0001"]["recurrence"] and items[iid("0309")]["summary"] == "Moved"
    # "Cancelled instances of recurring events (but not the underlying recurring event)
    # will still be included if showDeleted and singleEvents are both False."
    assert items[iid("0316")] == {
        "kind": "calendar#event", "etag": items[iid("0316")]["etag"], "id": iid("0316"),
        "status": "cancelled", "recurringEventId": "series0001",
        "originalStartTime": {"dateTime": "2026-03-16T09:00:00+01:00", "timeZone": BERLIN}}
    shown = {i["id"]: i for i in alice.items(showDeleted="true")}
    assert shown[iid("0316")]["summary"] == "Standup"  # details with showDeleted
    # A series is in a window when one of its occurrences is, not only its first.
    late = alice.items(timeMin="2026-04-01T00:00:00Z", timeMax="2026-04-30T00:00:00Z")
    assert ids(late) == ["series0001"]
    assert alice.items(timeMin="2026-04-07T00:00:00Z") == []


def test_single_events_lists_instances_instead_of_masters(alice):
    alice.insert(weekly())
    alice.insert({"id": "oneoff001", "summary": "Lunch",
                  "start": {"dateTime": "2026-03-12T12:00:00Z"},
                  "end": {"dateTime": "2026-03-12T13:00:00Z"}})
    alice.patch(iid("0309"), {"start": {"dateTime": "2026-03-20T09:00:00+01:00"},
                              "end": {"dateTime": "2026-03-20T09:30:00+01:00"}})
    alice.delete(iid("0316"))
    window = {"timeMin": "2026-03-05T00:00:00Z", "timeMax": "2026-03-28T00:00:00Z"}
    items = alice.items(singleEvents="true", orderBy="startTime", **window)
    assert ids(items) == ["oneoff001", iid("0309"), iid("0323")]  # the moved one at 03-20
    assert all("recurrence" not in i for i in items)
    shown = alice.items(singleEvents="true", showDeleted="true", orderBy="startTime", **window)
    assert ids(shown) == ["oneoff001", iid("0316"), iid("0309"), iid("0323")]
    everything = alice.items(singleEvents="true")
    assert sorted(ids(everything)) == sorted(
        ["oneoff001"] + [iid(d) for d in ("0302", "0309", "0323", "0330", "0406")])


def test_an_endless_series_without_time_max_is_expanded_only_so_far(alice):
    alice.insert(weekly("endless01", count=None, recurrence=["RRULE:FREQ=DAILY"]))
    items = alice.items(singleEvents="true", maxResults=2500)
    assert len(items) == ENDLESS_CAP
    assert items[0]["id"] == "endless01_20260302T080000Z"
    later = alice.items(singleEvents="true", timeMin="2030-01-01T00:00:00Z", maxResults=1000)
    assert len(later) == ENDLESS_CAP and later[0]["start"]["dateTime"].startswith("2030-01-01")
    week = alice.items(singleEvents="true", timeMin="2026-03-02T00:00:00Z",
                       timeMax="2026-03-09T00:00:00Z")
    assert len(week) == 7


# --- incremental sync ---------------------------------------------------------------------


def test_incremental_sync_reports_an_edited_and_a_cancelled_instance(alice):
    alice.insert(weekly())
    token = alice.full_sync()
    alice.patch(iid("0309"), {"summary": "Moved"})
    items, token = alice.changes(token)
    # As in Google's answers, the master comes along (its etag and updated moved on).
    assert ids(items) == ["series0001", iid("0309")]
    assert items[1]["summary"] == "Moved" and items[1]["recurringEventId"] == "series0001"
    alice.delete(iid("0316"))
    items, token = alice.changes(token)
    assert ids(items) == ["series0001", iid("0316")]
    assert items[1] == {"kind": "calendar#event", "etag": items[1]["etag"], "id": iid("0316"),
                        "status": "cancelled", "recurringEventId": "series0001",
                        "originalStartTime": {"dateTime": "2026-03-16T09:00:00+01:00",
                                              "timeZone": BERLIN}}
    assert alice.changes(token)[0] == []


def test_incremental_sync_reports_a_master_edit_as_the_master(alice):
    alice.insert(weekly())
    alice.patch(iid("0309"), {"summary": "Moved"})
    token = alice.full_sync()
    alice.patch("series0001", {"summary": "Daily standup"})
    items, _ = alice.changes(token)
    assert ids(items) == ["series0001"] and items[0]["summary"] == "Daily standup"
    assert alice.get(iid("0316"))["summary"] == "Daily standup"
    assert alice.get(iid("0309"))["summary"] == "Moved"  # an exception keeps its own


def test_ending_a_series_earlier_cancels_the_exceptions_past_its_new_end(alice):
    """'This and following' as the recurring-events guide has clients do it: trim the old
    series with UNTIL, insert a new one from the target instance."""
    alice.insert(weekly())
    alice.patch(iid("0309"), {"summary": "Kept"})
    alice.patch(iid("0330"), {"summary": "Dropped"})
    token = alice.full_sync()
    alice.patch("series0001", {"recurrence": ["RRULE:FREQ=WEEKLY;UNTIL=20260322T225959Z"]})
    alice.insert(weekly("series0002", count=3,
                        start={"dateTime": "2026-03-23T10:00:00", "timeZone": BERLIN},
                        end={"dateTime": "2026-03-23T10:30:00", "timeZone": BERLIN}))
    items, _ = alice.changes(token)
    assert ids(items) == ["series0001", iid("0330"), "series0002"]
    assert items[0]["recurrence"] == ["RRULE:FREQ=WEEKLY;UNTIL=20260322T225959Z"]
    # An exception the series no longer has is a plain deletion, as Google reports it.
    assert items[1] == {"kind": "calendar#event", "etag": items[1]["etag"],
                        "id": iid("0330"), "status": "cancelled"}
    assert alice.get(iid("0330"))["status"] == "cancelled"
    assert alice.call("GET", f"/{iid('0323')}").status_code == 404  # past UNTIL now
    assert alice.get(iid("0309"))["summary"] == "Kept"
    assert ids(alice.items("/series0001/instances")) == [iid(d) for d in ("0302", "0309",
                                                                          "0316")]
    assert iid("0330") not in ids(alice.items())


def test_deleting_a_series_cancels_it_with_its_exceptions(alice):
    alice.insert(weekly())
    alice.patch(iid("0309"), {"summary": "Moved"})
    token = alice.full_sync()
    assert alice.delete("series0001").status_code == 204
    items, _ = alice.changes(token)
    assert {i["id"]: set(i) for i in items} == {
        "series0001": {"kind", "etag", "id", "status"},
        iid("0309"): {"kind", "etag", "id", "status"}}
    assert alice.get(iid("0316"))["status"] == "cancelled"
    assert alice.items() == [] and alice.items(singleEvents="true") == []


def test_incremental_sync_with_single_events_reports_instances(alice):
    alice.insert(weekly(count=3))
    token = alice.call("GET", singleEvents="true").json()["nextSyncToken"]
    alice.patch(iid("0309"), {"summary": "Moved"})
    page = alice.call("GET", singleEvents="true", syncToken=token).json()
    assert "series0001" not in ids(page["items"]) and iid("0309") in ids(page["items"])
    assert next(i for i in page["items"] if i["id"] == iid("0309"))["summary"] == "Moved"
    # A deleted series comes back as its instances, each a plain deletion.
    alice.delete("series0001")
    items = alice.call("GET", singleEvents="true", syncToken=page["nextSyncToken"]
                       ).json()["items"]
    assert sorted(ids(items)) == [iid("0302"), iid("0309"), iid("0316")]
    assert all(set(i) == {"kind", "etag", "id", "status"} for i in items)


# --- one recurring meeting in several calendars --------------------------------------------


def test_guests_copies_of_a_recurring_meeting_share_series_and_instance_ids(sandbox, alice,
                                                                              bob):
    token = bob.full_sync()  # Bob's calendar exists, and his client has synced
    alice.insert(weekly(attendees=[{"email": ALICE, "responseStatus": "accepted"},
                                   {"email": BOB}]))
    copy = bob.get("series0001")
    assert copy["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=6"]
    assert ids(bob.items("/series0001/instances")) == ids(alice.items("/series0001/instances"))
    items, token = bob.changes(token)
    assert ids(items) == ["series0001"]
    # The organizer moves one occurrence and cancels another: both reach Bob's copy.
    alice.patch(iid("0309"), {"summary": "Moved", "location": "Room 2"})
    alice.delete(iid("0316"))
    mine = bob.get(iid("0309"))
    assert (mine["summary"], mine["location"], mine["recurringEventId"]) == (
        "Moved", "Room 2", "series0001")
    assert bob.get(iid("0316"))["status"] == "cancelled"
    items, token = bob.changes(token)
    assert set(ids(items)) == {"series0001", iid("0309"), iid("0316")}
    # Bob declines one occurrence: the organizer's instance shows it, the series does not.
    gcal.respond(sandbox.state, BOB, iid("0323"), "declined")
    def answer(event):
        return next(a["responseStatus"] for a in event["attendees"] if a["email"] == BOB)
    assert answer(alice.get(iid("0323"))) == "declined"
    assert answer(alice.get(iid("0330"))) == answer(alice.get("series0001")) == "needsAction"
    assert answer(bob.get(iid("0323"))) == "declined"
    # Bob deleting an occurrence removes it from his calendar only.
    assert bob.delete(iid("0406")).status_code == 204
    assert bob.get(iid("0406"))["status"] == "cancelled"
    assert alice.get(iid("0406"))["status"] == "confirmed"


def test_a_guest_added_later_gets_the_series_cancelled_occurrences(alice, bob):
    bob.full_sync()
    alice.insert(weekly(attendees=[{"email": "carol@other.org"}]))
    alice.delete(iid("0316"))
    alice.patch("series0001", {"attendees": [{"email": "carol@other.org"}, {"email": BOB}]})
    assert bob.get("series0001")["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=6"]
    assert bob.get(iid("0316"))["status"] == "cancelled"
    assert iid("0316") not in ids(bob.items("/series0001/instances"))
    assert len(bob.items(singleEvents="true")) == 5


def test_ending_a_shared_series_earlier_cancels_the_guests_exceptions_too(alice, bob):
    bob.full_sync()
    alice.insert(weekly(attendees=[{"email": BOB}]))
    alice.patch(iid("0330"), {"summary": "Dropped"})
    token = bob.full_sync()
    alice.patch("series0001", {"recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"]})
    items, _ = bob.changes(token)
    assert {i["id"]: i["status"] for i in items} == {"series0001": "confirmed",
                                                     iid("0330"): "cancelled"}
    assert bob.call("GET", f"/{iid('0323')}").status_code == 404


# --- push and schema ------------------------------------------------------------------------


class Receiver:
    """A webhook endpoint counting the push notifications it gets."""

    def __init__(self) -> None:
        self.states: list[str] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def _app(self, environ, start_response):
        with self._lock:
            self.states.append(Request(environ).headers["X-Goog-Resource-State"])
        return Response(status=200)(environ, start_response)

    def wait_for(self, count: int) -> list[str]:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.states) >= count:
                    return list(self.states)
            time.sleep(0.01)
        raise AssertionError(f"{self.states}, wanted {count}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_changes_to_a_series_or_an_instance_notify_watch_channels(sandbox, alice):
    receiver = Receiver()
    try:
        alice.insert(weekly())
        watched = alice.call("POST", "/watch", {"id": "rec-chan", "type": "web_hook",
                                                "address": receiver.url})
        assert watched.status_code == 200
        receiver.wait_for(1)
        alice.patch(iid("0309"), {"summary": "Moved"})
        assert receiver.wait_for(2)[1] == "exists"
        alice.delete(iid("0316"))
        receiver.wait_for(3)
        alice.patch("series0001", {"summary": "Renamed"})
        assert receiver.wait_for(4) == ["sync", "exists", "exists", "exists"]
    finally:
        assert sandbox.state.webhooks.wait_idle(timeout=5)
        receiver.close()


def test_every_recurring_answer_matches_the_discovery_schema(alice):
    """Api checks each answer; this walks every shape: master, instance, exception,
    cancelled instance, cut-off exception, lists and instances in each mode."""
    alice.insert(weekly(attendees=[{"email": "carol@other.org"}], colorId="3"))
    alice.insert({"id": "offsite01", "start": {"date": "2026-05-01"},
                  "end": {"date": "2026-05-02"}, "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"]})
    alice.patch(iid("0309"), {"summary": "Moved"})
    alice.delete(iid("0316"))
    token = alice.full_sync()
    alice.patch("series0001", {"recurrence": ["RRULE:FREQ=WEEKLY;COUNT=1"]})
    answers = [alice.get("series0001"), alice.get(iid("0302")), alice.get(iid("0309")),
               alice.get(iid("0316")), alice.get("offsite01_20260502"),
               *alice.changes(token)[0]]
    for params in ({}, {"showDeleted": "true"}, {"singleEvents": "true"},
                   {"singleEvents": "true", "showDeleted": "true"}):
        answers += alice.items(**params)
        answers += alice.items("/offsite01/instances", **params)
    for answer in answers:
        assert schema_errors(answer, "Event") == []
