"""What an admin or a user does to the emulated org, for tests and the demo: Python
helpers (taking the SandboxState) and the same as control routes under
`/_sandbox/salesforce/`. None of this counts against the API allowance.

"As a user" actions go through the same save rules as the API, move SystemModstamp and
fire Outbound Messages; `seed` inserts quietly (no outbound message) and may back-date a
record with `at` so that tests get exact, shared timestamps. They act as the org's admin
(salesforce_store.HUMAN_USER) unless another user is named: `create_event_as` is "a
meeting Bob created in Salesforce", owned by Bob.

Users are an admin's doing too (Setup > Users): `add_user`, `deactivate_user`; the API user
the sandbox's OAuth grants act as is `integration_user_id(state)`.

People (salesforce_people has what each rests on): `set_shared_activities` (the Activity
Settings checkbox; on by default), `add_lead` / `convert_lead`, `add_duplicate_rule` /
`remove_duplicate_rule` (a "same e-mail" duplicate rule, Block or Allow-with-Alert).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable

from flask import Flask, Response, jsonify, request

from . import oauth
from . import salesforce_people as people
from .control import control_route, json_body
from .core import SandboxState
from .oauth_store import store_for
from .salesforce_common import SfError, id_key, now_seconds, parse_datetime
from .salesforce_outbound import flush, new_action
from .salesforce_people import DuplicateHeader, DuplicateRule
from .salesforce_schema import FieldDef, render
from .salesforce_store import HUMAN_USER, Org, ValidationRule

PROVIDER = "salesforce"
CUSTOM_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "boolean", "date",
                "datetime", "int", "double"}
RENDER_VERSION = "62.0"


def org(state: SandboxState) -> Org:
    return state.stores[PROVIDER]


def _user_action(state: SandboxState, action: Callable[[Org, datetime], Any]) -> Any:
    with state.lock:
        the_org = org(state)
        now = now_seconds(state.clock)
        the_org.purge(now)
        try:
            return action(the_org, now)
        finally:
            flush(state, the_org)


# --- schema and rules ---------------------------------------------------------------------

def add_custom_field(state: SandboxState, sobject: str, name: str, type: str = "string", *,
                     length: int = 255, required: bool = False, external_id: bool = False,
                     unique: bool = False, case_sensitive: bool = False, default: Any = None,
                     picklist: list[str] | None = None, label: str | None = None) -> dict:
    """Add a custom field at run time; returns its describe entry. A required field
    without a default is createable, not nillable, not defaultedOnCreate: saves without
    it fail with REQUIRED_FIELD_MISSING (updates too: it is universally required)."""
    if not name.endswith("__c"):
        raise ValueError("custom field names end with __c")
    if type not in CUSTOM_TYPES:
        raise ValueError(f"unsupported custom field type {type!r}")
    with state.lock:
        t = org(state).type(sobject)
        if t.field(name):
            raise ValueError(f"{t.name}.{name} exists")
        boolean = type == "boolean"  # checkboxes are never null and default to false
        f = FieldDef(name, type, label or name[:-3].replace("_", " "),
                     length if type in {"string", "textarea", "email", "phone", "url",
                                        "picklist"} else 0,
                     nillable=not required and not boolean,
                     defaulted_on_create=default is not None or boolean,
                     external_id=external_id, unique=unique, case_sensitive=case_sensitive,
                     picklist=tuple(picklist or ()), default=bool(default) if boolean else default,
                     custom=True)
        t.fields.append(f)
        for rec in org(state).records[t.name].values():
            rec.setdefault(name, False if boolean else None)
        return f.describe()


def remove_custom_field(state: SandboxState, sobject: str, name: str) -> bool:
    """Delete a custom field (an org before the sync's setup, or an admin's undo); its
    values go with it. True when it existed."""
    if not name.endswith("__c"):
        raise ValueError("only custom fields (ending in __c) can be deleted")
    with state.lock:
        t = org(state).type(sobject)
        field = t.field(name)
        if field is None:
            return False
        t.fields.remove(field)
        for rec in org(state).records[t.name].values():
            rec.pop(name, None)
        return True


def add_validation_rule(state: SandboxState, sobject: str, name: str, message: str, *,
                        field: str | None = None, kind: str | None = None,
                        pattern: str | None = None,
                        condition: Callable[[dict[str, Any]], bool] | None = None) -> None:
    """A rule rejecting saves with FIELD_CUSTOM_VALIDATION_EXCEPTION: `condition(record)`
    true means reject (like an error-condition formula), or kind="required" (field must
    not be blank) or kind="regex" (a non-blank field must match `pattern` entirely)."""
    if condition is None:
        condition = _rule_condition(kind, field, pattern)
    with state.lock:
        t = org(state).type(sobject)
        rules = org(state).rules[t.name]
        rules[:] = [r for r in rules if r.name != name]
        rules.append(ValidationRule(name, message, condition, field=field,
                                    spec={"kind": kind, "field": field, "pattern": pattern}))


def _rule_condition(kind: str | None, field: str | None,
                    pattern: str | None) -> Callable[[dict[str, Any]], bool]:
    if not field:
        raise ValueError("a required/regex rule needs a field")
    if kind == "required":
        return lambda rec: rec.get(field) in (None, "")
    if kind == "regex" and pattern:
        compiled = re.compile(pattern)
        return lambda rec: rec.get(field) not in (None, "") and \
            compiled.fullmatch(str(rec[field])) is None
    raise ValueError("kind must be 'required' or 'regex' (with a pattern), or pass condition")


def remove_validation_rule(state: SandboxState, sobject: str, name: str) -> bool:
    with state.lock:
        rules = org(state).rules[org(state).type(sobject).name]
        kept = [r for r in rules if r.name != name]
        removed = len(kept) != len(rules)
        rules[:] = kept
        return removed


# --- settings -----------------------------------------------------------------------------

def configure(state: SandboxState, *, daily_api_limit: int | None = None,
              query_batch_size: int | None = None,
              session_timeout: int | None = None) -> dict[str, Any]:
    """Change org settings (None leaves one as it is); returns settings(state)."""
    with state.lock:
        if daily_api_limit is not None:
            org(state).daily_api_limit = int(daily_api_limit)
        if query_batch_size is not None:
            if int(query_batch_size) < 1:
                raise ValueError("query_batch_size must be positive")
            org(state).query_batch_size = int(query_batch_size)
    if session_timeout is not None:
        set_session_timeout(state, int(session_timeout))
    return settings(state)


def set_session_timeout(state: SandboxState, seconds: int) -> None:
    """The org's session timeout: the life of access tokens issued from now on."""
    with state.lock:
        for client_id in list(store_for(state, PROVIDER).clients):
            oauth.configure_client(state, PROVIDER, client_id, access_token_lifetime=seconds)


def settings(state: SandboxState) -> dict[str, Any]:
    with state.lock:
        the_org = org(state)
        return {"org_id": the_org.org_id, "daily_api_limit": the_org.daily_api_limit,
                "api_usage": api_usage(state)[0], "query_batch_size": the_org.query_batch_size,
                "session_timeout": _session_timeout(state),
                "shared_activities": the_org.shared_activities,
                "duplicate_rules": duplicate_rules(state)}


def _session_timeout(state: SandboxState) -> int:
    store = store_for(state, PROVIDER)
    return store.clients[store.profile.default_client_id].access_token_lifetime


def api_usage(state: SandboxState) -> tuple[int, int]:
    """(calls in the last 24 h, daily limit)."""
    with state.lock:
        the_org = org(state)
        horizon = state.clock.time() - 24 * 3600
        return sum(1 for t in the_org.api_calls if t > horizon), the_org.daily_api_limit


# --- records --------------------------------------------------------------------------------

def seed(state: SandboxState, sobject: str, fields: dict[str, Any], *,
         at: datetime | None = None, owner_id: str | None = None) -> str:
    """Insert a record directly (save rules apply, no outbound message). `at` back-dates
    CreatedDate, LastModifiedDate and SystemModstamp (to the second). `owner_id`: the
    record is that user's (OwnerId and CreatedById), else the admin's."""
    with state.lock:
        now = now_seconds(state.clock)
        stamp = now if at is None else at.replace(microsecond=0)
        if stamp > now:
            raise ValueError("`at` must not be in the sandbox's future")
        the_org = org(state)
        actor = _ui_user(the_org, owner_id) if owner_id else HUMAN_USER
        body = {**fields, "OwnerId": actor} if owner_id else fields
        rec = the_org.create(sobject, body, actor, stamp, notify=False)
        return rec["Id"]


# A user in the UI sees a duplicate rule's alert and may save anyway ("Allow" rules); a
# "Block" rule stops them as it stops the API.
_UI_DUPLICATES = DuplicateHeader(version=RENDER_VERSION, allow_save=True)


def create_as_user(state: SandboxState, sobject: str, fields: dict[str, Any], *,
                   user_id: str | None = None) -> str:
    """A user creates a record in the Salesforce UI (the admin unless `user_id` names
    another user, who then owns and created it); workflow fires, duplicate rules run."""
    def act(o: Org, now: datetime) -> str:
        actor = _ui_user(o, user_id) if user_id else HUMAN_USER
        body = {**fields, "OwnerId": actor} if user_id else fields
        return o.create(sobject, body, actor, now, duplicates=_UI_DUPLICATES)["Id"]
    return _user_action(state, act)


def add_series_occurrence(state: SandboxState, master_id: str, owner_id: str,
                          fields: dict[str, Any]) -> str:
    """An occurrence Salesforce generated for a recurring series (Classic): an Event whose
    read-only RecurrenceActivityId names the series' master."""
    record_id = create_event_as(state, owner_id, fields)
    with state.lock:
        org(state).get("Event", record_id)["RecurrenceActivityId"] = master_id
    return record_id


def create_event_as(state: SandboxState, owner_id: str, fields: dict[str, Any]) -> str:
    """An Event `owner_id` created in the Salesforce UI: owned, created and last modified
    by that user, save rules and workflow (outbound messages) as for any UI save."""
    return create_as_user(state, "Event", fields, user_id=owner_id)


def _ui_user(o: Org, user_id: str) -> str:
    """The canonical id of a user who can work in the UI (exists and is active)."""
    user = o.user(user_id)
    if user is None:
        raise ValueError(f"no such user: {user_id}")
    if not user["IsActive"]:
        raise SfError(400, "INACTIVE_OWNER_OR_USER",
                      f"operation performed with inactive user [{user['Id']}]", [])
    return user["Id"]


# --- users ----------------------------------------------------------------------------------

def add_user(state: SandboxState, email: str, first_name: str | None = None,
             last_name: str | None = None, active: bool = True, *,
             username: str | None = None) -> str:
    """A new user (the admin adds them in Setup); returns the 18-char 005 id. E-mail
    addresses need not be unique; the username defaults to the e-mail, with a numeric
    suffix (`bob@example.com.2`) when taken, and must be unique when given. LastName
    defaults to the e-mail's local part."""
    with state.lock:
        return org(state).add_user(email, first_name, last_name, now_seconds(state.clock),
                                   active=active, username=username)["Id"]


def deactivate_user(state: SandboxState, user_id: str) -> None:
    """Setup > Users > Edit > Active off: the user stays (users are never deleted) with
    IsActive false; records can no longer be given to them (INACTIVE_OWNER_OR_USER) and
    their access tokens stop working (401 INVALID_SESSION_ID, identity URL 403)."""
    _set_active(state, user_id, False)


def reactivate_user(state: SandboxState, user_id: str) -> None:
    _set_active(state, user_id, True)


def _set_active(state: SandboxState, user_id: str, active: bool) -> None:
    def act(o: Org, now: datetime) -> None:
        if o.user(user_id) is None:
            raise ValueError(f"no such user: {user_id}")
        o.set_user_active(user_id, active, HUMAN_USER, now)
    _user_action(state, act)


def integration_user_id(state: SandboxState) -> str:
    """The API user the sandbox's OAuth grants act as by default (an active User)."""
    with state.lock:
        return org(state).integration_user_id


def import_as_user(state: SandboxState, sobject: str, rows: list[dict[str, Any]]) -> list[str]:
    """A user's data import (all rows in one transaction, workflow firing for each):
    the outbound messages carry up to 100 notifications each."""
    def act(o: Org, now: datetime) -> list[str]:
        created, queued = [], len(o.pending)
        try:
            for fields in rows:
                created.append(o.create(sobject, fields, HUMAN_USER, now)["Id"])
        except SfError:  # all or nothing
            for record_id in created:
                del o.records[o.type(sobject).name][id_key(record_id)]
            del o.pending[queued:]
            raise
        return created
    return _user_action(state, act)


def update_as_user(state: SandboxState, sobject: str, record_id: str,
                   fields: dict[str, Any]) -> dict[str, Any]:
    rec = _user_action(state, lambda o, now: o.update(sobject, record_id, fields, HUMAN_USER, now))
    return render(org(state).type(sobject), rec, RENDER_VERSION)


def delete_as_user(state: SandboxState, sobject: str, record_id: str) -> None:
    _user_action(state, lambda o, now: o.delete(sobject, record_id, now, HUMAN_USER))


def undelete(state: SandboxState, sobject: str, record_id: str) -> None:
    """Restore from the recycle bin (same Id), with what was deleted along with it."""
    _user_action(state, lambda o, now: o.undelete(sobject, record_id, now))


def touch(state: SandboxState, sobject: str, record_id: str) -> None:
    """A system-only change (sharing recalculation, roll-up): SystemModstamp moves,
    LastModifiedDate doesn't, no outbound message."""
    def act(o: Org, now: datetime) -> None:
        o.live(o.type(sobject).name, record_id)["SystemModstamp"] = now
    _user_action(state, act)


def merge_contacts(state: SandboxState, master_id: str, loser_ids: list[str],
                   fields: dict[str, Any] | None = None) -> dict[str, Any]:
    rec = _user_action(state, lambda o, now: o.merge(master_id, loser_ids, fields, HUMAN_USER,
                                                    now))
    return render(org(state).schema["Contact"], rec, RENDER_VERSION)


def empty_recycle_bin(state: SandboxState) -> None:
    """Purge every deleted record now: deleted/ can no longer reach back past this."""
    with state.lock:
        org(state).purge_before(now_seconds(state.clock))


def records(state: SandboxState, sobject: str, include_deleted: bool = False) -> list[dict]:
    """Every record as the REST API shows it (API v62.0), deleted ones on request."""
    with state.lock:
        t = org(state).type(sobject)
        return [render(t, r, RENDER_VERSION) for r in org(state).all(t.name, include_deleted)]


def record(state: SandboxState, sobject: str, record_id: str) -> dict[str, Any] | None:
    with state.lock:
        t = org(state).type(sobject)
        rec = org(state).get(t.name, record_id)
        return render(t, rec, RENDER_VERSION) if rec else None


# --- people: Shared Activities, leads, duplicate rules ---------------------------------------

def set_shared_activities(state: SandboxState, enabled: bool) -> None:
    """Setup > Activity Settings > "Allow users to relate multiple contacts to tasks and
    events" (on by default). Off: EventRelation loses IsParent/IsWhat/IsInvitee/AccountId,
    EventWhoRelation disappears, relations that aren't invitees are dropped. On again:
    every event gets who/what relations for its WhoId/WhatId."""
    _user_action(state, lambda o, now: people.set_shared_activities(o, enabled, HUMAN_USER,
                                                                    now))


def shared_activities(state: SandboxState) -> bool:
    with state.lock:
        return org(state).shared_activities


def add_lead(state: SandboxState, email: str, last_name: str, company: str,
             first_name: str | None = None) -> str:
    """A lead a user enters in the UI (Status takes its default); returns the 00Q id."""
    fields = {"Email": email, "LastName": last_name, "Company": company}
    if first_name:
        fields["FirstName"] = first_name
    return create_as_user(state, "Lead", fields)


def convert_lead(state: SandboxState, lead_id: str) -> str:
    """Convert a lead (no opportunity): a new Account named after Company and a new Contact;
    the lead gets IsConverted, ConvertedContactId/AccountId/Date; its events move to the
    contact. Returns the Contact id."""
    return _user_action(state, lambda o, now: people.convert_lead(o, lead_id, HUMAN_USER,
                                                                  now)["Id"])


def add_duplicate_rule(state: SandboxState, sobject: str, action: str = "block", *,
                       compare_to: list[str] | tuple[str, ...] | None = None,
                       name: str | None = None, message: str = "Use one of these records?",
                       on_edit: bool = False) -> str:
    """An active duplicate rule on Contact or Lead matching "same e-mail" (exact,
    case-insensitive) against the records of `compare_to` (default: the same object;
    e.g. ("Contact", "Lead")). action "block": saves are refused; "allow": Allow with
    Alert, an API save goes through only with `Sforce-Duplicate-Rule-Header:
    allowSave=true`. Runs on create (and upsert creating); on edit too with on_edit.
    Returns the rule's name (the duplicateRule of the error)."""
    if action not in ("block", "allow"):
        raise ValueError("action must be 'block' or 'allow'")
    with state.lock:
        the_org = org(state)
        t = the_org.type(sobject)
        if t.name not in ("Contact", "Lead"):
            raise ValueError("duplicate rules are emulated on Contact and Lead")
        targets = tuple(the_org.type(o).name for o in (compare_to or (t.name,)))
        unknown = [o for o in targets if o not in ("Contact", "Lead")]
        if unknown:
            raise ValueError(f"can only compare with Contact and Lead: {unknown}")
        rule_name = name or people.new_rule_name(the_org, t.name)
        the_org.duplicate_rules[:] = [r for r in the_org.duplicate_rules if r.name != rule_name]
        the_org.duplicate_rules.append(DuplicateRule(rule_name, t.name, action, targets,
                                                     message, on_edit))
        return rule_name


def remove_duplicate_rule(state: SandboxState, name: str) -> bool:
    with state.lock:
        rules = org(state).duplicate_rules
        kept = [r for r in rules if r.name != name]
        removed = len(kept) != len(rules)
        rules[:] = kept
        return removed


def duplicate_rules(state: SandboxState) -> list[dict[str, Any]]:
    with state.lock:
        return [{"name": r.name, "sobject": r.sobject, "action": r.action,
                 "compare_to": list(r.compare_to), "message": r.message, "on_edit": r.on_edit}
                for r in org(state).duplicate_rules]


# --- outbound messages --------------------------------------------------------------------

def add_outbound_message(state: SandboxState, sobject: str, url: str, *,
                         fields: list[str] | None = None, name: str = "") -> str:
    """A workflow rule (created, and every time it's edited) with an Outbound Message
    action posting to `url`; returns the ActionId. fields=None sends every field."""
    with state.lock:
        t = org(state).type(sobject)
        unknown = [f for f in fields or () if t.field(f) is None]
        if unknown:
            raise ValueError(f"unknown {t.name} fields: {unknown}")
        canonical = [t.field(f).name for f in fields] if fields else None
        action = new_action(t.name, url, canonical, name or f"{t.name} changes")
        org(state).outbound[action.action_id] = action
        return action.action_id


def remove_outbound_message(state: SandboxState, action_id: str) -> bool:
    with state.lock:
        return org(state).outbound.pop(action_id, None) is not None


def outbound_messages(state: SandboxState) -> list[dict[str, Any]]:
    with state.lock:
        return [{"action_id": a.action_id, "sobject": a.sobject, "url": a.url,
                 "fields": list(a.fields) if a.fields else None, "name": a.name}
                for a in org(state).outbound.values()]


# --- control routes -------------------------------------------------------------------------

def register_control(app: Flask, state: SandboxState) -> None:
    route = control_route(app, "/_sandbox/salesforce", "sf_control", SfError)
    body = json_body

    @route("/settings", ["GET"])
    def get_settings():
        return jsonify(settings(state))

    @route("/settings", ["POST", "PATCH"])
    def post_settings():
        return jsonify(configure(state, **body()))

    @route("/fields", ["POST"])
    def post_field():
        b = body()
        return jsonify(add_custom_field(state, b.pop("sobject"), b.pop("name"), **b)), 201

    @route("/validation-rules", ["POST"])
    def post_rule():
        b = body()
        add_validation_rule(state, b["sobject"], b["name"], b["message"], field=b.get("field"),
                            kind=b.get("kind"), pattern=b.get("pattern"))
        return jsonify(ok=True), 201

    @route("/validation-rules/<sobject>/<name>", ["DELETE"])
    def delete_rule(sobject, name):
        return jsonify(removed=remove_validation_rule(state, sobject, name))

    @route("/records/<sobject>", ["GET"])
    def list_records(sobject):
        return jsonify(records(state, sobject, request.args.get("include_deleted") == "1"))

    @route("/records/<sobject>", ["POST"])
    def post_record(sobject):
        b = body()
        owner = b.get("owner_id")
        if b.get("as_user"):
            return jsonify(id=create_as_user(state, sobject, b.get("fields", {}),
                                             user_id=owner)), 201
        at = parse_datetime(b["at"]) if b.get("at") else None
        return jsonify(id=seed(state, sobject, b.get("fields", {}), at=at,
                               owner_id=owner)), 201

    @route("/users", ["GET"])
    def list_users():
        return jsonify(records(state, "User"))

    @route("/users", ["POST"])
    def post_user():
        b = body()
        user_id = add_user(state, b["email"], b.get("first_name"), b.get("last_name"),
                           bool(b.get("active", True)), username=b.get("username"))
        return jsonify(id=user_id), 201

    @route("/users/integration", ["GET"])
    def get_integration_user():
        return jsonify(id=integration_user_id(state))

    @route("/users/<user_id>/deactivate", ["POST"])
    def post_deactivate(user_id):
        deactivate_user(state, user_id)
        return jsonify(ok=True)

    @route("/users/<user_id>/reactivate", ["POST"])
    def post_reactivate(user_id):
        reactivate_user(state, user_id)
        return jsonify(ok=True)

    @route("/events/as/<owner_id>", ["POST"])
    def post_event_as(owner_id):
        return jsonify(id=create_event_as(state, owner_id, body().get("fields", {}))), 201

    @route("/records/<sobject>/import", ["POST"])
    def post_import(sobject):
        return jsonify(ids=import_as_user(state, sobject, body().get("rows", []))), 201

    @route("/records/<sobject>/<record_id>", ["GET"])
    def get_record(sobject, record_id):
        found = record(state, sobject, record_id)
        return (jsonify(found), 200) if found else (jsonify(error="not found"), 404)

    @route("/records/<sobject>/<record_id>", ["PATCH"])
    def patch_record(sobject, record_id):
        return jsonify(update_as_user(state, sobject, record_id, body().get("fields", {})))

    @route("/records/<sobject>/<record_id>", ["DELETE"])
    def delete_record(sobject, record_id):
        delete_as_user(state, sobject, record_id)
        return Response(status=204)

    @route("/records/<sobject>/<record_id>/undelete", ["POST"])
    def post_undelete(sobject, record_id):
        undelete(state, sobject, record_id)
        return jsonify(ok=True)

    @route("/records/<sobject>/<record_id>/touch", ["POST"])
    def post_touch(sobject, record_id):
        touch(state, sobject, record_id)
        return jsonify(ok=True)

    @route("/merge", ["POST"])
    def post_merge():
        b = body()
        return jsonify(merge_contacts(state, b["master_id"], b["loser_ids"], b.get("fields")))

    @route("/recycle-bin/empty", ["POST"])
    def post_empty():
        empty_recycle_bin(state)
        return jsonify(ok=True)

    @route("/shared-activities", ["GET"])
    def get_shared_activities():
        return jsonify(enabled=shared_activities(state))

    @route("/shared-activities", ["POST", "PUT"])
    def post_shared_activities():
        set_shared_activities(state, bool(body().get("enabled", True)))
        return jsonify(enabled=shared_activities(state))

    @route("/leads", ["POST"])
    def post_lead():
        b = body()
        return jsonify(id=add_lead(state, b["email"], b["last_name"], b["company"],
                                   b.get("first_name"))), 201

    @route("/leads/<lead_id>/convert", ["POST"])
    def post_convert(lead_id):
        return jsonify(contact_id=convert_lead(state, lead_id))

    @route("/duplicate-rules", ["GET"])
    def list_duplicate_rules():
        return jsonify(duplicate_rules(state))

    @route("/duplicate-rules", ["POST"])
    def post_duplicate_rule():
        b = body()
        rule = add_duplicate_rule(state, b["sobject"], b.get("action", "block"),
                                  compare_to=b.get("compare_to"), name=b.get("name"),
                                  message=b.get("message", "Use one of these records?"),
                                  on_edit=bool(b.get("on_edit", False)))
        return jsonify(name=rule), 201

    @route("/duplicate-rules/<name>", ["DELETE"])
    def delete_duplicate_rule(name):
        return jsonify(removed=remove_duplicate_rule(state, name))

    @route("/outbound-messages", ["GET"])
    def list_outbound():
        return jsonify(outbound_messages(state))

    @route("/outbound-messages", ["POST"])
    def post_outbound():
        b = body()
        action_id = add_outbound_message(state, b["sobject"], b["url"], fields=b.get("fields"),
                                         name=b.get("name", ""))
        return jsonify(action_id=action_id), 201

    @route("/outbound-messages/<action_id>", ["DELETE"])
    def delete_outbound(action_id):
        return jsonify(removed=remove_outbound_message(state, action_id))
