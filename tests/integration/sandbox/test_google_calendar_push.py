"""Google Calendar emulator, push: watch channels, their notifications, delivery faults.

A small HTTP server in the test receives the notifications the sandbox POSTs.
"""
from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox.google_calendar_schema import schema_errors
from sync_workers.sandbox.webhooks import DeliveryFaults

ALICE = "alice@example.com"
TIMED = {"start": {"dateTime": "2026-03-02T09:00:00Z"},
         "end": {"dateTime": "2026-03-02T10:00:00Z"}}


class Receiver:
    """Records every notification: (headers, body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.received.append((dict(request.headers), request.get_data()))
        return Response(status=200)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.received)} notifications, wanted {count}")

    def states(self) -> list[tuple[str, int]]:
        return [(h["X-Goog-Resource-State"], int(h["X-Goog-Message-Number"]))
                for h, _ in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def api(sandbox):
    base = sandbox.urls["google_api"]
    headers = gcal.bearer_headers(sandbox.state, ALICE)

    def call(method: str, path: str, body=None):
        return requests.request(method, f"{base}/{path}", json=body, headers=headers, timeout=5)
    return call


def watch(api, receiver, channel_id: str = "chan-1", **extra) -> dict:
    body = {"id": channel_id, "type": "web_hook", "address": receiver.url, **extra}
    resp = api("POST", "calendars/primary/events/watch", body)
    assert resp.status_code == 200, resp.text
    assert schema_errors(resp.json(), "Channel") == []
    return resp.json()


def settle(sandbox) -> None:
    assert sandbox.state.webhooks.wait_idle(timeout=5)


def test_a_channel_gets_sync_then_exists_with_empty_bodies(sandbox, api, receiver):
    channel = watch(api, receiver, token="secret-123")
    assert channel["kind"] == "api#channel" and channel["token"] == "secret-123"
    receiver.wait_for(1)
    api("POST", "calendars/primary/events", {**TIMED, "id": "push00001"})
    gcal.user_edit_event(sandbox.state, ALICE, "push00001", {"summary": "by the user"})
    notes = receiver.wait_for(3)
    states = receiver.states()
    assert [s for s, _ in states] == ["sync", "exists", "exists"]
    assert states[0][1] == 1 and states[0][1] < states[1][1] < states[2][1]
    for headers, body in notes:
        assert body == b""
        assert headers["X-Goog-Channel-Id"] == "chan-1"
        assert headers["X-Goog-Channel-Token"] == "secret-123"
        assert headers["X-Goog-Resource-Id"] == channel["resourceId"]
        assert headers["X-Goog-Resource-Uri"] == channel["resourceUri"]
        expires = parsedate_to_datetime(headers["X-Goog-Channel-Expiration"])
        assert int(expires.timestamp()) == int(channel["expiration"]) // 1000


def test_a_channel_without_a_token_sends_no_token_header(api, receiver):
    channel = watch(api, receiver)
    assert "token" not in channel
    headers, _ = receiver.wait_for(1)[0]
    assert "X-Goog-Channel-Token" not in headers


def test_channel_lifetime_defaults_to_a_week_and_is_capped(sandbox, api, receiver):
    now_ms = sandbox.state.clock.time() * 1000
    week_ms = 7 * 24 * 3600 * 1000
    default = int(watch(api, receiver, "chan-default")["expiration"])
    asked = int(watch(api, receiver, "chan-long", expiration=str(int(now_ms + 5 * week_ms)))
                ["expiration"])
    short = int(watch(api, receiver, "chan-short", expiration=str(int(now_ms + 60_000)))
                ["expiration"])
    assert abs(default - (now_ms + week_ms)) < 5000 and abs(asked - default) < 5000
    assert abs(short - (now_ms + 60_000)) < 5000


def test_a_stopped_channel_gets_nothing_more(sandbox, api, receiver):
    channel = watch(api, receiver)
    receiver.wait_for(1)
    stop = {"id": channel["id"], "resourceId": channel["resourceId"]}
    assert api("POST", "channels/stop", stop).status_code == 204
    api("POST", "calendars/primary/events", TIMED)
    settle(sandbox)
    assert receiver.states() == [("sync", 1)]
    assert api("POST", "channels/stop", stop).status_code == 404


def test_an_expired_channel_gets_nothing_more(sandbox, api, receiver):
    now_ms = sandbox.state.clock.time() * 1000
    watch(api, receiver, expiration=str(int(now_ms + 60_000)))
    receiver.wait_for(1)
    sandbox.state.clock.advance(61)
    api("POST", "calendars/primary/events", TIMED)
    settle(sandbox)
    assert len(receiver.received) == 1


def test_every_live_channel_of_the_calendar_is_notified(sandbox, api, receiver):
    watch(api, receiver, "chan-a")
    watch(api, receiver, "chan-b")
    gcal.seed_event(sandbox.state, ALICE, TIMED)
    receiver.wait_for(4)
    settle(sandbox)
    got = sorted((h["X-Goog-Channel-Id"], h["X-Goog-Resource-State"]) for h, _ in receiver.received)
    assert got == [("chan-a", "exists"), ("chan-a", "sync"),
                   ("chan-b", "exists"), ("chan-b", "sync")]


def test_duplicate_deliveries_repeat_the_message_number(sandbox, api, receiver):
    sandbox.state.webhooks.set_faults(DeliveryFaults(duplicate_rate=1.0))
    watch(api, receiver)
    api("POST", "calendars/primary/events", TIMED)
    receiver.wait_for(4)
    settle(sandbox)
    states = receiver.states()
    assert len(states) == 4 and states[0] == states[1] and states[2] == states[3]


def test_a_dropped_notification_leaves_the_change_for_the_next_incremental_list(
        sandbox, api, receiver):
    watch(api, receiver)
    receiver.wait_for(1)
    token = api("GET", "calendars/primary/events").json()["nextSyncToken"]
    sandbox.state.webhooks.set_faults(DeliveryFaults(drop_rate=1.0))
    api("POST", "calendars/primary/events", {**TIMED, "id": "lost00001"})
    settle(sandbox)
    assert len(receiver.received) == 1
    assert sandbox.state.webhooks.deliveries[-1].outcomes == ["dropped"]
    sandbox.state.webhooks.set_faults(DeliveryFaults())
    api("POST", "calendars/primary/events", TIMED)
    receiver.wait_for(2)
    items = api("GET", f"calendars/primary/events?syncToken={token}").json()["items"]
    assert "lost00001" in [i["id"] for i in items]


@pytest.mark.parametrize("change, reason", [
    ({"id": "x" * 65}, "invalid"),
    ({"type": "email"}, "push.channelTypeNotSupported"),
    ({"address": "http://example.com/hook"}, "push.webhookUrlNotHttps"),
    ({"address": None}, "required"),
])
def test_watch_bodies_are_checked(api, receiver, change, reason):
    body = {"id": "chan-x", "type": "web_hook", "address": receiver.url, **change}
    resp = api("POST", "calendars/primary/events/watch", body)
    assert resp.status_code == 400 and resp.json()["error"]["errors"][0]["reason"] == reason


def test_a_live_channel_id_cannot_be_reused(api, receiver):
    watch(api, receiver, "chan-same")
    again = api("POST", "calendars/primary/events/watch",
                {"id": "chan-same", "type": "web_hook", "address": receiver.url})
    assert again.status_code == 400
    assert again.json()["error"]["errors"][0]["reason"] == "channelIdNotUnique"
