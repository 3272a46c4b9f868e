from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import googleapiclient
import pytest

from sync_workers.reliability.errors import InvalidInput
from sync_workers.schemas import (
    load_google_event,
    load_google_events_page,
    load_google_push_headers,
)
from sync_workers.schemas.google import (
    GoogleEventSchema,
    GoogleEventsPageSchema,
    _AttendeeSchema,
    _EventTimeSchema,
)
from sync_workers.sync import Attendee, TimeSpan

EVENT = {
    "kind": "calendar#event", "etag": '"3181161784712000"', "id": "abc123",
    "status": "confirmed", "htmlLink": "https://www.google.com/calendar/event?eid=x",
    "created": "2024-05-01T09:00:00.000Z", "updated": "2024-05-01T09:30:00.000Z",
    "summary": "Demo call", "description": "<b>Agenda</b>", "location": "Room 1",
    "creator": {"email": "me@ours.example"}, "organizer": {"email": "me@ours.example"},
    "start": {"dateTime": "2024-05-06T14:00:00+02:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2024-05-06T15:00:00+02:00", "timeZone": "Europe/Berlin"},
    "iCalUID": "abc123@google.com", "sequence": 0,
    "attendees": [{"email": "me@ours.example", "organizer": True, "self": True,
                   "responseStatus": "accepted"},
                  {"email": "ada@example.com", "displayName": "Ada",
                   "responseStatus": "needsAction"}],
    "extendedProperties": {"private": {"crm_event_id": "00U5g00000XyZabEAF"},
                           "shared": {"other": "x"}},
    "reminders": {"useDefault": True}, "eventType": "default",
}


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_a_full_event_loads():
    appointment = load_google_event(EVENT)
    assert appointment.event_id == "abc123" and appointment.status == "confirmed"
    assert appointment.span == TimeSpan(utc(2024, 5, 6, 12), utc(2024, 5, 6, 13), False)
    assert (appointment.title, appointment.location, appointment.description) == (
        "Demo call", "Room 1", "<b>Agenda</b>")
    # The provider's own flags come along: they say who the owner is (sync/guests.py).
    assert appointment.attendees == (
        Attendee("me@ours.example", is_self=True, organizer=True, response="accepted"),
        Attendee("ada@example.com", "Ada", response="needsAction"))
    assert appointment.etag == '"3181161784712000"'
    assert appointment.updated == utc(2024, 5, 1, 9, 30)
    assert dict(appointment.crm_refs) == {"crm_event_id": "00U5g00000XyZabEAF"}


def test_an_all_day_event_keeps_dates():
    appointment = load_google_event({**EVENT, "start": {"date": "2024-05-06"},
                                     "end": {"date": "2024-05-07"}})
    assert appointment.span == TimeSpan(date(2024, 5, 6), date(2024, 5, 7), True)


def test_a_deleted_event_needs_only_its_id():
    appointment = load_google_event({"id": "abc123", "status": "cancelled"})
    assert (appointment.status, appointment.span, appointment.title) == ("cancelled", None, "")


def test_absent_optional_fields_read_as_empty():
    minimal = {"id": "x1", "start": EVENT["start"], "end": EVENT["end"]}
    appointment = load_google_event(minimal)
    assert appointment.status == "confirmed" and appointment.attendees == ()
    assert appointment.crm_refs == {} and appointment.etag is None


@pytest.mark.parametrize("change, reason", [
    ({"id": None}, "google event: id: Field may not be null."),
    ({"id": ""}, "google event: id: Shorter than minimum length 1."),
    ({"status": "deleted"}, "google event: status: Must be one of"),
    ({"start": None}, "google event: start: Field may not be null."),
    ({"extendedProperties": {"private": {"n": 1}}},
     "google event: extendedProperties.private.n.value: Not a valid string."),
    ({"start": {"dateTime": "2024-05-06T14:00:00"}, "end": {"dateTime": "2024-05-06T15:00:00"}},
     "google event abc123: start.dateTime: '2024-05-06T14:00:00' has no UTC offset"),
    ({"start": {"date": "2024-05-06"}, "end": {"date": "2024-05-06"}},
     "google event abc123: span end 2024-05-06 is not after"),
    ({"updated": "yesterday"}, "google event abc123: updated: expected an RFC 3339"),
])
def test_bad_events_name_the_field(change, reason):
    with pytest.raises(InvalidInput) as caught:
        load_google_event({**EVENT, **change})
    assert caught.value.reason.startswith(reason), caught.value.reason


@pytest.mark.parametrize("missing", ["id", "start", "end"])
def test_required_fields(missing):
    payload = {key: value for key, value in EVENT.items() if key != missing}
    with pytest.raises(InvalidInput, match=f"{missing}: "):
        load_google_event(payload)


def test_not_an_object():
    with pytest.raises(InvalidInput, match="expected an object, got list"):
        load_google_event([EVENT])


def test_we_read_only_fields_the_official_discovery_document_declares():
    # The discovery document ships with google-api-python-client, written by Google.
    path = Path(googleapiclient.__file__).parent / "discovery_cache/documents/calendar.v3.json"
    declared = json.loads(path.read_text())["schemas"]
    for schema, name in ((GoogleEventSchema, "Event"), (GoogleEventsPageSchema, "Events"),
                         (_EventTimeSchema, "EventDateTime"), (_AttendeeSchema, "EventAttendee")):
        assert set(schema().fields) <= set(declared[name]["properties"]), name


def test_a_page_keeps_good_events_and_sets_bad_ones_aside():
    bad = {**EVENT, "id": "bad1", "start": {"dateTime": "2024-05-06T14:00:00"}}
    page = load_google_events_page({
        "kind": "calendar#events", "items": [EVENT, bad, {"id": "gone", "status": "cancelled"}],
        "nextSyncToken": "sync-2"})
    assert [event.event_id for event in page.events] == ["abc123", "gone"]
    assert [item.payload["id"] for item in page.rejected] == ["bad1"]
    assert "google event bad1: start.dateTime" in page.rejected[0].error.reason
    assert (page.next_page_token, page.next_sync_token) == (None, "sync-2")


def test_an_empty_middle_page():
    page = load_google_events_page({"nextPageToken": "p2"})
    assert (page.events, page.rejected, page.next_page_token) == ((), (), "p2")


@pytest.mark.parametrize("payload, reason", [
    ({"items": {"id": "x"}}, "google events page: items: Not a valid list."),
    ({"items": ["x"]}, "google events page: items.0: Not a valid mapping type."),
])
def test_a_malformed_page_is_rejected(payload, reason):
    with pytest.raises(InvalidInput) as caught:
        load_google_events_page(payload)
    assert caught.value.reason == reason


HEADERS = {
    "X-Goog-Channel-ID": "chan-1", "X-Goog-Channel-Token": "s3cret",
    "X-Goog-Channel-Expiration": "Tue, 19 Nov 2024 01:13:52 GMT",
    "X-Goog-Resource-ID": "res-1",
    "X-Goog-Resource-URI": "https://www.googleapis.com/calendar/v3/calendars/primary/events",
    "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "7",
    "Content-Length": "0",
}


def test_push_headers_load_in_any_case():
    notification = load_google_push_headers({k.lower(): v for k, v in HEADERS.items()})
    assert notification == load_google_push_headers(HEADERS)
    assert (notification.channel_id, notification.resource_id, notification.resource_state,
            notification.message_number, notification.channel_token) == (
        "chan-1", "res-1", "exists", 7, "s3cret")
    assert notification.channel_expiration == utc(2024, 11, 19, 1, 13, 52)


def test_the_channel_token_stays_out_of_repr():
    assert "s3cret" not in repr(load_google_push_headers(HEADERS))


def test_the_first_sync_message_needs_no_token_or_expiration():
    minimal = {k: v for k, v in HEADERS.items()
               if k not in ("X-Goog-Channel-Token", "X-Goog-Channel-Expiration")}
    notification = load_google_push_headers({**minimal, "X-Goog-Resource-State": "sync",
                                             "X-Goog-Message-Number": "1"})
    assert notification.channel_token is None and notification.channel_expiration is None


@pytest.mark.parametrize("change, reason", [
    ({"X-Goog-Resource-State": "changed"}, "x-goog-resource-state: Must be one of"),
    ({"X-Goog-Message-Number": "seven"}, "x-goog-message-number: Not a valid integer."),
    ({"X-Goog-Channel-Expiration": "soon"}, "x-goog-channel-expiration: expected an HTTP date"),
    ({"X-Goog-Channel-ID": None}, "x-goog-channel-id: Field may not be null."),
])
def test_bad_push_headers(change, reason):
    with pytest.raises(InvalidInput, match=reason):
        load_google_push_headers({**HEADERS, **change})


def test_a_push_without_a_channel_id_is_rejected():
    headers = {k: v for k, v in HEADERS.items() if k != "X-Goog-Channel-ID"}
    with pytest.raises(InvalidInput, match="x-goog-channel-id: Missing data"):
        load_google_push_headers(headers)


def test_an_attendee_without_an_address_is_kept_not_a_reason_to_reject():
    """Google documents an attendee's `email` as "if available"."""
    event = {**EVENT, "attendees": [{"displayName": "Dial-in", "resource": True}]}
    assert load_google_event(event).attendees == (Attendee(None, "Dial-in", resource=True),)


def test_an_occurrence_is_keyed_by_its_series_and_original_start():
    occurrence = load_google_event({
        **EVENT, "id": "abc123_20240506T120000Z", "recurringEventId": "abc123",
        "originalStartTime": {"dateTime": "2024-05-06T14:00:00+02:00",
                              "timeZone": "Europe/Berlin"}})
    assert occurrence.series_id == "abc123"
    assert occurrence.occurrence_start == utc(2024, 5, 6, 12, 0)
    assert occurrence.ical_uid == "abc123@google.com#20240506T120000Z"
    assert not occurrence.is_series


def test_a_cancelled_occurrence_keeps_its_key_and_a_master_is_a_series():
    cancelled = load_google_event({"id": "abc123_20240513", "status": "cancelled",
                                   "recurringEventId": "abc123",
                                   "originalStartTime": {"date": "2024-05-13"}})
    assert cancelled.occurrence_start == utc(2024, 5, 13, 0, 0)
    master = load_google_event({**EVENT, "recurrence": ["RRULE:FREQ=WEEKLY"]})
    assert master.is_series and master.series_id is None
    assert master.ical_uid == "abc123@google.com"
