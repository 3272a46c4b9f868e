"""Google Calendar emulator, events: the quirks of the real API that the service must meet.

Real HTTP against the session's sandbox; every event the API returns is checked against
Google's discovery document so the emulator cannot invent fields.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests

from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox.google_calendar_schema import schema_errors

ALICE, BOB = "alice@example.com", "bob@example.com"
TIMED = {"start": {"dateTime": "2026-03-02T09:00:00Z"},
         "end": {"dateTime": "2026-03-02T10:00:00Z"}}


class Api:
    """Calendar v3 over HTTP as one user; every event answer is schema-checked."""

    def __init__(self, sandbox, subject: str) -> None:
        self.base = f"{sandbox.urls['google_api']}/calendars"
        self.headers = gcal.bearer_headers(sandbox.state, subject)

    def call(self, method: str, path: str, body=None, headers=None, **params):
        resp = requests.request(method, f"{self.base}/{path}", json=body, params=params,
                                headers={**self.headers, **(headers or {})}, timeout=5)
        if resp.status_code == 200 and "/events" in path and path.count("/") >= 2:
            assert schema_errors(resp.json(), "Event") == []
        return resp

    def insert(self, body, **params):
        return self.call("POST", "primary/events", body, **params)

    def event(self, event_id: str, method: str = "GET", body=None, **kw):
        return self.call(method, f"primary/events/{event_id}", body, **kw)


@pytest.fixture
def alice(sandbox):
    return Api(sandbox, ALICE)


def reason_of(resp) -> str:
    return resp.json()["error"]["errors"][0]["reason"]


def test_the_schema_check_rejects_fields_google_never_sends():
    assert schema_errors({"kind": "calendar#event", "id": "abcde"}, "Event") == []
    assert schema_errors({"id": "abcde", "invented": 1}, "Event") != []
    assert schema_errors({"id": "abcde", "start": {"dateTime": "tomorrow"}}, "Event") != []


def test_an_inserted_event_carries_googles_read_only_fields(sandbox):
    sandbox.state.clock.advance(86400)
    alice = Api(sandbox, ALICE)  # a token minted before the jump would have expired
    body = {**TIMED, "id": "stand0001", "summary": "Standup",
            "attendees": [{"email": "carol@other.org"}, {"email": ALICE}],
            "extendedProperties": {"private": {"link": "42"}, "shared": {"crm": "x"}},
            "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 5}]}}
    event = alice.insert(body).json()
    assert event["kind"] == "calendar#event" and event["status"] == "confirmed"
    assert event["id"] == "stand0001" and event["iCalUID"] == "stand0001@google.com"
    assert event["organizer"] == event["creator"] == {"email": ALICE, "self": True}
    assert event["sequence"] == 0 and event["etag"].startswith('"')
    assert event["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    created = datetime.fromisoformat(event["created"].replace("Z", "+00:00"))
    assert abs(created - sandbox.state.clock.now()) < timedelta(seconds=5)  # sandbox clock
    assert event["extendedProperties"] == body["extendedProperties"]
    assert event["attendees"][0]["responseStatus"] == "needsAction"
    assert event["attendees"][1]["self"] is True
    # Times come back in the calendar's zone, not in the form they were sent.
    assert event["start"] == {"dateTime": "2026-03-02T10:00:00+01:00"}


def test_without_an_id_the_server_picks_a_base32hex_one(alice):
    event_id = alice.insert(TIMED).json()["id"]
    assert len(event_id) == 26 and set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")


@pytest.mark.parametrize("bad_id", ["abcd", "ABCDE12345", "wxyz12345", "abc-def-12", "a" * 1025])
def test_client_ids_must_be_5_to_1024_base32hex_characters(alice, bad_id):
    resp = alice.insert({**TIMED, "id": bad_id})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Invalid resource id value."


def test_an_id_stays_reserved_after_its_event_is_deleted(alice):
    assert alice.insert({**TIMED, "id": "dup00001"}).status_code == 200
    again = alice.insert({**TIMED, "id": "dup00001"})
    assert again.status_code == 409 and again.json() == {"error": {
        "errors": [{"domain": "global", "reason": "duplicate",
                    "message": "The requested identifier already exists."}],
        "code": 409, "message": "The requested identifier already exists."}}
    assert alice.event("dup00001", "DELETE").status_code == 204
    assert alice.insert({**TIMED, "id": "dup00001"}).status_code == 409


def test_a_deleted_event_is_still_readable_and_cannot_be_deleted_twice(alice):
    alice.insert({**TIMED, "id": "gone0001", "summary": "Lunch"})
    alice.event("gone0001", "DELETE")
    event = alice.event("gone0001").json()
    assert event["status"] == "cancelled" and event["summary"] == "Lunch"
    twice = alice.event("gone0001", "DELETE")
    assert twice.status_code == 410 and reason_of(twice) == "deleted"
    assert twice.json()["error"]["message"] == "Resource has been deleted"
    assert alice.event("nosuch001").status_code == 404


def test_if_match_with_a_stale_etag_is_412_on_patch_update_and_delete(alice):
    first = alice.insert({**TIMED, "id": "etag0001"}).json()["etag"]
    second = alice.event("etag0001", "PATCH", {"summary": "v2"}).json()["etag"]
    assert second != first  # every write changes the etag
    stale = {"If-Match": first}
    for method, body in (("PATCH", {"summary": "v3"}), ("PUT", TIMED), ("DELETE", None)):
        resp = alice.event("etag0001", method, body, headers=stale)
        assert resp.status_code == 412
        assert resp.json()["error"]["errors"] == [{
            "domain": "global", "reason": "conditionNotMet", "message": "Precondition Failed",
            "locationType": "header", "location": "If-Match"}]
    fresh = alice.event("etag0001", "PATCH", {"summary": "v3"}, headers={"If-Match": second})
    assert fresh.status_code == 200 and fresh.json()["etag"] not in (first, second)
    unchanged = alice.event("etag0001", headers={"If-None-Match": fresh.json()["etag"]})
    assert unchanged.status_code == 304


def test_all_day_events_have_an_exclusive_end_after_the_start(alice):
    one_day = alice.insert({"start": {"date": "2026-05-01"}, "end": {"date": "2026-05-02"}})
    assert one_day.json()["end"] == {"date": "2026-05-02"}
    empty = alice.insert({"start": {"date": "2026-05-01"}, "end": {"date": "2026-05-01"}})
    assert empty.status_code == 400 and reason_of(empty) == "timeRangeEmpty"
    mixed = alice.insert({"start": {"date": "2026-05-01"},
                          "end": {"dateTime": "2026-05-02T00:00:00Z"}})
    assert mixed.status_code == 400


def test_a_datetime_without_offset_needs_a_time_zone(alice):
    naive = {"start": {"dateTime": "2026-03-02T09:00:00"},
             "end": {"dateTime": "2026-03-02T10:00:00"}}
    resp = alice.insert(naive)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Missing time zone definition for start time."
    zoned = {edge: {**naive[edge], "timeZone": "America/New_York"} for edge in naive}
    event = alice.insert(zoned).json()
    assert event["start"] == {"dateTime": "2026-03-02T09:00:00-05:00",
                              "timeZone": "America/New_York"}
    # A recurring event needs a named zone even when its times carry an offset.
    weekly = alice.insert({**TIMED, "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"]})
    assert weekly.status_code == 400
    assert weekly.json()["error"]["message"] == "Missing time zone definition for start time."


def test_start_and_end_are_required(alice):
    no_end = alice.insert({"start": TIMED["start"]})
    assert no_end.status_code == 400 and reason_of(no_end) == "required"
    assert no_end.json()["error"]["message"] == "Missing end time."
    assert alice.insert({"end": TIMED["end"]}).status_code == 400
    assert alice.insert({**TIMED, "end": {"dateTime": "2026-03-02T08:00:00Z"}}).status_code == 400


def test_patch_merges_objects_and_update_clears_what_it_omits(alice):
    alice.insert({**TIMED, "id": "merge0001", "summary": "a", "location": "Room 1",
                  "extendedProperties": {"private": {"one": "1"}}})
    patched = alice.event("merge0001", "PATCH",
                          {"extendedProperties": {"private": {"two": "2"}}}).json()
    assert patched["extendedProperties"]["private"] == {"one": "1", "two": "2"}
    assert patched["summary"] == "a"
    replaced = alice.event("merge0001", "PUT", {**TIMED, "summary": "b"}).json()
    assert "extendedProperties" not in replaced and "location" not in replaced


def test_rescheduling_bumps_the_sequence_and_a_lower_one_is_refused(alice):
    alice.insert({**TIMED, "id": "seq000001"})
    renamed = alice.event("seq000001", "PATCH", {"summary": "renamed"}).json()
    moved = alice.event("seq000001", "PATCH",
                        {"end": {"dateTime": "2026-03-02T11:00:00Z"}}).json()
    assert (renamed["sequence"], moved["sequence"]) == (0, 1)
    lower = alice.event("seq000001", "PATCH", {"sequence": 0, "summary": "x"})
    assert lower.status_code == 400 and "sequence" in lower.json()["error"]["message"]


def test_send_updates_is_recorded_per_write_so_tests_can_catch_invitation_mail(sandbox, alice):
    body = {**TIMED, "id": "mail00001", "attendees": [{"email": "carol@other.org"}]}
    alice.insert(body, sendUpdates="none")
    alice.event("mail00001", "PATCH", {"summary": "x"}, sendUpdates="all")
    alice.event("mail00001", "DELETE")
    assert gcal.send_updates_log(sandbox.state, ALICE, "mail00001") == ["none", "all", None]
    mailed = gcal.sent_invitations(sandbox.state)
    assert [(m["eventId"], m["method"], m["emailed"]) for m in mailed] == [
        ("mail00001", "patch", ["carol@other.org"])]
    bad = alice.insert(TIMED, sendUpdates="everyone")
    assert bad.status_code == 400 and reason_of(bad) == "invalidParameter"


def test_requests_without_a_live_bearer_token_are_401(sandbox, alice):
    url = f"{alice.base}/primary/events"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401 and reason_of(missing) == "required"
    forged = requests.get(url, headers={"Authorization": "Bearer ya29.forged"}, timeout=5)
    assert forged.status_code == 401 and reason_of(forged) == "authError"
    assert alice.call("GET", "primary/events").status_code == 200
    sandbox.state.clock.advance(3600)  # Google access tokens live 3599 s
    expired = alice.call("GET", "primary/events")
    assert expired.status_code == 401 and reason_of(expired) == "authError"


def test_primary_is_each_subjects_own_calendar(sandbox, alice):
    alice.insert({**TIMED, "id": "mine00001"})
    bob = Api(sandbox, BOB)
    assert bob.event("mine00001").status_code == 404
    assert bob.call("GET", f"{ALICE}/events").status_code == 404
    assert alice.call("GET", f"{ALICE}/events/mine00001").status_code == 200


def test_secondary_calendars_and_calendar_time_zones(sandbox, alice):
    control = f"{sandbox.origin('google')}/_sandbox/google/users/{ALICE}/calendars"
    team = requests.post(control, json={"summary": "Team", "timeZone": "Asia/Tokyo"},
                         timeout=5).json()["id"]
    event = alice.call("POST", f"{team}/events", TIMED).json()
    assert event["organizer"] == {"email": team, "displayName": "Team", "self": True}
    assert event["start"] == {"dateTime": "2026-03-02T18:00:00+09:00"}
    assert Api(sandbox, BOB).call("GET", f"{team}/events").status_code == 404
    assert requests.patch(f"{control}/primary", json={"timeZone": "UTC"},
                          timeout=5).status_code == 200
    assert alice.insert(TIMED).json()["start"] == TIMED["start"]
    assert requests.patch(f"{control}/primary", json={"timeZone": "Mars/Olympus"},
                          timeout=5).status_code == 400


def test_the_user_creates_edits_and_deletes_through_the_control_api(sandbox, alice):
    base = f"{sandbox.origin('google')}/_sandbox/google/users/{ALICE}/calendars/primary/events"
    seeded = requests.post(base, json={**TIMED, "id": "ignored01", "summary": "UI"}, timeout=5)
    event_id = seeded.json()["id"]
    assert event_id != "ignored01"  # the UI never takes a client id
    requests.patch(f"{base}/{event_id}", json={"summary": "UI 2"}, timeout=5)
    assert alice.event(event_id).json()["summary"] == "UI 2"
    requests.delete(f"{base}/{event_id}", timeout=5)
    raw = requests.get(f"{base}/{event_id}", timeout=5).json()
    assert raw["event"]["status"] == "cancelled"
    assert [w["method"] for w in raw["writes"]] == ["ui.create", "ui.edit", "ui.delete"]
    assert [r["event"]["id"] for r in requests.get(base, timeout=5).json()] == [event_id]


def test_every_event_answer_matches_the_discovery_schema(sandbox, alice):
    full = {"start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2026-03-02T10:00:00", "timeZone": "Europe/Paris"},
            "id": "schema001", "summary": "s", "description": "<b>d</b>", "location": "l",
            "colorId": "3", "transparency": "transparent", "visibility": "private",
            "status": "tentative", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
            "attendees": [{"email": "x@y.org", "optional": True, "displayName": "X"}],
            "guestsCanModify": True, "source": {"title": "crm", "url": "https://crm/1"},
            "attachments": [{"fileUrl": "https://drive/1"}], "bogusField": 1}
    responses = [alice.insert(full), alice.event("schema001"),
                 alice.event("schema001", "PATCH", {"summary": None})]
    alice.event("schema001", "DELETE")
    responses.append(alice.event("schema001"))
    for resp in responses:
        assert resp.status_code == 200, resp.text
        assert schema_errors(resp.json(), "Event") == []
        assert "bogusField" not in resp.json() and "attachments" not in resp.json()
