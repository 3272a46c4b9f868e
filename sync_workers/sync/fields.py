"""The canonical field names both sides are compared in, and how a value is normalised.

Normalising is what makes "equal" mean equal: the same meeting read from Google and from
Salesforce must give the same values, or every reconcile would write again.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

EVENT_FIELDS = ("title", "start", "end", "all_day", "location", "status")
CONTACT_FIELDS = ("contact_name", "contact_email", "contact_company")
# The meeting's other CRM people (every guest after the first): (name, e-mail, company)
# each, in the guests' order, shown in the contact block; the CRM's data, never written
# back to it (who attends is the calendar's, and is related by the engine).
PEOPLE_FIELDS = ("other_people",)
CANONICAL_FIELDS = EVENT_FIELDS + CONTACT_FIELDS + PEOPLE_FIELDS
# A span is written as one unit (Google's start/end pair, Salesforce's duration needs both
# ends), so these three always share an owner and always travel together in a patch.
SPAN_FIELDS = ("start", "end", "all_day")

# Keys that tie the records together (invariant 4). They are planned from the link, never
# owned: the calendar keeps them in its private extended properties, the CRM in its
# external-id field and WhoId. `owner_id` (the rep's CRM user) is set once, at creation.
CALENDAR_KEYS = ("crm_event_id", "crm_contact_id")
CRM_KEYS = ("calendar_event_id", "contact_id", "owner_id")

_SPACES = re.compile(r"\s+")


def normalize(field: str, value: Any) -> Any:
    """The canonical form of `value` for `field`: one representation per meaning."""
    if field not in CANONICAL_FIELDS:
        raise ValueError(f"unknown canonical field {field!r}")
    if value is None:
        return None
    if field in PEOPLE_FIELDS:
        people = tuple(tuple(normalize(name, part) for name, part in zip(CONTACT_FIELDS, person))
                       for person in value)
        return people or None
    if field in ("start", "end"):
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                raise ValueError(f"{field} {value.isoformat()} has no time zone")
            return value.astimezone(timezone.utc).replace(microsecond=0)
        if isinstance(value, date):
            return value
        raise TypeError(f"{field} must be a date or datetime, got {value!r}")
    if field == "all_day":
        return bool(value)
    text = str(value)
    if field in CONTACT_FIELDS:
        # Contact data lives on single lines in the description block: collapse runs.
        text = _SPACES.sub(" ", text)
    text = text.strip()
    if field == "contact_email":
        text = text.lower()
    return text or None


def normalize_all(values: dict[str, Any]) -> dict[str, Any]:
    return {name: normalize(name, value) for name, value in values.items()}
