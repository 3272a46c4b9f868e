"""Microsoft Graph emulator, calendarView delta: rounds, pages, changes, removals, 410s.

The flow of learn.microsoft.com/graph/delta-query-events over real HTTP.
"""
from __future__ import annotations

import pytest

from sync_workers.sandbox import microsoft_graph as graph

from .test_microsoft_graph_support import ALICE, Api, path_of, timed

WINDOW = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-04-01T00:00:00Z"}


@pytest.fixture
def alice(sandbox):
    return Api(sandbox, ALICE)


def test_a_round_pages_by_maxpagesize_and_ends_with_a_delta_link(alice):
    for n in range(5):
        alice.create({**timed(day=f"2026-03-0{n + 2}"), "subject": f"e{n}"})
    first = alice.call("GET", "/me/calendarView/delta", prefer=["odata.maxpagesize=2"],
                       **WINDOW)
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=2"
    page = first.json()
    assert len(page["value"]) == 2 and "@odata.deltaLink" not in page
    assert "$skiptoken=" in page["@odata.nextLink"]
    assert page["@odata.context"].endswith("/$metadata#Collection(event)")
    assert all(e["@odata.type"] == "#microsoft.graph.event" for e in page["value"])
    items, delta_link, pages = alice.delta_round(page_size=2, **WINDOW)
    assert pages == 3 and [e["subject"] for e in items] == [f"e{n}" for n in range(5)]
    assert path_of(delta_link) == "/v1.0/me/calendarView/delta"
    assert "$deltatoken=" in delta_link and "startDateTime" not in delta_link


def test_the_delta_link_gives_additions_updates_and_deletions_since(alice, sandbox):
    keep = alice.create({**timed(day="2026-03-02"), "subject": "keep"})
    change = alice.create({**timed(day="2026-03-03"), "subject": "change"})
    drop = alice.create({**timed(day="2026-03-04"), "subject": "drop"})
    _, link, _ = alice.delta_round(**WINDOW)
    alice.patch(change["id"], {"subject": "changed"})
    alice.delete(drop["id"])
    graph.seed_event(sandbox.state, ALICE, {**timed(day="2026-03-05"), "subject": "new"})
    items, link2, _ = alice.delta_round(first=link)
    updated = {e["subject"] for e in items if "@removed" not in e}
    assert updated == {"changed", "new"}
    removed = [e for e in items if "@removed" in e]
    assert removed == [{"@odata.type": "#microsoft.graph.event", "id": drop["id"],
                        "@removed": {"reason": "deleted"}}]
    assert keep["id"] not in {e["id"] for e in items}
    again, _, _ = alice.delta_round(first=link2)
    assert again == []


def test_events_moved_out_of_the_window_or_changed_outside_it_come_back_removed(alice):
    inside = alice.create({**timed(day="2026-03-10"), "subject": "inside"})
    outside = alice.create({**timed(day="2026-06-10"), "subject": "outside"})
    _, link, _ = alice.delta_round(**WINDOW)
    alice.patch(inside["id"], timed(day="2026-05-10"))  # leaves the window
    alice.patch(outside["id"], {"subject": "still outside"})
    items, _, _ = alice.delta_round(first=link)
    assert {e["id"] for e in items} == {inside["id"], outside["id"]}
    assert all(e["@removed"] == {"reason": "deleted"} for e in items)


def test_occurrences_in_the_window_are_listed_as_instances_never_the_master(alice):
    daily = {"pattern": {"type": "daily", "interval": 1},
             "range": {"type": "endDate", "startDate": "2026-03-30", "endDate": "2026-04-05"}}
    master = alice.create({**timed(day="2026-03-30"), "recurrence": daily})
    items, link, _ = alice.delta_round(**WINDOW)
    assert [e["type"] for e in items] == ["occurrence", "occurrence"]  # 30th and 31st
    assert {e["seriesMasterId"] for e in items} == {master["id"]}
    alice.delete(items[0]["id"])  # cancel one occurrence
    changes, _, _ = alice.delta_round(first=link)
    assert {"id": items[0]["id"], "@removed": {"reason": "deleted"},
            "@odata.type": "#microsoft.graph.event"} in changes


def test_an_evicted_or_unknown_token_is_410_sync_state_not_found(alice, sandbox):
    alice.create(timed())
    _, link, _ = alice.delta_round(**WINDOW)
    assert graph.expire_delta_tokens(sandbox.state, ALICE) >= 1
    resp = alice.call("GET", link)
    assert resp.status_code == 410
    error = resp.json()["error"]
    assert error["code"].lower() == "syncstatenotfound"
    assert error["message"].startswith("The sync state generation is not found")
    bogus = alice.call("GET", "/me/calendarView/delta", **{"$deltatoken": "nope"})
    assert bogus.status_code == 410


def test_the_oldest_tokens_are_evicted_when_the_cache_is_full(alice, sandbox):
    graph.set_delta_capacity(sandbox.state, 2)
    alice.create(timed())
    _, oldest, _ = alice.delta_round(**WINDOW)
    alice.delta_round(**WINDOW)
    alice.delta_round(**WINDOW)
    assert alice.call("GET", oldest).status_code == 410


def test_a_sync_reset_is_410_resync_required_with_the_initial_query(alice, sandbox):
    alice.create(timed())
    _, link, _ = alice.delta_round(**WINDOW)
    graph.reset_sync_state(sandbox.state, ALICE)
    resp = alice.call("GET", link)
    assert resp.status_code == 410 and resp.json()["error"]["code"] == "resyncRequired"
    location = resp.headers["Location"]
    assert "startDateTime=2026-03-01T00:00:00Z" in location and "deltatoken" not in location
    items, _, _ = alice.delta_round(first=location)
    assert len(items) == 1


def test_delta_refuses_the_query_options_it_does_not_support(alice):
    for option in ("$select", "$expand", "$filter", "$orderby", "$top"):
        resp = alice.call("GET", "/me/calendarView/delta", **WINDOW, **{option: "subject"})
        assert resp.status_code == 400, option
    resp = alice.call("GET", "/me/calendarView/delta")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "ErrorInvalidParameter"


def test_lower_case_window_parameters_as_in_the_docs_example(alice):
    alice.create(timed())
    resp = alice.call("GET", "/me/calendarView/delta", startdatetime="2026-03-01T00:00:00Z",
                      enddatetime="2026-03-30T00:00:00Z")
    assert resp.status_code == 200 and len(resp.json()["value"]) == 1


def test_regular_ids_in_delta_change_on_a_move_immutable_ids_do_not(sandbox):
    regular, immutable = Api(sandbox, ALICE), Api(sandbox, ALICE, immutable=True)
    event = regular.create(timed())
    _, rest_link, _ = regular.delta_round(**WINDOW)
    _, stable_link, _ = immutable.delta_round(**WINDOW)
    moved = graph.user_move_event(sandbox.state, ALICE, event["id"])
    rest_items, _, _ = regular.delta_round(first=rest_link)
    assert {"@odata.type": "#microsoft.graph.event", "id": event["id"],
            "@removed": {"reason": "deleted"}} in rest_items
    assert moved["id"] in {e["id"] for e in rest_items if "@removed" not in e}
    stable_items, _, _ = immutable.delta_round(first=stable_link)
    assert [e["id"] for e in stable_items] == [moved["immutableId"]]
    assert "@removed" not in stable_items[0]


def test_delta_pages_use_the_preferred_time_zone(alice):
    alice.create(timed(start="17:00", end="18:00"))
    resp = alice.call("GET", "/me/calendarView/delta", prefer=[
        'outlook.timezone="Pacific Standard Time"'], **WINDOW)
    start = resp.json()["value"][0]["start"]
    assert start == {"dateTime": "2026-03-02T09:00:00.0000000",
                     "timeZone": "Pacific Standard Time"}


def test_the_control_routes_expire_and_reset_delta_tokens(alice, sandbox):
    import requests
    control = f"{sandbox.origin('microsoft')}/_sandbox/microsoft/users/{ALICE}/delta"
    alice.create(timed())
    _, link, _ = alice.delta_round(**WINDOW)
    assert requests.post(f"{control}/reset", timeout=5).status_code == 200
    assert alice.call("GET", link).json()["error"]["code"] == "resyncRequired"
    assert requests.post(f"{control}/expire", timeout=5).json()["expired"] >= 1
    assert alice.call("GET", link).status_code == 410
