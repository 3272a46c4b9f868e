"""Salesforce payloads: Event and Contact records, Outbound Messages, Sforce-Limit-Info.

Record ids are normalised to their 18-character form: the 15-character form of the same
record is case-sensitive and would otherwise look like another record (and give another
deterministic calendar event id).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from sync_workers.reliability.errors import InvalidInput
from sync_workers.sync.models import Contact, CrmActivity

from .time import salesforce_span, to_utc
from .validation import about, validated

# Custom fields our package adds to Event; mapping/salesforce.yaml writes the same ones.
EXTERNAL_ID_FIELD = "Calendar_Event_Id__c"
STATUS_FIELD = "Appointment_Status__c"
STATUS_VALUES = {"Scheduled": "scheduled", "Canceled": "canceled"}  # picklist -> canonical

_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_API_USAGE = re.compile(r"(?:^|,)\s*api-usage=(\d+)/(\d+)")


def salesforce_id18(value: Any, *, field: str) -> str:
    """The 18-character, case-safe form of a 15- or 18-character record id."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(f"{field}: expected a 15 or 18 character Salesforce id, "
                           f"got {value!r}")
    if len(value) == 18:
        return value
    suffix = "".join(
        _ID_SUFFIX[sum(1 << bit for bit, char in enumerate(value[i:i + 5]) if char.isupper())]
        for i in (0, 5, 10))
    return value + suffix


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE  # `attributes` and every field we do not use


class SalesforceEventSchema(_Lenient):
    Id = fields.Str(required=True)
    Subject = fields.Str(allow_none=True)
    IsAllDayEvent = fields.Bool(load_default=False)
    ActivityDate = fields.Str(allow_none=True)
    StartDateTime = fields.Str(allow_none=True)
    EndDateTime = fields.Str(allow_none=True)
    DurationInMinutes = fields.Int(allow_none=True, strict=True)
    Location = fields.Str(allow_none=True)
    Description = fields.Str(allow_none=True)
    WhoId = fields.Str(allow_none=True)
    OwnerId = fields.Str(allow_none=True)
    SystemModstamp = fields.Str(allow_none=True)
    IsRecurrence = fields.Bool(load_default=False, allow_none=True)
    RecurrenceActivityId = fields.Str(allow_none=True)
    Recurrence2PatternVersion = fields.Str(allow_none=True)
    external_id = fields.Str(allow_none=True, data_key=EXTERNAL_ID_FIELD)
    status = fields.Str(allow_none=True, data_key=STATUS_FIELD,
                        validate=validate.OneOf(list(STATUS_VALUES)))


class _AccountSchema(_Lenient):
    Name = fields.Str(allow_none=True)


class SalesforceContactSchema(_Lenient):
    Id = fields.Str(required=True)
    FirstName = fields.Str(allow_none=True)
    LastName = fields.Str(allow_none=True)
    Email = fields.Str(allow_none=True)
    Account = fields.Nested(_AccountSchema, allow_none=True)  # SOQL `Account.Name`
    IsDeleted = fields.Bool(load_default=False)


class SalesforceLeadSchema(_Lenient):
    Id = fields.Str(required=True)
    FirstName = fields.Str(allow_none=True)
    LastName = fields.Str(allow_none=True)
    Email = fields.Str(allow_none=True)
    Company = fields.Str(allow_none=True)
    IsDeleted = fields.Bool(load_default=False)


def load_salesforce_lead(data: Any) -> Contact:
    """A Lead as a CRM person of a meeting (its Company is what a Contact's Account is)."""
    record = validated(SalesforceLeadSchema(), data, what="salesforce Lead")
    with about(f"salesforce Lead {record['Id']}"):
        return Contact(id=salesforce_id18(record["Id"], field="Id"),
                       first_name=record.get("FirstName"), last_name=record.get("LastName"),
                       email=record.get("Email"), company=record.get("Company"),
                       deleted=record["IsDeleted"])


class SalesforceRelationSchema(_Lenient):
    Id = fields.Str(required=True)
    RelationId = fields.Str(required=True)


def load_salesforce_relation(data: Any) -> tuple[str, str]:
    """(relation id, the related person's id), both 18 characters."""
    record = validated(SalesforceRelationSchema(), data, what="salesforce EventRelation")
    with about(f"salesforce EventRelation {record['Id']}"):
        return (salesforce_id18(record["Id"], field="Id"),
                salesforce_id18(record["RelationId"], field="RelationId"))


class SalesforceUserSchema(_Lenient):
    Id = fields.Str(required=True)
    Email = fields.Str(allow_none=True)
    Name = fields.Str(allow_none=True)
    IsActive = fields.Bool(required=True)


def load_salesforce_user(data: Any) -> dict[str, Any]:
    """A User row (SOQL), its Id in the 18-character form."""
    user = validated(SalesforceUserSchema(), data, what="salesforce User")
    with about(f"salesforce User {user['Id']}"):
        return {**user, "Id": salesforce_id18(user["Id"], field="Id")}


class _SObjectSchema(_Lenient):
    type = fields.Str(required=True, validate=validate.Length(min=1))
    Id = fields.Str(required=True)


class _NotificationSchema(_Lenient):
    Id = fields.Str(required=True)
    sObject = fields.Nested(_SObjectSchema, required=True)


class OutboundMessageSchema(_Lenient):
    # SessionId is left out on purpose: it is a live session token and must go nowhere.
    OrganizationId = fields.Str(required=True)
    ActionId = fields.Str(required=True)
    Notification = fields.List(fields.Nested(_NotificationSchema), required=True,
                               validate=validate.Length(min=1, max=100))


def load_salesforce_event(data: Any) -> CrmActivity:
    """An Event record (REST or SOQL). A blank status picklist reads as scheduled: events
    written before the field existed are live meetings."""
    record = validated(SalesforceEventSchema(), data, what="salesforce Event")
    with about(f"salesforce Event {record['Id']}"):
        who_id, owner_id = record.get("WhoId"), record.get("OwnerId")
        modstamp = record.get("SystemModstamp")
        return CrmActivity(
            id=salesforce_id18(record["Id"], field="Id"),
            span=salesforce_span(all_day=record["IsAllDayEvent"],
                                 activity_date=record.get("ActivityDate"),
                                 duration_minutes=record.get("DurationInMinutes"),
                                 start=record.get("StartDateTime"),
                                 end=record.get("EndDateTime")),
            external_id=record.get("external_id"),
            subject=record.get("Subject") or "",
            location=record.get("Location") or "",
            description=record.get("Description") or "",
            who_id=salesforce_id18(who_id, field="WhoId") if who_id else None,
            status=STATUS_VALUES[record.get("status") or "Scheduled"],
            version=to_utc(modstamp, field="SystemModstamp").isoformat() if modstamp else None,
            owner_id=salesforce_id18(owner_id, field="OwnerId") if owner_id else None,
            in_series=bool(record.get("IsRecurrence") or record.get("RecurrenceActivityId")
                           or record.get("Recurrence2PatternVersion")),
        )


def load_salesforce_contact(data: Any) -> Contact:
    record = validated(SalesforceContactSchema(), data, what="salesforce Contact")
    with about(f"salesforce Contact {record['Id']}"):
        return Contact(
            id=salesforce_id18(record["Id"], field="Id"),
            first_name=record.get("FirstName"),
            last_name=record.get("LastName"),
            email=record.get("Email"),
            company=(record.get("Account") or {}).get("Name"),
            deleted=record["IsDeleted"],
        )


@dataclass(frozen=True)
class OutboundNotification:
    notification_id: str  # Salesforce retries with the same id: dedupe on it
    object_type: str
    record_id: str


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str
    notifications: tuple[OutboundNotification, ...]


def load_outbound_message(data: Any) -> OutboundMessage:
    """A SOAP Outbound Message, already parsed to a dict shaped like its XML:
    {"OrganizationId", "ActionId", "SessionId"?, "EnterpriseUrl"?, "PartnerUrl"?,
     "Notification": [{"Id", "sObject": {"type": "Event", "Id", ...fields}}]}.
    Only ids are kept: the message says which records to look at, not their state."""
    message = validated(OutboundMessageSchema(), data, what="salesforce outbound message")
    with about("salesforce outbound message"):
        return OutboundMessage(
            organization_id=salesforce_id18(message["OrganizationId"], field="OrganizationId"),
            action_id=salesforce_id18(message["ActionId"], field="ActionId"),
            notifications=tuple(
                OutboundNotification(
                    salesforce_id18(item["Id"], field="Notification.Id"),
                    item["sObject"]["type"].removeprefix("sf:"),
                    salesforce_id18(item["sObject"]["Id"], field="Notification.sObject.Id"))
                for item in message["Notification"]),
        )


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int


def load_sforce_limit_info(header: Any) -> ApiUsage:
    """`Sforce-Limit-Info: api-usage=18/5000[, per-app-api-usage=...]`: the org's daily
    API calls used and allowed."""
    match = _API_USAGE.search(header) if isinstance(header, str) else None
    if match is None:
        raise InvalidInput(f"Sforce-Limit-Info: expected 'api-usage=<used>/<limit>', "
                           f"got {header!r}")
    return ApiUsage(int(match.group(1)), int(match.group(2)))

