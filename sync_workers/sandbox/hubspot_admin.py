"""What an admin or a user does to the emulated HubSpot portal, for tests and the demo:
Python helpers (taking the SandboxState) and the same as control routes under
`/_sandbox/hubspot/`. None of this counts against the API rate limits.

"As a user" actions (`create_as_user`, `update_as_user`, `delete_as_user`,
`merge_contacts`) are a portal user's edits in the HubSpot UI: the same validation as the
API, webhooks with `changeSource` CRM_UI and `sourceId` `userId:<id>`. `seed` inserts
quietly (no webhook) and may back-date a record. Settings: `set_search_lag` (seconds
before a write is visible to search; 0 allowed), `configure` (rate limits, webhook
timeout and retries).
"""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from . import hubspot_webhooks as webhooks
from .control import control_route, json_body
from .core import SandboxState
from .hubspot_common import CREATED, MODIFIED, PROVIDER, HsError, now_ms, object_type
from .hubspot_properties import PropertyDef, definition_from_body, option
from .hubspot_store import Actor, Portal, Record
from .oauth_providers import DEFAULT_SUBJECTS


def portal(state: SandboxState) -> Portal:
    return state.stores[PROVIDER]


def _type(name: str) -> str:
    type_ = object_type(name)
    if type_ is None:
        raise ValueError(f"unknown object type {name!r} (contacts or meetings)")
    return type_


def _user_action(state: SandboxState, action):
    with state.lock:
        the_portal = portal(state)
        try:
            return action(the_portal, now_ms(state.clock))
        finally:
            webhooks.flush(state, the_portal)


def _ui_actor(p: Portal, user: str | None, now: int) -> Actor:
    owner = p.owner_for_user(user or DEFAULT_SUBJECTS[PROVIDER], now)
    return Actor("CRM_UI", f"userId:{owner.user_id}")


# --- settings -----------------------------------------------------------------------------

def configure(state: SandboxState, **settings: Any) -> dict[str, Any]:
    """Change portal settings (search_lag, rate_limit, rate_window, search_rate_limit,
    webhook_timeout, webhook_retries, webhook_batch_size); returns them all."""
    with state.lock:
        s = portal(state).settings
        for name, value in settings.items():
            if not hasattr(s, name):
                raise ValueError(f"unknown HubSpot setting {name!r}")
            if value is not None:
                if float(value) < 0:
                    raise ValueError(f"{name} must not be negative")
                setattr(s, name, type(getattr(s, name))(value))
        return dict(vars(s))


def set_search_lag(state: SandboxState, seconds: float) -> None:
    configure(state, search_lag=seconds)


def api_usage(state: SandboxState) -> tuple[int, int]:
    """(requests in the current rolling window, the limit)."""
    with state.lock:
        p = portal(state)
        horizon = state.clock.time() - p.settings.rate_window
        return sum(1 for t in p.api_calls if t > horizon), p.settings.rate_limit


# --- owners -------------------------------------------------------------------------------

def add_owner(state: SandboxState, email: str, first_name: str | None = None,
              last_name: str | None = None) -> str:
    """A new portal user who can own records; returns the owner id."""
    with state.lock:
        return portal(state).add_owner(email, first_name, last_name, now_ms(state.clock)).id


def archive_owner(state: SandboxState, owner_id: str) -> None:
    """The user is removed: the owner is archived and can no longer be assigned."""
    with state.lock:
        owner = portal(state).owners.get(str(owner_id))
        if owner is None:
            raise ValueError(f"no such owner: {owner_id}")
        owner.archived = True
        owner.updated_at = now_ms(state.clock)


def owners(state: SandboxState) -> list[dict[str, Any]]:
    with state.lock:
        return [o.render() for o in portal(state).owners.values()]


# --- properties -------------------------------------------------------------------------

def add_property(state: SandboxState, object_name: str, name: str, type: str = "string",
                 field_type: str | None = None, *, label: str | None = None,
                 group: str | None = None, options: list[str] | None = None,
                 unique: bool = False, required: bool = False) -> dict[str, Any]:
    """A custom property an admin creates in settings; returns its definition."""
    type_ = _type(object_name)
    field_type = field_type or {"string": "text", "number": "number", "datetime": "date",
                                "date": "date", "bool": "booleancheckbox",
                                "enumeration": "select"}[type]
    with state.lock:
        p = portal(state)
        body = {"name": name, "label": label or name, "type": type, "fieldType": field_type,
                "groupName": group or next(iter(p.groups[type_])), "hasUniqueValue": unique,
                "options": [option(v, v, i) for i, v in enumerate(options or [])]}
        prop = definition_from_body(body, p.groups[type_], p.properties[type_],
                                    now_ms(state.clock))
        prop.required = required
        p.properties[type_][name] = prop
        return prop.render()


def _prop(p: Portal, type_: str, name: str) -> PropertyDef:
    prop = p.properties[type_].get(name)
    if prop is None or prop.archived:
        raise ValueError(f"no {type_} property {name!r}")
    return prop


def add_option(state: SandboxState, object_name: str, name: str, value: str,
               label: str | None = None) -> dict[str, Any]:
    """Add an option to an enumeration property (e.g. a custom meeting outcome)."""
    type_ = _type(object_name)
    with state.lock:
        prop = _prop(portal(state), type_, name)
        if prop.type != "enumeration":
            raise ValueError(f"{name} is not an enumeration property")
        if value not in prop.option_values():
            prop.options.append(option(value, label, len(prop.options)))
            prop.updated_at = now_ms(state.clock)
        return prop.render()


def make_required(state: SandboxState, object_name: str, name: str,
                  required: bool = True) -> None:
    """Make saves without a value for the property fail (MISSING_REQUIRED_PROPERTY)."""
    with state.lock:
        _prop(portal(state), _type(object_name), name).required = required


# --- records ------------------------------------------------------------------------------

def seed(state: SandboxState, object_name: str, properties: dict[str, Any], *,
         at_ms: int | None = None) -> str:
    """Insert a record quietly (validation applies, no webhook); `at_ms` back-dates its
    create/modify timestamps and its search-index entry."""
    type_ = _type(object_name)
    with state.lock:
        p = portal(state)
        now = now_ms(state.clock)
        stamp = now if at_ms is None else int(at_ms)
        target, p.webhooks.target_url = p.webhooks.target_url, None
        try:
            rec = p.create(type_, properties, Actor("IMPORT", ""), stamp)
        finally:
            p.webhooks.target_url = target
            p.webhooks.pending.clear()
        return rec.id


def create_as_user(state: SandboxState, object_name: str, properties: dict[str, Any], *,
                   user: str | None = None) -> str:
    """A user creates a record in the HubSpot UI; returns its id."""
    type_ = _type(object_name)
    return _user_action(state, lambda p, now: p.create(
        type_, properties, _ui_actor(p, user, now), now).id)


def update_as_user(state: SandboxState, object_name: str, record_id: str,
                   properties: dict[str, Any], *, user: str | None = None) -> dict[str, Any]:
    type_ = _type(object_name)

    def act(p: Portal, now: int) -> dict[str, Any]:
        rec = _live(p, type_, record_id)
        p.update(rec, properties, _ui_actor(p, user, now), now)
        return p.render(rec, everything=True)
    return _user_action(state, act)


def delete_as_user(state: SandboxState, object_name: str, record_id: str, *,
                   user: str | None = None) -> None:
    type_ = _type(object_name)
    _user_action(state, lambda p, now: p.archive(_live(p, type_, record_id),
                                                 _ui_actor(p, user, now), now))


def restore(state: SandboxState, object_name: str, record_id: str) -> None:
    """Restore an archived record from the recycle bin (same id)."""
    type_ = _type(object_name)

    def act(p: Portal, now: int) -> None:
        rec = p.find(type_, record_id, archived=True)
        if rec is None:
            raise ValueError(f"no archived {type_} {record_id}")
        p.restore(rec, _ui_actor(p, None, now), now)
    _user_action(state, act)


def merge_contacts(state: SandboxState, primary_id: str, merged_id: str) -> dict[str, Any]:
    """A user merges `merged_id` into `primary_id` in the UI."""
    def act(p: Portal, now: int) -> dict[str, Any]:
        primary = _live(p, "contacts", primary_id)
        p.merge(primary, _live(p, "contacts", merged_id), _ui_actor(p, None, now), now)
        return p.render(primary, everything=True)
    return _user_action(state, act)


def associate(state: SandboxState, meeting_id: str, contact_id: str) -> None:
    with state.lock:
        p = portal(state)
        _live(p, "meetings", meeting_id)
        _live(p, "contacts", contact_id)
        p.associate(str(meeting_id), str(contact_id), {200})


def _live(p: Portal, type_: str, record_id: str) -> Record:
    rec = p.find(type_, str(record_id))
    if rec is None:
        raise ValueError(f"no {type_} {record_id}")
    return rec


def records(state: SandboxState, object_name: str, archived: bool = False
            ) -> list[dict[str, Any]]:
    """Every record with all its properties, as the API renders them."""
    type_ = _type(object_name)
    with state.lock:
        p = portal(state)
        return [p.render(r, everything=True) for r in
                sorted(p.records[type_].values(), key=lambda r: int(r.id))
                if r.archived == archived and not r.merged_into]


def record(state: SandboxState, object_name: str, record_id: str) -> dict[str, Any] | None:
    type_ = _type(object_name)
    with state.lock:
        p = portal(state)
        rec = p.find(type_, str(record_id)) or p.find(type_, str(record_id), archived=True)
        return p.render(rec, everything=True) if rec else None


def associations(state: SandboxState, meeting_id: str) -> list[str]:
    with state.lock:
        return portal(state).associated("meetings", str(meeting_id))


def touch_timestamps(state: SandboxState, object_name: str, record_id: str, at_ms: int
                     ) -> None:
    """Back-date a record's modify timestamp (for incremental-sync tests)."""
    type_ = _type(object_name)
    with state.lock:
        rec = _live(portal(state), type_, record_id)
        rec.values[MODIFIED[type_]] = str(at_ms)
        rec.updated_at = at_ms
        if at_ms < int(rec.values[CREATED[type_]]):
            rec.values[CREATED[type_]] = str(at_ms)
            rec.created_at = at_ms
        rec.versions[:] = [(at_ms, dict(rec.values), False)]


# --- webhooks -------------------------------------------------------------------------------

def subscribe_webhooks(state: SandboxState, url: str, events: list[str] | tuple[str, ...] = (
        "contact.creation", "contact.deletion", "contact.merge"), *,
        properties: list[str] | tuple[str, ...] = ()) -> list[int]:
    """Point the app's webhooks at `url` (one target URL per app) and subscribe to
    `events`; `contact.propertyChange` gets one subscription per name in `properties`.
    Returns the subscription ids."""
    with state.lock:
        p = portal(state)
        now = now_ms(state.clock)
        p.webhooks.target_url = url
        ids = []
        for event in events:
            if event == "contact.propertyChange":
                ids += [webhooks.subscribe(p, event, name, now).id for name in properties]
            else:
                ids.append(webhooks.subscribe(p, event, None, now).id)
        if properties and "contact.propertyChange" not in events:
            ids += [webhooks.subscribe(p, "contact.propertyChange", name, now).id
                    for name in properties]
        return ids


def unsubscribe(state: SandboxState, subscription_id: int) -> bool:
    with state.lock:
        return portal(state).webhooks.subscriptions.pop(int(subscription_id), None) is not None


def set_subscription_active(state: SandboxState, subscription_id: int, active: bool) -> None:
    with state.lock:
        portal(state).webhooks.subscriptions[int(subscription_id)].active = active


def subscriptions(state: SandboxState) -> list[dict[str, Any]]:
    with state.lock:
        return [s.render() for s in portal(state).webhooks.subscriptions.values()]


def sent_batches(state: SandboxState) -> list[list[dict[str, Any]]]:
    """Every webhook batch queued for sending (first-attempt form), oldest first."""
    with state.lock:
        return [list(b) for b in portal(state).webhooks.sent]


# --- control routes ---------------------------------------------------------------------------

def register_control(app: Flask, state: SandboxState) -> None:
    route = control_route(app, "/_sandbox/hubspot", "hs_control", HsError)
    body = json_body

    @route("/settings", ["GET"])
    def get_settings():
        return jsonify(configure(state))

    @route("/settings", ["POST", "PATCH"])
    def post_settings():
        return jsonify(configure(state, **body()))

    @route("/owners", ["GET"])
    def list_owners():
        return jsonify(owners(state))

    @route("/owners", ["POST"])
    def post_owner():
        b = body()
        return jsonify(id=add_owner(state, b["email"], b.get("first_name"),
                                    b.get("last_name"))), 201

    @route("/owners/<owner_id>/archive", ["POST"])
    def post_archive_owner(owner_id):
        archive_owner(state, owner_id)
        return jsonify(ok=True)

    @route("/properties/<object_name>", ["POST"])
    def post_property(object_name):
        b = body()
        return jsonify(add_property(
            state, object_name, b.pop("name"), b.pop("type", "string"),
            b.pop("field_type", None), **b)), 201

    @route("/properties/<object_name>/<name>/options", ["POST"])
    def post_option(object_name, name):
        b = body()
        return jsonify(add_option(state, object_name, name, b["value"], b.get("label")))

    @route("/properties/<object_name>/<name>/required", ["POST", "PUT"])
    def post_required(object_name, name):
        make_required(state, object_name, name, bool(body().get("required", True)))
        return jsonify(ok=True)

    @route("/records/<object_name>", ["GET"])
    def list_records(object_name):
        return jsonify(records(state, object_name, request.args.get("archived") == "true"))

    @route("/records/<object_name>", ["POST"])
    def post_record(object_name):
        b = body()
        if b.get("as_user", True):
            return jsonify(id=create_as_user(state, object_name, b.get("properties", {}),
                                             user=b.get("user"))), 201
        return jsonify(id=seed(state, object_name, b.get("properties", {}),
                               at_ms=b.get("at_ms"))), 201

    @route("/records/<object_name>/<record_id>", ["GET"])
    def get_record(object_name, record_id):
        found = record(state, object_name, record_id)
        return (jsonify(found), 200) if found else (jsonify(error="not found"), 404)

    @route("/records/<object_name>/<record_id>", ["PATCH"])
    def patch_record(object_name, record_id):
        b = body()
        return jsonify(update_as_user(state, object_name, record_id, b.get("properties", {}),
                                      user=b.get("user")))

    @route("/records/<object_name>/<record_id>", ["DELETE"])
    def delete_record(object_name, record_id):
        delete_as_user(state, object_name, record_id)
        return "", 204

    @route("/records/<object_name>/<record_id>/restore", ["POST"])
    def post_restore(object_name, record_id):
        restore(state, object_name, record_id)
        return jsonify(ok=True)

    @route("/merge", ["POST"])
    def post_merge():
        b = body()
        return jsonify(merge_contacts(state, str(b["primary_id"]), str(b["merged_id"])))

    @route("/webhooks/subscriptions", ["GET"])
    def get_subscriptions():
        return jsonify(subscriptions(state))

    @route("/webhooks/subscriptions", ["POST"])
    def post_subscriptions():
        b = body()
        ids = subscribe_webhooks(state, b["url"], b.get("events", ["contact.creation"]),
                                 properties=b.get("properties", []))
        return jsonify(ids=ids), 201

    @route("/webhooks/subscriptions/<int:subscription_id>", ["DELETE"])
    def delete_subscription(subscription_id):
        return jsonify(removed=unsubscribe(state, subscription_id))
