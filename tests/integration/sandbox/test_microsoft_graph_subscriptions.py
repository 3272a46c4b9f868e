"""Microsoft Graph emulator, subscriptions: validation, lifetime, notifications, lifecycle.

A small HTTP server in the test answers Graph's validation requests and records the
notifications the sandbox POSTs (learn.microsoft.com/graph/change-notifications-delivery-
webhooks, change-notifications-lifecycle-events).
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from sync_workers.sandbox import microsoft_graph as graph
from sync_workers.sandbox.webhooks import DeliveryFaults

from .test_microsoft_graph_support import ALICE, Api, Receiver, timed


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def alice(sandbox):
    return Api(sandbox, ALICE)


def expiry(sandbox, minutes: float = 60) -> str:
    return (sandbox.state.clock.now() + timedelta(minutes=minutes)).strftime(
        "%Y-%m-%dT%H:%M:%S.0000000Z")


def subscribe(sandbox, api: Api, receiver: Receiver, **extra):
    body = {"changeType": "created,updated,deleted", "notificationUrl": receiver.url,
            "resource": "/me/events", "expirationDateTime": expiry(sandbox),
            "clientState": "s3cret", **extra}
    return api.call("POST", "/subscriptions", body)


def test_create_validates_the_endpoint_with_a_decoded_plain_text_token(sandbox, alice,
                                                                      receiver):
    resp = subscribe(sandbox, alice, receiver, lifecycleNotificationUrl=receiver.url)
    assert resp.status_code == 201, resp.text
    sub = resp.json()
    assert sub["resource"] == "/me/events" and sub["changeType"] == "created,updated,deleted"
    assert sub["clientState"] == "s3cret" and sub["lifecycleNotificationUrl"] == receiver.url
    assert sub["creatorId"] == alice.call("GET", "/me").json()["id"]
    # Both URLs were validated; the token needs URL-decoding (it has spaces and a colon).
    assert len(receiver.validations) == 2
    assert receiver.validations[0].startswith("Validation: Testing client application")
    assert receiver.received == []  # validation is not a notification


@pytest.mark.parametrize("mode,code,text", [
    ("status", "ValidationError", "must respond with 200 OK"),
    ("encoded", "ValidationError", "exactly match validationToken"),
    ("json", "ValidationError", "text/plain"),
])
def test_a_failed_validation_fails_the_create_with_400(sandbox, alice, mode, code, text):
    server = Receiver(mode)
    try:
        resp = subscribe(sandbox, alice, server)
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == code and text in resp.json()["error"]["message"]
        assert graph.subscriptions(sandbox.state, ALICE) == []
    finally:
        server.close()


def test_an_endpoint_slower_than_the_limit_times_the_validation_out(sandbox, alice):
    graph.set_validation_timeout(sandbox.state, 0.5)  # Graph waits 10 s
    server = Receiver("slow")
    try:
        resp = subscribe(sandbox, alice, server)
        assert resp.status_code == 400
        assert resp.json()["error"] == {**resp.json()["error"], "code": "InvalidRequest",
                                        "message": "Subscription validation request timed out."}
    finally:
        server.close()


def test_events_subscriptions_live_at_most_10080_minutes(sandbox, alice, receiver):
    too_long = subscribe(sandbox, alice, receiver, expirationDateTime=expiry(sandbox, 10_090))
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "ExtensionError"
    assert "10080 minutes" in too_long.json()["error"]["message"]
    assert subscribe(sandbox, alice, receiver,
                     expirationDateTime=expiry(sandbox, 10_000)).status_code == 201
    past = subscribe(sandbox, alice, receiver, expirationDateTime=expiry(sandbox, -5))
    assert past.status_code == 400


def test_renew_with_patch_and_delete(sandbox, alice, receiver):
    sub = subscribe(sandbox, alice, receiver).json()
    later = expiry(sandbox, 3 * 24 * 60)
    renewed = alice.call("PATCH", f"/subscriptions/{sub['id']}", {"expirationDateTime": later})
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"][:19] == later[:19]
    cannot = alice.call("PATCH", f"/subscriptions/{sub['id']}",
                        {"lifecycleNotificationUrl": receiver.url})
    assert cannot.status_code == 400  # only settable at creation
    assert [s["id"] for s in alice.call("GET", "/subscriptions").json()["value"]] == [sub["id"]]
    assert alice.call("DELETE", f"/subscriptions/{sub['id']}").status_code == 204
    assert alice.call("GET", f"/subscriptions/{sub['id']}").status_code == 404


def test_changes_post_graphs_notification_shape(sandbox, alice, receiver):
    sub = subscribe(sandbox, alice, receiver).json()
    event = alice.create(timed())
    alice.patch(event["id"], {"subject": "v2"})
    alice.delete(event["id"])
    receiver.wait_for(3)
    items = receiver.items()
    assert [n["changeType"] for n in items] == ["created", "updated", "deleted"]
    user_id = alice.call("GET", "/me").json()["id"]
    first = items[0]
    assert set(first) == {"subscriptionId", "subscriptionExpirationDateTime", "changeType",
                          "resource", "resourceData", "clientState", "tenantId"}
    assert first["subscriptionId"] == sub["id"] and first["clientState"] == "s3cret"
    assert first["resource"] == f"Users/{user_id}/Events/{event['id']}"
    assert first["resourceData"] == {"@odata.type": "#Microsoft.Graph.Event",
                                     "@odata.id": first["resource"],
                                     "@odata.etag": event["@odata.etag"], "id": event["id"]}


def test_a_subscription_made_with_immutable_ids_notifies_immutable_ids(sandbox, receiver):
    stable = Api(sandbox, ALICE, immutable=True)
    assert subscribe(sandbox, stable, receiver).status_code == 201
    event = Api(sandbox, ALICE).create(timed())  # created without the header
    receiver.wait_for(1)
    notified = receiver.items()[0]["resourceData"]["id"]
    assert notified.startswith("AAkALgAA") and notified != event["id"]
    assert stable.get(notified).json()["id"] == notified


def test_user_changes_in_outlook_notify_too_and_other_mailboxes_do_not(sandbox, receiver):
    assert subscribe(sandbox, Api(sandbox, ALICE), receiver).status_code == 201
    graph.seed_event(sandbox.state, "bob@example.com", timed())
    graph.seed_event(sandbox.state, ALICE, timed())
    receiver.wait_for(1)
    sandbox.state.webhooks.wait_idle()
    assert len(receiver.items()) == 1


def test_an_expired_subscription_notifies_nothing(sandbox, alice, receiver):
    subscribe(sandbox, alice, receiver)
    sandbox.state.clock.advance(2 * 3600)
    Api(sandbox, ALICE).create(timed())
    sandbox.state.webhooks.wait_idle()
    assert receiver.received == []


def test_delivery_is_retried_until_acknowledged_and_faults_apply(sandbox, alice, receiver,
                                                                 monkeypatch):
    subscribe(sandbox, alice, receiver)
    receiver.status = 500  # Graph retries 5xx answers
    monkeypatch.setattr(sandbox.state.webhooks, "retry_interval", 0.05)
    alice.create(timed())
    receiver.wait_for(2)
    receiver.status = 202
    sandbox.state.webhooks.wait_idle()
    assert len(receiver.received) >= 3
    sandbox.state.webhooks.set_faults(DeliveryFaults(duplicate_rate=1.0))
    receiver.received.clear()
    alice.create(timed())
    receiver.wait_for(2)
    ids = [n["resourceData"]["id"] for n in receiver.items()]
    assert len(ids) == 2 and ids[0] == ids[1]  # receivers must dedupe


def test_lifecycle_notifications_reauthorize_remove_and_missed(sandbox, alice, receiver):
    sub = subscribe(sandbox, alice, receiver, lifecycleNotificationUrl=receiver.url).json()
    graph.lifecycle_notification(sandbox.state, sub["id"], "reauthorizationRequired")
    receiver.wait_for(1)
    assert receiver.items()[0] == {"subscriptionId": sub["id"],
                                   "subscriptionExpirationDateTime":
                                       sub["expirationDateTime"],
                                   "tenantId": receiver.items()[0]["tenantId"],
                                   "clientState": "s3cret",
                                   "lifecycleEvent": "reauthorizationRequired"}
    alice.create(timed())  # delivery paused until the app reauthorizes: lost
    sandbox.state.webhooks.wait_idle()
    assert len(receiver.received) == 1
    assert alice.call("POST", f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    alice.create(timed())
    receiver.wait_for(2)
    graph.lifecycle_notification(sandbox.state, sub["id"], "missed")
    receiver.wait_for(3)
    assert receiver.items()[2]["lifecycleEvent"] == "missed"
    graph.lifecycle_notification(sandbox.state, sub["id"], "subscriptionRemoved")
    receiver.wait_for(4)
    assert alice.call("GET", f"/subscriptions/{sub['id']}").status_code == 404
    alice.create(timed())
    sandbox.state.webhooks.wait_idle()
    assert len(receiver.received) == 4


def test_subscriptions_are_for_the_callers_own_events(sandbox, alice, receiver):
    resp = subscribe(sandbox, alice, receiver, resource="/users/bob@example.com/events")
    assert resp.status_code == 403
    resp = subscribe(sandbox, alice, receiver, resource="me/mailFolders('inbox')/messages")
    assert resp.status_code == 400
    assert subscribe(sandbox, alice, receiver,
                     resource=f"users/{ALICE}/events").status_code == 201
    long_state = subscribe(sandbox, alice, receiver, clientState="x" * 129)
    assert long_state.status_code == 400


def test_the_control_routes_list_subscriptions_and_send_lifecycle_events(sandbox, alice,
                                                                        receiver):
    import requests
    control = f"{sandbox.origin('microsoft')}/_sandbox/microsoft"
    sub = subscribe(sandbox, alice, receiver, lifecycleNotificationUrl=receiver.url).json()
    listed = requests.get(f"{control}/subscriptions", params={"subject": ALICE},
                          timeout=5).json()
    assert [s["id"] for s in listed] == [sub["id"]]
    resp = requests.post(f"{control}/subscriptions/{sub['id']}/lifecycle",
                         json={"lifecycleEvent": "missed"}, timeout=5)
    assert resp.status_code == 200 and resp.json()["lifecycleEvent"] == "missed"
    receiver.wait_for(1)
    bad = requests.post(f"{control}/subscriptions/{sub['id']}/lifecycle",
                        json={"lifecycleEvent": "bogus"}, timeout=5)
    assert bad.status_code == 400
