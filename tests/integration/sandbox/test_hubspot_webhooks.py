"""App webhooks from the HubSpot emulator to a real HTTP receiver: the event payloads,
batching, the v3 signature, retries with a growing attemptNumber, and the dispatcher's
delivery faults."""
from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from sync_workers.sandbox import hubspot_admin as admin
from sync_workers.sandbox import oauth
from sync_workers.sandbox.webhooks import DeliveryFaults
from tests.integration.sandbox.test_hubspot_support import Api, Receiver

EVENTS = ("contact.creation", "contact.deletion", "contact.merge", "contact.restore",
          "contact.propertyChange")


def signature_v3(body: bytes, uri: str, timestamp: str) -> str:
    """HubSpot's documented v3 scheme, computed here independently of the sandbox."""
    mac = hmac.new(oauth.HUBSPOT_CLIENT_SECRET.encode(),
                   b"POST" + uri.encode() + body + timestamp.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(*answers):
        started.append(Receiver(*answers))
        return started[-1]
    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def subscribe(sandbox, receiver, properties=("email", "firstname")):
    return admin.subscribe_webhooks(sandbox.state, receiver.url, EVENTS,
                                    properties=list(properties))


def test_a_ui_create_sends_creation_and_property_events_in_one_signed_batch(
        sandbox, receivers):
    receiver = receivers()
    subscribe(sandbox, receiver)
    contact = admin.create_as_user(sandbox.state, "contacts",
                                   {"email": "ui@example.com", "firstname": "Uma",
                                    "lastname": "Ito"})
    headers, body, method = receiver.wait_for(1)[0]
    events = receiver.events()[0]
    assert [(e["subscriptionType"], e.get("propertyName")) for e in events] == [
        ("contact.creation", None), ("contact.propertyChange", "email"),
        ("contact.propertyChange", "firstname")]  # lastname: not subscribed
    creation, email = events[0], events[1]
    assert creation["objectId"] == int(contact) and creation["attemptNumber"] == 0
    assert creation["portalId"] == 4242 and creation["changeSource"] == "CRM_UI"
    assert creation["sourceId"].startswith("userId:")
    assert email["propertyValue"] == "ui@example.com"
    assert isinstance(creation["occurredAt"], int)
    # One write: the events share an eventId, which therefore cannot be a dedupe key.
    assert len({e["eventId"] for e in events}) == 1
    assert len({e["subscriptionId"] for e in events}) == 3
    # The signature over method + the exact target URL + body + timestamp.
    assert method == "POST" and headers["content-type"] == "application/json"
    assert headers["x-hubspot-signature-v3"] == signature_v3(
        body, receiver.url, headers["x-hubspot-request-timestamp"])
    assert headers["x-hubspot-signature"] == hashlib.sha256(
        oauth.HUBSPOT_CLIENT_SECRET.encode() + body).hexdigest()  # v1, for older receivers


def test_hubspots_own_validator_accepts_the_signature(sandbox, receivers):
    from hubspot.utils.signature import Signature as signature
    receiver = receivers()
    admin.subscribe_webhooks(sandbox.state, receiver.url, ["contact.creation"])
    admin.create_as_user(sandbox.state, "contacts", {"email": "sdk@example.com"})
    headers, body, _ = receiver.wait_for(1)[0]
    assert signature.is_valid(signature=headers["x-hubspot-signature-v3"],
                              client_secret=oauth.HUBSPOT_CLIENT_SECRET,
                              request_body=body.decode(), http_uri=receiver.url,
                              signature_version="v3",
                              timestamp=headers["x-hubspot-request-timestamp"])


def test_api_writes_notify_too_with_the_integration_as_source(sandbox, receivers, api):
    receiver = receivers()
    subscribe(sandbox, receiver, properties=["firstname"])
    contact = api.create("contacts", email="api@example.com")
    api.patch(f"/crm/v3/objects/contacts/{contact}", json={"properties": {"firstname": "A"}})
    api.patch(f"/crm/v3/objects/contacts/{contact}", json={"properties": {"firstname": "A"}})
    api.delete(f"/crm/v3/objects/contacts/{contact}")
    receiver.wait_for(3)
    sandbox.state.webhooks.wait_idle()
    batches = receiver.events()
    assert [[(e["subscriptionType"], e.get("propertyValue")) for e in b] for b in batches] == [
        [("contact.creation", None)],
        [("contact.propertyChange", "A")],  # the second PATCH changed nothing
        [("contact.deletion", None)]]
    assert {e["changeSource"] for b in batches for e in b} == {"INTEGRATION"}
    # Meetings have no classic app webhooks.
    api.create("meetings", hs_timestamp="2026-03-02T09:00:00Z")
    sandbox.state.webhooks.wait_idle()
    assert len(receiver.requests) == 3


def test_batches_hold_at_most_100_events(sandbox, receivers, api):
    receiver = receivers()
    admin.subscribe_webhooks(sandbox.state, receiver.url, ["contact.creation"])
    api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": f"c{n}@example.com"}} for n in range(100)]})
    api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": f"d{n}@example.com"}} for n in range(3)]})
    receiver.wait_for(2)
    assert [len(b) for b in receiver.events()] == [100, 3]
    admin.configure(sandbox.state, webhook_batch_size=40)
    api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": f"e{n}@example.com"}} for n in range(100)]})
    receiver.wait_for(5)
    assert [len(b) for b in receiver.events()[2:]] == [40, 40, 20]


def test_errors_are_retried_with_a_new_attempt_number_and_signature(sandbox, receivers):
    receiver = receivers(500, 404, 200)
    subscribe(sandbox, receiver)
    admin.create_as_user(sandbox.state, "contacts", {"email": "retry@example.com"})
    requests_seen = receiver.wait_for(3)
    sandbox.state.webhooks.wait_idle()
    batches = receiver.events()
    assert [b[0]["attemptNumber"] for b in batches] == [0, 1, 2]
    assert len({b[0]["eventId"] for b in batches}) == 1
    for headers, body, _ in requests_seen:  # each attempt is signed for its own body
        assert headers["x-hubspot-signature-v3"] == signature_v3(
            body, receiver.url, headers["x-hubspot-request-timestamp"])
    delivery = sandbox.state.webhooks.deliveries[-1]
    assert delivery.outcomes == [500, 404, 200]


def test_a_slow_answer_counts_as_a_failure(sandbox, receivers):
    receiver = receivers(0.6, 200)
    admin.configure(sandbox.state, webhook_timeout=0.3)
    admin.subscribe_webhooks(sandbox.state, receiver.url, ["contact.creation"])
    admin.create_as_user(sandbox.state, "contacts", {"email": "slow@example.com"})
    receiver.wait_for(2)
    sandbox.state.webhooks.wait_idle()
    assert [b[0]["attemptNumber"] for b in receiver.events()] == [0, 1]
    assert sandbox.state.webhooks.deliveries[-1].outcomes[0].startswith("error")


def test_retries_stop_after_ten_resends(sandbox, receivers):
    receiver = receivers(503)
    sandbox.state.webhooks.retry_interval = 0.01
    try:
        admin.subscribe_webhooks(sandbox.state, receiver.url, ["contact.creation"])
        admin.create_as_user(sandbox.state, "contacts", {"email": "down@example.com"})
        assert sandbox.state.webhooks.wait_idle(timeout=10)
    finally:
        sandbox.state.webhooks.retry_interval = 0.5
    assert len(receiver.requests) == 11
    assert receiver.events()[-1][0]["attemptNumber"] == 10


def test_dropped_and_duplicated_deliveries(sandbox, receivers):
    receiver = receivers()
    admin.subscribe_webhooks(sandbox.state, receiver.url, ["contact.creation"])
    sandbox.state.webhooks.set_faults(DeliveryFaults(drop_rate=1.0))
    admin.create_as_user(sandbox.state, "contacts", {"email": "lost@example.com"})
    receiver.wait_for(1)  # the first attempt was lost; the re-send arrives
    assert receiver.events()[0][0]["attemptNumber"] == 1
    sandbox.state.webhooks.set_faults(DeliveryFaults(duplicate_rate=1.0))
    admin.create_as_user(sandbox.state, "contacts", {"email": "twice@example.com"})
    receiver.wait_for(3)
    sandbox.state.webhooks.wait_idle()
    twice = [b[0] for b in receiver.events()[1:]]
    assert twice[0]["objectId"] == twice[1]["objectId"]
    assert twice[0]["eventId"] == twice[1]["eventId"]


def test_merge_delete_and_restore_events(sandbox, receivers):
    primary = admin.create_as_user(sandbox.state, "contacts", {"email": "p@example.com"})
    other = admin.create_as_user(sandbox.state, "contacts", {"email": "o@example.com",
                                                             "firstname": "Otto"})
    receiver = receivers()
    admin.subscribe_webhooks(sandbox.state, receiver.url,
                             ["contact.merge", "contact.deletion", "contact.restore"])
    admin.merge_contacts(sandbox.state, primary, other)
    merge = receiver.wait_for(1) and receiver.events()[0][0]
    assert merge["subscriptionType"] == "contact.merge"
    assert (merge["primaryObjectId"], merge["mergedObjectIds"], merge["newObjectId"]) == \
        (int(primary), [int(other)], int(primary))
    assert merge["numberOfPropertiesMoved"] == 1
    admin.delete_as_user(sandbox.state, "contacts", primary)
    admin.restore(sandbox.state, "contacts", primary)
    receiver.wait_for(3)
    assert [b[0]["subscriptionType"] for b in receiver.events()[1:]] == \
        ["contact.deletion", "contact.restore"]
    assert admin.record(sandbox.state, "contacts", primary)["archived"] is False


def test_paused_subscriptions_and_no_target(sandbox, receivers):
    admin.create_as_user(sandbox.state, "contacts", {"email": "quiet@example.com"})
    assert sandbox.state.webhooks.deliveries == []
    receiver = receivers()
    [sub] = admin.subscribe_webhooks(sandbox.state, receiver.url, ["contact.creation"])
    admin.set_subscription_active(sandbox.state, sub, False)
    admin.create_as_user(sandbox.state, "contacts", {"email": "paused@example.com"})
    admin.seed(sandbox.state, "contacts", {"email": "seeded@example.com"})
    assert sandbox.state.webhooks.deliveries == []
    assert admin.subscriptions(sandbox.state)[0]["active"] is False
