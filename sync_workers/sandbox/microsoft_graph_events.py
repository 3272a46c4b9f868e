"""Outlook event resources: request-body validation and rendering.

Pure code over plain data; the store (microsoft_graph_store) keeps the records. A body
property the event type does not define is refused the way OData refuses it
(RequestBodyRead), so a client sending Google's `summary` learns it here. Rendering only
ever prints properties of microsoft.graph.event (learn.microsoft.com/graph/api/resources/
event): the tests parse every answer with msgraph-sdk's models and demand nothing unknown.

Times: a dateTimeTimeZone prints its dateTime with 7 fractional digits and no offset, in
UTC unless `Prefer: outlook.timezone` names another zone (event-get.md). An all-day event
keeps its dates: midnight, labelled with whichever zone the answer is in.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .microsoft_graph_errors import (
    GraphError,
    bad_request,
    time_zone_not_supported,
    unknown_property,
    validation_failure,
)
from .microsoft_graph_recurrence import Recurrence, parse_recurrence
from .microsoft_graph_zones import zone_for

NO_TIME = "0001-01-01T00:00:00Z"  # Graph's time of a response never given
SENSITIVITY = ("normal", "personal", "private", "confidential")
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
IMPORTANCE = ("low", "normal", "high")
ATTENDEE_TYPES = ("required", "optional", "resource")
MEETING_PROVIDERS = ("unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer")
MAX_ATTENDEES = 500

# property -> (kind, allowed values or None, default)
SIMPLE: dict[str, tuple[type, tuple[str, ...] | None, Any]] = {
    "subject": (str, None, ""),
    "sensitivity": (str, SENSITIVITY, "normal"),
    "showAs": (str, SHOW_AS, "busy"),
    "importance": (str, IMPORTANCE, "normal"),
    "isReminderOn": (bool, None, True),
    "reminderMinutesBeforeStart": (int, None, 15),
    "responseRequested": (bool, None, True),
    "allowNewTimeProposals": (bool, None, True),
    "hideAttendees": (bool, None, False),
    "isOnlineMeeting": (bool, None, False),
    "onlineMeetingProvider": (str, MEETING_PROVIDERS, "unknown"),
}
# What an organizer's change carries to the attendees' copies of a meeting.
SHARED = ("subject", "body", "location", "attendees", "sensitivity", "importance",
          "allowNewTimeProposals", "hideAttendees", "isOnlineMeeting", "onlineMeetingProvider",
          "responseRequested")
# Read-only properties a client may echo back; they are ignored, as Outlook ignores them.
READ_ONLY = frozenset((
    "id", "changeKey", "createdDateTime", "lastModifiedDateTime", "iCalUId", "type",
    "seriesMasterId", "isOrganizer", "webLink", "bodyPreview", "responseStatus",
    "hasAttachments", "originalStart", "onlineMeeting", "onlineMeetingUrl", "isCancelled",
    "isDraft", "originalStartTimeZone", "originalEndTimeZone", "organizer",
    "cancelledOccurrences", "exceptionOccurrences", "instances", "calendar", "attachments",
    "extensions", "multiValueExtendedProperties"))
WRITABLE = frozenset((*SIMPLE, "body", "start", "end", "isAllDay", "location", "locations",
                      "attendees", "categories", "recurrence", "transactionId",
                      "singleValueExtendedProperties"))
SELECTABLE = frozenset({*WRITABLE, *READ_ONLY} - {"instances", "calendar", "attachments",
                                                  "extensions", "multiValueExtendedProperties",
                                                  "singleValueExtendedProperties",
                                                  "exceptionOccurrences",
                                                  "cancelledOccurrences"})

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})?",
    re.I | re.A)
_EXT_ID = re.compile(
    r"(?P<type>[A-Za-z]+)\s+\{(?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
    r"[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}\s+(?:(?:Name\s+(?P<name>\S.*))|(?:Id\s+(?P<num>0x"
    r"[0-9A-Fa-f]{1,4})))", re.A)
_EXT_TYPES = ("binary", "boolean", "clsid", "currency", "double", "float", "integer", "long",
              "object", "short", "systemtime", "string")


# --- times ------------------------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """A start or end as given: wall-clock time in a named zone (kept as named)."""

    local: datetime  # naive
    zone_name: str

    @property
    def zone(self) -> ZoneInfo:
        zone = zone_for(self.zone_name)
        assert zone is not None
        return zone

    @property
    def instant(self) -> datetime:
        return self.local.replace(tzinfo=self.zone).astimezone(timezone.utc)

    def shifted(self, delta: timedelta) -> "When":
        return When(self.local + delta, self.zone_name)


def parse_when(value: Any) -> When:
    if not isinstance(value, dict):
        raise validation_failure()
    zone_name = value.get("timeZone")
    if zone_for(zone_name) is None:
        raise time_zone_not_supported(zone_name)
    text = value.get("dateTime")
    match = _DATETIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise validation_failure()
    y, mo, d, h, mi, s, frac, offset = match.groups()
    try:
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                         int((frac or "0").ljust(7, "0")[:6]))
    except ValueError:
        raise validation_failure() from None
    if offset:  # an explicit offset wins: the instant, told in the named zone
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = (0, 0) if offset.upper() == "Z" else map(int, offset[1:].split(":"))
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        aware = local.replace(tzinfo=tz).astimezone(zone_for(zone_name))
        local = aware.replace(tzinfo=None)
    return When(local, zone_name)


def fmt_local(value: datetime) -> str:
    """Graph's dateTime: no offset, 7 fractional digits."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0"


def fmt_timestamp(value: datetime) -> str:
    """A DateTimeOffset as Outlook prints created/lastModified: 7 digits and Z."""
    return fmt_local(value.astimezone(timezone.utc).replace(tzinfo=None)) + "Z"


def fmt_utc_seconds(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_when(when: When, all_day: bool, zone: ZoneInfo, zone_name: str) -> dict[str, str]:
    if all_day:
        return {"dateTime": fmt_local(when.local), "timeZone": zone_name}
    local = when.instant.astimezone(zone).replace(tzinfo=None)
    return {"dateTime": fmt_local(local), "timeZone": zone_name}


# --- request bodies ---------------------------------------------------------------------


@dataclass
class Changes:
    """A create or update body, checked and normalized (only what the body names)."""

    props: dict[str, Any] = field(default_factory=dict)
    start: When | None = None
    end: When | None = None
    is_all_day: bool | None = None
    recurrence: Recurrence | None = None
    clear_recurrence: bool = False
    transaction_id: str | None = None
    extended: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)

    def touches(self, names: tuple[str, ...]) -> bool:
        return any(n in self.props for n in names) or self.start is not None or \
            self.end is not None or self.is_all_day is not None or \
            self.recurrence is not None or self.clear_recurrence


def parse_changes(body: Any) -> Changes:
    if not isinstance(body, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    changes = Changes()
    for name, value in body.items():
        if name.startswith("@odata.") or name in READ_ONLY:
            continue
        if name not in WRITABLE:
            raise unknown_property(name)
        _apply(changes, name, value)
    return changes


def _apply(changes: Changes, name: str, value: Any) -> None:
    if name in SIMPLE:
        kind, allowed, _ = SIMPLE[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _type_error(name, kind)
        if allowed is not None and value not in allowed:
            raise bad_request(f"Requested value '{value}' was not found.", "BadRequest")
        changes.props[name] = value
    elif name == "body":
        changes.props["body"] = _body(value)
    elif name in ("start", "end"):
        setattr(changes, name, parse_when(value))
    elif name == "isAllDay":
        if not isinstance(value, bool):
            raise _type_error(name, bool)
        changes.is_all_day = value
    elif name == "location":
        changes.props["location"] = location_of(value)
    elif name == "locations":
        if not isinstance(value, list):
            raise _type_error(name, list)
        if value and "location" not in changes.props:
            changes.props["location"] = location_of(value[0])
    elif name == "attendees":
        changes.props["attendees"] = attendees_of(value)
    elif name == "categories":
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise _type_error(name, list)
        changes.props["categories"] = list(value)
    elif name == "recurrence":
        if value is None:
            changes.clear_recurrence = True
        else:
            changes.recurrence = value  # parsed once the start's zone is known
    elif name == "transactionId":
        if value is not None and not isinstance(value, str):
            raise _type_error(name, str)
        changes.transaction_id = value
    elif name == "singleValueExtendedProperties":
        changes.extended = extended_properties_of(value)


def finish_recurrence(changes: Changes, zone_name: str) -> None:
    if changes.recurrence is not None and not isinstance(changes.recurrence, Recurrence):
        changes.recurrence = parse_recurrence(changes.recurrence, zone_name)


def _type_error(name: str, kind: type) -> GraphError:
    edm = {str: "Edm.String", bool: "Edm.Boolean", int: "Edm.Int32"}.get(kind)
    if edm is None:
        return bad_request(f"Invalid value for property '{name}'.")
    return bad_request(f"Cannot convert the literal value of property '{name}' to the expected "
                       f"type '{edm}'.")


def _body(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _type_error("body", dict)
    kind = value.get("contentType", "text")
    content = value.get("content") or ""
    if not isinstance(kind, str) or kind.lower() not in ("text", "html") or \
            not isinstance(content, str):
        raise validation_failure()
    return {"contentType": kind.lower(), "content": content}


def location_of(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error("location", dict)
    name = value.get("displayName") or ""
    if not isinstance(name, str):
        raise _type_error("displayName", str)
    out: dict[str, Any] = {"displayName": name,
                           "locationType": value.get("locationType") or "default"}
    if name:
        out.update(uniqueId=value.get("uniqueId") or name,
                   uniqueIdType=value.get("uniqueIdType") or "private")
    else:
        out["uniqueIdType"] = "unknown"
    for key in ("address", "coordinates"):
        if isinstance(value.get(key), dict):
            out[key] = dict(value[key])
    if value.get("locationEmailAddress"):
        out["locationEmailAddress"] = value["locationEmailAddress"]
    return out


def attendees_of(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _type_error("attendees", list)
    if len(value) > MAX_ATTENDEES:
        raise validation_failure()
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("emailAddress"), dict):
            raise validation_failure()
        address = entry["emailAddress"].get("address")
        if not isinstance(address, str) or "@" not in address:
            raise validation_failure()
        kind = entry.get("type") or "required"
        if kind not in ATTENDEE_TYPES:
            raise bad_request(f"Requested value '{kind}' was not found.")
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        name = entry["emailAddress"].get("name") or address
        out.append({"type": kind, "status": {"response": "none", "time": NO_TIME},
                    "emailAddress": {"name": name, "address": address}})
    return out


def keep_answers(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attendees that stay keep the answer they gave."""
    answers = {a["emailAddress"]["address"].lower(): a["status"] for a in old}
    return [{**a, "status": dict(answers.get(a["emailAddress"]["address"].lower(),
                                             a["status"]))} for a in new]


def extended_properties_of(value: Any) -> list[tuple[tuple[str, ...], str, str]]:
    if not isinstance(value, list):
        raise _type_error("singleValueExtendedProperties", list)
    out = []
    for entry in value:
        if not isinstance(entry, dict):
            raise validation_failure()
        prop_id, prop_value = entry.get("id"), entry.get("value")
        key = extended_key(prop_id)
        if key is None:
            raise GraphError(400, "ErrorInvalidProperty",
                             f"The extended property id '{prop_id}' is not valid.")
        if not isinstance(prop_value, str):
            raise _type_error("value", str)
        out.append((key, prop_id, prop_value))
    return out


def extended_key(prop_id: Any) -> tuple[str, ...] | None:
    """How Outlook tells extended properties apart: type and GUID case-insensitively, the
    name case-sensitively (singlevaluelegacyextendedproperty-get.md)."""
    if not isinstance(prop_id, str):
        return None
    match = _EXT_ID.fullmatch(prop_id.strip())
    if match is None or match["type"].lower() not in _EXT_TYPES:
        return None
    if match["name"] is not None:
        return (match["type"].lower(), match["guid"].lower(), "name", match["name"])
    return (match["type"].lower(), match["guid"].lower(), "id", hex(int(match["num"], 16)))


# --- rendering --------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderContext:
    zone: ZoneInfo
    zone_name: str = "UTC"
    body_type: str | None = None  # Prefer: outlook.body-content-type
    select: frozenset[str] | None = None
    expand_ids: tuple[tuple[str, ...], ...] | None = None  # $expand of extended properties
    odata_type: bool = False  # delta answers type each item


@dataclass(frozen=True)
class View:
    """One event as a mailbox shows it: a single instance, series master, occurrence or
    exception, with everything rendering needs already resolved by the store."""

    kind: str
    id: str
    master_id: str | None
    ical_uid: str
    created: datetime
    modified: datetime
    change_key: str
    props: dict[str, Any]
    start: When
    end: When
    is_all_day: bool
    recurrence: Recurrence | None
    original_start: datetime | None
    organizer: dict[str, Any]
    is_organizer: bool
    response_status: dict[str, str]
    is_cancelled: bool
    transaction_id: str | None
    extended: dict[tuple[str, ...], tuple[str, str]]
    original_zones: tuple[str, str]


def etag_of(change_key: str) -> str:
    return f'W/"{change_key}"'


def render_event(view: View, ctx: RenderContext) -> dict[str, Any]:
    p = view.props
    body = render_body(p.get("body"), ctx.body_type)
    location = p.get("location") or location_of({})
    out: dict[str, Any] = {}
    if ctx.odata_type:
        out["@odata.type"] = "#microsoft.graph.event"
    out.update({
        "@odata.etag": etag_of(view.change_key),
        "id": view.id,
        "createdDateTime": fmt_timestamp(view.created),
        "lastModifiedDateTime": fmt_timestamp(view.modified),
        "changeKey": view.change_key,
        "categories": list(p.get("categories") or []),
    })
    if view.transaction_id is not None:
        out["transactionId"] = view.transaction_id
    out.update({
        "originalStartTimeZone": view.original_zones[0],
        "originalEndTimeZone": view.original_zones[1],
    })
    if view.original_start is not None:
        out["originalStart"] = fmt_utc_seconds(view.original_start)
    out.update({
        "iCalUId": view.ical_uid,
        "reminderMinutesBeforeStart": p.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": p.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": p.get("subject", ""),
        "bodyPreview": body_preview(p.get("body")),
        "importance": p.get("importance", "normal"),
        "sensitivity": p.get("sensitivity", "normal"),
        "isAllDay": view.is_all_day,
        "isCancelled": view.is_cancelled,
        "isOrganizer": view.is_organizer,
        "responseRequested": p.get("responseRequested", True),
        "seriesMasterId": view.master_id,
        "showAs": p.get("showAs", "busy"),
        "type": view.kind,
        "webLink": ("https://outlook.office365.com/owa/?itemid="
                    f"{quote(view.id, safe='')}&exvsurl=1&path=/calendar/item"),
        "onlineMeetingUrl": None,
        "isOnlineMeeting": p.get("isOnlineMeeting", False),
        "onlineMeetingProvider": p.get("onlineMeetingProvider", "unknown"),
        "allowNewTimeProposals": p.get("allowNewTimeProposals", True),
        "isDraft": False,
        "hideAttendees": p.get("hideAttendees", False),
        "responseStatus": dict(view.response_status),
        "body": body,
        "start": render_when(view.start, view.is_all_day, ctx.zone, ctx.zone_name),
        "end": render_when(view.end, view.is_all_day, ctx.zone, ctx.zone_name),
        "location": location,
        "locations": [location] if location.get("displayName") else [],
        "recurrence": view.recurrence.render() if view.recurrence else None,
        "attendees": [_copy_attendee(a) for a in p.get("attendees") or []],
        "organizer": {"emailAddress": dict(view.organizer["emailAddress"])},
        "onlineMeeting": _online_meeting(view) if p.get("isOnlineMeeting") else None,
    })
    if ctx.expand_ids is not None:
        out["singleValueExtendedProperties"] = [
            {"id": prop_id, "value": value}
            for key, (prop_id, value) in view.extended.items()
            if not ctx.expand_ids or key in ctx.expand_ids]
    if ctx.select is not None:
        keep = {"@odata.type", "@odata.etag", "id", "singleValueExtendedProperties",
                *ctx.select}
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _copy_attendee(attendee: dict[str, Any]) -> dict[str, Any]:
    return {"type": attendee["type"], "status": dict(attendee["status"]),
            "emailAddress": dict(attendee["emailAddress"])}


def _online_meeting(view: View) -> dict[str, str]:
    return {"joinUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
                       f"{quote(view.ical_uid[-32:], safe='')}%40thread.v2/0"}


def render_body(body: dict[str, str] | None, wanted: str | None) -> dict[str, str]:
    """HTML unless the client prefers text (event-get.md: bodies come back in HTML)."""
    body = body or {"contentType": "text", "content": ""}
    if (wanted or "html") == "text":
        text = body["content"] if body["contentType"] == "text" else html_to_text(
            body["content"])
        return {"contentType": "text", "content": text}
    if body["contentType"] == "html":
        return dict(body)
    escaped = html.escape(body["content"]).replace("\n", "<br>\r\n")
    return {"contentType": "html",
            "content": '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; '
                       'charset=utf-8">\r\n</head>\r\n<body>\r\n'
                       f'{escaped}\r\n</body>\r\n</html>\r\n' if body["content"] else ""}


def html_to_text(markup: str) -> str:
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", markup)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip()


def body_preview(body: dict[str, str] | None) -> str:
    if not body:
        return ""
    text = body["content"] if body["contentType"] == "text" else html_to_text(body["content"])
    return re.sub(r"\s+", " ", text).strip()[:255]


def all_day_ok(start: When, end: When) -> bool:
    """All-day: both at midnight, in the same zone, ending at least a day later (event.md)."""
    midnight = start.local.time() == end.local.time() == datetime.min.time()
    return midnight and start.zone_name == end.zone_name and end.local.date() > \
        start.local.date()

