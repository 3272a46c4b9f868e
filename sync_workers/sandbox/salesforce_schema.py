"""Object and field metadata of the emulated org: what `describe` shows and what a save
checks (types, lengths, picklists, createable/updateable, required fields).

Required on create = createable and not nillable and not defaultedOnCreate, as in the real
describe; admins can add custom fields at run time (salesforce_admin.add_custom_field).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .salesforce_common import (
    KEY_PREFIXES,
    SfError,
    fmt_datetime,
    parse_date,
    parse_datetime,
)

STRING_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "combobox"}
ID_TYPES = {"id", "reference"}
_SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean",
               "datetime": "xsd:dateTime", "date": "xsd:date", "int": "xsd:int",
               "double": "xsd:double"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class FieldDef:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    custom: bool = False
    name_field: bool = False

    @property
    def filterable(self) -> bool:
        return self.type != "textarea" or self.length <= 255

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted_on_create

    def describe(self) -> dict[str, Any]:
        is_text = self.type in STRING_TYPES
        return {
            "aggregatable": self.filterable, "autoNumber": False,
            "byteLength": self.length * 3 if is_text else (18 if self.type in ID_TYPES else 0),
            "calculated": False, "calculatedFormula": None,
            "caseSensitive": self.case_sensitive, "controllerName": None,
            "createable": self.createable, "custom": self.custom,
            "defaultValue": self.default if self.type != "boolean" else bool(self.default),
            "defaultValueFormula": None, "defaultedOnCreate": self.defaulted_on_create,
            "dependentPicklist": False, "digits": 9 if self.type == "int" else 0,
            "externalId": self.external_id, "filterable": self.filterable,
            "groupable": self.filterable and self.type not in {"datetime", "double"},
            "htmlFormatted": False, "idLookup": self.type == "id" or self.external_id,
            "label": self.label or self.name, "length": self.length if is_text else
            (18 if self.type in ID_TYPES else 0), "name": self.name,
            "nameField": self.name_field, "namePointing": len(self.reference_to) > 1,
            "nillable": self.nillable, "permissionable": self.nillable and self.custom,
            "picklistValues": [
                {"active": True, "defaultValue": value == self.default, "label": value,
                 "validFor": None, "value": value} for value in self.picklist],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": 18 if self.type == "double" else 0,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name, "relationshipOrder": None,
            "restrictedPicklist": self.restricted, "scale": 2 if self.type == "double" else 0,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.filterable, "type": self.type, "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass
class SObjectType:
    name: str
    label: str
    label_plural: str
    fields: list[FieldDef] = field(default_factory=list)
    # What the calling (integration) user may do with the object over the API; describe
    # shows it and a refused save answers CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY.
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    has_recycle_bin: bool = True  # False: no IsDeleted field, records are never deleted

    @property
    def key_prefix(self) -> str:
        return KEY_PREFIXES[self.name]

    def field(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        return next((f for f in self.fields if f.name.lower() == lowered), None)

    def relationship(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        return next((f for f in self.fields
                     if f.relationship_name and f.relationship_name.lower() == lowered), None)

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"compactLayouts": f"{base}/describe/compactLayouts",
                "rowTemplate": f"{base}/{{ID}}",
                "approvalLayouts": f"{base}/describe/approvalLayouts",
                "describe": f"{base}/describe", "quickActions": f"{base}/quickActions",
                "layouts": f"{base}/describe/layouts", "sobject": base}

    def summary(self, version: str) -> dict[str, Any]:
        return {"activateable": False, "createable": self.createable, "custom": False,
                "customSetting": False, "deletable": self.deletable,
                "deprecatedAndHidden": False,
                "feedEnabled": self.name in {"Account", "Contact", "Lead", "User"},
                "keyPrefix": self.key_prefix,
                "label": self.label, "labelPlural": self.label_plural, "layoutable": True,
                "mergeable": self.name in {"Account", "Contact", "Lead"}, "mruEnabled": True,
                "name": self.name, "queryable": True, "replicateable": True,
                "retrieveable": True, "searchable": True, "triggerable": True,
                "undeletable": self.deletable and self.has_recycle_bin,
                "updateable": self.updateable, "urls": self.urls(version)}

    def describe(self, version: str) -> dict[str, Any]:
        out = self.summary(version)
        out.update({"childRelationships": [], "fields": [f.describe() for f in self.fields],
                    "recordTypeInfos": [{"active": True, "available": True,
                                         "defaultRecordTypeMapping": True,
                                         "developerName": "Master", "master": True,
                                         "name": "Master",
                                         "recordTypeId": "012000000000000AAA"}]})
        return out


# --- the standard objects -------------------------------------------------------------

def _audit_fields() -> list[FieldDef]:
    def stamp(name: str, label: str) -> FieldDef:
        return FieldDef(name, "datetime", label, nillable=False, createable=False,
                        updateable=False, defaulted_on_create=True)

    def user(name: str, label: str, rel: str) -> FieldDef:
        return FieldDef(name, "reference", label, nillable=False, createable=False,
                        updateable=False, defaulted_on_create=True, reference_to=("User",),
                        relationship_name=rel)
    return [stamp("CreatedDate", "Created Date"), user("CreatedById", "Created By ID", "CreatedBy"),
            stamp("LastModifiedDate", "Last Modified Date"),
            user("LastModifiedById", "Last Modified By ID", "LastModifiedBy"),
            stamp("SystemModstamp", "System Modstamp")]


def _id() -> FieldDef:
    return FieldDef("Id", "id", "Record ID", nillable=False, createable=False, updateable=False,
                    defaulted_on_create=True)


def _is_deleted() -> FieldDef:
    return FieldDef("IsDeleted", "boolean", "Deleted", nillable=False, createable=False,
                    updateable=False, defaulted_on_create=True, default=False)


def _owner(reference_to: tuple[str, ...] = ("User",)) -> FieldDef:
    return FieldDef("OwnerId", "reference", "Owner ID", nillable=False, defaulted_on_create=True,
                    reference_to=reference_to, relationship_name="Owner")


def _master(sobject: str) -> FieldDef:
    return FieldDef("MasterRecordId", "reference", "Master Record ID", createable=False,
                    updateable=False, reference_to=(sobject,), relationship_name="MasterRecord")


def account_type() -> SObjectType:
    return SObjectType("Account", "Account", "Accounts", [
        _id(), _is_deleted(), _master("Account"),
        FieldDef("Name", "string", "Account Name", 255, nillable=False, name_field=True),
        FieldDef("Type", "picklist", "Account Type", 255,
                 picklist=("Prospect", "Customer - Direct", "Customer - Channel", "Other")),
        FieldDef("Industry", "picklist", "Industry", 255,
                 picklist=("Agriculture", "Banking", "Consulting", "Technology", "Other")),
        FieldDef("Phone", "phone", "Account Phone", 40),
        FieldDef("Website", "url", "Website", 255),
        FieldDef("Description", "textarea", "Account Description", 32000),
        _owner(), *_audit_fields(),
    ])


def contact_type() -> SObjectType:
    return SObjectType("Contact", "Contact", "Contacts", [
        _id(), _is_deleted(), _master("Contact"),
        FieldDef("AccountId", "reference", "Account ID", reference_to=("Account",),
                 relationship_name="Account"),
        FieldDef("LastName", "string", "Last Name", 80, nillable=False),
        FieldDef("FirstName", "string", "First Name", 40),
        FieldDef("Salutation", "picklist", "Salutation", 40,
                 picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx.")),
        FieldDef("Name", "string", "Full Name", 121, nillable=False, createable=False,
                 updateable=False, name_field=True),
        FieldDef("Phone", "phone", "Business Phone", 40),
        FieldDef("Email", "email", "Email", 80),
        FieldDef("Title", "string", "Title", 128),
        FieldDef("Description", "textarea", "Contact Description", 32000),
        _owner(), *_audit_fields(),
        FieldDef("Sync_Contact_Id__c", "string", "Sync Contact Id", 255, external_id=True,
                 custom=True),  # external id, NOT unique: upsert can answer 300
    ])


def event_type() -> SObjectType:
    return SObjectType("Event", "Event", "Events", [
        _id(),
        FieldDef("WhoId", "reference", "Name ID", reference_to=("Contact", "Lead"),
                 relationship_name="Who"),
        FieldDef("WhatId", "reference", "Related To ID", reference_to=("Account", "Opportunity"),
                 relationship_name="What"),
        FieldDef("Subject", "combobox", "Subject", 255,
                 picklist=("Call", "Email", "Meeting", "Send Letter/Quote", "Other")),
        FieldDef("Location", "string", "Location", 255),
        FieldDef("IsAllDayEvent", "boolean", "All-Day Event", nillable=False,
                 defaulted_on_create=True, default=False),
        FieldDef("ActivityDateTime", "datetime", "Due Date Time"),
        FieldDef("ActivityDate", "date", "Due Date Only"),
        FieldDef("DurationInMinutes", "int", "Duration"),
        FieldDef("StartDateTime", "datetime", "Start Date Time"),
        FieldDef("EndDateTime", "datetime", "End Date Time"),
        FieldDef("EndDate", "date", "End", createable=False, updateable=False),
        FieldDef("Description", "textarea", "Description", 32000),
        FieldDef("AccountId", "reference", "Account ID", createable=False, updateable=False,
                 reference_to=("Account",), relationship_name="Account"),
        _owner(("Calendar", "User")),
        FieldDef("IsPrivate", "boolean", "Private", nillable=False, defaulted_on_create=True,
                 default=False),
        # Recurring series made in Salesforce: Classic's master (IsRecurrence) with
        # occurrences pointing at it (RecurrenceActivityId), Lightning's pattern version.
        FieldDef("IsRecurrence", "boolean", "Create Recurring Series of Events",
                 nillable=False, defaulted_on_create=True, default=False),
        FieldDef("RecurrenceActivityId", "reference", "Recurrence Activity ID",
                 createable=False, updateable=False, reference_to=("Event",)),
        FieldDef("Recurrence2PatternVersion", "picklist", "Pattern Version", 40,
                 picklist=("1", "2")),
        FieldDef("ShowAs", "picklist", "Show Time As", 40, defaulted_on_create=True,
                 default="Busy", restricted=True,
                 picklist=("Busy", "OutOfOffice", "Free", "WorkingElsewhere")),
        _is_deleted(), *_audit_fields(),
        FieldDef("Calendar_Event_Id__c", "string", "Calendar Event Id", 255, external_id=True,
                 unique=True, custom=True),
        # Installed with Calendar_Event_Id__c by the sync's setup: Salesforce Events have no
        # status of their own, so a canceled appointment is marked here.
        FieldDef("Appointment_Status__c", "picklist", "Appointment Status", 40, custom=True,
                 defaulted_on_create=True, default="Scheduled", restricted=True,
                 picklist=("Scheduled", "Canceled")),
    ])


def user_type() -> SObjectType:
    """The User object, read-only for the API user (as for a user without "Manage Users"):
    records come from the admin helpers (salesforce_admin.add_user). Field names, types and
    lengths follow the Field Reference for User (https://developer.salesforce.com/docs/atlas.
    en-us.234.0.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_User.htm and the Name
    object's page, salesforce-field-reference-name.html): Username 80, Email 128,
    FirstName 40, LastName 80, Name 121 (FirstName + LastName), Alias 8, CommunityNickname
    40, IsActive boolean. Users are never deleted, only deactivated: no IsDeleted field."""
    def ro(name: str, type: str, label: str, length: int = 0, **kw: Any) -> FieldDef:
        return FieldDef(name, type, label, length, createable=False, updateable=False, **kw)
    return SObjectType("User", "User", "Users", [
        _id(),
        ro("Username", "string", "Username", 80, nillable=False, unique=True),
        ro("LastName", "string", "Last Name", 80, nillable=False),
        ro("FirstName", "string", "First Name", 40),
        ro("Name", "string", "Full Name", 121, nillable=False, name_field=True),
        ro("CompanyName", "string", "Company Name", 80),
        ro("Title", "string", "Title", 80),
        ro("Phone", "phone", "Phone", 40),
        ro("Email", "email", "Email", 128, nillable=False),
        ro("Alias", "string", "Alias", 8, nillable=False),
        ro("CommunityNickname", "string", "Nickname", 40, nillable=False, unique=True),
        ro("IsActive", "boolean", "Active", nillable=False, defaulted_on_create=True,
           default=True),
        ro("UserType", "picklist", "User Type", 40, nillable=False, defaulted_on_create=True,
           default="Standard", restricted=True,
           picklist=("Standard", "PowerPartner", "CsnOnly", "Guest")),
        ro("TimeZoneSidKey", "picklist", "Time Zone", 40, nillable=False, restricted=True,
           picklist=("GMT", "Europe/London", "Europe/Paris", "America/New_York",
                     "America/Los_Angeles")),
        ro("LocaleSidKey", "picklist", "Locale", 40, nillable=False, restricted=True,
           picklist=("en_US", "en_GB", "fr_FR", "de_DE")),
        ro("LanguageLocaleKey", "picklist", "Language", 40, nillable=False, restricted=True,
           picklist=("en_US", "fr", "de")),
        ro("EmailEncodingKey", "picklist", "Email Encoding", 40, nillable=False,
           restricted=True, picklist=("UTF-8", "ISO-8859-1")),
        *_audit_fields(),
    ], createable=False, updateable=False, deletable=False, has_recycle_bin=False)


LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted")
LEAD_DEFAULT_STATUS = LEAD_STATUSES[0]
LEAD_CONVERTED_STATUS = "Closed - Converted"


def lead_type() -> SObjectType:
    """Lead, after the Field Reference for Lead (https://developer.salesforce.com/docs/
    platform/field-reference/references/field-reference/salesforce-field-reference-
    lead.html; the v212 table lists Company 255, Email 80, IsConverted, ConvertedAccountId,
    ConvertedContactId, ConvertedDate). LastName and Company are required; Status takes its
    default from the lead status picklist (LeadStatus.IsDefault, object-leadstatus.html);
    the four values are the standard ones of a new org ("Open - Not Contacted" the default,
    "Closed - Converted" the converted status: the values as admin guides list them, not
    an API page). Conversion fields are read-only: a lead is converted by convertLead
    (salesforce_admin.convert_lead), not by setting IsConverted."""
    def ro(name: str, type: str, label: str, **kw: Any) -> FieldDef:
        return FieldDef(name, type, label, createable=False, updateable=False, **kw)
    return SObjectType("Lead", "Lead", "Leads", [
        _id(), _is_deleted(), _master("Lead"),
        FieldDef("LastName", "string", "Last Name", 80, nillable=False),
        FieldDef("FirstName", "string", "First Name", 40),
        FieldDef("Salutation", "picklist", "Salutation", 40,
                 picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx.")),
        FieldDef("Name", "string", "Full Name", 121, nillable=False, createable=False,
                 updateable=False, name_field=True),
        FieldDef("Title", "string", "Title", 128),
        FieldDef("Company", "string", "Company", 255, nillable=False),
        FieldDef("Phone", "phone", "Phone", 40),
        FieldDef("Email", "email", "Email", 80),
        FieldDef("Description", "textarea", "Description", 32000),
        FieldDef("Status", "picklist", "Status", 40, nillable=False, defaulted_on_create=True,
                 default=LEAD_DEFAULT_STATUS, picklist=LEAD_STATUSES),
        _owner(("Group", "User")),
        ro("IsConverted", "boolean", "Converted", nillable=False, defaulted_on_create=True,
           default=False),
        ro("ConvertedAccountId", "reference", "Converted Account ID", reference_to=("Account",),
           relationship_name="ConvertedAccount"),
        ro("ConvertedContactId", "reference", "Converted Contact ID", reference_to=("Contact",),
           relationship_name="ConvertedContact"),
        ro("ConvertedDate", "date", "Converted Date"),
        *_audit_fields(),
    ])


def event_relation_fields(shared_activities: bool) -> list[FieldDef]:
    """EventRelation's fields. Without Shared Activities they are those of an invitee
    (generated clients of such orgs list Id, RelationId, EventId, Status, RespondedDate,
    Response and the audit fields: melan/go-force sobjects/eventrelation.go, cnsdose/
    salesforce-php EventRelation.php). With it, AccountId, IsInvitee, IsParent and IsWhat
    appear ("AccountId is visible when Shared Activities is enabled", "IsInvitee is
    visible when Shared Activities is enabled": the EventRelation page of the API guide,
    http://www.salesforce.com/us/developer/docs/api/Content/sforce_api_objects_
    eventattendee.htm; the four fields in an Illuminated Cloud model of such an org).
    Properties from that page: EventId "Create, Filter, Group, Sort" (not nillable, can't
    be changed), IsInvitee and IsParent "Create, Defaulted on create, ..., Update",
    AccountId read-only. IsWhat is read-only here: the emulator makes what-relations from
    the Event's WhatId only (its properties were not in the copies found). Status: New,
    Accepted, Declined (the Accepted/Declined/UndecidedEventRelation views; other values
    such as Maybe or Uninvited were not confirmed and are left out)."""
    relation_to = ("Calendar", "Contact", "Lead", "User")
    if shared_activities:
        relation_to = ("Account", "Calendar", "Contact", "Lead", "Opportunity", "User")
    fields = [
        _id(),
        FieldDef("RelationId", "reference", "Relation ID", nillable=False, updateable=False,
                 reference_to=relation_to, relationship_name="Relation"),
        FieldDef("EventId", "reference", "Event ID", nillable=False, updateable=False,
                 reference_to=("Event",), relationship_name="Event"),
        FieldDef("Status", "picklist", "Status", 40, defaulted_on_create=True, default="New",
                 restricted=True, picklist=("New", "Accepted", "Declined")),
        FieldDef("RespondedDate", "datetime", "Response Date"),
        FieldDef("Response", "string", "Response", 255),
    ]
    if shared_activities:
        fields += [
            FieldDef("AccountId", "reference", "Account ID", createable=False, updateable=False,
                     reference_to=("Account",), relationship_name="Account"),
            FieldDef("IsInvitee", "boolean", "Is Invitee", nillable=False,
                     defaulted_on_create=True, default=True),
            FieldDef("IsParent", "boolean", "Is Parent", nillable=False,
                     defaulted_on_create=True, default=False),
            FieldDef("IsWhat", "boolean", "Is What", nillable=False, createable=False,
                     updateable=False, defaulted_on_create=True, default=False),
        ]
    return [*fields, _is_deleted(), *_audit_fields()]


def event_relation_type(shared_activities: bool = True) -> SObjectType:
    return SObjectType("EventRelation", "Event Relation", "Event Relations",
                       event_relation_fields(shared_activities))


def event_who_relation_type() -> SObjectType:
    """EventWhoRelation: "a filtered version of the EventRelation object; that is, IsParent
    is true and IsWhat is false", describeSObjects/query/retrieve only, "Available only if
    you've enabled Shared Activities" (https://developer.salesforce.com/docs/platform/
    object-reference/references/standard-objects/object-eventwhorelation.html). Fields:
    AccountId, EventId, RelationId (Contact, Lead), Type ("whether the person ... is a
    contact or lead")."""
    def ro(name: str, type: str, label: str, length: int = 0, **kw: Any) -> FieldDef:
        return FieldDef(name, type, label, length, createable=False, updateable=False, **kw)
    return SObjectType("EventWhoRelation", "Event Who Relation", "Event Who Relations", [
        _id(),
        ro("RelationId", "reference", "Relation ID", reference_to=("Contact", "Lead"),
           relationship_name="Relation"),
        ro("EventId", "reference", "Event ID", reference_to=("Event",), relationship_name="Event"),
        ro("Type", "string", "Type", 50),
        ro("AccountId", "reference", "Account ID", reference_to=("Account",),
           relationship_name="Account"),
        _is_deleted(), *_audit_fields(),
    ], createable=False, updateable=False, deletable=False)


def standard_schema(shared_activities: bool = True) -> dict[str, SObjectType]:
    types = [account_type(), contact_type(), lead_type(), event_type(),
             event_relation_type(shared_activities), user_type()]
    if shared_activities:
        types.append(event_who_relation_type())
    return {t.name: t for t in types}


def find_type(schema: dict[str, SObjectType], name: str) -> SObjectType | None:
    """Object names in URLs and SOQL are case-insensitive."""
    return next((t for key, t in schema.items() if key.lower() == name.lower()), None)


# --- values in and out ----------------------------------------------------------------

def _parser_error(kind: str, raw: Any) -> SfError:
    token = "VALUE_STRING" if isinstance(raw, str) else "VALUE_NUMBER_INT" \
        if isinstance(raw, int) else "START_OBJECT" if isinstance(raw, dict) else "VALUE_OTHER"
    return SfError(400, "JSON_PARSER_ERROR",
                   f"Cannot deserialize instance of {kind} from {token} value {raw} "
                   "or request may be missing a required field")


def coerce(f: FieldDef, raw: Any) -> Any:
    """A JSON value for field `f` as stored; raises the error the real API gives."""
    if f.type == "boolean":
        if raw is None or isinstance(raw, bool):
            return bool(raw)
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise _parser_error("boolean", raw)
    if raw is None:
        return None
    if f.type in STRING_TYPES or f.type in ID_TYPES:
        return _coerce_text(f, raw)
    if f.type == "int":
        return _coerce_int(raw)
    if f.type == "double":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        raise _parser_error("double", raw)
    if f.type == "datetime":
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if parsed is None:
            raise _parser_error("datetime", raw)
        return parsed.replace(microsecond=0)  # stored to the second
    if f.type == "date":
        parsed = parse_date(raw)
        if parsed is None:
            raise _parser_error("date", raw)
        return parsed
    raise _parser_error(f.type, raw)


def _coerce_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise _parser_error("int", raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and re.match(r"^-?\d+$", raw.strip()):
        return int(raw)
    raise _parser_error("int", raw)


def _coerce_text(f: FieldDef, raw: Any) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise _parser_error("String", raw)
    text = str(raw)
    if text == "":
        return None  # Salesforce stores an empty string as null
    if f.type in ID_TYPES:
        return text
    if len(text) > f.length:
        raise SfError(400, "STRING_TOO_LONG",
                      f"{f.label}: data value too large: {text[:80]} (max length={f.length})",
                      [f.name])
    if f.type == "email" and not _EMAIL.match(text):
        raise SfError(400, "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {text}",
                      [f.name])
    if f.restricted and text not in f.picklist:
        raise SfError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                      f"{f.label}: bad value for restricted picklist field: {text}", [f.name])
    return text


def to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return fmt_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def render(t: SObjectType, rec: dict[str, Any], version: str,
           fields: list[FieldDef] | None = None) -> dict[str, Any]:
    """A record as the REST API shows it: attributes first, then fields in schema order."""
    out: dict[str, Any] = {"attributes": {
        "type": t.name, "url": f"/services/data/v{version}/sobjects/{t.name}/{rec['Id']}"}}
    for f in fields if fields is not None else t.fields:
        out[f.name] = to_json(rec.get(f.name))
    return out
