"""App webhooks (v3) of the emulated portal: subscriptions, events, batching, signing.

An app has one target URL and subscriptions such as `contact.creation`,
`contact.deletion`, `contact.merge`, `contact.restore` and `contact.propertyChange` for a
named property (webhooks guide). Each matching change queues an event
`{eventId, subscriptionId, portalId, appId, occurredAt, subscriptionType, attemptNumber,
objectId, changeSource, sourceId, ...}`; `flush` POSTs what a request queued as JSON
arrays of at most 100 events through the sandbox dispatcher, so its drop, duplicate, delay
and reorder faults apply. Every attempt is signed anew: `X-HubSpot-Signature-v3` =
base64(HMAC-SHA256(client secret, "POST" + target URL + body + timestamp)) with the
millisecond `X-HubSpot-Request-Timestamp`. A failed attempt (connection error, an answer
slower than 5 s, any 4xx or 5xx) is re-sent up to 10 times with `attemptNumber` counting
up; the sandbox spaces re-sends by the dispatcher's retry interval instead of HubSpot's
24 hours. `eventId` is not unique: all events of one write share it (a receiver must
dedupe on subscriptionId, objectId, occurredAt, propertyName and propertyValue).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .hubspot_common import APP_ID, PROVIDER
from .hubspot_properties import display
from .oauth_providers import HUBSPOT_CLIENT_SECRET

if TYPE_CHECKING:  # the store imports this module
    from .hubspot_store import Actor, Portal, Record

EVENT_TYPES = ("contact.creation", "contact.deletion", "contact.propertyChange",
               "contact.merge", "contact.restore")
_subscription_ids = itertools.count(1_450_001)
_event_ids = itertools.count(3_816_279_340, 7)


@dataclass
class Subscription:
    id: int
    event_type: str
    property_name: str | None
    created_at: int
    active: bool = True

    def render(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": str(self.id), "eventType": self.event_type,
                                "active": self.active, "createdAt": self.created_at}
        if self.property_name:
            body["propertyName"] = self.property_name
        return body


@dataclass
class WebhookConfig:
    target_url: str | None = None
    client_secret: str = HUBSPOT_CLIENT_SECRET
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    sent: list[list[dict[str, Any]]] = field(default_factory=list)  # batches, first attempt


def subscribe(portal: "Portal", event_type: str, property_name: str | None, now: int,
              active: bool = True) -> Subscription:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unsupported subscription type {event_type!r}; one of {EVENT_TYPES}")
    if (event_type == "contact.propertyChange") != bool(property_name):
        raise ValueError("contact.propertyChange subscriptions (only) name a property")
    sub = Subscription(next(_subscription_ids), event_type, property_name, now, active)
    portal.webhooks.subscriptions[sub.id] = sub
    return sub


def _matching(portal: "Portal", event_type: str, property_name: str | None = None):
    for sub in portal.webhooks.subscriptions.values():
        if sub.active and sub.event_type == event_type and \
                (property_name is None or sub.property_name == property_name):
            yield sub


def _queue(portal: "Portal", sub: Subscription, rec: "Record", actor: "Actor", now: int,
           event_id: int, **extra: Any) -> None:
    if portal.webhooks.target_url is None:
        return
    event = {"eventId": event_id, "subscriptionId": sub.id, "portalId": portal.hub_id,
             "appId": APP_ID, "occurredAt": now, "subscriptionType": sub.event_type,
             "attemptNumber": 0, "objectId": int(rec.id), **extra,
             "changeSource": actor.source, "sourceId": actor.source_id}
    portal.webhooks.pending.append(event)


def _property_events(portal: "Portal", rec: "Record", changed: dict[str, str | None],
                     actor: "Actor", now: int, event_id: int) -> None:
    props = portal.props(rec.type)
    for name, value in changed.items():
        for sub in _matching(portal, "contact.propertyChange", name):
            shown = display(props.get(name), value)
            _queue(portal, sub, rec, actor, now, event_id, propertyName=name,
                   propertyValue="" if shown is None else shown)


def on_create(portal: "Portal", rec: "Record", actor: "Actor", now: int) -> None:
    if rec.type != "contacts":
        return  # meeting (engagement) subscriptions are not classic app webhooks
    event_id = next(_event_ids)
    for sub in _matching(portal, "contact.creation"):
        _queue(portal, sub, rec, actor, now, event_id, changeFlag="CREATED")
    # The values a new contact was created with count as property changes too.
    _property_events(portal, rec, rec.values, actor, now, event_id)


def on_change(portal: "Portal", rec: "Record", changed: dict[str, str | None],
              actor: "Actor", now: int) -> None:
    if rec.type == "contacts":
        _property_events(portal, rec, changed, actor, now, next(_event_ids))


def on_delete(portal: "Portal", rec: "Record", actor: "Actor", now: int) -> None:
    if rec.type == "contacts":
        event_id = next(_event_ids)
        for sub in _matching(portal, "contact.deletion"):
            _queue(portal, sub, rec, actor, now, event_id, changeFlag="DELETED")


def on_restore(portal: "Portal", rec: "Record", actor: "Actor", now: int) -> None:
    if rec.type == "contacts":
        event_id = next(_event_ids)
        for sub in _matching(portal, "contact.restore"):
            _queue(portal, sub, rec, actor, now, event_id, changeFlag="RESTORED")


def on_merge(portal: "Portal", primary: "Record", loser: "Record", moved: int,
             actor: "Actor", now: int) -> None:
    event_id = next(_event_ids)
    for sub in _matching(portal, "contact.merge"):
        _queue(portal, sub, primary, actor, now, event_id, changeFlag="MERGED",
               primaryObjectId=int(primary.id), mergedObjectIds=[int(loser.id)],
               newObjectId=int(primary.id), numberOfPropertiesMoved=moved)


# --- delivery ---------------------------------------------------------------------------

def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def signature_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def flush(state, portal: "Portal") -> None:
    """Send the events queued so far, up to `webhook_batch_size` per request."""
    cfg, settings = portal.webhooks, portal.settings
    events, cfg.pending = cfg.pending, []
    if not events or cfg.target_url is None:
        return
    size = max(1, settings.webhook_batch_size)
    for start in range(0, len(events), size):
        batch = events[start:start + size]
        cfg.sent.append(batch)
        state.webhooks.send(PROVIDER, cfg.target_url, headers={}, body=b"",
                            retry_until_acked=True,
                            render=_renderer(cfg.target_url, cfg.client_secret, batch),
                            timeout=settings.webhook_timeout,
                            max_attempts=1 + settings.webhook_retries)


def _renderer(url: str, secret: str, batch: list[dict[str, Any]]):
    def render(attempt: int) -> tuple[dict[str, str], bytes]:
        body = json.dumps([{**e, "attemptNumber": attempt} for e in batch],
                          separators=(",", ":")).encode()
        # Wall-clock time: receivers check it against their own clock (300 s window).
        timestamp = str(int(time.time() * 1000))
        return {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) "
                          "(namespace: webhooks-nio-http-client) - WebhooksExecutorDaemon",
            "X-HubSpot-Signature": signature_v1(secret, body),
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Signature-v3": signature_v3(secret, "POST", url, body, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp,
        }, body
    return render
