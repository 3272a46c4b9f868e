"""The emulated HubSpot account (portal): records, property definitions, owners,
associations, settings and the per-account rate-limit windows.

One portal serves every sandbox token (token info reports one hub id). Writes go through
`Portal.write`, which validates all properties at once (400 VALIDATION_ERROR listing each),
keeps contact e-mail (and additional e-mails) and custom unique-value properties unique,
moves the last-modified timestamp when a value changed, records a search-index version and
queues webhook events. Archived records stay readable with `archived=true`; a contact merged
into another answers as the one it was merged into. All calls happen under `state.lock`.
"""
from __future__ import annotations

import collections
import zlib
from dataclasses import dataclass, field
from typing import Any

from . import hubspot_webhooks as webhooks
from .hubspot_common import (
    CREATED,
    MODIFIED,
    HsError,
    Issue,
    bad_request,
    fmt_ms,
    new_object_id,
    new_owner_id,
    validation_error,
)
from .hubspot_properties import (
    PropertyDef,
    coerce,
    default_groups,
    default_properties,
    display,
)
from .oauth_flow import HUBSPOT_HUB_ID

# meeting -> contact and back (HUBSPOT_DEFINED association types).
MEETING_TO_CONTACT, CONTACT_TO_MEETING = 200, 199
ASSOCIATION_LABELS = {MEETING_TO_CONTACT: "meeting_event_to_contact",
                      CONTACT_TO_MEETING: "contact_to_meeting_event"}
# Properties each object returns when none are asked for (search guide, object guides).
DEFAULT_OUTPUT = {"contacts": ("createdate", "email", "firstname", "hs_object_id",
                               "lastmodifieddate", "lastname"),
                  "meetings": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")}
ALWAYS_OUTPUT = {"contacts": ("createdate", "hs_object_id", "lastmodifieddate"),
                 "meetings": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")}


@dataclass
class Settings:
    search_lag: float = 2.0  # seconds before a write is visible to search
    rate_limit: int = 110  # requests per window per installed account (public OAuth app)
    rate_window: float = 10.0
    search_rate_limit: int = 5  # search requests per second per account
    webhook_timeout: float = 5.0  # a slower answer counts as a failure and is retried
    webhook_retries: int = 10  # re-sends after the first attempt
    webhook_batch_size: int = 100


@dataclass
class Record:
    id: str
    type: str
    values: dict[str, str]
    created_at: int
    updated_at: int
    archived: bool = False
    archived_at: int | None = None
    merged_into: str | None = None
    # (written at, values then, archived then): what search sees after the lag
    versions: list[tuple[int, dict[str, str], bool]] = field(default_factory=list)


@dataclass
class Owner:
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    user_id: int
    created_at: int
    updated_at: int
    archived: bool = False

    def render(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "email": self.email, "type": "PERSON",
                                "firstName": self.first_name or "",
                                "lastName": self.last_name or "", "userId": self.user_id,
                                "userIdIncludingInactive": self.user_id,
                                "createdAt": fmt_ms(self.created_at),
                                "updatedAt": fmt_ms(self.updated_at),
                                "archived": self.archived, "teams": []}
        return body


@dataclass
class Actor:
    """Who made a change, as webhooks report it (changeSource, sourceId)."""
    source: str  # INTEGRATION (an API call) | CRM_UI (a user in HubSpot)
    source_id: str


def user_id_of(email: str) -> int:
    # The same number the token-info endpoint reports as user_id (oauth_flow).
    return zlib.crc32(email.encode())


class Portal:
    def __init__(self, now: int, default_user: str) -> None:
        self.hub_id = HUBSPOT_HUB_ID
        self.settings = Settings()
        self.records: dict[str, dict[str, Record]] = {"contacts": {}, "meetings": {}}
        self.properties: dict[str, dict[str, PropertyDef]] = default_properties(now)
        self.groups = default_groups()
        self.owners: dict[str, Owner] = {}
        # (meeting id, contact id) -> association type ids on the meeting side
        self.associations: dict[tuple[str, str], set[int]] = {}
        self.api_calls: collections.deque[float] = collections.deque()
        self.search_calls: collections.deque[float] = collections.deque()
        self.webhooks = webhooks.WebhookConfig()
        self.add_owner(default_user, "Sandbox", "User", now)

    # --- owners -----------------------------------------------------------------------

    def add_owner(self, email: str, first: str | None, last: str | None, now: int) -> Owner:
        owner = Owner(new_owner_id(), email.lower(), first, last, user_id_of(email.lower()),
                      now, now)
        self.owners[owner.id] = owner
        return owner

    def owner_for_user(self, email: str, now: int) -> Owner:
        """The owner of a portal user (the user who installed the app is one)."""
        for owner in self.owners.values():
            if owner.email == email.lower():
                return owner
        return self.add_owner(email, None, None, now)

    def live_owner_ids(self) -> set[str]:
        return {o.id for o in self.owners.values() if not o.archived}

    # --- lookups ----------------------------------------------------------------------

    def props(self, type_: str) -> dict[str, PropertyDef]:
        return self.properties[type_]

    def find(self, type_: str, record_id: str, *, archived: bool = False) -> Record | None:
        rec = self.records[type_].get(str(record_id))
        seen: set[str] = set()
        while rec is not None and rec.merged_into and rec.id not in seen:
            seen.add(rec.id)
            rec = self.records[type_].get(rec.merged_into)
        if rec is None or rec.archived != archived:
            return None
        return rec

    def find_by(self, type_: str, prop: str, value: str, *, archived: bool = False
                ) -> Record | None:
        if prop in ("hs_object_id", "id"):
            return self.find(type_, value, archived=archived)
        if type_ == "contacts" and prop == "email":
            return self.contact_by_email(value, archived=archived)
        stored = self._normal(type_, prop, value)
        for rec in self.records[type_].values():
            if rec.archived == archived and not rec.merged_into \
                    and rec.values.get(prop) == stored:
                return rec
        return None

    def contact_by_email(self, email: str, *, archived: bool = False) -> Record | None:
        wanted = email.strip().lower()
        for rec in self.records["contacts"].values():
            if rec.archived != archived or rec.merged_into:
                continue
            if rec.values.get("email") == wanted or \
                    wanted in (rec.values.get("hs_additional_emails") or "").split(";"):
                return rec
        return None

    def unique_property(self, type_: str, name: str) -> PropertyDef:
        """The property an `idProperty` names: a unique-value one (or email, hs_object_id)."""
        prop = self.props(type_).get(name)
        if name in ("hs_object_id",) or (type_ == "contacts" and name == "email"):
            return prop
        if prop is None or prop.archived or not prop.has_unique_value:
            raise bad_request(f"{name} is not a unique identifier property for {type_}",
                              idProperty=[name])
        return prop

    def _normal(self, type_: str, prop: str, value: Any) -> Any:
        stored, issue = coerce(self.props(type_).get(prop), prop, value, self.live_owner_ids())
        return value if issue else stored

    def live(self, type_: str) -> list[Record]:
        return sorted((r for r in self.records[type_].values()
                       if not r.archived and not r.merged_into), key=lambda r: int(r.id))

    # --- writes -----------------------------------------------------------------------

    def validate(self, type_: str, raw: Any, current: dict[str, str] | None,
                 creating: bool) -> dict[str, str | None]:
        """The changes a `properties` object asks for, or a 400 listing every bad one."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise bad_request("Invalid input JSON: properties must be an object")
        props = self.props(type_)
        changes: dict[str, str | None] = {}
        issues: list[Issue] = []
        owners = self.live_owner_ids()
        for name, value in raw.items():
            stored, issue = coerce(props.get(name), name, value, owners)
            if issue:
                issues.append(issue)
                continue
            prop = props[name]
            if stored and prop.field_type == "checkbox" and stored.startswith(";") \
                    and current and current.get(name):
                stored = ";".join(dict.fromkeys(current[name].split(";") +
                                                [p for p in stored.split(";") if p]))
            elif stored and prop.field_type == "checkbox":
                stored = ";".join(p for p in stored.split(";") if p)
            changes[name] = stored
        if type_ == "meetings" and creating and not changes.get("hs_timestamp") \
                and changes.get("hs_meeting_start_time"):
            # "When the property value is missing, the value will default to
            # hs_meeting_start_time" (meetings guide)
            changes["hs_timestamp"] = changes["hs_meeting_start_time"]
        after = {**(current or {}), **changes}
        for prop in props.values():
            if prop.required and not prop.archived and not after.get(prop.name) and \
                    (creating or prop.name in changes):
                issues.append(Issue(prop.name, None, "MISSING_REQUIRED_PROPERTY",
                                    f'Property "{prop.name}" is required'))
        if issues:
            raise validation_error(issues, self.hub_id)
        if type_ == "contacts" and creating and not any(
                after.get(p) for p in ("email", "firstname", "lastname")):
            raise bad_request("A contact needs at least one of email, firstname or lastname")
        return changes

    def check_unique(self, type_: str, changes: dict[str, str | None], own_id: str | None
                     ) -> None:
        if type_ == "contacts" and changes.get("email"):
            other = self.contact_by_email(changes["email"])
            if other is not None and other.id != own_id:
                raise HsError(409, f"Contact already exists. Existing ID: {other.id}",
                              "CONFLICT")
        issues = []
        for name, value in changes.items():
            prop = self.props(type_)[name]
            if not value or not prop.has_unique_value:
                continue
            other = self.find_by(type_, name, value)
            if other is not None and other.id != own_id:
                issues.append(Issue(name, value, "INVALID_PROPERTY_VALUE",
                                    f"{value} already has that value for the unique property "
                                    f"{name} (record {other.id})"))
        if issues:
            raise validation_error(issues, self.hub_id)

    def create(self, type_: str, raw: Any, actor: Actor, now: int) -> Record:
        changes = self.validate(type_, raw, None, creating=True)
        self.check_unique(type_, changes, None)
        rec = Record(new_object_id(), type_, {}, now, now)
        rec.values = {k: v for k, v in changes.items() if v is not None}
        rec.values.update({"hs_object_id": rec.id, CREATED[type_]: str(now),
                           MODIFIED[type_]: str(now)})
        self._derive(rec)
        self.records[type_][rec.id] = rec
        self._indexed(rec, now)
        webhooks.on_create(self, rec, actor, now)
        return rec

    def update(self, rec: Record, raw: Any, actor: Actor, now: int) -> Record:
        changes = self.validate(rec.type, raw, rec.values, creating=False)
        self.check_unique(rec.type, changes, rec.id)
        changed = {k: v for k, v in changes.items() if rec.values.get(k) != v}
        for name, value in changed.items():
            if value is None:
                rec.values.pop(name, None)
            else:
                rec.values[name] = value
        if changed:
            # Only a real change moves the timestamps (sandbox reading; not documented).
            rec.updated_at = now
            rec.values[MODIFIED[rec.type]] = str(now)
            self._derive(rec)
            self._indexed(rec, now)
            webhooks.on_change(self, rec, changed, actor, now)
        return rec

    def archive(self, rec: Record, actor: Actor, now: int) -> None:
        rec.archived, rec.archived_at, rec.updated_at = True, now, now
        self._indexed(rec, now)
        webhooks.on_delete(self, rec, actor, now)

    def restore(self, rec: Record, actor: Actor, now: int) -> None:
        rec.archived, rec.archived_at, rec.updated_at = False, None, now
        rec.values[MODIFIED[rec.type]] = str(now)
        self._indexed(rec, now)
        webhooks.on_restore(self, rec, actor, now)

    def merge(self, primary: Record, loser: Record, actor: Actor, now: int) -> Record:
        """Merge two contacts: the primary keeps its id and values, takes the values it
        lacks from the other, gains its e-mail as an additional e-mail and its
        associations; the merged id then answers as the primary."""
        if primary.id == loser.id:
            raise bad_request("Cannot merge a contact with itself")
        moved = 0
        for name, value in loser.values.items():
            prop = self.props("contacts").get(name)
            if prop is not None and prop.writable and name not in primary.values:
                primary.values[name] = value
                moved += 1
        extra = [e for e in (primary.values.get("hs_additional_emails") or "").split(";") if e]
        for email in [loser.values.get("email")] + \
                (loser.values.get("hs_additional_emails") or "").split(";"):
            if email and email != primary.values.get("email") and email not in extra:
                extra.append(email)
        if extra:
            primary.values["hs_additional_emails"] = ";".join(extra)
        merged = [m for m in (primary.values.get("hs_merged_object_ids") or "").split(";") if m]
        primary.values["hs_merged_object_ids"] = ";".join(merged + [loser.id])
        for (meeting_id, contact_id), types in list(self.associations.items()):
            if contact_id == loser.id:
                del self.associations[(meeting_id, contact_id)]
                self.associations.setdefault((meeting_id, primary.id), set()).update(types)
        loser.merged_into = primary.id
        loser.updated_at = primary.updated_at = now
        primary.values["lastmodifieddate"] = str(now)
        self._derive(primary)
        self._indexed(primary, now)
        self._indexed(loser, now, gone=True)
        webhooks.on_merge(self, primary, loser, moved, actor, now)
        return primary

    def _derive(self, rec: Record) -> None:
        if rec.type == "contacts":
            email = rec.values.get("email")
            if email:
                rec.values["hs_email_domain"] = email.split("@", 1)[1]
            else:
                rec.values.pop("hs_email_domain", None)

    def _indexed(self, rec: Record, now: int, gone: bool = False) -> None:
        rec.versions.append((now, dict(rec.values), rec.archived or gone))
        horizon = now - int(self.settings.search_lag * 1000)
        # Keep the newest version search can already see plus all newer ones.
        while len(rec.versions) > 1 and rec.versions[1][0] <= horizon:
            rec.versions.pop(0)

    # --- associations -----------------------------------------------------------------

    def associate(self, meeting_id: str, contact_id: str, type_ids: set[int]) -> None:
        self.associations.setdefault((meeting_id, contact_id), set()).update(type_ids)

    def disassociate(self, meeting_id: str, contact_id: str) -> bool:
        return self.associations.pop((meeting_id, contact_id), None) is not None

    def associated(self, type_: str, record_id: str) -> list[str]:
        """Ids on the other side (contacts of a meeting, meetings of a contact), live only."""
        if type_ == "meetings":
            ids = [c for (m, c) in self.associations if m == record_id]
            other = "contacts"
        else:
            ids = [m for (m, c) in self.associations if c == record_id]
            other = "meetings"
        return sorted((i for i in ids if self.find(other, i) is not None), key=int)

    # --- rendering --------------------------------------------------------------------

    def render(self, rec: Record, wanted: list[str] | None = None, *,
               values: dict[str, str] | None = None, everything: bool = False
               ) -> dict[str, Any]:
        """A record as the object APIs print it. `wanted` None: the default properties;
        unknown names are left out, defined but unset ones are null."""
        values = rec.values if values is None else values
        props = self.props(rec.type)
        if everything:
            names = sorted(values)
        elif wanted:
            names = sorted({n for n in wanted if n in props} | set(ALWAYS_OUTPUT[rec.type]))
        else:
            names = list(DEFAULT_OUTPUT[rec.type])
        body: dict[str, Any] = {
            "id": rec.id,
            "properties": {n: display(props.get(n), values.get(n)) for n in names},
            "createdAt": fmt_ms(rec.created_at), "updatedAt": fmt_ms(rec.updated_at),
            "archived": rec.archived,
        }
        if rec.archived and rec.archived_at is not None:
            body["archivedAt"] = fmt_ms(rec.archived_at)
        return body
