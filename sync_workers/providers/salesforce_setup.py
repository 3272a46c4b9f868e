"""What a Salesforce org needs before the first booking, read from its describes: each
missing piece with what to create and where in Setup (docs/salesforce-setup.md says the
same at length). Required pieces make `sync-workers crm check` fail and `pair` refuse;
recommended ones are said and do not stop anything.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from ..reliability.errors import Permanent
from .base import Finding

Describe = Callable[[str], Mapping[str, Any]]
EVENT_FIELDS_PATH = "Setup > Object Manager > Event > Fields & Relationships > New"
CONTACT_FIELDS_PATH = "Setup > Object Manager > Contact > Fields & Relationships > New"
ACTIVITY_FIELDS_PATH = ("Setup > Object Manager > Activity > Fields & Relationships > New "
                        "(Event custom fields are created on Activity)")


def setup_findings(describe: Describe) -> list[Finding]:
    event = _fields(describe, "Event")
    contact = _fields(describe, "Contact")
    findings = [
        _external_id(event, "Event.Calendar_Event_Id__c", "Calendar_Event_Id__c", unique=True,
                     where=ACTIVITY_FIELDS_PATH),
        _external_id(contact, "Contact.Sync_Contact_Id__c", "Sync_Contact_Id__c",
                     unique=False, where=CONTACT_FIELDS_PATH),
        _status_picklist(event),
        _owner_assignable(event),
        _shared_activities(describe),
    ]
    return findings


def _fields(describe: Describe, sobject: str) -> dict[str, Mapping[str, Any]]:
    return {f["name"]: f for f in describe(sobject).get("fields") or ()}


def _external_id(fields, piece: str, name: str, *, unique: bool, where: str) -> Finding:
    field = fields.get(name)
    wanted = "Text(255), External ID" + (", Unique" if unique else "")
    if field is None:
        return Finding(piece, False, True, f"create the field {name} ({wanted}) in {where}, "
                                           f"visible to the integration user's profile")
    missing = [label for label, ok in (("External ID", field.get("externalId")),
                                       ("Unique", field.get("unique") or not unique)) if not ok]
    if missing:
        return Finding(piece, False, True, f"edit {name}: tick {' and '.join(missing)}")
    if not field.get("createable") or not field.get("updateable"):
        return Finding(piece, False, True, f"give the integration user's profile edit "
                                           f"access to {name} (field-level security)")
    return Finding(piece, True, True)


def _status_picklist(fields) -> Finding:
    piece = "Event.Appointment_Status__c"
    field = fields.get("Appointment_Status__c")
    where = ACTIVITY_FIELDS_PATH
    if field is None:
        return Finding(piece, False, True, f"create the picklist Appointment_Status__c with "
                                           f"the values Scheduled (default) and Canceled in "
                                           f"{where}")
    values = {v.get("value") for v in field.get("picklistValues") or () if v.get("active")}
    missing = sorted({"Scheduled", "Canceled"} - values)
    if missing:
        return Finding(piece, False, True, f"add the active picklist value(s) "
                                           f"{', '.join(missing)} to Appointment_Status__c")
    return Finding(piece, True, True)


def _owner_assignable(fields) -> Finding:
    piece = "Event.OwnerId assignable"
    owner = fields.get("OwnerId") or {}
    if owner.get("createable") and owner.get("updateable"):
        return Finding(piece, True, True)
    return Finding(piece, False, True, "let the integration user assign events to other "
                                       "users (its profile: Edit Events, and field-level "
                                       "edit access to Assigned To), so each rep owns their "
                                       "meetings")


def _shared_activities(describe: Describe) -> Finding:
    piece = "Shared Activities"
    try:
        relation = _fields(describe, "EventRelation")
    except Permanent:
        relation = {}
    if "IsParent" in relation:
        return Finding(piece, True, False)
    return Finding(piece, False, False, "turn on Shared Activities (Setup > Activity "
                                        "Settings > Allow Users to Relate Multiple Contacts "
                                        "to Tasks and Events) so every guest of a meeting "
                                        "is related to it; without it only the first is")
