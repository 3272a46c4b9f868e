"""Control routes under /_sandbox/microsoft/ and the Python helpers behind them.

For tests and the demo, never for the service: they act as the user would in Outlook
(server-chosen ids; every change notifies subscriptions and shows in delta like an API
write; invited sandbox mailboxes get their copies) and turn the Graph emulator's knobs:
delta token eviction and reset, lifecycle notifications, throttle limits, the
subscription validation timeout. Event ids may be of either id type.
"""
from __future__ import annotations

import json
from typing import Any, Callable
from zoneinfo import ZoneInfo

from flask import Flask, Response, request

from .core import SandboxState
from .microsoft_graph_events import RenderContext, parse_changes, render_event
from .microsoft_graph_store import EventRecord, GraphStore, store_of
from .oauth import mint_grant

CONTROL = "/_sandbox/microsoft"
THROTTLE_KEY = "microsoft_graph_throttle"


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    content_type="application/json")


def register(app: Flask, state: SandboxState) -> None:
    """Add the control routes (the Python helpers below do the work)."""
    user_events = f"{CONTROL}/users/<subject>/events"

    def guarded(fn: Callable[[], Any]) -> Response:
        try:
            return _json(fn())
        except (ValueError, KeyError) as exc:
            return _json({"error": str(exc)}, 400)

    @app.post(f"{CONTROL}/users/<subject>")
    def control_create_mailbox(subject: str):
        body = request.get_json(force=True, silent=True) or {}
        return guarded(lambda: create_mailbox(state, subject, body.get("displayName")))

    @app.post(user_events)
    def control_seed(subject: str):
        body = request.get_json(force=True, silent=True) or {}
        return guarded(lambda: seed_event(state, subject, body))

    @app.get(user_events)
    def control_raw_events(subject: str):
        return guarded(lambda: raw_events(state, subject))

    @app.get(f"{user_events}/<event_id>")
    def control_raw_event(subject: str, event_id: str):
        return guarded(lambda: raw_event(state, subject, event_id))

    @app.patch(f"{user_events}/<event_id>")
    def control_edit(subject: str, event_id: str):
        body = request.get_json(force=True, silent=True) or {}
        return guarded(lambda: user_edit_event(state, subject, event_id, body))

    @app.delete(f"{user_events}/<event_id>")
    def control_delete(subject: str, event_id: str):
        return guarded(lambda: user_delete_event(state, subject, event_id))

    @app.post(f"{user_events}/<event_id>/move")
    def control_move(subject: str, event_id: str):
        return guarded(lambda: user_move_event(state, subject, event_id))

    @app.post(f"{user_events}/<event_id>/response")
    def control_respond(subject: str, event_id: str):
        body = request.get_json(force=True, silent=True) or {}
        return guarded(lambda: respond(state, subject, event_id, body.get("response")))

    @app.post(f"{CONTROL}/users/<subject>/delta/expire")
    def control_expire(subject: str):
        return guarded(lambda: {"expired": expire_delta_tokens(state, subject)})

    @app.post(f"{CONTROL}/users/<subject>/delta/reset")
    def control_reset(subject: str):
        return guarded(lambda: reset_sync_state(state, subject) or {"ok": True})

    @app.get(f"{CONTROL}/subscriptions")
    def control_subscriptions():
        return guarded(lambda: subscriptions(state, request.args.get("subject")))

    @app.post(f"{CONTROL}/subscriptions/<sub_id>/lifecycle")
    def control_lifecycle(sub_id: str):
        body = request.get_json(force=True, silent=True) or {}
        return guarded(lambda: lifecycle_notification(
            state, sub_id, body.get("lifecycleEvent"), bool(body.get("pause", True))))

    @app.put(f"{CONTROL}/throttle")
    def control_throttle():
        body = request.get_json(force=True, silent=True) or {}
        return guarded(lambda: vars(set_throttle(state, **body)))

    @app.put(f"{CONTROL}/validation-timeout")
    def control_validation_timeout():
        seconds = float((request.get_json(force=True, silent=True) or {})["seconds"])
        return guarded(lambda: set_validation_timeout(state, seconds) or {"seconds": seconds})

    @app.put(f"{CONTROL}/delta-capacity")
    def control_delta_capacity():
        tokens = int((request.get_json(force=True, silent=True) or {})["tokens"])
        return guarded(lambda: set_delta_capacity(state, tokens) or {"tokens": tokens})


# --- Python helpers for in-process tests (the control routes call these) ----------------


def bearer_headers(state: SandboxState, subject: str) -> dict[str, str]:
    """An Authorization header with a fresh access token of `subject` (consent granted)."""
    token = mint_grant(state, "microsoft", subject)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def create_mailbox(state: SandboxState, subject: str,
                   display_name: str | None = None) -> dict[str, str]:
    """Make the mailbox of a sandbox user (it is also made on the user's first API call):
    only an existing mailbox gets copies of meetings it is invited to."""
    with state.lock:
        box = store_of(state).mailbox(subject, display_name)
        return {"id": box.user_id, "displayName": box.display_name, "mail": box.address}


def seed_event(state: SandboxState, subject: str, body: dict[str, Any],
               immutable: bool = False) -> dict[str, Any]:
    """Create an event as the user would in Outlook: server-chosen ids; subscriptions and
    delta see it; invited sandbox mailboxes get their copies."""
    changes = parse_changes(body)
    with state.lock:
        store = store_of(state)
        box = store.mailbox(subject)
        record = store.create(box, changes, "user")
        return _render(store, record, None, immutable)


def user_edit_event(state: SandboxState, subject: str, event_id: str,
                    changes: dict[str, Any], immutable: bool = False) -> dict[str, Any]:
    """Change an event (or one occurrence) as the user would in Outlook (PATCH semantics)."""
    parsed = parse_changes(changes)
    with state.lock:
        store, box, record, original = _lookup(state, subject, event_id)
        store.update(box, record, original, parsed, "user")
        return _render(store, record, original, immutable)


def user_delete_event(state: SandboxState, subject: str, event_id: str) -> dict[str, Any]:
    with state.lock:
        store, box, record, original = _lookup(state, subject, event_id)
        store.delete(box, record, original, "user")
        return {"deleted": event_id}


def user_move_event(state: SandboxState, subject: str, event_id: str) -> dict[str, str]:
    """The user drags the event to another calendar and back: a new regular id (the old one
    stops resolving), the same immutable id."""
    with state.lock:
        store, box, record, _ = _lookup(state, subject, event_id)
        store.move(box, record, "user")
        return {"id": store.event_id(record, False), "immutableId": store.event_id(record, True)}


def respond(state: SandboxState, subject: str, event_id: str, response: str,
            send_response: bool = True) -> dict[str, Any]:
    """`subject` answers an invitation in Outlook: accept, tentativelyAccept or decline."""
    if response not in ("accept", "tentativelyAccept", "decline"):
        raise ValueError("response must be accept, tentativelyAccept or decline")
    with state.lock:
        store, box, record, _ = _lookup(state, subject, event_id)
        store.respond(box, record, response, send_response, "user")
        return _raw(store, record)


def raw_event(state: SandboxState, subject: str, event_id: str) -> dict[str, Any]:
    """The event (deleted or not) with both ids and its write log."""
    with state.lock:
        store = store_of(state)
        box = store.mailbox(subject)
        ref = store.ids.get(event_id)
        if ref is None or ref.owner.lower() != subject.lower():
            raise KeyError(f"no event {event_id!r} in {subject}'s mailbox")
        return _raw(store, box.events[ref.number])


def raw_events(state: SandboxState, subject: str) -> list[dict[str, Any]]:
    with state.lock:
        store = store_of(state)
        return [_raw(store, r) for r in store.mailbox(subject).events.values()]


def expire_delta_tokens(state: SandboxState, subject: str) -> int:
    """Evict every delta and skip token of the mailbox (next use: 410 SyncStateNotFound)."""
    with state.lock:
        return store_of(state).delta.expire(subject)


def reset_sync_state(state: SandboxState, subject: str) -> None:
    """Make the mailbox's tokens answer 410 resyncRequired with a Location header, as a
    synchronization reset does (delta-query-overview)."""
    with state.lock:
        store_of(state).delta.mark_reset(subject)


def set_delta_capacity(state: SandboxState, tokens: int) -> None:
    """How many tokens each mailbox keeps; older ones are evicted."""
    with state.lock:
        store_of(state).delta.capacity = max(1, tokens)


def subscriptions(state: SandboxState, subject: str | None = None) -> list[dict[str, Any]]:
    with state.lock:
        return [s for s in store_of(state).subscriptions.describe()
                if subject is None or s["owner"].lower() == subject.lower()]


def lifecycle_notification(state: SandboxState, subscription_id: str, event: str,
                           pause: bool = True) -> dict[str, Any]:
    """Send a lifecycle notification (reauthorizationRequired, subscriptionRemoved, missed)
    to the subscription's lifecycleNotificationUrl. subscriptionRemoved ends the
    subscription; reauthorizationRequired with pause=True holds (loses) its change
    notifications until the app reauthorizes or renews it."""
    with state.lock:
        subs = store_of(state).subscriptions
        sub = subs.items.get(subscription_id)
        if sub is None:
            raise KeyError(f"no subscription {subscription_id!r}")
        return subs.lifecycle(sub, event, pause)


def set_throttle(state: SandboxState, **limits: Any):
    """concurrency, requests (per window_s seconds), retry_after_s: per app and mailbox."""
    return state.stores[THROTTLE_KEY].configure(**limits)


def set_validation_timeout(state: SandboxState, seconds: float) -> None:
    """How long subscription validation waits for the endpoint (Graph: 10 s)."""
    with state.lock:
        store_of(state).subscriptions.validation_timeout = seconds


def _lookup(state: SandboxState, subject: str, event_id: str):
    store = store_of(state)
    box = store.mailbox(subject)
    record, original = store.resolve(box, event_id)
    return store, box, record, original


def _render(store: GraphStore, record: EventRecord, original, immutable: bool) -> dict[str, Any]:
    view = store.view(record, immutable, original)
    return render_event(view, RenderContext(zone=ZoneInfo("UTC")))


def _raw(store: GraphStore, record: EventRecord) -> dict[str, Any]:
    return {"event": _render(store, record, None, False),
            "id": store.event_id(record, False), "immutableId": store.event_id(record, True),
            "owner": record.owner, "deleted": record.deleted,
            "extendedProperties": {prop_id: value for prop_id, value in record.extended.values()},
            "writes": [dict(w) for w in record.writes]}

