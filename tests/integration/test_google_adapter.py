"""GoogleCalendar against the sandbox's Google Calendar over HTTP, as a connected account:
idempotent create, guarded patch, cancel, times, private properties, sync tokens, faults,
token refresh, request ids, push channels, and what it sends checked against Google's
discovery document."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from sync_workers.logging import log_context
from sync_workers.providers.base import CursorExpired
from sync_workers.providers.google_calendar import GoogleCalendar
from sync_workers.reliability.errors import Conflict, RateLimited, Transient
from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox import oauth
from sync_workers.sandbox.core import FaultRule
from sync_workers.sandbox.google_calendar_schema import schema_errors
from sync_workers.sync.ids import calendar_event_id_for_crm
from sync_workers.sync.models import Appointment, Attendee, TimeSpan
from tests.fixtures.accounts import connected_account, sandbox_settings
from tests.fixtures.http import RecordingServer

pytestmark = pytest.mark.integration
USER = oauth.DEFAULT_SUBJECTS["google"]
NINE = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
ONE_HOUR = TimeSpan(NINE, NINE + timedelta(hours=1), all_day=False)
EVENTS = r"/calendar/v3/calendars/[^/]+/events"


@pytest.fixture
def settings(sandbox, db, redis_db):
    return sandbox_settings(sandbox)


@pytest.fixture
def account(sandbox, settings):
    return connected_account(sandbox, "google", USER, settings=settings)


@pytest.fixture
def calendar(account, settings):
    return GoogleCalendar(account, settings=settings)


def event_id(n: int = 1) -> str:
    return calendar_event_id_for_crm(f"00U5g00000Test{n:03d}")


def appointment(n: int = 1, **fields) -> Appointment:
    return Appointment(**{"event_id": event_id(n), "status": "confirmed", "span": ONE_HOUR,
                          "title": "Intro call", **fields})


def calls(sandbox, method: str, path: str = EVENTS) -> list[dict]:
    return sandbox.state.log.entries("google", method, path)


def header(entry: dict, name: str) -> str | None:
    return {k.lower(): v for k, v in entry["headers"].items()}.get(name.lower())


def stored(sandbox, n: int = 1, calendar_id: str = "primary") -> dict:
    return gcal.raw_event(sandbox.state, USER, event_id(n), calendar_id)["event"]


# --- create, update, cancel ----------------------------------------------------------------


def test_creating_twice_with_the_same_id_makes_one_event_and_returns_it(sandbox, calendar):
    first = calendar.create_event(appointment())
    again = calendar.create_event(appointment(title="the retry's copy"))

    assert again == first and first.title == "Intro call" and first.etag
    assert [r["event"]["id"] for r in gcal.raw_events(sandbox.state, USER)] == [event_id()]
    assert [c["status"] for c in calls(sandbox, "POST", EVENTS + "$")] == [200, 409]
    assert gcal.send_updates_log(sandbox.state, USER, event_id()) == ["none"]


def test_get_of_an_unknown_event_is_none(calendar):
    assert calendar.get_event(event_id(99)) is None


def test_update_patches_only_what_changed_guarded_by_the_etag(sandbox, calendar):
    before = calendar.create_event(appointment(location="Room 1"))

    after = calendar.update_event(before, replace(before, title="Renamed"), notify=True)

    (patch,) = calls(sandbox, "PATCH")
    assert json.loads(patch["body"]) == {"summary": "Renamed"}
    assert header(patch, "If-Match") == before.etag and patch["args"]["sendUpdates"] == ["all"]
    assert (after.title, after.location) == ("Renamed", "Room 1") and after.etag != before.etag
    assert calendar.update_event(after, after) == after  # converged: no call
    assert len(calls(sandbox, "PATCH")) == 1


def test_an_update_with_a_stale_etag_raises_conflict_and_writes_nothing(sandbox, calendar):
    before = calendar.create_event(appointment())
    gcal.user_edit_event(sandbox.state, USER, event_id(), {"summary": "the user's title"})

    with pytest.raises(Conflict):
        calendar.update_event(before, replace(before, title="ours"))
    assert calendar.get_event(event_id()).title == "the user's title"


def test_cancel_deletes_and_the_event_reads_cancelled_then_comes_back_live(sandbox, calendar):
    before = calendar.create_event(appointment())

    gone = calendar.update_event(before, replace(before, status="cancelled"))
    retried = calendar.update_event(before, replace(before, status="cancelled"))  # 410: done

    (delete, repeat) = calls(sandbox, "DELETE")
    assert header(delete, "If-Match") == before.etag and repeat["status"] == 410
    assert gone.status == retried.status == calendar.get_event(event_id()).status == "cancelled"
    assert calendar.create_event(appointment()).status == "cancelled"  # its id stays taken

    live = calendar.update_event(gone, replace(before, etag=gone.etag))

    assert (live.status, live.span, live.title) == ("confirmed", ONE_HOUR, "Intro call")
    assert json.loads(calls(sandbox, "PATCH")[-1]["body"])["status"] == "confirmed"


def test_a_410_on_get_reads_as_cancelled(sandbox, calendar):
    sandbox.state.faults.add(FaultRule(
        kind="status", provider="google", method="GET", status=410,
        body={"error": {"errors": [{"domain": "global", "reason": "deleted",
                                    "message": "Resource has been deleted"}], "code": 410}}))

    assert calendar.get_event(event_id()).status == "cancelled"


def test_a_patch_of_the_attendees_keeps_what_google_holds_about_each_guest(sandbox, calendar):
    calendar.create_event(appointment(attendees=(Attendee("ann@example.com", "Ann"),)))
    gcal.user_edit_event(sandbox.state, USER, event_id(), {"attendees": [
        {"email": "ann@example.com", "displayName": "Ann", "responseStatus": "accepted",
         "comment": "see you"},
        {"email": "bob@other.example", "responseStatus": "declined"}]})
    before = calendar.get_event(event_id())

    calendar.update_event(before, replace(
        before, attendees=before.attendees + (Attendee("cara@example.com", "Cara"),)))

    guests = {a["email"]: a for a in stored(sandbox)["attendees"]}
    assert {email: a["responseStatus"] for email, a in guests.items()} == {
        "ann@example.com": "accepted", "bob@other.example": "declined",
        "cara@example.com": "needsAction"}
    assert guests["ann@example.com"]["comment"] == "see you"
    assert guests["cara@example.com"]["displayName"] == "Cara"


# --- times and private properties ------------------------------------------------------------


def test_an_all_day_event_keeps_its_exclusive_end_both_ways(sandbox, calendar):
    one_day = TimeSpan(date(2026, 5, 4), date(2026, 5, 5), all_day=True)
    created = calendar.create_event(appointment(span=one_day))
    assert stored(sandbox)["end"] == {"date": "2026-05-05"}
    assert created.span == calendar.get_event(event_id()).span == one_day

    two_days = TimeSpan(date(2026, 5, 4), date(2026, 5, 6), all_day=True)
    timed = calendar.update_event(created, replace(created, span=ONE_HOUR))
    all_day = calendar.update_event(timed, replace(timed, span=two_days))

    assert timed.span == ONE_HOUR and all_day.span == two_days
    assert stored(sandbox)["end"] == {"date": "2026-05-06"}


def test_timed_events_keep_their_instant_in_a_calendar_far_from_utc(sandbox, account, settings):
    la = gcal.create_calendar(sandbox.state, USER, time_zone="America/Los_Angeles")
    calendar = GoogleCalendar(account, la, settings=settings)
    created = calendar.create_event(appointment())
    users = gcal.seed_event(sandbox.state, USER, {
        "summary": "the user's", "start": {"dateTime": "2026-05-04T16:00:00Z"},
        "end": {"dateTime": "2026-05-04T17:00:00Z"}}, la)
    assert users["end"]["dateTime"] == "2026-05-04T10:00:00-07:00"  # the calendar's zone

    read = calendar.get_event(users["id"])
    renamed = calendar.update_event(read, replace(read, title="renamed"))

    assert created.span == calendar.get_event(event_id()).span == ONE_HOUR
    la_nine = datetime(2026, 5, 4, 16, 0, tzinfo=timezone.utc)
    assert read.span.start == renamed.span.start == la_nine


def test_crm_refs_round_trip_and_leave_other_private_keys_alone(sandbox, calendar):
    calendar.create_event(appointment(crm_refs={"sf_event": "00U1", "sf_contact": "0031"}))
    gcal.user_edit_event(sandbox.state, USER, event_id(),
                         {"extendedProperties": {"private": {"other_app": "x"}}})
    before = calendar.get_event(event_id())
    assert before.crm_refs == {"sf_event": "00U1", "sf_contact": "0031", "other_app": "x"}

    after = calendar.update_event(before, replace(
        before, crm_refs={"sf_event": "00U2", "other_app": "x"}))

    assert after.crm_refs == {"sf_event": "00U2", "other_app": "x"}
    assert json.loads(calls(sandbox, "PATCH")[-1]["body"]) == {
        "extendedProperties": {"private": {"sf_event": "00U2", "sf_contact": None}}}


def test_what_the_adapter_sends_conforms_to_the_discovery_document(sandbox, calendar):
    created = calendar.create_event(appointment(
        location="Room 1", description="<b>agenda</b>", attendees=(Attendee("a@example.com"),),
        crm_refs={"sf_event": "00U1"}))
    calendar.update_event(created, replace(
        created, span=TimeSpan(date(2026, 5, 4), date(2026, 5, 5), all_day=True),
        attendees=(Attendee("b@example.com", "B"),), crm_refs={}, status="tentative"))
    with RecordingServer() as receiver:
        calendar.watch("channel-1", receiver.url, "secret", ttl_seconds=600)

    sent = {(c["method"], c["path"]): json.loads(c["body"]) for c in calls(sandbox, "POST")
            + calls(sandbox, "PATCH")}
    assert len(sent) == 3
    for (method, path), body in sent.items():
        kind = "Channel" if path.endswith("/watch") else "Event"
        assert schema_errors(without_nulls(body), kind) == [], (method, path)


def without_nulls(value):
    """A PATCH's nulls ("clear this") are a request convention the schema does not model."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


# --- listing changes -------------------------------------------------------------------------


def test_full_then_incremental_listing_then_an_expired_cursor(sandbox, account, settings):
    calendar = GoogleCalendar(account, settings=settings, page_size=2)
    for n in range(1, 5):
        calendar.create_event(appointment(n))
    gcal.user_delete_event(sandbox.state, USER, event_id(4))

    full = calendar.list_changes(None)

    assert full.full and full.next_cursor and full.rejected == ()
    assert sorted(a.event_id for a in full.appointments) == sorted(event_id(n) for n in (1, 2, 3))
    assert len(calls(sandbox, "GET", EVENTS + "$")) == 2  # every page read

    gcal.user_edit_event(sandbox.state, USER, event_id(1), {"summary": "moved by the user"})
    gcal.user_delete_event(sandbox.state, USER, event_id(2))
    new = gcal.seed_event(sandbox.state, USER, {"summary": "new", "start": {
        "dateTime": "2026-05-05T09:00:00+02:00"}, "end": {"dateTime": "2026-05-05T10:00:00+02:00"}})
    changes = calendar.list_changes(full.next_cursor)

    assert not changes.full and changes.next_cursor != full.next_cursor
    assert {a.event_id: (a.status, a.title) for a in changes.appointments} == {
        event_id(1): ("confirmed", "moved by the user"), event_id(2): ("cancelled", ""),
        new["id"]: ("confirmed", "new")}
    assert calendar.list_changes(changes.next_cursor).appointments == ()

    gcal.expire_sync_tokens(sandbox.state, USER)
    with pytest.raises(CursorExpired):
        calendar.list_changes(changes.next_cursor)


def test_an_event_the_loader_rejects_is_reported_and_the_rest_listed(sandbox, calendar):
    calendar.create_event(appointment())
    at_nine = {"dateTime": "2026-05-04T09:00:00Z"}
    # Google takes a zero-length event; our model wants end after start.
    empty = gcal.seed_event(sandbox.state, USER, {"summary": "empty", "start": at_nine,
                                                  "end": at_nine})

    changes = calendar.list_changes(None)

    assert [a.event_id for a in changes.appointments] == [event_id()]
    [(rejected_id, reason)] = changes.rejected
    assert rejected_id == empty["id"] and "is not after its start" in reason


# --- errors, tokens, request ids -------------------------------------------------------------

RATE_LIMIT_403 = {"error": {"code": 403, "message": "Rate Limit Exceeded", "errors": [
    {"domain": "usageLimits", "reason": "userRateLimitExceeded", "message": "Rate Limit"}]}}


@pytest.mark.parametrize("status, body, retry_after, error", [
    (429, None, "7", RateLimited),
    (403, RATE_LIMIT_403, None, RateLimited),
    (503, None, None, Transient),
])
def test_rate_limits_and_outages_surface_as_our_errors(sandbox, calendar, status, body,
                                                       retry_after, error):
    headers = {"Retry-After": retry_after} if retry_after else {}
    sandbox.state.faults.add(FaultRule(kind="status", provider="google", status=status,
                                       body=body, headers=headers))

    with pytest.raises(Transient) as caught:
        calendar.list_changes(None)

    assert type(caught.value) is error
    if retry_after:
        assert caught.value.retry_after == float(retry_after)


def test_an_expired_access_token_is_refreshed_once_transparently(sandbox, calendar):
    calendar.create_event(appointment())
    assert oauth.expire_access_tokens(sandbox.state, "google", USER) == 1

    assert calendar.get_event(event_id()).title == "Intro call"

    assert [c["status"] for c in calls(sandbox, "GET")] == [401, 200]
    assert len(oauth.refresh_requests(sandbox.state, "google")) == 1


def test_every_call_carries_the_request_id(sandbox, calendar):
    with log_context(request_id="req-google-adapter"):
        calendar.create_event(appointment())
        calendar.list_changes(None)

    logged = sandbox.state.log.entries("google", path=r"^/calendar/")
    assert len(logged) == 2
    assert {header(c, "X-Request-ID") for c in logged} == {"req-google-adapter"}


# --- push channels ---------------------------------------------------------------------------


def test_watch_then_stop_twice(sandbox, calendar):
    with RecordingServer() as receiver:
        channel = calendar.watch("channel-1", f"{receiver.url}/google/push", "s3cret",
                                 ttl_seconds=3600)
        sandbox.state.webhooks.wait_idle(timeout=5)

    in_an_hour = datetime.now(timezone.utc) + timedelta(hours=1)
    assert channel.channel_id == "channel-1" and channel.resource_id
    assert abs(channel.expires_at - in_an_hour) < timedelta(seconds=30)
    [sync] = receiver.requests
    assert header(sync, "X-Goog-Channel-Token") == "s3cret"
    assert header(sync, "X-Goog-Resource-State") == "sync"

    calendar.stop_watch(channel.channel_id, channel.resource_id)
    calendar.stop_watch(channel.channel_id, channel.resource_id)  # 404: gone already

    assert [c["status"] for c in calls(sandbox, "POST", r"/channels/stop$")] == [204, 404]
    assert [c["stopped"] for c in gcal.channels(sandbox.state, USER)] == [True]


def test_watch_reports_the_expiry_google_granted(sandbox, calendar):
    with RecordingServer() as receiver:
        channel = calendar.watch("channel-2", receiver.url, "t", ttl_seconds=30 * 24 * 3600)
        sandbox.state.webhooks.wait_idle(timeout=5)

    in_a_week = datetime.now(timezone.utc) + timedelta(days=7)
    assert abs(channel.expires_at - in_a_week) < timedelta(seconds=30)
