"""Google Calendar emulator: one meeting in several users' calendars.

Two sales reps at one meeting, over real HTTP as each rep's client would see it: a
Google-organized meeting puts a copy with the organizer's event id and iCalUID into every
invited sandbox user's primary calendar; an invitation from outside Google arrives as a
separate import per calendar (own id, one iCalUID). Every event and list answer is
checked against Google's discovery document.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox.google_calendar_schema import schema_errors

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
OUTSIDE = "olga@outlook.example"
TIMED = {"start": {"dateTime": "2026-03-02T09:00:00Z"},
         "end": {"dateTime": "2026-03-02T10:00:00Z"}}


class Api:
    """Calendar v3 over HTTP as one user; every event and list answer is schema-checked."""

    def __init__(self, sandbox, subject: str) -> None:
        self.base = f"{sandbox.urls['google_api']}/calendars/primary/events"
        self.headers = gcal.bearer_headers(sandbox.state, subject)

    def call(self, method: str, path: str = "", body=None, headers=None, **params):
        resp = requests.request(method, self.base + path, json=body, params=params,
                                headers={**self.headers, **(headers or {})}, timeout=5)
        if resp.status_code == 200 and not path.endswith("/watch"):
            kind = "Events" if method == "GET" and not path else "Event"
            assert schema_errors(resp.json(), kind) == [], resp.text
        return resp

    def insert(self, body):
        resp = self.call("POST", "", body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def get(self, event_id: str) -> dict:
        resp = self.call("GET", f"/{event_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def patch(self, event_id: str, body, **kw):
        return self.call("PATCH", f"/{event_id}", body, **kw)

    def full_sync(self) -> tuple[list[dict], str]:
        page = self.call("GET").json()
        return page["items"], page["nextSyncToken"]

    def changes(self, token: str) -> tuple[list[dict], str]:
        page = self.call("GET", syncToken=token).json()
        return page["items"], page["nextSyncToken"]


class Receiver:
    """A webhook endpoint that records the push notifications it gets."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def _app(self, environ, start_response):
        with self._lock:
            self.received.append(dict(Request(environ).headers))
        return Response(status=200)(environ, start_response)

    def states(self, count: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return [h["X-Goog-Resource-State"] for h in self.received]
            time.sleep(0.01)
        raise AssertionError(f"{len(self.received)} notifications, wanted {count}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def alice(sandbox):
    return Api(sandbox, ALICE)


@pytest.fixture
def bob(sandbox):
    return Api(sandbox, BOB)


def control(sandbox, path: str) -> str:
    return f"{sandbox.origin('google')}/_sandbox/google{path}"


def reason_of(resp) -> str:
    return resp.json()["error"]["errors"][0]["reason"]


def entry(event: dict, email: str) -> dict:
    return next(a for a in event["attendees"] if a["email"] == email)


def meeting(alice, bob, **extra) -> tuple[dict, str]:
    """Bob's client has synced once (so Bob has a calendar and a sync token); then Alice
    invites Bob and an outside guest. Returns Alice's event and Bob's sync token."""
    assert bob.full_sync()[0] == []
    _, token = bob.full_sync()
    event = alice.insert({**TIMED, "summary": "Pipeline review", **extra,
                          "attendees": [{"email": ALICE, "responseStatus": "accepted"},
                                        {"email": BOB}, {"email": "guest@client.example"}]})
    return event, token


# --- Google-organized: one id in every calendar ------------------------------------------


def test_an_invited_user_gets_a_copy_with_the_same_id_and_ical_uid(alice, bob):
    event, token = meeting(alice, bob)
    copy = bob.get(event["id"])
    assert copy["id"] == event["id"] and copy["iCalUID"] == event["iCalUID"]
    assert copy["summary"] == "Pipeline review" and copy["start"] == event["start"]
    assert copy["created"] == event["created"] and copy["sequence"] == event["sequence"]
    # self/organizer are per copy: the organizer's flags in Alice's copy ...
    assert event["organizer"] == event["creator"] == {"email": ALICE, "self": True}
    assert entry(event, ALICE) == {"email": ALICE, "responseStatus": "accepted",
                                   "organizer": True, "self": True}
    assert entry(event, BOB) == {"email": BOB, "responseStatus": "needsAction"}
    # ... and Bob's own entry in his.
    assert copy["organizer"] == copy["creator"] == {"email": ALICE}
    assert entry(copy, ALICE) == {"email": ALICE, "responseStatus": "accepted",
                                  "organizer": True}
    assert entry(copy, BOB) == {"email": BOB, "responseStatus": "needsAction", "self": True}
    assert copy["etag"] != event["etag"] and copy["htmlLink"] != event["htmlLink"]
    items, _ = bob.changes(token)
    assert [i["id"] for i in items] == [event["id"]]


def test_only_sandbox_users_with_a_calendar_get_copies(sandbox, alice):
    event = alice.insert({**TIMED, "attendees": [{"email": CAROL}]})
    assert Api(sandbox, CAROL).call("GET", f"/{event['id']}").status_code == 404
    assert alice.get(event["id"])["organizer"] == {"email": ALICE, "self": True}


def test_an_organizers_change_reaches_the_copy_by_sync_token_and_push(sandbox, alice, bob,
                                                                      receiver):
    event, token = meeting(alice, bob)
    items, token = bob.changes(token)
    before = items[0]
    resp = bob.call("POST", "/watch", {"id": "bob-chan", "type": "web_hook",
                                       "address": receiver.url})
    assert resp.status_code == 200 and receiver.states(1) == ["sync"]

    moved = {"summary": "Pipeline review (moved)", "location": "Room 2",
             "description": "<b>agenda</b>",
             "start": {"dateTime": "2026-03-02T14:00:00Z"},
             "end": {"dateTime": "2026-03-02T15:00:00Z"}}
    assert alice.patch(event["id"], moved).status_code == 200
    assert receiver.states(2) == ["sync", "exists"]
    items, token = bob.changes(token)
    assert len(items) == 1
    changed = items[0]
    assert changed["summary"] == "Pipeline review (moved)" and changed["location"] == "Room 2"
    assert changed["description"] == "<b>agenda</b>"
    assert changed["start"] == {"dateTime": "2026-03-02T15:00:00+01:00"}
    assert changed["sequence"] == before["sequence"] + 1
    assert changed["etag"] != before["etag"] and changed["updated"] >= before["updated"]
    assert entry(changed, BOB)["self"] is True

    # The organizer cancels: every copy shows it as a deletion.
    assert alice.call("DELETE", f"/{event['id']}").status_code == 204
    assert receiver.states(3) == ["sync", "exists", "exists"]
    items, token = bob.changes(token)
    assert [(i["id"], i["status"]) for i in items] == [(event["id"], "cancelled")]
    assert bob.get(event["id"])["status"] == "cancelled"
    assert bob.call("GET").json()["items"] == []  # a full list hides it


def test_a_change_of_the_guest_list_reaches_every_copy(sandbox, alice, bob):
    event, token = meeting(alice, bob)
    _, token = bob.changes(token)
    added = [*event["attendees"], {"email": "new@client.example"}]
    assert alice.patch(event["id"], {"attendees": added}).status_code == 200
    items, token = bob.changes(token)
    assert {a["email"] for a in items[0]["attendees"]} >= {"new@client.example", BOB}
    # Taking Bob off the list takes the meeting out of his calendar.
    rest = [a for a in added if a["email"] != BOB]
    assert alice.patch(event["id"], {"attendees": rest}).status_code == 200
    items, _ = bob.changes(token)
    assert [i["status"] for i in items] == ["cancelled"]


def test_a_guest_declining_is_seen_in_the_organizers_copy(sandbox, alice, bob):
    event, _ = meeting(alice, bob)
    _, alice_token = alice.full_sync()
    url = control(sandbox, f"/users/{BOB}/calendars/primary/events/{event['id']}/response")
    answered = requests.post(url, json={"responseStatus": "declined"}, timeout=5)
    assert answered.status_code == 200, answered.text
    assert entry(answered.json(), BOB) == {"email": BOB, "responseStatus": "declined",
                                           "self": True}
    assert entry(alice.get(event["id"]), BOB)["responseStatus"] == "declined"
    items, alice_token = alice.changes(alice_token)
    assert [entry(i, BOB)["responseStatus"] for i in items] == ["declined"]
    # An answer is the guest's: the organizer re-sending the list does not reset it.
    alice.patch(event["id"], {"attendees": [{"email": ALICE}, {"email": BOB},
                                            {"email": "guest@client.example"}]})
    assert entry(bob.get(event["id"]), BOB)["responseStatus"] == "declined"
    # Through the API the guest answers by writing their own attendee entry.
    mine = bob.get(event["id"])
    attendees = [{**a, "responseStatus": "accepted"} if a["email"] == BOB else a
                 for a in mine["attendees"]]
    assert bob.patch(event["id"], {"attendees": attendees}).status_code == 200
    assert entry(alice.get(event["id"]), BOB)["responseStatus"] == "accepted"
    assert requests.post(url, json={"responseStatus": "maybe"}, timeout=5).status_code == 400


def test_private_extended_properties_stay_per_copy(alice, bob):
    event, _ = meeting(alice, bob, extendedProperties={"private": {"crm": "alice-1"},
                                                       "shared": {"deal": "D-7"}})
    copy = bob.get(event["id"])
    assert copy["extendedProperties"] == {"shared": {"deal": "D-7"}}
    resp = bob.patch(event["id"], {"extendedProperties": {"private": {"crm": "bob-9"}},
                                   "colorId": "4"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["extendedProperties"] == {"private": {"crm": "bob-9"},
                                                 "shared": {"deal": "D-7"}}
    mine = alice.get(event["id"])
    assert mine["extendedProperties"] == {"private": {"crm": "alice-1"},
                                          "shared": {"deal": "D-7"}}
    assert "colorId" not in mine
    found = bob.call("GET", privateExtendedProperty="crm=bob-9").json()["items"]
    assert [i["id"] for i in found] == [event["id"]]
    assert alice.call("GET", privateExtendedProperty="crm=bob-9").json()["items"] == []
    # The organizer's next change keeps what is Bob's own.
    alice.patch(event["id"], {"summary": "Renamed"})
    copy = bob.get(event["id"])
    assert copy["summary"] == "Renamed" and copy["colorId"] == "4"
    assert copy["extendedProperties"]["private"] == {"crm": "bob-9"}


def test_a_guest_may_not_change_what_is_the_organizers(alice, bob):
    event, _ = meeting(alice, bob)
    copy = bob.get(event["id"])
    for body in ({"extendedProperties": {"shared": {"deal": "mine"}}},
                 {"guestsCanModify": True},
                 {"summary": "Bob's title"},
                 {"start": {"dateTime": "2026-03-02T08:00:00Z"}}):
        resp = bob.patch(event["id"], body)
        assert resp.status_code == 403 and reason_of(resp) == "forbiddenForNonOrganizer", body
    unchanged = bob.get(event["id"])
    assert unchanged["etag"] == copy["etag"] and unchanged["summary"] == "Pipeline review"
    # A stale etag on the copy is still 412, as for any write.
    stale = bob.patch(event["id"], {"colorId": "2"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412


def test_with_guests_can_modify_a_guests_change_reaches_everyone(alice, bob):
    event, _ = meeting(alice, bob, guestsCanModify=True)
    resp = bob.patch(event["id"], {"summary": "Moved by Bob", "location": "Café"})
    assert resp.status_code == 200, resp.text
    mine = alice.get(event["id"])
    assert (mine["summary"], mine["location"]) == ("Moved by Bob", "Café")
    assert mine["organizer"] == {"email": ALICE, "self": True}
    assert bob.patch(event["id"], {"guestsCanModify": False}).status_code == 403


def test_a_guest_deleting_removes_only_their_copy(alice, bob):
    event, token = meeting(alice, bob)
    _, token = bob.changes(token)
    assert bob.call("DELETE", f"/{event['id']}").status_code == 204
    items, _ = bob.changes(token)
    assert [i["status"] for i in items] == ["cancelled"]
    gone = bob.get(event["id"])
    assert gone["status"] == "cancelled" and gone["summary"] == "Pipeline review"
    mine = alice.get(event["id"])
    assert mine["status"] == "confirmed"
    assert entry(mine, BOB)["responseStatus"] == "needsAction"  # not taken as declining
    assert bob.call("DELETE", f"/{event['id']}").status_code == 410
    # Later changes of the organizer do not bring it back.
    alice.patch(event["id"], {"summary": "Still on"})
    assert bob.get(event["id"])["status"] == "cancelled"


def test_listing_by_ical_uid_returns_the_copy_in_the_asked_calendar(alice, bob):
    event, token = meeting(alice, bob)
    alice.insert({**TIMED, "summary": "Other"})
    for api, me in ((alice, ALICE), (bob, BOB)):
        items = api.call("GET", iCalUID=event["iCalUID"]).json()["items"]
        assert [i["id"] for i in items] == [event["id"]]
        assert entry(items[0], me)["self"] is True
    assert bob.call("GET", iCalUID="nope@google.com").json()["items"] == []
    resp = bob.call("GET", syncToken=token, iCalUID=event["iCalUID"])
    assert resp.status_code == 400


def test_a_guests_edit_in_the_ui_changes_their_copy_only(sandbox, alice, bob):
    event, _ = meeting(alice, bob)
    gcal.user_edit_event(sandbox.state, BOB, event["id"], {"summary": "My notes"})
    assert bob.get(event["id"])["summary"] == "My notes"
    assert alice.get(event["id"])["summary"] == "Pipeline review"


def test_the_single_user_flags_are_unchanged(alice):
    event = alice.insert({**TIMED, "attendees": [{"email": ALICE}, {"email": "x@y.org"}]})
    assert event["organizer"] == event["creator"] == {"email": ALICE, "self": True}
    assert entry(event, ALICE) == {"email": ALICE, "responseStatus": "needsAction",
                                   "organizer": True, "self": True}
    assert entry(event, "x@y.org") == {"email": "x@y.org", "responseStatus": "needsAction"}


# --- invitations from outside Google: one iCalUID, an id per calendar ---------------------


def test_an_invitation_from_outside_arrives_in_each_calendar(sandbox, alice, bob):
    _, alice_token = alice.full_sync()
    _, bob_token = bob.full_sync()
    body = {"organizer": {"email": OUTSIDE, "displayName": "Olga"},
            "attendees": [ALICE, BOB],
            "event": {**TIMED, "summary": "Vendor call", "iCalUID": "040000008200E001@outlook",
                      "attendees": [{"email": OUTSIDE, "responseStatus": "accepted"},
                                    {"email": ALICE}, {"email": BOB}]}}
    resp = requests.post(control(sandbox, "/outside/invitations"), json=body, timeout=5)
    assert resp.status_code == 200, resp.text
    copies = resp.json()
    a, b = alice.get(copies[ALICE]["id"]), bob.get(copies[BOB]["id"])
    assert a["id"] != b["id"]
    assert a["iCalUID"] == b["iCalUID"] == "040000008200E001@outlook"
    for copy, me, other in ((a, ALICE, BOB), (b, BOB, ALICE)):
        assert copy["organizer"] == {"email": OUTSIDE, "displayName": "Olga"}
        assert entry(copy, me)["self"] is True and "self" not in entry(copy, other)
        assert "self" not in entry(copy, OUTSIDE)
        listed = Api(sandbox, me).call("GET", iCalUID=copy["iCalUID"]).json()["items"]
        assert [i["id"] for i in listed] == [copy["id"]]

    # The outside organizer's update reaches both copies.
    url = control(sandbox, "/outside/invitations/040000008200E001@outlook")
    assert requests.patch(url, json={"summary": "Vendor call (new time)",
                                     "start": {"dateTime": "2026-03-02T16:00:00Z"},
                                     "end": {"dateTime": "2026-03-02T17:00:00Z"}},
                          timeout=5).status_code == 200
    for api, token in ((alice, alice_token), (bob, bob_token)):
        items, _ = api.changes(token)
        assert [(i["summary"], i["start"]["dateTime"]) for i in items] == [
            ("Vendor call (new time)", "2026-03-02T17:00:00+01:00")]
    _, alice_token = alice.full_sync()
    _, bob_token = bob.full_sync()

    # Bob's answer goes to the outside organizer, not into Alice's copy.
    gcal.respond(sandbox.state, BOB, b["id"], "accepted")
    assert entry(bob.get(b["id"]), BOB)["responseStatus"] == "accepted"
    assert entry(alice.get(a["id"]), BOB)["responseStatus"] == "needsAction"
    _, bob_token = bob.full_sync()

    # The outside organizer cancels: every copy shows a deletion.
    assert requests.delete(url, timeout=5).status_code == 200
    for api, token, copy in ((alice, alice_token, a), (bob, bob_token, b)):
        items, _ = api.changes(token)
        assert [(i["id"], i["status"]) for i in items] == [(copy["id"], "cancelled")]
    assert requests.patch(control(sandbox, "/outside/invitations/unknown@x"), json={},
                          timeout=5).status_code == 400


def test_outside_helpers_in_process(sandbox):
    copies = gcal.invite_from_outside(sandbox.state, OUTSIDE, [ALICE, CAROL],
                                      {**TIMED, "summary": "Kick-off"})
    uid = copies[ALICE]["iCalUID"]
    assert copies[CAROL]["iCalUID"] == uid and copies[CAROL]["id"] != copies[ALICE]["id"]
    assert {a["email"] for a in copies[CAROL]["attendees"]} == {ALICE, CAROL}
    updated = gcal.outside_update(sandbox.state, uid, {"location": "HQ"})
    assert {owner: e["location"] for owner, e in updated.items()} == {ALICE: "HQ", CAROL: "HQ"}
    cancelled = gcal.outside_cancel(sandbox.state, uid)
    assert {e["status"] for e in cancelled.values()} == {"cancelled"}
