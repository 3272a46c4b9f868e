"""The emulated org's records and the save pipeline every write goes through.

A save runs the real order of checks: field access and types, derived fields (Contact Name,
Event times and AccountId), required fields (also on update: universally required fields
are enforced on every save), lookups, unique fields, then the admin's validation rules.
Every save moves LastModifiedDate and SystemModstamp, even when nothing changed. Deletes go
to the recycle bin (IsDeleted, still visible to queryAll and the deleted/ resource) and
cascade as Salesforce does: an Account takes its Contacts and Events, a Contact its Events.

Users: the org starts with two active users, the API user the sandbox's OAuth grants act as
(INTEGRATION_USER, the default Salesforce subject) and an admin working in the Salesforce
UI (HUMAN_USER, the author of what the admin helpers seed). A token whose subject is
another 005 id acts as that user, who is added on first use (a token always belongs to an
existing user). Users are read-only over the API and never deleted, only deactivated; an
OwnerId must name an existing, active user.
Callers hold `state.lock`.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from . import salesforce_people as people
from .oauth_providers import DEFAULT_SUBJECTS
from .salesforce_common import (
    SfError,
    id_key,
    new_id,
    normalize_id,
    not_found,
    sobject_of_id,
    to18,
)
from .salesforce_events import derive_times
from .salesforce_people import DuplicateHeader, DuplicateRule
from .salesforce_schema import (
    STRING_TYPES,
    FieldDef,
    SObjectType,
    coerce,
    find_type,
    standard_schema,
)

INTEGRATION_USER = DEFAULT_SUBJECTS["salesforce"]  # when a token's subject is no user id
HUMAN_USER = to18("0055g00000Hm4nU")  # "a user in the Salesforce UI" (admin helpers)
# The API user's e-mail is the default user of the other sandbox providers, so that by
# default the calendar and the CRM belong to the same person.
INTEGRATION_EMAIL = DEFAULT_SUBJECTS["google"]
HUMAN_EMAIL = "admin@example.com"
RECYCLE_BIN_DAYS = 15
CASCADES = {"Account": (("Contact", "AccountId"), ("Event", "WhatId")),
            "Contact": (("Event", "WhoId"), ("EventRelation", "RelationId")),
            "Lead": (("Event", "WhoId"), ("EventRelation", "RelationId")),
            "Event": (("EventRelation", "EventId"),)}
NO_WORKFLOW = {"EventRelation", "EventWhoRelation"}  # "does not support ... workflow"


@dataclass
class ValidationRule:
    name: str
    message: str
    condition: Callable[[dict[str, Any]], bool]  # True = reject, like an error formula
    spec: dict[str, Any] = field(default_factory=dict)  # how it was defined, for listing
    field: str | None = None  # where the error shows; None: at the top of the page


@dataclass
class OutboundAction:
    action_id: str
    sobject: str
    url: str
    fields: tuple[str, ...] | None = None  # None: every field
    name: str = ""


class Org:
    """Schema, records and settings of the one org the sandbox emulates."""

    def __init__(self, org_id: str, now: datetime | None = None) -> None:
        self.org_id = org_id
        self.shared_activities = True  # "Allow users to relate multiple contacts to ..."
        self.schema: dict[str, SObjectType] = standard_schema(self.shared_activities)
        self.records: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in self.schema}
        self.rules: dict[str, list[ValidationRule]] = {n: [] for n in self.schema}
        self.duplicate_rules: list[DuplicateRule] = []
        self.outbound: dict[str, OutboundAction] = {}
        self.pending: list[tuple[OutboundAction, dict[str, Any]]] = []
        self.daily_api_limit = 15000
        self.query_batch_size = 2000
        self.api_calls: deque[float] = deque()
        self.cursors: OrderedDict[str, Any] = OrderedDict()
        self.last_purge: datetime | None = None
        self.integration_user_id = INTEGRATION_USER
        # The org's users predate anything a test does (and the 30 days updated/ reaches).
        created = (now or datetime.now(timezone.utc)).replace(microsecond=0) - \
            timedelta(days=365)
        self.add_user(INTEGRATION_EMAIL, "Sandbox", "User", created, user_id=INTEGRATION_USER,
                      username=INTEGRATION_EMAIL)
        self.add_user(HUMAN_EMAIL, "Sandbox", "Admin", created, user_id=HUMAN_USER)

    # --- users --------------------------------------------------------------------------

    def add_user(self, email: str, first_name: str | None, last_name: str | None,
                 now: datetime, *, active: bool = True, user_id: str | None = None,
                 username: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """A new User as an admin creates one in Setup. E-mail addresses may repeat
        (Salesforce allows it), usernames and nicknames may not: a taken username gets a
        numeric suffix unless `username` is given, which must then be free."""
        t = self.schema["User"]
        email = coerce(t.field("Email"), email)
        if email is None:
            raise SfError(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Email]",
                          ["Email"])
        local = email.split("@", 1)[0]
        last = last_name or local.replace(".", " ").title()
        taken = {str(r["Username"]).casefold() for r in self.records["User"].values()}
        if username is not None:
            username = coerce(t.field("Username"), username)
            if username.casefold() in taken:
                raise SfError(400, "DUPLICATE_USERNAME",
                              f"Duplicate Username.<br>The username already exists in this or "
                              f"another Salesforce organization. Usernames must be unique "
                              f"across all Salesforce organizations. {username}", ["Username"])
        else:
            username = _free(email, taken, lambda base, n: f"{base}.{n}")
        nicknames = {str(r["CommunityNickname"]).casefold()
                     for r in self.records["User"].values()}
        nickname = _free(local[:40], nicknames, lambda base, n: f"{base[:36]}{n}")
        by = actor or HUMAN_USER
        rec: dict[str, Any] = {f.name: f.default if f.defaulted_on_create else None
                               for f in t.fields}
        rec.update(
            Id=normalize_id(user_id) if user_id else new_id(t.key_prefix), Username=username,
            FirstName=first_name or None, LastName=last, Email=email,
            Name=" ".join(p for p in (first_name, last) if p),
            Alias=((first_name or "")[:1] + last.replace(" ", ""))[:8].lower(),
            CommunityNickname=nickname, IsActive=bool(active), UserType="Standard",
            TimeZoneSidKey="GMT", LocaleSidKey="en_US", LanguageLocaleKey="en_US",
            EmailEncodingKey="UTF-8", CreatedDate=now, LastModifiedDate=now,
            SystemModstamp=now, CreatedById=by, LastModifiedById=by,
            IsDeleted=False)  # internal: User has no IsDeleted field, users are never deleted
        if rec["Id"] is None or not rec["Id"].startswith(t.key_prefix):
            raise ValueError(f"not a User id: {user_id}")
        if self.get("User", rec["Id"]) is not None:
            raise ValueError(f"user {rec['Id']} exists")
        self.records["User"][id_key(rec["Id"])] = rec
        self.notify("User", rec)
        return rec

    def user(self, user_id: str) -> dict[str, Any] | None:
        canonical = normalize_id(user_id)
        if canonical is None or not canonical.startswith(self.schema["User"].key_prefix):
            return None
        return self.get("User", canonical)

    def acting_user(self, subject: str, now: datetime) -> dict[str, Any]:
        """The User an access token of `subject` acts as: the subject itself when it is a
        user id (added, active, on first use), else the integration user."""
        user_id = normalize_id(subject)
        if user_id is None or not user_id.startswith(self.schema["User"].key_prefix):
            user_id = self.integration_user_id
        found = self.user(user_id)
        if found is None:
            id15 = user_id[:15]
            found = self.add_user(f"user.{id15.lower()}@example.com", "Sandbox",
                                  f"User {id15}", now, user_id=user_id)
        return found

    def set_user_active(self, user_id: str, active: bool, actor: str,
                        now: datetime) -> dict[str, Any]:
        rec = self.user(user_id)
        if rec is None:
            raise not_found()
        rec.update(IsActive=bool(active), LastModifiedDate=now, SystemModstamp=now,
                   LastModifiedById=actor)
        self.notify("User", rec)
        return rec

    # --- lookups ----------------------------------------------------------------------

    def type(self, name: str) -> SObjectType:
        found = find_type(self.schema, name)
        if found is None:
            raise not_found()
        return found

    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        canonical = normalize_id(record_id)
        if sobject == "EventWhoRelation":  # a view of EventRelation
            rel = self.get("EventRelation", record_id)
            return {**rel, "Type": sobject_of_id(rel["RelationId"])} \
                if rel is not None and people.is_who(rel) else None
        return self.records[sobject].get(id_key(canonical)) if canonical else None

    def live(self, sobject: str, record_id: str) -> dict[str, Any]:
        """The record, or the 404 the API gives for an unknown or deleted one."""
        rec = self.get(sobject, record_id)
        if rec is None:
            raise not_found()
        if rec["IsDeleted"]:
            raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return rec

    def all(self, sobject: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        if sobject == "EventWhoRelation":
            return people.who_relations(self, include_deleted)
        return [r for r in self.records[sobject].values()
                if include_deleted or not r["IsDeleted"]]

    def find_by(self, t: SObjectType, f: FieldDef, value: str) -> list[dict[str, Any]]:
        """Live records whose (external id) field equals value, as an upsert matches."""
        if f.type == "id":
            rec = self.get(t.name, value)
            return [rec] if rec and not rec["IsDeleted"] else []
        return [r for r in self.all(t.name) if _same(f, r.get(f.name), value)]

    # --- saves --------------------------------------------------------------------------

    def create(self, sobject: str, body: Any, actor: str, now: datetime, *,
               notify: bool = True,
               duplicates: DuplicateHeader | None = None) -> dict[str, Any]:
        """`duplicates`: the request's duplicate rule header; None bypasses duplicate rules
        (data seeded directly, lead conversion)."""
        t = self.type(sobject)
        if not t.createable:
            raise _not_allowed("inserted", t)
        changes = parse_body(t, body, creating=True)
        rec = self._blank(t, actor, now)
        rec.update(changes)
        if t.name == "EventRelation":
            people.relation_defaults(self, rec, changes)
        self._finish_save(t, rec, changes, None, duplicates)
        self.records[t.name][id_key(rec["Id"])] = rec
        self._after_save(t, rec, None, actor, now)
        if notify and t.name not in NO_WORKFLOW:
            self.notify(t.name, rec)
        return rec

    def update(self, sobject: str, record_id: str, body: Any, actor: str, now: datetime, *,
               notify: bool = True,
               duplicates: DuplicateHeader | None = None) -> dict[str, Any]:
        t = self.type(sobject)
        old = self.live(t.name, record_id)
        if not t.updateable:
            raise _not_allowed("updated", t)
        if t.name == "Lead" and old["IsConverted"]:
            raise people.converted_lead_error([])
        changes = parse_body(t, body, creating=False)
        rec = {**old, **changes, "LastModifiedDate": now, "SystemModstamp": now,
               "LastModifiedById": actor}
        self._finish_save(t, rec, changes, old, duplicates)
        before = dict(old)
        old.clear()
        old.update(rec)  # in place: one dict per record
        self._after_save(t, old, before, actor, now)
        if notify and t.name not in NO_WORKFLOW:
            self.notify(t.name, old)
        return old

    def _after_save(self, t: SObjectType, rec: dict[str, Any], before: dict[str, Any] | None,
                    actor: str, now: datetime) -> None:
        if t.name == "Event":
            people.after_event_save(self, rec, before, actor, now)
        elif t.name == "EventRelation":
            people.after_relation_save(self, rec, before, actor, now)

    def delete(self, sobject: str, record_id: str, now: datetime,
               actor: str | None = None) -> dict[str, Any]:
        t = self.type(sobject)
        if not t.deletable:  # User: no delete() at all, so the record resource has no DELETE
            raise SfError(405, "METHOD_NOT_ALLOWED",
                          "HTTP Method 'DELETE' not allowed. Allowed are HEAD,GET,PATCH")
        rec = self.live(t.name, record_id)
        self._delete_tree(t.name, rec, now, root=rec["Id"])
        if t.name == "EventRelation":
            people.after_relation_delete(self, rec, actor or HUMAN_USER, now)
        return rec

    def _delete_tree(self, sobject: str, rec: dict[str, Any], now: datetime, root: str) -> None:
        rec.update(IsDeleted=True, SystemModstamp=now, _deleted_at=now, _deleted_with=root)
        for child, lookup in CASCADES.get(sobject, ()):
            for other in self.all(child):
                if other.get(lookup) == rec["Id"]:
                    self._delete_tree(child, other, now, root)

    def undelete(self, sobject: str, record_id: str, now: datetime) -> dict[str, Any]:
        t = self.type(sobject)
        rec = self.get(t.name, record_id)
        if rec is None or not rec["IsDeleted"]:
            raise SfError(400, "UNDELETE_FAILED", "Entity is not in the recycle bin", [])
        for records in self.records.values():
            for other in records.values():
                if other.get("_deleted_with") == rec["Id"] and other["IsDeleted"]:
                    other.update(IsDeleted=False, SystemModstamp=now, MasterRecordId=None)
                    other.pop("_deleted_at", None)
                    other.pop("_deleted_with", None)
        return rec

    def purge(self, now: datetime) -> None:
        """Empty the recycle bin of what has been there for 15 days."""
        horizon = now - timedelta(days=RECYCLE_BIN_DAYS)
        self.purge_before(horizon)

    def purge_before(self, horizon: datetime) -> None:
        for records in self.records.values():
            for key, rec in list(records.items()):
                deleted_at = rec.get("_deleted_at")
                if deleted_at is not None and deleted_at <= horizon:
                    del records[key]
                    self.last_purge = max(self.last_purge or deleted_at, deleted_at)

    def merge(self, master_id: str, loser_ids: list[str], body: dict[str, Any] | None,
              actor: str, now: datetime) -> dict[str, Any]:
        """Contact merge as Salesforce does it: the master takes `body`, the losers' Events
        are re-pointed to the master (their timestamps move, no workflow fires), the losers
        go to the recycle bin with MasterRecordId set. No outbound message is sent."""
        master = self.live("Contact", master_id)
        losers = [self.live("Contact", i) for i in loser_ids]
        ids = {master["Id"], *(r["Id"] for r in losers)}
        if not 1 <= len(losers) <= 2 or len(ids) != len(losers) + 1:
            raise SfError(400, "INVALID_OPERATION",
                          "A merge takes a master record and one or two other records", [])
        self.update("Contact", master["Id"], body or {}, actor, now, notify=False)
        for loser in losers:
            for event in self.all("Event"):
                if event.get("WhoId") == loser["Id"]:
                    event.update(WhoId=master["Id"], LastModifiedDate=now, SystemModstamp=now,
                                 LastModifiedById=actor)
                    event["AccountId"] = self._event_account(event)
            people.repoint_relations(self, loser["Id"], master["Id"], actor, now)
            loser["MasterRecordId"] = master["Id"]
            self._delete_tree("Contact", loser, now, root=loser["Id"])
        return master

    # --- the save pipeline ------------------------------------------------------------

    def _blank(self, t: SObjectType, actor: str, now: datetime) -> dict[str, Any]:
        rec: dict[str, Any] = {f.name: f.default if f.defaulted_on_create else None
                               for f in t.fields}
        rec.update(Id=new_id(t.key_prefix), IsDeleted=False, CreatedById=actor,
                   LastModifiedById=actor, CreatedDate=now, LastModifiedDate=now,
                   SystemModstamp=now)
        if t.field("OwnerId"):
            rec["OwnerId"] = actor
        return rec

    def _finish_save(self, t: SObjectType, rec: dict[str, Any], changes: dict[str, Any],
                     old: dict[str, Any] | None,
                     duplicates: DuplicateHeader | None = None) -> None:
        missing = [f.name for f in t.fields
                   if not f.nillable and f.createable and rec.get(f.name) is None
                   and (not f.defaulted_on_create or f.name in changes)]
        if t.name == "Event":
            missing += derive_times(rec, changes, old)
        if missing:
            raise SfError(400, "REQUIRED_FIELD_MISSING",
                          f"Required fields are missing: [{', '.join(missing)}]", missing)
        self._check_references(t, rec, changes)
        self._derive(t, rec)
        if t.name == "EventRelation":
            people.check_relation(self, rec, changes, old)
        elif t.name == "Event":
            people.check_event_people(self, rec, old)
        self._check_unique(t, rec, changes)
        if t.name not in NO_WORKFLOW:  # EventRelation: no validation rules either
            self._check_rules(t, rec)
        people.check_duplicates(self, t.name, rec, old is None, duplicates)

    def _derive(self, t: SObjectType, rec: dict[str, Any]) -> None:
        if t.name in ("Contact", "Lead"):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        if t.name == "Event":
            rec["AccountId"] = self._event_account(rec)

    def _event_account(self, rec: dict[str, Any]) -> str | None:
        what, who = rec.get("WhatId"), rec.get("WhoId")
        if what and sobject_of_id(what) == "Account":
            return what
        contact = self.get("Contact", who) if who else None
        return contact.get("AccountId") if contact else None

    def _check_references(self, t: SObjectType, rec: dict[str, Any],
                          changes: dict[str, Any]) -> None:
        for f in t.fields:
            if f.type == "reference" and changes.get(f.name) is not None:
                rec[f.name] = self._reference(f, changes[f.name])
                if f.name == "OwnerId":
                    self._check_owner(t, rec[f.name])

    def _check_owner(self, t: SObjectType, owner_id: str) -> None:
        """A record can't be given to a deactivated user. The error is the one the API
        gives: INACTIVE_OWNER_OR_USER, "The user or record owner is not active", worded
        "operation performed with inactive user [005...] as owner of contact" (API error
        code lists; Marketo Measure's Salesforce error table quotes the message)."""
        owner = self.user(owner_id)
        if owner is not None and not owner["IsActive"]:
            raise SfError(400, "INACTIVE_OWNER_OR_USER",
                          f"operation performed with inactive user [{owner_id}] as owner of "
                          f"{t.name.lower()}", [])

    def _reference(self, f: FieldDef, value: str) -> str:
        canonical = normalize_id(value)
        if canonical is None:
            raise SfError(400, "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}",
                          [f.name])
        target = sobject_of_id(canonical) or ("Calendar" if canonical.startswith("023") else None)
        if target not in f.reference_to:
            raise SfError(400, "FIELD_INTEGRITY_EXCEPTION",
                          f"{f.label}: id value of incorrect type: {value}", [f.name])
        if target in self.schema:
            other = self.get(target, canonical)
            if other is None:
                raise SfError(400, "INVALID_CROSS_REFERENCE_KEY",
                              "invalid cross reference id", [f.name])
            if other["IsDeleted"]:
                raise SfError(400, "ENTITY_IS_DELETED", "entity is deleted", [f.name])
            if target == "Lead" and other["IsConverted"]:
                raise people.converted_lead_error([f.name])
        elif target not in ("User", "Calendar"):
            raise SfError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                          [f.name])
        return canonical

    def _check_unique(self, t: SObjectType, rec: dict[str, Any], changes: dict[str, Any]) -> None:
        for f in t.fields:
            value = changes.get(f.name)
            if not f.unique or value is None:
                continue
            for other in self.all(t.name):
                if other["Id"] != rec["Id"] and _same(f, other.get(f.name), value):
                    raise SfError(400, "DUPLICATE_VALUE",
                                  f"duplicate value found: {f.name} duplicates value on record "
                                  f"with id: {other['Id']}", [])

    def _check_rules(self, t: SObjectType, rec: dict[str, Any]) -> None:
        failed = [r for r in self.rules[t.name] if r.condition(dict(rec))]
        if not failed:
            return
        errors = [SfError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", r.message,
                          [r.field] if r.field else []).body()[0] for r in failed]
        first = errors[0]
        raise SfError(400, first["errorCode"], first["message"], first["fields"], errors[1:])

    # --- outbound messages ------------------------------------------------------------

    def notify(self, sobject: str, rec: dict[str, Any]) -> None:
        """Queue an outbound message per action on this object (workflow: created, and
        every time it's edited). Sent by salesforce_outbound.flush after the request."""
        for action in self.outbound.values():
            if action.sobject == sobject:
                self.pending.append((action, dict(rec)))


def _not_allowed(verb: str, t: SObjectType) -> SfError:
    """What a save of an object the user may not create or edit answers (as for a user
    without "Manage Users" saving a User): CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY, "entity
    type cannot be inserted: <label>"."""
    return SfError(400, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                   f"entity type cannot be {verb}: {t.label}", [])


def _free(base: str, taken: set[str], variant: Callable[[str, int], str]) -> str:
    """`base`, or its first variant not in `taken` (compared case-insensitively)."""
    candidate, n = base, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = variant(base, n)
    return candidate


def _same(f: FieldDef, stored: Any, value: Any) -> bool:
    if stored is None or value is None:
        return False
    if f.case_sensitive or f.type not in STRING_TYPES:
        return str(stored) == str(value)
    return str(stored).casefold() == str(value).casefold()


def parse_body(t: SObjectType, body: Any, creating: bool) -> dict[str, Any]:
    """The body's fields by canonical name with stored types; the API's errors otherwise.
    Field names are case-insensitive; `attributes` is ignored."""
    if not isinstance(body, dict):
        raise SfError(400, "JSON_PARSER_ERROR",
                      f"Cannot deserialize instance of {t.name} from START_ARRAY value [line:1, "
                      "column:1]" if isinstance(body, list) else "Unexpected request body")
    out: dict[str, Any] = {}
    read_only: list[str] = []
    for key, raw in body.items():
        if key == "attributes":
            continue
        f = t.field(key)
        if f is None:
            raise SfError(400, "INVALID_FIELD",
                          f"No such column '{key}' on sobject of type {t.name}")
        if not (f.createable if creating else f.updateable):
            read_only.append(f.name)
            continue
        out[f.name] = coerce(f, raw)
    if read_only:
        raise SfError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                      f"Unable to create/update fields: {', '.join(read_only)}. Please check the "
                      "security settings of this field and verify that it is read/write for "
                      "your profile or permission set.", read_only)
    return out
