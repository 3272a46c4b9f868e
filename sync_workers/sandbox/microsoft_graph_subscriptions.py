"""Graph change-notification subscriptions to a mailbox's events, and what they POST.

Create (learn.microsoft.com/graph/api/subscription-post-subscriptions,
change-notifications-delivery-webhooks): Graph first POSTs `?validationToken=...` to the
notificationUrl and to the lifecycleNotificationUrl and wants, within 10 seconds, 200 with
text/plain and exactly the URL-decoded token; otherwise the create fails with 400 (the real
codes and texts: ValidationError / InvalidRequest "...timed out."). The token here, like
Graph's, has spaces and a colon, so an endpoint that echoes it still URL-encoded fails.
Expiration for Outlook events: at most 10,080 minutes ahead (under 7 days) without
resource data (change-notifications-subscription-lifetime include); more answers
ExtensionError "Subscription expiration can only be N minutes in the future." as Graph
words it. lifecycleNotificationUrl can only be set at creation.

Notifications go through `state.webhooks.send` with retry until a 2xx, as Graph retries
(for up to 4 hours), so the dispatcher's drop/duplicate/delay faults apply. Lifecycle
notifications (reauthorizationRequired, subscriptionRemoved, missed) are sent by the control
helper `lifecycle`; after a reauthorizationRequired that pauses delivery, changes are lost
until the app reauthorizes (POST .../reauthorize or PATCH), as
change-notifications-lifecycle-events describes. Callers hold `state.lock`, except for
`validate_endpoints`, which makes HTTP calls and must run without it.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import quote, urlsplit

import requests

from .core import SandboxState
from .microsoft_graph_errors import GraphError, bad_request, subscription_not_found
from .microsoft_graph_events import fmt_timestamp

MAX_MINUTES = 10_080
VALIDATION_TIMEOUT_S = 10.0
CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
_WRITABLE = frozenset(("changeType", "notificationUrl", "lifecycleNotificationUrl",
                       "resource", "expirationDateTime", "clientState",
                       "latestSupportedTlsVersion", "includeResourceData",
                       "encryptionCertificate", "encryptionCertificateId",
                       "notificationQueryOptions", "notificationUrlAppId"))
_TLS = ("v1_0", "v1_1", "v1_2", "v1_3")


@dataclass
class Subscription:
    id: str
    owner: str
    owner_oid: str
    application_id: str
    resource: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    immutable_ids: bool
    tls: str = "v1_2"
    paused: bool = False
    removed: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)

    def live(self, now: datetime) -> bool:
        return not self.removed and now < self.expiration

    def render(self, base_url: str) -> dict[str, Any]:
        return {
            "@odata.context": f"{base_url}/$metadata#subscriptions/$entity",
            "id": self.id, "resource": self.resource, "applicationId": self.application_id,
            "changeType": ",".join(self.change_types), "clientState": self.client_state,
            "notificationUrl": self.notification_url, "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": fmt_timestamp(self.expiration),
            "creatorId": self.owner_oid, "includeResourceData": None,
            "latestSupportedTlsVersion": self.tls, "encryptionCertificate": None,
            "encryptionCertificateId": None, "notificationUrlAppId": None,
        }


@dataclass
class Validation:
    url: str
    token: str
    outcome: str  # "ok" or why it failed


class Subscriptions:
    def __init__(self, state: SandboxState, rng: random.Random, tenant_id: str) -> None:
        self.state = state
        self.rng = rng
        self.tenant_id = tenant_id
        self.items: dict[str, Subscription] = {}
        self.validations: list[Validation] = []
        self.validation_timeout = VALIDATION_TIMEOUT_S

    # --- the API -----------------------------------------------------------------------

    def check_create(self, body: Any, owner: str, owner_oid: str,
                     user_ids: tuple[str, ...]) -> dict[str, Any]:
        """The checked fields of a create body (no HTTP yet)."""
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.")
        for name in body:
            if name not in _WRITABLE and not name.startswith("@odata."):
                raise GraphError(400, "RequestBodyRead",
                                 f"The property '{name}' does not exist on type "
                                 "'microsoft.graph.subscription'. Make sure to only use "
                                 "property names that are defined by the type or mark the "
                                 "type as open type.")
        if body.get("includeResourceData"):
            raise GraphError(400, "InvalidRequest", "The sandbox does not emulate change "
                             "notifications with resource data.")
        return {
            "resource": _resource(body.get("resource"), user_ids),
            "change_types": _change_types(body.get("changeType")),
            "notification_url": _url(body.get("notificationUrl"), "notificationUrl"),
            "lifecycle_url": (_url(body["lifecycleNotificationUrl"], "lifecycleNotificationUrl")
                              if body.get("lifecycleNotificationUrl") else None),
            "client_state": _client_state(body.get("clientState")),
            "expiration": self._expiration(body.get("expirationDateTime")),
            "tls": _tls(body.get("latestSupportedTlsVersion")),
        }

    def validate_endpoints(self, urls: list[str]) -> None:
        """POST each URL its validation token; raise the 400 Graph answers on failure.
        Makes HTTP calls: never call with `state.lock` held."""
        for url in urls:
            token = (f"Validation: Testing client application reachability for subscription "
                     f"Request-Id: {uuid.uuid4()}")
            outcome = self._probe(url, token)
            with self.state.lock:
                self.validations.append(Validation(url, token, outcome))
            if outcome == "timeout":
                raise GraphError(400, "InvalidRequest",
                                 "Subscription validation request timed out.")
            if outcome != "ok":
                raise GraphError(400, "ValidationError", outcome)

    def _probe(self, url: str, token: str) -> str:
        joiner = "&" if urlsplit(url).query else "?"
        try:
            resp = requests.post(f"{url}{joiner}validationToken={quote(token, safe='')}",
                                 headers={"Content-Type": "text/plain; charset=utf-8"},
                                 data=b"", timeout=self.validation_timeout)
        except requests.Timeout:
            return "timeout"
        except requests.RequestException:
            return ("Subscription validation request failed. Notification endpoint must "
                    "respond with 200 OK to validation request.")
        if resp.status_code != 200:
            return ("Subscription validation request failed. Notification endpoint must "
                    "respond with 200 OK to validation request.")
        if not resp.headers.get("Content-Type", "").lower().startswith("text/plain"):
            return ("Subscription validation request failed. The response must have the "
                    "content type text/plain.")
        if resp.text != token:
            return ("Subscription validation request failed. Response must exactly match "
                    "validationToken query parameter.")
        return "ok"

    def add(self, fields: dict[str, Any], owner: str, owner_oid: str, application_id: str,
            immutable_ids: bool) -> Subscription:
        sub = Subscription(id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                           owner=owner, owner_oid=owner_oid, application_id=application_id,
                           immutable_ids=immutable_ids, **fields)
        self.items[sub.id] = sub
        return sub

    def get(self, sub_id: str, owner: str, application_id: str) -> Subscription:
        sub = self.items.get(sub_id)
        if sub is None or not sub.live(self.state.clock.now()) or \
                sub.owner.lower() != owner.lower() or sub.application_id != application_id:
            raise subscription_not_found()
        return sub

    def listed(self, owner: str, application_id: str) -> list[Subscription]:
        now = self.state.clock.now()
        return [s for s in self.items.values() if s.live(now) and s.application_id ==
                application_id and s.owner.lower() == owner.lower()]

    def check_update(self, sub: Subscription, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.")
        if "lifecycleNotificationUrl" in body and body["lifecycleNotificationUrl"] != \
                sub.lifecycle_url:
            raise GraphError(400, "InvalidRequest", "lifecycleNotificationUrl can only be "
                             "set when the subscription is created.")
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name == "expirationDateTime":
                out["expiration"] = self._expiration(value)
            elif name == "notificationUrl":
                out["notification_url"] = _url(value, "notificationUrl")
            elif name == "clientState":
                out["client_state"] = _client_state(value)
            elif name not in ("lifecycleNotificationUrl",) and not name.startswith("@odata."):
                raise GraphError(400, "InvalidRequest",
                                 f"The property '{name}' of a subscription can't be updated.")
        return out

    def update(self, sub: Subscription, fields: dict[str, Any]) -> Subscription:
        for name, value in fields.items():
            setattr(sub, name, value)
        sub.paused = False  # renewing reauthorizes (lifecycle-events doc)
        return sub

    def reauthorize(self, sub: Subscription) -> None:
        sub.paused = False

    def delete(self, sub: Subscription) -> None:
        sub.removed = True

    # --- notifications -----------------------------------------------------------------

    def notify(self, owner: str, change: str, resource_for: Callable[[bool], tuple[str, str]],
               etag: str) -> None:
        """A change of one of `owner`'s events: POST it to each live subscription that
        asked for this change type. resource_for(immutable) -> (resource path, event id)."""
        now = self.state.clock.now()
        for sub in self.items.values():
            if not sub.live(now) or sub.owner.lower() != owner.lower() or \
                    change not in sub.change_types:
                continue
            resource, event_id = resource_for(sub.immutable_ids)
            item: dict[str, Any] = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": fmt_timestamp(sub.expiration),
                "changeType": change,
                "resource": resource,
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event",
                                 "@odata.id": resource, "@odata.etag": etag, "id": event_id},
            }
            if sub.client_state is not None:
                item["clientState"] = sub.client_state
            item["tenantId"] = self.tenant_id
            if sub.paused:
                sub.sent.append({"kind": "change", "dropped": "paused", **item})
                continue
            sub.sent.append({"kind": "change", **item})
            self._post(sub.notification_url, {"value": [item]})

    def lifecycle(self, sub: Subscription, event: str, pause: bool = True) -> dict[str, Any]:
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"unknown lifecycle event {event!r}")
        if sub.lifecycle_url is None:
            raise ValueError("the subscription has no lifecycleNotificationUrl")
        item: dict[str, Any] = {"subscriptionId": sub.id,
                                "subscriptionExpirationDateTime": fmt_timestamp(sub.expiration),
                                "tenantId": self.tenant_id}
        if sub.client_state is not None:
            item["clientState"] = sub.client_state
        item["lifecycleEvent"] = event
        if event == "subscriptionRemoved":
            sub.removed = True
        elif event == "reauthorizationRequired" and pause:
            sub.paused = True
        sub.sent.append({"kind": "lifecycle", **item})
        self._post(sub.lifecycle_url, {"value": [item]})
        return item

    def _post(self, url: str, payload: dict[str, Any]) -> None:
        self.state.webhooks.send("microsoft", url,
                                 {"Content-Type": "application/json; charset=utf-8"},
                                 json.dumps(payload).encode(), retry_until_acked=True)

    def describe(self) -> list[dict[str, Any]]:
        now = self.state.clock.now()
        return [{"id": s.id, "owner": s.owner, "resource": s.resource,
                 "changeType": ",".join(s.change_types), "notificationUrl": s.notification_url,
                 "lifecycleNotificationUrl": s.lifecycle_url, "clientState": s.client_state,
                 "expirationDateTime": fmt_timestamp(s.expiration), "live": s.live(now),
                 "paused": s.paused, "removed": s.removed, "immutableIds": s.immutable_ids,
                 "sent": [dict(x) for x in s.sent]} for s in self.items.values()]

    def _expiration(self, value: Any) -> datetime:
        when = _timestamp(value)
        now = self.state.clock.now()
        if when <= now:
            raise GraphError(400, "InvalidRequest",
                             "Subscription expiration must be in the future.")
        if when > now + timedelta(minutes=MAX_MINUTES):
            raise GraphError(400, "ExtensionError", "Subscription expiration can only be "
                             f"{MAX_MINUTES} minutes in the future.")
        return when


def _resource(value: Any, user_ids: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GraphError(400, "InvalidRequest", "The resource of a subscription is required.")
    path = value.strip().strip("/")
    parts = path.split("/")
    lowered = [p.lower() for p in parts]
    owner_ok = lowered[0] == "me" or (
        lowered[0] == "users" and len(parts) > 1 and
        parts[1].strip("()'").lower() in {u.lower() for u in user_ids})
    tail = lowered[1:] if lowered[0] == "me" else lowered[2:]
    if owner_ok and tail in (["events"], ["calendar", "events"]):
        return value
    if lowered[0] == "users" and len(parts) > 1 and tail in (["events"],
                                                             ["calendar", "events"]):
        raise GraphError(403, "ExtensionError",
                         "Operation: Create; Exception: [Status Code: Forbidden; Reason: "
                         "Access is denied. Check credentials and try again.]")
    raise GraphError(400, "InvalidRequest", f"The sandbox emulates subscriptions to a "
                     f"mailbox's events only, not to '{value}'.")


def _change_types(value: Any) -> tuple[str, ...]:
    if not isinstance(value, str) or not value:
        raise GraphError(400, "InvalidRequest", "changeType is required.")
    types = tuple(t.strip() for t in value.split(","))
    if any(t not in CHANGE_TYPES for t in types):
        raise GraphError(400, "InvalidRequest", f"Invalid changeType '{value}'.")
    return types


def _url(value: Any, name: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise GraphError(400, "InvalidRequest", f"Invalid {name} '{value}'.")
    # Graph calls https URLs only; the sandbox lets plain http reach loopback test servers.
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise GraphError(400, "InvalidRequest", f"The {name} must use the HTTPS protocol.")
    return value


def _client_state(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 128:
        raise GraphError(400, "InvalidRequest",
                         "clientState must be a string of at most 128 characters.")
    return value


def _tls(value: Any) -> str:
    if value is None:
        return "v1_2"
    if value not in _TLS:
        raise GraphError(400, "InvalidRequest", f"Invalid latestSupportedTlsVersion '{value}'.")
    return value


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise GraphError(400, "InvalidRequest", "expirationDateTime is required.")
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, _, tail = text.partition(".")
    if tail:  # fromisoformat reads at most 6 fractional digits
        digits = "".join(c for c in tail if c.isdigit())
        tail = digits[:6] + tail[len(digits):]
        text = f"{head}.{tail}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise GraphError(400, "InvalidRequest",
                         f"Invalid expirationDateTime '{value}'.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)
