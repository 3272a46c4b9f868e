"""HubSpot basics shared by the emulator modules: object types, ids, errors, timestamps.

HubSpot answers errors as `{"status":"error","message","correlationId","category",...}`
(developers.hubspot.com/docs/api-reference/error-handling: every field optional); CRM
property validation failures list each bad property in `message` as a JSON array and again
in `errors[]`. Instants are stored as epoch milliseconds and printed as ISO 8601 UTC with
milliseconds (`2020-02-29T03:30:17.000Z`, properties guide).
"""
from __future__ import annotations

import itertools
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flask import Response

PROVIDER = "hubspot"
APP_ID = 1000001  # the app id the token-info endpoint reports (oauth_flow)

# Object type names and their ids (understanding-the-crm: contacts 0-1, meetings 0-47).
OBJECT_TYPE_IDS = {"contacts": "0-1", "meetings": "0-47"}
_ALIASES = {"contacts": "contacts", "contact": "contacts", "0-1": "contacts",
            "meetings": "meetings", "meeting": "meetings", "0-47": "meetings",
            "meeting_event": "meetings"}
# The timestamps each object keeps under its own names (contacts predate the hs_ prefix).
CREATED = {"contacts": "createdate", "meetings": "hs_createdate"}
MODIFIED = {"contacts": "lastmodifieddate", "meetings": "hs_lastmodifieddate"}
SINGULAR = {"contacts": "CONTACT", "meetings": "MEETING"}

# Ids are numeric strings, unique per object type, never reused (not even across resets).
_object_ids = itertools.count(101_000_001)
_owner_ids = itertools.count(71_000_001)


def new_object_id() -> str:
    return str(next(_object_ids))


def new_owner_id() -> str:
    return str(next(_owner_ids))


def object_type(name: str) -> str | None:
    """The canonical type ("contacts"/"meetings") for a path segment, else None."""
    return _ALIASES.get(name.lower()) if isinstance(name, str) else None


# --- errors -------------------------------------------------------------------------------

class HsError(Exception):
    def __init__(self, status: int, message: str, category: str | None = None, *,
                 errors: list[dict] | None = None, context: dict | None = None,
                 sub_category: str | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.category = status, message, category
        self.errors, self.context, self.sub_category = errors, context, sub_category
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "error", "message": self.message,
                                "correlationId": correlation_id()}
        if self.errors is not None:
            body["errors"] = self.errors
        if self.context is not None:
            body["context"] = self.context
        if self.category is not None:
            body["category"] = self.category
        if self.sub_category is not None:
            body["subCategory"] = self.sub_category
        body.update(self.extra)
        return body


def correlation_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Issue:
    """One invalid property of a write, as HubSpot's validation result lists it."""
    name: str
    value: Any
    error: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def validation_error(issues: list[Issue], portal_id: int) -> HsError:
    results = [{"isValid": False, "message": i.message, "error": i.error, "name": i.name,
                "localizedErrorMessage": i.message, "portalId": portal_id, **i.extra}
               for i in issues]
    errors = [{"message": i.message, "code": i.error, "context": {"propertyName": [i.name]}}
              for i in issues]
    text = json.dumps(results, separators=(",", ":"))
    return HsError(400, f"Property values were not valid: {text}", "VALIDATION_ERROR",
                   errors=errors)


def bad_request(message: str, **context: list[str]) -> HsError:
    return HsError(400, message, "VALIDATION_ERROR", context=context or None)


def not_found(message: str = "resource not found") -> HsError:
    return HsError(404, message, "OBJECT_NOT_FOUND")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    resp = Response(json.dumps(body, separators=(",", ":")), status=status,
                    content_type="application/json;charset=utf-8")
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


# --- time ---------------------------------------------------------------------------------

def now_ms(clock) -> int:
    return int(clock.time() * 1000)


def fmt_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                  r"(Z|[+-]\d{2}:?\d{2})?)?$")


def parse_instant(value: Any) -> int | None:
    """Epoch milliseconds from what HubSpot accepts for date/datetime values: a number
    or digit string of milliseconds, or ISO 8601 (a date alone is midnight UTC; an
    offset is converted to UTC)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    m = _ISO.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                      tzinfo=timezone.utc)
    except ValueError:
        return None
    ms = int(dt.timestamp()) * 1000 + int((frac or "0")[:3].ljust(3, "0"))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        ms -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1000
    return ms


def as_list(value: Any) -> list[str]:
    """A `properties`-style parameter: comma lists, repeated, or a JSON array."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        out.extend(p.strip() for p in str(item).split(",") if p.strip())
    return out
