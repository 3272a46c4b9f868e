"""Microsoft Graph emulator: one meeting in several mailboxes, and per-mailbox throttling.

Two sales reps at one meeting, over real HTTP as each rep's client sees it: the attendee's
copy has its own id, the organizer's iCalUId and isOrganizer false; answers reach the
organizer's attendee list. Then Outlook's 4-concurrent-requests limit per app and mailbox
(learn.microsoft.com/graph/throttling-limits).
"""
from __future__ import annotations

import threading

import pytest
import requests

from sync_workers.sandbox import microsoft_graph as graph
from sync_workers.sandbox.core import Latency

from .test_microsoft_graph_support import ALICE, BOB, CAROL, Api, timed

WINDOW = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-04-01T00:00:00Z"}


@pytest.fixture
def reps(sandbox):
    for subject in (ALICE, BOB):
        graph.create_mailbox(sandbox.state, subject)
    return Api(sandbox, ALICE), Api(sandbox, BOB)


def invite(alice: Api, *attendees: str, **extra) -> dict:
    return alice.create({**timed(), "subject": "Pipeline review", **extra,
                         "attendees": [{"emailAddress": {"address": a}, "type": "required"}
                                       for a in attendees]})


def bobs_copy(bob: Api) -> dict:
    copies = bob.view(WINDOW["startDateTime"], WINDOW["endDateTime"]).json()["value"]
    assert len(copies) == 1
    return copies[0]


def test_the_attendees_copy_has_its_own_id_and_the_same_ical_uid(reps):
    alice, bob = reps
    meeting = invite(alice, BOB, "outsider@other.org")
    copy = bobs_copy(bob)
    assert copy["id"] != meeting["id"] and copy["iCalUId"] == meeting["iCalUId"]
    assert copy["isOrganizer"] is False and meeting["isOrganizer"] is True
    assert copy["organizer"] == {"emailAddress": {"name": "Alice", "address": ALICE}}
    assert copy["responseStatus"]["response"] == "notResponded"
    assert copy["subject"] == "Pipeline review"
    assert bob.get(meeting["id"]).status_code == 404  # the organizer's id is not Bob's
    found = bob.call("GET", "/me/events",
                     **{"$filter": f"iCalUId eq '{meeting['iCalUId']}'"}).json()["value"]
    assert [e["id"] for e in found] == [copy["id"]]


def test_accepting_updates_the_organizers_attendee_status(reps, sandbox):
    alice, bob = reps
    meeting = invite(alice, BOB)
    copy = bobs_copy(bob)
    resp = bob.call("POST", f"/me/events/{copy['id']}/accept",
                    {"comment": "See you", "sendResponse": True})
    assert resp.status_code == 202 and resp.content == b""
    assert bob.get(copy["id"]).json()["responseStatus"]["response"] == "accepted"
    organizer = alice.get(meeting["id"]).json()
    status = organizer["attendees"][0]["status"]
    assert status["response"] == "accepted" and status["time"] != "0001-01-01T00:00:00Z"
    assert organizer["changeKey"] != meeting["changeKey"]
    own = alice.call("POST", f"/me/events/{meeting['id']}/accept", {})
    assert own.status_code == 400  # the organizer cannot answer their own meeting


def test_declining_answers_the_organizer_and_takes_the_copy_off_the_calendar(reps):
    alice, bob = reps
    meeting = invite(alice, BOB)
    copy = bobs_copy(bob)
    assert bob.call("POST", f"/me/events/{copy['id']}/decline", {}).status_code == 202
    assert alice.get(meeting["id"]).json()["attendees"][0]["status"]["response"] == "declined"
    assert bob.get(copy["id"]).status_code == 404


def test_a_silent_answer_leaves_the_organizer_unaware(reps):
    alice, bob = reps
    meeting = invite(alice, BOB)
    copy = bobs_copy(bob)
    bob.call("POST", f"/me/events/{copy['id']}/tentativelyAccept", {"sendResponse": False})
    assert bob.get(copy["id"]).json()["responseStatus"]["response"] == "tentativelyAccepted"
    assert alice.get(meeting["id"]).json()["attendees"][0]["status"]["response"] == "none"


def test_the_organizers_changes_reach_the_copy_and_a_cancellation_marks_it(reps, sandbox):
    alice, bob = reps
    meeting = invite(alice, BOB)
    copy = bobs_copy(bob)
    alice.patch(meeting["id"], {"subject": "Moved review", **timed(start="11:00", end="12:00")})
    moved = bob.get(copy["id"]).json()
    assert moved["subject"] == "Moved review"
    assert moved["start"]["dateTime"].startswith("2026-03-02T11:00")
    assert moved["changeKey"] != copy["changeKey"]
    alice.delete(meeting["id"])
    cancelled = bob.get(copy["id"]).json()
    assert cancelled["isCancelled"] is True and cancelled["subject"].startswith("Canceled: ")


def test_an_attendee_taken_off_the_meeting_gets_a_cancellation(reps, sandbox):
    alice, bob = reps
    graph.create_mailbox(sandbox.state, CAROL)
    meeting = invite(alice, BOB, CAROL)
    copy = bobs_copy(bob)
    alice.patch(meeting["id"], {"attendees": [{"emailAddress": {"address": CAROL}}]})
    assert bob.get(copy["id"]).json()["isCancelled"] is True
    carol = Api(sandbox, CAROL)
    assert len(carol.view(WINDOW["startDateTime"], WINDOW["endDateTime"]).json()["value"]) == 1


def test_the_attendees_delta_sees_the_invitation_and_its_updates(reps, sandbox):
    alice, bob = reps
    _, link, _ = bob.delta_round(**WINDOW)
    meeting = invite(alice, BOB)
    items, link, _ = bob.delta_round(first=link)
    assert [e["iCalUId"] for e in items] == [meeting["iCalUId"]]
    graph.user_edit_event(sandbox.state, ALICE, meeting["id"], {"subject": "Renamed"})
    items, _, _ = bob.delta_round(first=link)
    assert [e["subject"] for e in items] == ["Renamed"]


def test_a_recurring_meeting_shares_per_occurrence_ical_uids(reps):
    alice, bob = reps
    weekly = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
              "range": {"type": "numbered", "startDate": "2026-03-02",
                        "numberOfOccurrences": 2}}
    invite(alice, BOB, recurrence=weekly)
    mine = alice.view(WINDOW["startDateTime"], WINDOW["endDateTime"]).json()["value"]
    theirs = bob.view(WINDOW["startDateTime"], WINDOW["endDateTime"]).json()["value"]
    assert [e["iCalUId"] for e in mine] == [e["iCalUId"] for e in theirs]
    assert {e["id"] for e in mine}.isdisjoint({e["id"] for e in theirs})


# --- throttling -------------------------------------------------------------------------


def test_more_than_four_concurrent_requests_per_mailbox_get_429(sandbox):
    sandbox.state.set_latency("microsoft", Latency(1.0))
    try:
        alice = Api(sandbox, ALICE)
        url = f"{alice.base}/me/events"
        results: list[requests.Response] = []
        lock = threading.Lock()

        def call():
            resp = requests.get(url, headers=alice.headers, timeout=10)
            with lock:
                results.append(resp)
        threads = [threading.Thread(target=call) for _ in range(7)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        throttled = [r for r in results if r.status_code == 429]
        assert len([r for r in results if r.status_code == 200]) == 4
        assert len(throttled) == 3
        error = throttled[0].json()["error"]
        assert error["code"] == "ApplicationThrottled"
        assert error["message"] == "Application is over its MailboxConcurrency limit."
        assert int(throttled[0].headers["Retry-After"]) >= 1
        # Another mailbox has its own budget.
        bob = Api(sandbox, BOB)
        assert requests.get(f"{bob.base}/me/events", headers=bob.headers,
                            timeout=10).status_code == 200
    finally:
        sandbox.state.set_latency("microsoft", Latency())


def test_the_request_budget_per_window_answers_429_with_retry_after(sandbox):
    graph.set_throttle(sandbox.state, requests=3, window_s=60)
    alice = Api(sandbox, ALICE)
    codes = [alice.call("GET", "/me/events").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = alice.call("GET", "/me/events")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    sandbox.state.clock.advance(61)
    assert alice.call("GET", "/me/events").status_code == 200
