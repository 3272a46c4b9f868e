"""Google's own Python client, built from Google's discovery document, against the emulator.

If the emulator's paths, verbs, bodies or status codes drifted from the real API, this
client (which knows nothing of the sandbox) would break here first.
"""
from __future__ import annotations

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox.google_calendar_schema import discovery_document

ALICE = "alice@example.com"
TIMED = {"start": {"dateTime": "2026-03-02T09:00:00Z"},
         "end": {"dateTime": "2026-03-02T10:00:00Z"}}


@pytest.fixture
def events(sandbox):
    return calendar_service(sandbox).events()


def calendar_service(sandbox):
    token = gcal.bearer_headers(sandbox.state, ALICE)["Authorization"].split(" ", 1)[1]
    return build_from_document(
        discovery_document(), credentials=Credentials(token),
        client_options={"api_endpoint": sandbox.urls["google_api"] + "/"})


def http_error(call) -> tuple[int, str]:
    with pytest.raises(HttpError) as caught:
        call.execute()
    return caught.value.resp.status, caught.value.error_details[0]["reason"]


def test_insert_get_patch_and_delete(events):
    created = events.insert(calendarId="primary", body={**TIMED, "id": "client001"},
                            sendUpdates="none").execute()
    assert created["id"] == "client001"
    patched = events.patch(calendarId="primary", eventId="client001",
                           body={"summary": "patched"}).execute()
    assert patched["summary"] == "patched" and patched["etag"] != created["etag"]
    assert events.get(calendarId="primary", eventId="client001").execute()["summary"] == "patched"
    assert events.delete(calendarId="primary", eventId="client001").execute() == ""
    assert http_error(events.delete(calendarId="primary", eventId="client001")) == (410, "deleted")


def test_reusing_an_id_raises_409(events):
    events.insert(calendarId="primary", body={**TIMED, "id": "client002"}).execute()
    again = events.insert(calendarId="primary", body={**TIMED, "id": "client002"})
    assert http_error(again) == (409, "duplicate")


def test_a_stale_if_match_raises_412(events):
    stale = events.insert(calendarId="primary", body={**TIMED, "id": "client003"}).execute()
    events.patch(calendarId="primary", eventId="client003", body={"summary": "x"}).execute()
    request = events.patch(calendarId="primary", eventId="client003", body={"summary": "y"})
    request.headers["If-Match"] = stale["etag"]
    assert http_error(request) == (412, "conditionNotMet")


def test_full_then_incremental_sync_then_410(sandbox, events):
    for n in range(3):
        events.insert(calendarId="primary", body={**TIMED, "id": f"client1{n:02d}"}).execute()
    request, seen, page = events.list(calendarId="primary", maxResults=2), [], None
    while request is not None:
        page = request.execute()
        seen += [item["id"] for item in page["items"]]
        request = events.list_next(request, page)
    assert sorted(seen) == ["client100", "client101", "client102"]
    events.delete(calendarId="primary", eventId="client101").execute()
    changes = events.list(calendarId="primary", syncToken=page["nextSyncToken"]).execute()
    assert [(i["id"], i["status"]) for i in changes["items"]] == [("client101", "cancelled")]
    gcal.expire_sync_tokens(sandbox.state, ALICE)
    stale = events.list(calendarId="primary", syncToken=changes["nextSyncToken"])
    assert http_error(stale) == (410, "fullSyncRequired")


def test_watch_and_stop_a_channel(sandbox):
    service = calendar_service(sandbox)
    channel = service.events().watch(calendarId="primary", body={
        "id": "client-chan", "type": "web_hook", "address": "https://127.0.0.1:9/hook"}).execute()
    assert channel["kind"] == "api#channel"
    stop = {"id": channel["id"], "resourceId": channel["resourceId"]}
    assert service.channels().stop(body=stop).execute() == ""
    assert gcal.channels(sandbox.state)[0]["stopped"] is True
