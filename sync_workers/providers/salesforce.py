"""Salesforce behind `CrmProvider`: Events (our CRM activities), Contacts, changes.

Calls go through `SalesforceApi` (token, one refresh after a 401, X-Request-ID, our error
types, API usage recorded). Each public method is one operation: it asks the pacing first,
then its follow-up calls (next pages, a describe refresh, the read-back after a write) run
without asking again, so an operation that started is not abandoned half way.

Event bodies come from the configured mapping checked against the org's describe
(`mapping.build_payload`): required fields nobody maps get a default and a loud warning,
text is cut to the field length, picklist values are checked. When the org rejects a body
because the cached describe is out of date, the describe is re-read and the write sent once
more; a second rejection is Permanent.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from email.utils import format_datetime
from functools import cache
from typing import Any, Callable, Mapping
from urllib.parse import quote

import requests

from ..config import Settings
from ..mapping import (
    DescribeCache,
    FieldMapping,
    build_payload,
    load_mapping,
    max_lengths,
)
from ..reliability.errors import Conflict, Permanent
from ..reliability.http import ProviderHttp
from ..reliability.limiter import FleetLimiter
from ..schemas.salesforce import (
    EXTERNAL_ID_FIELD,
    load_salesforce_contact,
    load_salesforce_event,
    load_salesforce_user,
    salesforce_id18,
)
from ..sync.models import Contact, CrmActivity
from . import salesforce_people as people
from .base import CrmChanges, CrmUser, Finding
from .salesforce_api import PROVIDER, SalesforceApi, duplicates_of, error_codes, error_fields
from .salesforce_pacing import ApiPacing
from .salesforce_query import changes_of, soql_string
from .salesforce_setup import setup_findings

log = logging.getLogger(__name__)
EVENT, CONTACT = "Event", "Contact"
CONTACT_KEY_FIELD = "Sync_Contact_Id__c"  # external id holding our idempotency key
CONTACT_COLUMNS = "Id, FirstName, LastName, Email, IsDeleted, Account.Name"
USER_COLUMNS = "Id, Email, Name, IsActive"
FIRST_NAME_LENGTH, LAST_NAME_LENGTH = 40, 80  # the standard Contact fields' lengths
DESCRIBE_TTL_SECONDS = 600
# The org's metadata changed under our cached describe: a required field was added, a
# mapped field removed or made read-only, a picklist value deactivated.
STALE_DESCRIBE_CODES = frozenset({"REQUIRED_FIELD_MISSING", "INVALID_FIELD",
                                  "INVALID_FIELD_FOR_INSERT_UPDATE",
                                  "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"})

Send = Callable[[dict[str, Any]], requests.Response]
_SHARED_DESCRIBES: dict[int, DescribeCache] = {}  # account id -> cache, in this process


@cache
def default_mapping() -> FieldMapping:
    return load_mapping()


class Salesforce:
    provider = PROVIDER

    def __init__(self, account_id: int, http: ProviderHttp | None = None,
                 describe_cache: DescribeCache | None = None, *,
                 settings: Settings | None = None, mapping: FieldMapping | None = None) -> None:
        """`describe_cache`: share one per account across adapters, e.g.
        `DescribeCache(first_adapter.fetch_describe, ttl)`; by default each adapter has its
        own. `settings` None: get_settings(), as auth does."""
        self.account_id = account_id
        self.mapping = mapping or default_mapping()
        self.pacing = ApiPacing(account_id, settings=settings)
        http = http or ProviderHttp(PROVIDER, limiter=FleetLimiter(PROVIDER, account_id))
        self.api = SalesforceApi(account_id, http, self.pacing, settings)
        self.describes = describe_cache or DescribeCache(self.fetch_describe,
                                                         DESCRIBE_TTL_SECONDS)

    @classmethod
    def for_account(cls, account_id: int) -> "Salesforce":
        """The adapter the engine uses: one describe cache per account and process, so a
        reconcile does not spend an API call of the org's daily allowance on metadata.
        A stale cache heals itself: the errors an org change causes invalidate it."""
        adapter = cls(account_id, describe_cache=_SHARED_DESCRIBES.get(account_id))
        _SHARED_DESCRIBES.setdefault(account_id, adapter.describes)
        return adapter

    def fetch_describe(self, sobject: str) -> dict[str, Any]:
        return self.api.call("GET", f"sobjects/{sobject}/describe").json()

    def max_lengths(self) -> dict[str, int]:
        """The longest text the Event keeps per canonical field, for plan()'s
        `crm_max_lengths`: a title cut to fit then counts as converged."""
        return max_lengths(EVENT, self.describes.get(EVENT), self.mapping)

    # --- activities (Events) ------------------------------------------------------------

    def get_activity(self, activity_id: str) -> CrmActivity | None:
        self.pacing.check()
        return self._read_event(_event_path(activity_id))

    def find_activity(self, external_id: str) -> CrmActivity | None:
        self.pacing.check()
        return self._read_event(_external_id_path(external_id))

    def upsert_activity(self, external_id: str, values: Mapping[str, Any]) -> CrmActivity:
        """PATCH by the external-id field: 201 when it creates, 200 (204 before API 46)
        when the record exists, so a repeated call writes the same one Event. The key goes
        in the URL only (Salesforce refuses it in the body)."""
        self.pacing.check()
        path = _external_id_path(external_id)
        values = {**values, "calendar_event_id": external_id}  # templates may name it
        self._save_event(values, creating=True, send=lambda body: self.api.call(
            "PATCH", path, json=_without(body, EXTERNAL_ID_FIELD)))
        return self._written(path)

    def update_activity(self, activity: CrmActivity, patch: Mapping[str, Any]) -> CrmActivity:
        """PATCH what the patch maps to, guarded by If-Unmodified-Since: activity.version.
        Conflict when the Event changed since (412) or is gone (404): re-read, re-plan.
        A patch that maps to no Event field makes no call and returns `activity`."""
        self.pacing.check()
        path = _event_path(activity.id)
        headers = _unmodified_since(activity.version)
        try:
            written = self._save_event(patch, creating=False, send=lambda body: self.api.call(
                "PATCH", path, json=body, headers=headers))
        except Permanent as error:
            if error.status != 404:
                raise
            raise Conflict(f"salesforce Event {activity.id} is gone",
                           provider=PROVIDER, status=404) from error
        return self._written(path) if written else activity

    def delete_activity(self, activity_id: str) -> None:
        self.pacing.check()
        try:
            self.api.call("DELETE", _event_path(activity_id))
        except Permanent as error:
            if error.status != 404:  # NOT_FOUND, ENTITY_IS_DELETED: gone already
                raise

    def _read_event(self, path: str) -> CrmActivity | None:
        try:
            record = self.api.call("GET", path).json()
        except Permanent as error:
            if error.status == 404:  # never existed, or deleted (ENTITY_IS_DELETED)
                return None
            raise
        return load_salesforce_event(record)

    def _written(self, path: str) -> CrmActivity:
        """The Event as saved: a write answers no body, and its new SystemModstamp is the
        version the link keeps."""
        activity = self._read_event(path)
        if activity is None:
            raise Conflict(f"salesforce Event at {path} was deleted right after our write",
                           provider=PROVIDER)
        return activity

    # --- describe-driven bodies ---------------------------------------------------------

    def _save_event(self, values: Mapping[str, Any], *, creating: bool, send: Send) -> bool:
        """Send the Event body; refused as the cached describe's fault, re-read the describe
        and send once more. False when the values map to nothing (nothing is sent)."""
        body = self._event_body(values, creating)
        if not body:
            return False
        try:
            send(body)
            return True
        except Permanent as error:
            if not error_codes(error) & STALE_DESCRIBE_CODES:
                raise
            missing = error_fields(error, "REQUIRED_FIELD_MISSING")
            log.info("salesforce describe stale: re-reading it", extra={
                "account_id": self.account_id, "codes": sorted(error_codes(error))})
        self.describes.invalidate(EVENT)
        body = self._event_body(values, creating)
        if not creating:
            body.update(self._required_defaults(values, missing.difference(body)))
        send(body)  # rejected again with a fresh describe: Permanent
        return True

    def _event_body(self, values: Mapping[str, Any], creating: bool) -> dict[str, Any]:
        return build_payload(EVENT, values, self.describes.get(EVENT), self.mapping,
                             creating=creating, warn=self._warn, today=_today())

    def _required_defaults(self, values: Mapping[str, Any],
                           missing: frozenset[str]) -> dict[str, Any]:
        """For an update, the values a create would give the required fields Salesforce
        says the record lacks (it enforces them on every save, and records made before
        the field existed have none). Only those: fields the record holds stay as they are."""
        if not missing:
            return {}
        warnings: list[tuple[str, dict[str, Any]]] = []
        as_created = build_payload(EVENT, values, self.describes.get(EVENT), self.mapping,
                                   creating=True, today=_today(),
                                   warn=lambda event, **fields: warnings.append((event, fields)))
        for event, fields in warnings:
            if fields.get("field") in missing:
                self._warn(event, **fields)
        return {name: as_created[name] for name in missing if name in as_created}

    def _warn(self, event: str, **fields: Any) -> None:
        """The mapping's loud warnings (a required field defaulted, a picklist value
        replaced): one structured line each, naming the object and field."""
        log.warning(event, extra={"event": event, "account_id": self.account_id, **fields})

    # --- users --------------------------------------------------------------------------

    def find_users_by_email(self, email: str) -> list[CrmUser]:
        self.pacing.check()
        rows = self.api.query(f"SELECT {USER_COLUMNS} FROM User WHERE Email = "
                              f"{soql_string(email)} AND IsActive = true")
        return sorted((_user(row) for row in rows), key=lambda user: user.id)

    def get_user(self, user_id: str) -> CrmUser | None:
        self.pacing.check()
        record_id = salesforce_id18(user_id, field="user_id")
        row = next(self.api.query(f"SELECT {USER_COLUMNS} FROM User "
                                  f"WHERE Id = {soql_string(record_id)}"), None)
        return _user(row) if row else None

    # --- contacts -----------------------------------------------------------------------

    def get_contact(self, contact_id: str) -> Contact | None:
        """From queryAll: a contact in the recycle bin (deleted, merged away) comes back
        with deleted=True; one purged since, or never there, is None. A Lead id reads the
        lead (a meeting's person may be either)."""
        self.pacing.check()
        if people.is_lead(contact_id):
            return people.get_lead(self.api, contact_id)
        record_id = salesforce_id18(contact_id, field="contact_id")
        return self._first_contact(f"SELECT {CONTACT_COLUMNS} FROM Contact "
                                   f"WHERE Id = {soql_string(record_id)}", include_deleted=True)

    def find_contact_by_email(self, email: str) -> Contact | None:
        """The oldest live contact with this e-mail (SOQL compares it case-insensitively),
        else the oldest open lead with it: a known lead is linked, never duplicated."""
        self.pacing.check()
        return self._first_contact(f"SELECT {CONTACT_COLUMNS} FROM Contact "
                                   f"WHERE Email = {soql_string(email)} "
                                   "ORDER BY CreatedDate, Id LIMIT 1") \
            or people.find_lead(self.api, email)

    def create_contact(self, email: str, name: str | None, idempotency_key: str, *,
                       as_lead: bool = False) -> Contact:
        """A contact: upsert by Sync_Contact_Id__c = the key, so a repeated call finds the
        contact the first one made (and writes the same values to it) instead of making
        another. A lead (`as_lead`, SYNC_NEW_GUEST_AS=lead) has no such key: a repeated
        call is stopped earlier, by the caller finding it by e-mail. Refused by a
        duplicate rule, the record the rule names is the guest's."""
        self.pacing.check()
        try:
            if as_lead:
                return people.get_lead(self.api, people.create_lead(
                    self.api, _contact_body(email, name)))
            self.api.call("PATCH", f"sobjects/Contact/{CONTACT_KEY_FIELD}/"
                                   f"{_path_segment(idempotency_key)}",
                          json=_contact_body(email, name))
        except Permanent as error:
            duplicate = next(iter(duplicates_of(error)), None)
            if duplicate is None:
                raise
            log.info("salesforce duplicate rule: linking the record it names",
                     extra={"account_id": self.account_id, "target_record_id": duplicate})
            return self.get_contact(duplicate)
        contact = self._first_contact(f"SELECT {CONTACT_COLUMNS} FROM Contact WHERE "
                                      f"{CONTACT_KEY_FIELD} = {soql_string(idempotency_key)} "
                                      "LIMIT 1")
        if contact is None:
            raise Conflict(f"salesforce contact {idempotency_key} was deleted right after "
                           f"our write", provider=PROVIDER)
        return contact

    def _first_contact(self, soql: str, *, include_deleted: bool = False) -> Contact | None:
        row = next(self.api.query(soql, include_deleted=include_deleted), None)
        return None if row is None else load_salesforce_contact(row)

    # --- the org's setup ------------------------------------------------------------------

    def setup_findings(self) -> list[Finding]:
        """What the org has and lacks of what the sync needs (fresh describes)."""
        for sobject in ("Event", "Contact", people.RELATION):
            self.describes.invalidate(sobject)
        return setup_findings(self.describes.get)

    # --- a meeting's further people (Shared Activities) ----------------------------------

    def shares_activities(self) -> bool:
        self.pacing.check()
        return people.shares_activities(self.describes.get(people.RELATION))

    def relation_refusal(self, who_id: str | None, person_id: str) -> str | None:
        return people.relation_refusal(who_id, person_id)

    def people_of(self, activity_id: str) -> list[str]:
        self.pacing.check()
        try:
            return list(people.related_people(self.api, activity_id))
        except Permanent as error:
            if "INVALID_FIELD" not in error_codes(error):
                raise
            self.describes.invalidate(people.RELATION)  # no Shared Activities after all
            return []

    def relate(self, activity_id: str, person_id: str) -> bool:
        """False when the org turns out to have no Shared Activities (the cached describe
        said it had): the describe is read again next time."""
        self.pacing.check()
        try:
            people.relate(self.api, activity_id, person_id)
        except Permanent as error:
            if "INVALID_FIELD" not in error_codes(error):
                raise
            self.describes.invalidate(people.RELATION)
            return False
        return True

    def unrelate(self, activity_id: str, person_id: str) -> None:
        self.pacing.check()
        relation = people.related_people(self.api, activity_id).get(person_id)
        if relation is None:
            return
        try:
            self.api.call("DELETE", f"sobjects/{people.RELATION}/{relation}")
        except Permanent as error:
            if error.status != 404:
                raise

    # --- changes ------------------------------------------------------------------------

    def changes_since(self, since: datetime, until: datetime) -> CrmChanges:
        """Events and Contacts modified in (since, until] (SystemModstamp, all pages) or
        deleted then. Deletions are known per whole minute up to the start of until's
        minute, and `newest` is held there (see salesforce_query); the caller's overlap
        window picks up the rest."""
        self.pacing.check()
        events = changes_of(self.api, EVENT, since, until)
        contacts = changes_of(self.api, CONTACT, since, until)
        stamps = [s for s in (events.newest, contacts.newest) if s is not None]
        return CrmChanges(activity_ids=events.changed, contact_ids=contacts.changed,
                          deleted_activity_ids=events.deleted,
                          deleted_contact_ids=contacts.deleted,
                          newest=max(stamps, default=None))


def _user(row: Any) -> CrmUser:
    user = load_salesforce_user(row)
    return CrmUser(user["Id"], user.get("Email"), user.get("Name"), user["IsActive"])


def _contact_names(name: str | None, email: str) -> tuple[str | None, str]:
    """(FirstName, LastName): the last word of the name is the last name; without a name,
    the e-mail's local part (LastName is required)."""
    words = (name or "").split()
    if not words:
        return None, email.partition("@")[0] or email
    return " ".join(words[:-1]) or None, words[-1]


def _contact_body(email: str, name: str | None) -> dict[str, str]:
    first, last = _contact_names(name, email)
    body = {"LastName": last[:LAST_NAME_LENGTH], "Email": email}
    if first:
        body["FirstName"] = first[:FIRST_NAME_LENGTH]
    return body


def _event_path(activity_id: str) -> str:
    return f"sobjects/Event/{salesforce_id18(activity_id, field='activity_id')}"


def _external_id_path(external_id: str) -> str:
    return f"sobjects/Event/{EXTERNAL_ID_FIELD}/{_path_segment(external_id)}"


def _path_segment(value: str) -> str:
    return quote(value, safe="")


def _without(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != name}


def _unmodified_since(version: str | None) -> dict[str, str]:
    """activity.version is the SystemModstamp read; Salesforce answers 412 when the record's
    LastModifiedDate is later (to the second: a change in that same second goes unseen)."""
    if version is None:
        return {}
    stamp = datetime.fromisoformat(version).astimezone(timezone.utc)
    return {"If-Unmodified-Since": format_datetime(stamp, usegmt=True)}


def _today() -> date:
    return datetime.now(timezone.utc).date()
