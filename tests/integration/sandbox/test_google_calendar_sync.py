"""Google Calendar emulator, events.list: paging, sync tokens and filters as Google has them."""
from __future__ import annotations

import pytest
import requests

from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox.google_calendar_schema import schema_errors

ALICE = "alice@example.com"


def timed(day: int, **extra) -> dict:
    return {"start": {"dateTime": f"2026-04-{day:02d}T09:00:00Z"},
            "end": {"dateTime": f"2026-04-{day:02d}T10:00:00Z"}, **extra}


@pytest.fixture
def api(sandbox):
    base = f"{sandbox.urls['google_api']}/calendars/primary/events"
    headers = gcal.bearer_headers(sandbox.state, ALICE)

    def call(method: str = "GET", path: str = "", body=None, **params):
        resp = requests.request(method, base + path, json=body, params=params,
                                headers=headers, timeout=5)
        if resp.status_code == 200 and method == "GET" and not path:
            assert schema_errors(resp.json(), "Events") == []
        return resp
    return call


def list_all(api, **params) -> tuple[list[dict], list[dict]]:
    """Follow nextPageToken to the end: (items, pages)."""
    pages = [api(**params).json()]
    while "nextPageToken" in pages[-1]:
        pages.append(api(**{**params, "pageToken": pages[-1]["nextPageToken"]}).json())
    return [item for page in pages for item in page["items"]], pages


def test_next_sync_token_comes_only_on_the_last_page(api):
    for day in range(1, 6):
        api("POST", body=timed(day, id=f"page{day:05d}"))
    items, pages = list_all(api, maxResults=2)
    assert len(pages) == 3
    assert all("nextPageToken" in p and "nextSyncToken" not in p for p in pages[:-1])
    assert "nextSyncToken" in pages[-1] and "nextPageToken" not in pages[-1]
    assert sorted(i["id"] for i in items) == [f"page{d:05d}" for d in range(1, 6)]


def test_an_incremental_list_returns_changes_and_bare_deletions(api):
    api("POST", body=timed(1, id="keep00001"))
    api("POST", body=timed(2, id="edit00001"))
    api("POST", body=timed(3, id="drop00001"))
    token = list_all(api)[1][-1]["nextSyncToken"]
    api("PATCH", "/edit00001", {"summary": "changed"})
    api("DELETE", "/drop00001")
    api("POST", body=timed(4, id="neu000001"))
    page = api(syncToken=token).json()
    by_id = {item["id"]: item for item in page["items"]}
    assert set(by_id) == {"edit00001", "drop00001", "neu000001"}
    assert by_id["edit00001"]["summary"] == "changed"
    # A deletion only guarantees its id; the emulator sends no more than that.
    assert set(by_id["drop00001"]) == {"kind", "etag", "id", "status"}
    assert by_id["drop00001"]["status"] == "cancelled"
    quiet = api(syncToken=page["nextSyncToken"]).json()
    assert quiet["items"] == [] and quiet["nextSyncToken"]


def test_a_full_list_leaves_out_deleted_events_unless_asked(api):
    api("POST", body=timed(1, id="live00001"))
    api("POST", body=timed(2, id="dead00001"))
    api("DELETE", "/dead00001")
    assert [i["id"] for i in list_all(api)[0]] == ["live00001"]
    shown = {i["id"]: i["status"] for i in list_all(api, showDeleted="true")[0]}
    assert shown == {"live00001": "confirmed", "dead00001": "cancelled"}


def test_deleted_events_can_leave_pages_short_while_more_follow(api):
    for day in range(1, 5):
        api("POST", body=timed(day, id=f"short{day:04d}"))
    api("DELETE", "/short0001")
    api("DELETE", "/short0002")
    first = api(maxResults=2).json()
    assert first["items"] == [] and "nextPageToken" in first  # as Google's pages may be
    assert len(list_all(api, maxResults=2)[0]) == 2


@pytest.mark.parametrize("name, value", [
    ("iCalUID", "x@google.com"), ("orderBy", "updated"), ("privateExtendedProperty", "a=1"),
    ("q", "lunch"), ("sharedExtendedProperty", "a=1"), ("timeMin", "2026-01-01T00:00:00Z"),
    ("timeMax", "2026-01-01T00:00:00Z"), ("updatedMin", "2026-01-01T00:00:00Z")])
def test_parameters_that_may_not_go_with_a_sync_token_are_400(api, name, value):
    token = api().json()["nextSyncToken"]
    resp = api(syncToken=token, **{name: value})
    assert resp.status_code == 400
    assert resp.json()["error"]["errors"][0]["location"] == name


def test_an_expired_sync_token_is_410_full_sync_required(sandbox, api):
    token = api().json()["nextSyncToken"]
    assert api(syncToken=token).status_code == 200
    control = f"{sandbox.origin('google')}/_sandbox/google/users/{ALICE}/calendars/primary"
    assert requests.post(f"{control}/sync-tokens/expire", timeout=5).status_code == 200
    gone = api(syncToken=token)
    assert gone.status_code == 410
    assert gone.json() == {"error": {
        "errors": [{"domain": "calendar", "reason": "fullSyncRequired",
                    "message": "Sync token is no longer valid, a full sync is required.",
                    "locationType": "parameter", "location": "syncToken"}],
        "code": 410, "message": "Sync token is no longer valid, a full sync is required."}}
    assert api(syncToken=api().json()["nextSyncToken"]).status_code == 200  # resync works


def test_sync_tokens_can_age_out_on_the_sandbox_clock(sandbox):
    control = f"{sandbox.origin('google')}/_sandbox/google/sync-token-lifetime"
    requests.put(control, json={"seconds": 600}, timeout=5)
    headers = gcal.bearer_headers(sandbox.state, ALICE)
    url = f"{sandbox.urls['google_api']}/calendars/primary/events"
    token = requests.get(url, headers=headers, timeout=5).json()["nextSyncToken"]
    sandbox.state.clock.advance(601)
    headers = gcal.bearer_headers(sandbox.state, ALICE)  # the old access token died too
    resp = requests.get(url, params={"syncToken": token}, headers=headers, timeout=5)
    assert resp.status_code == 410


def test_a_garbled_sync_token_is_400(api):
    resp = api(syncToken="not-a-token")
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Invalid sync token value."


def test_private_extended_property_filters_are_anded(api):
    api("POST", body=timed(1, id="both00001",
                            extendedProperties={"private": {"crm": "sf", "link": "7"}}))
    api("POST", body=timed(2, id="one000001", extendedProperties={"private": {"crm": "sf"}}))
    api("POST", body=timed(3, id="shrd00001", extendedProperties={"shared": {"crm": "sf"}}))
    one = list_all(api, privateExtendedProperty="crm=sf")[0]
    assert sorted(i["id"] for i in one) == ["both00001", "one000001"]
    both = list_all(api, privateExtendedProperty=["crm=sf", "link=7"])[0]
    assert [i["id"] for i in both] == ["both00001"]


def test_updated_min_returns_deletions_too(sandbox, api):
    api("POST", body=timed(1, id="old000001"))
    sandbox.state.clock.advance(60)
    since = sandbox.state.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    api("POST", body=timed(2, id="fresh0001"))
    api("DELETE", "/old000001")
    items = list_all(api, updatedMin=since)[0]
    assert {i["id"]: i["status"] for i in items} == {"fresh0001": "confirmed",
                                                    "old000001": "cancelled"}


def test_time_window_and_text_search_narrow_a_full_list(api):
    api("POST", body=timed(1, id="first0001", summary="Board review"))
    api("POST", body=timed(9, id="later0001", summary="Lunch"))
    window = list_all(api, timeMin="2026-04-05T00:00:00Z", timeMax="2026-04-30T00:00:00Z")[0]
    assert [i["id"] for i in window] == ["later0001"]
    assert [i["id"] for i in list_all(api, q="board")[0]] == ["first0001"]
    backwards = api(timeMin="2026-04-30T00:00:00Z", timeMax="2026-04-05T00:00:00Z")
    assert backwards.status_code == 400


def test_page_size_is_capped_and_checked(api):
    assert api(maxResults=100000).status_code == 200
    assert api(maxResults=0).status_code == 400
    assert api(orderBy="startTime").status_code == 400  # needs singleEvents=true
    assert api(orderBy="startTime", singleEvents="true").status_code == 200
