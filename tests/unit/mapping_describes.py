"""A Salesforce Event describe, cut down to the fields the tests need, in the API's shape."""
from __future__ import annotations

from typing import Any


def described(name: str, kind: str, *, length: int = 0, nillable: bool = True,
              createable: bool = True, updateable: bool = True, defaulted: bool = False,
              picklist: list[tuple[str, bool, bool]] = ()) -> dict[str, Any]:
    return {"name": name, "type": kind, "length": length, "nillable": nillable,
            "createable": createable, "updateable": updateable,
            "defaultedOnCreate": defaulted, "externalId": False,
            "picklistValues": [{"value": value, "label": value, "active": active,
                                "defaultValue": default} for value, active, default in picklist]}


def event_describe(*extra: dict[str, Any], status_values=None) -> dict[str, Any]:
    status_values = status_values or [("Scheduled", True, True), ("Canceled", True, False),
                                      ("Postponed", False, False)]
    return {"name": "Event", "fields": [
        described("Id", "id", length=18, nillable=False, createable=False, updateable=False,
                  defaulted=True),
        described("Subject", "combobox", length=255),
        described("StartDateTime", "datetime"),
        described("EndDateTime", "datetime"),
        described("IsAllDayEvent", "boolean", nillable=False, defaulted=True),
        described("ActivityDate", "date"),
        described("DurationInMinutes", "int"),
        described("Location", "string", length=255),
        described("Description", "textarea", length=32000),
        described("WhoId", "reference", length=18),
        described("OwnerId", "reference", length=18, nillable=False, defaulted=True),
        described("ShowAs", "picklist", length=40, defaulted=True,
                  picklist=[("Busy", True, True), ("Free", True, False)]),
        described("Calendar_Event_Id__c", "string", length=255, updateable=False),
        described("Appointment_Status__c", "picklist", length=255, picklist=status_values),
        *extra,
    ]}


CONTACT_DESCRIBE = {"name": "Contact", "fields": [
    described("Email", "email", length=80),
    described("LastName", "string", length=80, nillable=False),
]}
