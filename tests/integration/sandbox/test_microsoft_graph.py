"""Microsoft Graph emulator, events: the behaviours of the real API the service must meet.

Real HTTP against the session's sandbox; every event answer is parsed with Microsoft's own
models (msgraph-sdk when installed) so the emulator cannot invent properties.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from sync_workers.sandbox import microsoft_graph as graph

from .test_microsoft_graph_support import ALICE, BOB, PACIFIC, Api, shape_errors, timed

GUID = "{66f5a359-4659-4830-9070-00047ec6ac6e}"
CRM = f"String {GUID} Name crmId"


@pytest.fixture
def alice(sandbox):
    return Api(sandbox, ALICE)


def code_of(resp) -> str:
    return resp.json()["error"]["code"]


def test_the_shape_check_rejects_properties_graph_never_sends():
    assert shape_errors({"id": "x", "subject": "s"}, "event") == []
    assert shape_errors({"id": "x", "summary": "s"}, "event") != []
    assert shape_errors({"id": "x", "attendees": [{"emailAddress": {"address": "a@b"},
                                                   "responseStatus": "x"}]}, "event") != []


def test_a_created_event_carries_outlooks_read_only_properties(sandbox, alice):
    event = alice.create({**timed(), "subject": "Standup",
                          "body": {"contentType": "text", "content": "Agenda\nitems"},
                          "attendees": [{"emailAddress": {"address": "carol@other.org"}}]})
    assert event["type"] == "singleInstance" and event["isOrganizer"] is True
    assert event["seriesMasterId"] is None and event["isCancelled"] is False
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert re.fullmatch(r"040000008200E00074C5B7101A82E008[0-9A-F]+", event["iCalUId"])
    assert event["organizer"] == {"emailAddress": {"name": "Alice", "address": ALICE}}
    assert event["responseStatus"] == {"response": "organizer", "time": "0001-01-01T00:00:00Z"}
    assert event["attendees"] == [{"type": "required",
                                   "status": {"response": "none",
                                              "time": "0001-01-01T00:00:00Z"},
                                   "emailAddress": {"name": "carol@other.org",
                                                    "address": "carol@other.org"}}]
    # Bodies come back as HTML by default; bodyPreview is the text.
    assert event["body"]["contentType"] == "html" and "Agenda<br>" in event["body"]["content"]
    assert event["bodyPreview"] == "Agenda items"
    assert "transactionId" not in event  # only returned when an app set it
    created = datetime.fromisoformat(event["createdDateTime"][:26] + "+00:00")
    assert abs(created - sandbox.state.clock.now()) < timedelta(seconds=5)  # sandbox clock


def test_times_have_seven_fractional_digits_and_come_back_in_utc(alice):
    event = alice.create(timed(start="09:00", end="09:30", zone=PACIFIC))
    assert event["start"] == {"dateTime": "2026-03-02T17:00:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2026-03-02T17:30:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == PACIFIC
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", event["createdDateTime"])


@pytest.mark.parametrize("zone,expected", [
    ("Pacific Standard Time", "2026-07-01T09:00:00.0000000"),  # PDT, UTC-7
    ("W. Europe Standard Time", "2026-07-01T18:00:00.0000000"),  # CEST
    ("Europe/Berlin", "2026-07-01T18:00:00.0000000"),  # an IANA name the docs list
    ("UTC", "2026-07-01T16:00:00.0000000"),
])
def test_prefer_outlook_timezone_converts_start_and_end(alice, zone, expected):
    event = alice.create(timed(day="2026-07-01", start="16:00", end="17:00"))
    resp = alice.get(event["id"], prefer=[f'outlook.timezone="{zone}"'])
    assert resp.status_code == 200
    assert resp.json()["start"] == {"dateTime": expected, "timeZone": zone}
    assert resp.headers["Preference-Applied"] == f'outlook.timezone="{zone}"'


def test_an_unsupported_time_zone_is_refused_in_bodies_and_in_prefer(alice):
    resp = alice.call("POST", "/me/events", timed(zone="Greenwich Mean Time"))
    assert resp.status_code == 400 and code_of(resp) == "TimeZoneNotSupportedException"
    assert "'Greenwich Mean Time'" in resp.json()["error"]["message"]
    event = alice.create(timed())
    resp = alice.get(event["id"], prefer=['outlook.timezone="Mars/Olympus"'])
    assert resp.status_code == 400 and code_of(resp) == "TimeZoneNotSupportedException"


def test_windows_zones_follow_their_dst_rules(alice):
    # 09:00 in Pacific time is 17:00 UTC in winter and 16:00 UTC in summer.
    winter = alice.create(timed(day="2026-01-15", zone=PACIFIC))
    summer = alice.create(timed(day="2026-07-15", zone=PACIFIC))
    assert winter["start"]["dateTime"].startswith("2026-01-15T17:00")
    assert summer["start"]["dateTime"].startswith("2026-07-15T16:00")


def test_all_day_events_keep_their_dates_and_must_start_and_end_at_midnight(alice):
    day = {"isAllDay": True, "start": {"dateTime": "2026-03-02T00:00:00", "timeZone": PACIFIC},
           "end": {"dateTime": "2026-03-03T00:00:00", "timeZone": PACIFIC}}
    event = alice.create(day)
    assert event["isAllDay"] is True
    assert event["start"] == {"dateTime": "2026-03-02T00:00:00.0000000", "timeZone": "UTC"}
    bad = {**day, "end": {"dateTime": "2026-03-02T12:00:00", "timeZone": PACIFIC}}
    resp = alice.call("POST", "/me/events", bad)
    assert resp.status_code == 400 and code_of(resp) == "ErrorPropertyValidationFailure"


def test_a_property_the_event_type_does_not_define_is_refused(alice):
    resp = alice.call("POST", "/me/events", {**timed(), "summary": "Google's name"})
    assert resp.status_code == 400 and code_of(resp) == "RequestBodyRead"
    assert "'summary' does not exist on type 'microsoft.graph.event'" in \
        resp.json()["error"]["message"]


def test_errors_have_graphs_body_shape_and_request_ids(alice):
    resp = alice.get("AAMkAGnope" + "A" * 40)
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["code"] == "ErrorItemNotFound"
    assert error["message"] == "The specified object was not found in the store."
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert resp.headers["request-id"] == error["innerError"]["request-id"]
    assert code_of(alice.get("not an id!")) == "ErrorInvalidIdMalformed"


def test_without_a_token_the_answer_is_401_invalid_authentication_token(sandbox):
    api = Api(sandbox, ALICE)
    api.headers = {}
    resp = api.call("GET", "/me/events")
    assert resp.status_code == 401 and code_of(resp) == "InvalidAuthenticationToken"
    api.headers = {"Authorization": "Bearer not-a-token"}
    assert api.call("GET", "/me/events").status_code == 401


def test_a_delegated_token_reaches_only_its_own_mailbox(sandbox, alice):
    assert alice.call("GET", f"/users/{ALICE}/events").status_code == 200
    user_id = alice.call("GET", "/me").json()["id"]
    assert alice.call("GET", f"/users/{user_id}/calendar/events").status_code == 200
    resp = alice.call("GET", f"/users/{BOB}/events")
    assert resp.status_code == 403 and code_of(resp) == "ErrorAccessDenied"


def test_ids_are_case_sensitive(alice):
    event = alice.create(timed())
    assert event["id"] != event["id"].lower()
    assert alice.get(event["id"].lower()).status_code == 404
    assert alice.get(event["id"]).status_code == 200


def test_immutable_ids_differ_from_regular_ids_and_survive_a_move(sandbox):
    regular, immutable = Api(sandbox, ALICE), Api(sandbox, ALICE, immutable=True)
    created = immutable.create(timed())
    stable = created["id"]
    rest = regular.get(stable).json()["id"]  # either id type resolves
    assert rest != stable and rest.startswith("AAMk") and stable.startswith("AAkALgAA")
    moved = graph.user_move_event(sandbox.state, ALICE, stable)
    assert moved["immutableId"] == stable and moved["id"] != rest
    assert regular.get(rest).status_code == 404  # the old regular id is gone
    assert immutable.get(stable).json()["id"] == stable
    assert regular.get(stable).json()["id"] == moved["id"]


def test_transaction_id_makes_a_retried_create_return_the_first_event(alice):
    body = {**timed(), "subject": "Demo", "transactionId": "crm-4711-create"}
    first = alice.create(body)
    again = alice.create(body)
    assert again["id"] == first["id"] and again["transactionId"] == "crm-4711-create"
    assert len(alice.call("GET", "/me/events").json()["value"]) == 1
    resp = alice.patch(first["id"], {"transactionId": "other"})
    assert resp.status_code == 400


def test_every_change_moves_the_change_key_and_if_match_guards_writes(alice):
    event = alice.create(timed())
    first = event["@odata.etag"]
    second = alice.patch(event["id"], {"subject": "v2"}).json()["@odata.etag"]
    assert second != first
    stale = {"If-Match": first}
    for method, body in (("PATCH", {"subject": "v3"}), ("DELETE", None)):
        resp = alice.call(method, f"/me/events/{event['id']}", body, headers=stale)
        assert resp.status_code == 412
        assert resp.json()["error"]["code"] == "ErrorIrresolvableConflict"
        assert resp.json()["error"]["message"].startswith(
            "The send or update operation could not be performed because the change key")
    resp = alice.patch(event["id"], {"subject": "v3"}, headers={"If-Match": second})
    assert resp.status_code == 200 and resp.json()["subject"] == "v3"
    assert alice.delete(event["id"], headers={"If-Match": "*"}).status_code == 204
    assert alice.get(event["id"]).status_code == 404


def test_patch_replaces_attendees_and_keeps_their_answers(sandbox, alice):
    event = alice.create({**timed(), "attendees": [
        {"emailAddress": {"address": "x@other.org"}, "type": "optional"}]})
    patched = alice.patch(event["id"], {"attendees": [
        {"emailAddress": {"address": "x@other.org"}, "type": "optional"},
        {"emailAddress": {"address": "room@other.org"}, "type": "resource"}]}).json()
    assert [a["type"] for a in patched["attendees"]] == ["optional", "resource"]
    resp = alice.patch(event["id"], {"attendees": [
        {"emailAddress": {"address": "x@other.org"}, "type": "chair"}]})
    assert resp.status_code == 400


def test_single_value_extended_properties_are_expanded_and_filtered(alice):
    tagged = alice.create({**timed(), "singleValueExtendedProperties": [
        {"id": CRM, "value": "Opp-0042"}]})
    alice.create({**timed(), "subject": "untagged"})
    plain = alice.get(tagged["id"]).json()
    assert "singleValueExtendedProperties" not in plain  # only with $expand
    expanded = alice.get(tagged["id"], **{
        "$expand": f"singleValueExtendedProperties($filter=id eq '{CRM}')"}).json()
    assert expanded["singleValueExtendedProperties"] == [{"id": CRM, "value": "Opp-0042"}]
    found = alice.call("GET", "/me/events", **{"$filter": (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{CRM}' and ep/value eq 'opp-0042')")})
    assert [e["id"] for e in found.json()["value"]] == [tagged["id"]]  # value: any case
    # The name in the id is case-sensitive; the GUID is not.
    other_case = f"String {GUID} Name CRMID"
    none = alice.call("GET", "/me/events", **{"$filter": (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{other_case}' and "
        "ep/value eq 'Opp-0042')")})
    assert none.json()["value"] == []
    upper = CRM.replace(GUID, GUID.upper())
    assert len(alice.call("GET", "/me/events", **{"$filter": (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{upper}' and "
        "startswith(ep/value, 'Opp'))")}).json()["value"]) == 1


def test_select_returns_only_the_asked_properties_plus_id_and_etag(alice):
    event = alice.create({**timed(), "subject": "s"})
    doc = alice.get(event["id"], **{"$select": "subject,start"}).json()
    assert set(doc) == {"@odata.context", "@odata.etag", "id", "subject", "start"}
    assert alice.get(event["id"], **{"$select": "summary"}).status_code == 400


def test_lists_page_with_a_next_link(alice):
    for n in range(3):
        alice.create({**timed(), "subject": f"e{n}"})
    first = alice.call("GET", "/me/events", **{"$top": "2"}).json()
    assert len(first["value"]) == 2 and "$skip=2" in first["@odata.nextLink"]
    rest = alice.call("GET", first["@odata.nextLink"]).json()
    assert [e["subject"] for e in rest["value"]] == ["e2"] and "@odata.nextLink" not in rest


def test_calendar_view_reads_the_window_in_utc_unless_it_has_an_offset(alice):
    alice.create({**timed(start="09:00", end="10:00"), "subject": "nine UTC"})
    inside = alice.view("2026-03-02T08:00:00", "2026-03-02T09:30:00").json()["value"]
    assert [e["subject"] for e in inside] == ["nine UTC"]
    # 01:00-02:00 in UTC-8 is 09:00-10:00 UTC; Prefer plays no part in the window.
    offset = alice.view("2026-03-02T01:00:00-08:00", "2026-03-02T02:00:00-08:00",
                        prefer=[f'outlook.timezone="{PACIFIC}"']).json()["value"]
    assert offset[0]["start"] == {"dateTime": "2026-03-02T01:00:00.0000000",
                                  "timeZone": PACIFIC}
    assert alice.view("2026-03-02T10:00:00", "2026-03-02T11:00:00").json()["value"] == []
    resp = alice.call("GET", "/me/calendarView")
    assert resp.status_code == 400 and code_of(resp) == "ErrorInvalidParameter"


WEEKLY = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "wednesday"],
                      "firstDayOfWeek": "sunday"},
          "range": {"type": "endDate", "startDate": "2026-03-02", "endDate": "2026-03-13"}}


def test_a_weekly_series_is_a_master_in_events_and_instances_in_calendar_view(alice):
    master = alice.create({**timed(zone=PACIFIC), "subject": "Sync", "recurrence": WEEKLY})
    assert master["type"] == "seriesMaster"
    assert master["recurrence"]["pattern"] == {
        "type": "weekly", "interval": 1, "month": 0, "dayOfMonth": 0,
        "daysOfWeek": ["monday", "wednesday"], "firstDayOfWeek": "sunday", "index": "first"}
    assert master["recurrence"]["range"]["recurrenceTimeZone"] == PACIFIC
    listed = alice.call("GET", "/me/events").json()["value"]
    assert [e["type"] for e in listed] == ["seriesMaster"]
    view = alice.view("2026-03-01T00:00:00Z", "2026-03-20T00:00:00Z").json()["value"]
    assert [e["start"]["dateTime"][:10] for e in view] == [
        "2026-03-02", "2026-03-04", "2026-03-09", "2026-03-11"]
    assert {e["type"] for e in view} == {"occurrence"}
    assert {e["seriesMasterId"] for e in view} == {master["id"]}
    assert len({e["id"] for e in view}) == 4 and master["id"] not in {e["id"] for e in view}
    # "This ID is different for each occurrence in a recurring series" (event.md).
    assert len({e["iCalUId"] for e in view}) == 4
    assert view[0]["originalStart"] == "2026-03-02T17:00:00Z"
    # 09:00 Pacific stays 09:00 across the DST change of 2026-03-08: 17:00 then 16:00 UTC.
    assert view[0]["start"]["dateTime"][11:16] == "17:00"
    assert view[2]["start"]["dateTime"][11:16] == "16:00"


def test_a_numbered_daily_series_and_its_exceptions_and_cancellations(alice):
    daily = {"pattern": {"type": "daily", "interval": 2},
             "range": {"type": "numbered", "startDate": "2026-03-02",
                       "numberOfOccurrences": 3}}
    master = alice.create({**timed(), "subject": "Daily", "recurrence": daily})
    view = alice.view("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z").json()["value"]
    assert [e["start"]["dateTime"][:10] for e in view] == [
        "2026-03-02", "2026-03-04", "2026-03-06"]
    exception = alice.patch(view[1]["id"], {"subject": "Moved",
                                            **timed(day="2026-03-05")}).json()
    assert exception["type"] == "exception" and exception["id"] == view[1]["id"]
    assert alice.delete(view[2]["id"]).status_code == 204
    after = alice.view("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z").json()["value"]
    assert [(e["type"], e["subject"], e["start"]["dateTime"][:10]) for e in after] == [
        ("occurrence", "Daily", "2026-03-02"), ("exception", "Moved", "2026-03-05")]
    instances = alice.call("GET", f"/me/events/{master['id']}/instances",
                           startDateTime="2026-03-01T00:00:00Z",
                           endDateTime="2026-04-01T00:00:00Z").json()["value"]
    assert [e["id"] for e in instances] == [e["id"] for e in after]
    assert alice.get(view[2]["id"]).status_code == 404


def test_prefer_text_body_and_html_by_default(alice):
    event = alice.create({**timed(), "body": {"contentType": "html",
                                              "content": "<p>Hello <b>there</b></p>"}})
    assert alice.get(event["id"]).json()["body"]["contentType"] == "html"
    resp = alice.get(event["id"], prefer=['outlook.body-content-type="text"'])
    assert resp.json()["body"] == {"contentType": "text", "content": "Hello there"}
    assert 'outlook.body-content-type="text"' in resp.headers["Preference-Applied"]


def test_a_seeded_event_and_user_edits_look_like_outlook(sandbox, alice):
    seeded = graph.seed_event(sandbox.state, ALICE, {**timed(), "subject": "From Outlook"})
    assert alice.get(seeded["id"]).json()["subject"] == "From Outlook"
    graph.user_edit_event(sandbox.state, ALICE, seeded["id"], {"subject": "Renamed"})
    assert alice.get(seeded["id"]).json()["subject"] == "Renamed"
    raw = graph.raw_event(sandbox.state, ALICE, seeded["id"])
    assert [w["by"] for w in raw["writes"]] == ["user", "user"]
    graph.user_delete_event(sandbox.state, ALICE, seeded["id"])
    assert alice.get(seeded["id"]).status_code == 404
    assert graph.raw_event(sandbox.state, ALICE, seeded["id"])["deleted"] is True


def test_the_control_routes_act_as_the_user(sandbox, alice):
    import requests
    base = f"{sandbox.origin('microsoft')}/_sandbox/microsoft/users/{ALICE}/events"
    seeded = requests.post(base, json={**timed(), "subject": "ctl"}, timeout=5).json()
    assert alice.get(seeded["id"]).json()["subject"] == "ctl"
    requests.patch(f"{base}/{seeded['id']}", json={"subject": "ctl2"}, timeout=5)
    listed = requests.get(base, timeout=5).json()
    assert [r["event"]["subject"] for r in listed] == ["ctl2"]
    assert requests.delete(f"{base}/{seeded['id']}", timeout=5).status_code == 200
    assert alice.get(seeded["id"]).status_code == 404


def test_times_are_on_the_sandbox_clock(sandbox):
    sandbox.state.clock.advance(3 * 86400)
    api = Api(sandbox, ALICE)
    event = api.create(timed())
    created = datetime.fromisoformat(event["createdDateTime"][:19]).replace(tzinfo=timezone.utc)
    assert created > datetime.now(timezone.utc) + timedelta(days=2)


def test_a_new_series_time_drops_exceptions_and_restores_deleted_occurrences(alice):
    daily = {"pattern": {"type": "daily", "interval": 1},
             "range": {"type": "numbered", "startDate": "2026-03-02",
                       "numberOfOccurrences": 3}}
    master = alice.create({**timed(), "subject": "Daily", "recurrence": daily})
    view = alice.view("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z").json()["value"]
    alice.patch(view[0]["id"], {"subject": "Changed once"})
    alice.delete(view[1]["id"])
    alice.patch(master["id"], timed(start="11:00", end="12:00"))
    after = alice.view("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z").json()["value"]
    assert [(e["type"], e["subject"], e["start"]["dateTime"][11:16]) for e in after] == [
        ("occurrence", "Daily", "11:00")] * 3


def test_the_windows_zone_table_is_cldrs():
    from sync_workers.sandbox.microsoft_graph_zones import windows_name, zone_for
    assert str(zone_for("Pacific Standard Time")) == "America/Los_Angeles"
    assert str(zone_for("W. Europe Standard Time")) == "Europe/Berlin"
    assert str(zone_for("UTC")) == "UTC"
    assert zone_for("Greenwich Mean Time") is None and zone_for("Mars/Olympus") is None
    assert windows_name("Europe/Berlin") == "W. Europe Standard Time"


def test_the_calendar_paths_and_the_odata_function_form_of_delta(alice):
    alice.create(timed())
    window = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-03-30T00:00:00Z"}
    for path in ("/me/calendar/calendarView", "/me/calendarView/delta()",
                 "/me/calendar/calendarView/microsoft.graph.delta()"):
        resp = alice.call("GET", path, **window)
        assert resp.status_code == 200 and len(resp.json()["value"]) == 1, path
    assert len(alice.call("GET", "/me/calendar/events").json()["value"]) == 1


def test_a_token_without_a_calendars_scope_is_denied(sandbox):
    from sync_workers.sandbox.oauth import mint_grant
    api = Api(sandbox, ALICE)
    token = mint_grant(sandbox.state, "microsoft", ALICE, scope="openid offline_access")
    api.headers = {"Authorization": f"Bearer {token['access_token']}"}
    resp = api.call("GET", "/me/events")
    assert resp.status_code == 403 and code_of(resp) == "ErrorAccessDenied"
    read_only = mint_grant(sandbox.state, "microsoft", ALICE,
                           scope="https://graph.microsoft.com/Calendars.Read")
    api.headers = {"Authorization": f"Bearer {read_only['access_token']}"}
    assert api.call("GET", "/me/events").status_code == 200
    assert api.call("POST", "/me/events", timed()).status_code == 403
