"""Property definitions of the emulated portal and the rules for writing values.

A definition renders as the Properties API shows it (`name, label, type, fieldType,
groupName, options, hasUniqueValue, calculated, modificationMetadata{archivable,
readOnlyDefinition, readOnlyValue}`...: the v3 properties spec). Writes go through
`coerce`: unknown properties are PROPERTY_DOESNT_EXIST and read-only or calculated ones
READ_ONLY_VALUE (the object reference: "Read-only and non-existent properties will result
in an error"), enumerations take only their options (INVALID_OPTION), datetimes take epoch
milliseconds or ISO 8601 and are stored as epoch milliseconds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .hubspot_common import HsError, Issue, bad_request, fmt_ms, parse_instant

# The documented type -> fieldType pairs (properties guide).
FIELD_TYPES = {
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "string": {"file", "text", "textarea", "calculation_equation", "html", "phonenumber"},
    "number": {"number", "calculation_equation"},
    "phone_number": {"phonenumber"},
}
MAX_UNIQUE_PROPERTIES = 10  # "You can have up to ten unique ID properties per object"
MAX_STRING = 65_536  # "A plain text string, limited to 65,536 characters"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MEETING_OUTCOMES = ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")
_OUTCOME_LABELS = {"SCHEDULED": "Scheduled", "COMPLETED": "Completed",
                   "RESCHEDULED": "Rescheduled", "NO_SHOW": "No show", "CANCELED": "Canceled"}


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group: str
    options: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    has_unique_value: bool = False
    read_only_value: bool = False
    calculated: bool = False
    hubspot_defined: bool = True
    hidden: bool = False
    form_field: bool = False
    required: bool = False  # an admin's rule (sandbox control), not a v3 field
    referenced_object_type: str | None = None
    external_options: bool = False
    display_order: int = -1
    created_at: int = 0
    updated_at: int = 0
    archived: bool = False

    @property
    def writable(self) -> bool:
        return not (self.read_only_value or self.calculated)

    def render(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "updatedAt": fmt_ms(self.updated_at), "createdAt": fmt_ms(self.created_at),
            "name": self.name, "label": self.label, "type": self.type,
            "fieldType": self.field_type, "description": self.description,
            "groupName": self.group,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order, "calculated": self.calculated,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value, "hidden": self.hidden,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
            "formField": self.form_field, "dataSensitivity": "non_sensitive",
            "archived": self.archived,
        }
        if self.referenced_object_type:
            body["referencedObjectType"] = self.referenced_object_type
        return body

    def option_values(self) -> list[str]:
        return [o["value"] for o in self.options]


def option(value: str, label: str | None = None, order: int = 0) -> dict[str, Any]:
    return {"label": label or value, "value": value, "displayOrder": order, "hidden": False}


def _defaults(specs: list[tuple], group: str, at: int) -> dict[str, PropertyDef]:
    out = {}
    for name, label, type_, field_type, extra in specs:
        out[name] = PropertyDef(name, label, type_, field_type, group, created_at=at,
                                updated_at=at, **extra)
    return out


_RO = {"read_only_value": True}
_OWNER = {"referenced_object_type": "OWNER", "external_options": True}


def default_properties(at: int) -> dict[str, dict[str, PropertyDef]]:
    """The default contact and meeting properties the sandbox portal starts with."""
    lifecycle = [option(v, label, i) for i, (v, label) in enumerate([
        ("subscriber", "Subscriber"), ("lead", "Lead"),
        ("marketingqualifiedlead", "Marketing Qualified Lead"),
        ("salesqualifiedlead", "Sales Qualified Lead"), ("opportunity", "Opportunity"),
        ("customer", "Customer"), ("evangelist", "Evangelist"), ("other", "Other")])]
    contacts = _defaults([
        ("email", "Email", "string", "text", {"form_field": True}),
        ("firstname", "First Name", "string", "text", {"form_field": True}),
        ("lastname", "Last Name", "string", "text", {"form_field": True}),
        ("company", "Company Name", "string", "text", {"form_field": True}),
        ("phone", "Phone Number", "string", "phonenumber", {"form_field": True}),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber", {}),
        ("jobtitle", "Job Title", "string", "text", {}),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", {"options": lifecycle}),
        ("hubspot_owner_id", "Contact owner", "enumeration", "select", dict(_OWNER)),
        ("hs_object_id", "Record ID", "number", "number", dict(_RO)),
        ("createdate", "Create Date", "datetime", "date", dict(_RO)),
        ("lastmodifieddate", "Last Modified Date", "datetime", "date", dict(_RO)),
        ("hs_additional_emails", "Additional email addresses", "enumeration", "checkbox",
         dict(_RO)),
        ("hs_email_domain", "Email Domain", "string", "text", {**_RO, "calculated": True}),
        ("hs_merged_object_ids", "Merged Contact IDs", "enumeration", "checkbox", dict(_RO)),
    ], "contactinformation", at)
    meetings = _defaults([
        ("hs_timestamp", "Activity date", "datetime", "date", {"required": True}),
        ("hs_meeting_title", "Meeting name", "string", "text", {}),
        ("hs_meeting_body", "Meeting description", "string", "html", {}),
        ("hs_internal_meeting_notes", "Internal meeting notes", "string", "html", {}),
        ("hs_meeting_external_url", "External URL", "string", "text", {}),
        ("hs_meeting_location", "Location", "string", "text", {}),
        ("hs_meeting_start_time", "Start Time", "datetime", "date", {}),
        ("hs_meeting_end_time", "End Time", "datetime", "date", {}),
        ("hs_meeting_outcome", "Meeting outcome", "enumeration", "select",
         {"options": [option(v, _OUTCOME_LABELS[v], i) for i, v in enumerate(MEETING_OUTCOMES)]}),
        ("hs_activity_type", "Call and meeting type", "enumeration", "select", {}),
        ("hs_attachment_ids", "Attached file IDs", "enumeration", "checkbox", {}),
        ("hubspot_owner_id", "Activity assigned to", "enumeration", "select", dict(_OWNER)),
        ("hs_object_id", "Record ID", "number", "number", dict(_RO)),
        ("hs_createdate", "Create date", "datetime", "date", dict(_RO)),
        ("hs_lastmodifieddate", "Last modified date", "datetime", "date", dict(_RO)),
    ], "meeting", at)
    return {"contacts": contacts, "meetings": meetings}


def default_groups() -> dict[str, dict[str, dict[str, Any]]]:
    return {"contacts": {"contactinformation": {"name": "contactinformation",
                                                "label": "Contact information",
                                                "displayOrder": 0, "archived": False}},
            "meetings": {"meeting": {"name": "meeting", "label": "Meeting information",
                                     "displayOrder": 0, "archived": False}}}


# --- definitions from the API -------------------------------------------------------------

def definition_from_body(body: Any, groups: dict[str, dict], existing: dict[str, PropertyDef],
                         at: int) -> PropertyDef:
    """A custom property from a `POST /crm/v3/properties/{objectType}` body."""
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName")
               if not isinstance(body.get(k), str) or not body.get(k)]
    if missing:
        raise bad_request(f"Invalid input JSON: missing required fields {missing}")
    name, type_, field_type = body["name"], body["type"], body["fieldType"]
    if not _NAME.match(name):
        raise bad_request(f"Property name '{name}' must start with a lowercase letter and "
                          "contain only lowercase letters, numbers and underscores")
    if name in existing and not existing[name].archived:
        raise HsError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
    if type_ not in FIELD_TYPES:
        raise bad_request(f"'{type_}' is not a valid property type")
    if field_type not in FIELD_TYPES[type_]:
        raise bad_request(f"fieldType '{field_type}' is not valid for type '{type_}'; "
                          f"expected one of {sorted(FIELD_TYPES[type_])}")
    if body["groupName"] not in groups:
        raise bad_request(f"Property group '{body['groupName']}' does not exist")
    unique = bool(body.get("hasUniqueValue"))
    if unique:
        if type_ not in ("string", "number"):
            raise bad_request("Only string and number properties can require unique values")
        count = sum(1 for p in existing.values() if p.has_unique_value and not p.archived
                    and not p.hubspot_defined)
        if count >= MAX_UNIQUE_PROPERTIES:
            raise bad_request(f"Cannot create more than {MAX_UNIQUE_PROPERTIES} unique "
                              "value properties for this object type")
    options = parse_options(body.get("options"))
    if type_ == "enumeration" and field_type != "booleancheckbox" and not options:
        raise bad_request("Enumeration properties require options")
    if field_type == "booleancheckbox" and not options:
        options = [option("true", "Yes", 0), option("false", "No", 1)]
    return PropertyDef(name, body["label"], type_, field_type, body["groupName"], options,
                       description=str(body.get("description") or ""),
                       has_unique_value=unique, hubspot_defined=False,
                       hidden=bool(body.get("hidden", False)),
                       form_field=bool(body.get("formField", False)),
                       calculated=field_type == "calculation_equation",
                       read_only_value=field_type == "calculation_equation",
                       display_order=int(body.get("displayOrder", -1)),
                       created_at=at, updated_at=at)


def parse_options(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("Invalid input JSON: options must be an array")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("value"), str) \
                or not isinstance(item.get("label"), str):
            raise bad_request("Invalid input JSON: each option needs a label and a value")
        out.append({"label": item["label"], "value": item["value"],
                    "displayOrder": int(item.get("displayOrder", i)),
                    "hidden": bool(item.get("hidden", False)),
                    **({"description": item["description"]} if item.get("description")
                       else {})})
    return out


def apply_definition_update(prop: PropertyDef, body: Any, groups: dict[str, dict],
                            at: int) -> None:
    """`PATCH /crm/v3/properties/{objectType}/{name}`: HubSpot-defined definitions are
    read-only (modificationMetadata.readOnlyDefinition)."""
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    if prop.hubspot_defined:
        raise bad_request(f"Property {prop.name} is a HubSpot-defined property; its "
                          "definition cannot be modified")
    if "groupName" in body and body["groupName"] not in groups:
        raise bad_request(f"Property group '{body['groupName']}' does not exist")
    if "fieldType" in body and body["fieldType"] not in FIELD_TYPES.get(
            body.get("type", prop.type), set()):
        raise bad_request(f"fieldType '{body['fieldType']}' is not valid for type "
                          f"'{body.get('type', prop.type)}'")
    for key, attr in (("label", "label"), ("description", "description"),
                      ("groupName", "group"), ("fieldType", "field_type"), ("type", "type"),
                      ("hidden", "hidden"), ("formField", "form_field"),
                      ("displayOrder", "display_order")):
        if key in body:
            setattr(prop, attr, body[key])
    if "options" in body:
        prop.options = parse_options(body["options"])
    prop.updated_at = at


# --- values -----------------------------------------------------------------------------

def text_of(value: Any) -> str | None:
    """HubSpot property values are strings; JSON numbers and booleans are read as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(int(value)) if isinstance(value, float) and value.is_integer() \
            else str(value)
    if isinstance(value, str):
        return value
    return None


def coerce(prop: PropertyDef | None, name: str, raw: Any, owner_ids: set[str]
           ) -> tuple[str | None, Issue | None]:
    """(stored value, None) or (None, Issue). "" and null clear the value."""
    if prop is None or prop.archived:
        return None, Issue(name, raw, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if not prop.writable:
        return None, Issue(name, raw, "READ_ONLY_VALUE",
                           f'"{name}" is a calculated property; its value cannot be set.')
    if raw is None:
        return None, None
    text = text_of(raw)
    if text is None:
        return None, Issue(name, raw, "INVALID_PROPERTY_VALUE",
                           f"{raw!r} is not a valid value for {name}")
    if text == "":
        return None, None
    if prop.type in ("datetime", "date"):
        ms = parse_instant(text)
        if ms is None:
            return None, Issue(name, text, "INVALID_LONG", f"{text} was not a valid long.")
        if prop.type == "date" and ms % 86_400_000:
            return None, Issue(name, text, "INVALID_DATE",
                               f"{text} is at a time of day; date values must be midnight UTC")
        return str(ms), None
    if prop.type == "number":
        try:
            float(text)
        except ValueError:
            return None, Issue(name, text, "INVALID_INTEGER", f"{text} was not a valid number.")
        return text, None
    if prop.type == "bool":
        if text.lower() not in ("true", "false"):
            return None, Issue(name, text, "INVALID_BOOLEAN", f"{text} was not a valid boolean.")
        return text.lower(), None
    if prop.referenced_object_type == "OWNER":
        if text not in owner_ids:
            return None, Issue(name, text, "INVALID_OWNER_ID",
                               f"{text} is not a valid owner id")
        return text, None
    if prop.type == "enumeration":
        return _enumeration(prop, text)
    if len(text) > MAX_STRING:
        return None, Issue(name, text[:50], "INVALID_STRING_LENGTH",
                           f"{name} is longer than {MAX_STRING} characters")
    if name == "email":
        text = text.strip().lower()
        if not _EMAIL.fullmatch(text):
            return None, Issue(name, text, "INVALID_EMAIL", f"Email address {text} is invalid")
    return text, None


def _enumeration(prop: PropertyDef, text: str) -> tuple[str | None, Issue | None]:
    allowed = prop.option_values()
    # Multi-select values are `;`-separated; a leading `;` appends (applied by the store).
    parts = [p for p in text.split(";") if p] if prop.field_type == "checkbox" else [text]
    bad = [p for p in parts if p not in allowed]
    if bad:
        listing = "".join(
            f'label: "{o["label"]}"\nvalue: "{o["value"]}"\ndisplay_order: '
            f'{o.get("displayOrder", 0)}\nhidden: {str(o.get("hidden", False)).lower()}\n'
            "read_only: false\n, " for o in prop.options).rstrip(", ")
        return None, Issue(prop.name, text, "INVALID_OPTION",
                           f"{bad[0]} was not one of the allowed options: [{listing}]")
    return text, None


def display(prop: PropertyDef | None, stored: str | None) -> str | None:
    """A stored value as the API prints it (datetimes as ISO 8601 with milliseconds)."""
    if stored is None or prop is None:
        return stored
    if prop.type == "datetime":
        return fmt_ms(int(stored))
    if prop.type == "date":
        return fmt_ms(int(stored))[:10]
    return stored
